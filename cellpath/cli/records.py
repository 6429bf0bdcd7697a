"""Records, the case's thread and the family: `cellpath records …`, `cellpath notes`,
`cellpath family link`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import app, out, print_json, run, session
from cellpath.services import family, notes, records
from cellpath.services.base import Refusal
from models.errors import RefusalCode

records_app = typer.Typer(
    # A traceback with local variables would print a patient's details (Typer shows them).
    pretty_exceptions_enable=False,
    help="A case's record files: kept outside Temporal, encrypted at rest, each download "
    "audited; translations for the PI.",
    no_args_is_help=True,
)
app.add_typer(records_app, name="records")
family_app = typer.Typer(
    pretty_exceptions_enable=False,
    help="The family's page: send them a sign-in link.",
    no_args_is_help=True,
)
app.add_typer(family_app, name="family")

Actor = Annotated[str | None, typer.Option("--actor")]
Json = Annotated[bool, typer.Option("--json", help="print as JSON")]


def _read(path: Path, case: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise Refusal(f"cannot read {path}: {e.strerror}", RefusalCode.INVALID_DATA) from None


def _added(a: records.Added, as_json: bool) -> None:
    r = a.record
    if as_json:
        print_json(
            {
                "record": r.id,
                "sha256": r.sha256,
                "type": r.record_type,
                "media_type": r.media_type,
                "duplicate": a.duplicate,
                "recorded": a.recorded,
                "translation": r.translation,
                "note": a.note,
            }
        )
        return
    said = "already on file as" if a.duplicate else "kept as"
    out.print(f"{said} record {r.id} ({r.record_type}, {r.media_type}, sha256 {r.sha256[:12]}…)")
    for kind in a.recorded:
        out.print(f"  recorded {kind}")
    if a.note:
        out.print(f"  {escape(a.note)}")


@records_app.command("add")
def records_add(
    case: Annotated[str, typer.Argument(help="case id")],
    file: Annotated[Path, typer.Argument(help="the file (PDF, image, DICOM, text)")],
    record_type: Annotated[str, typer.Option("--type", help="e.g. pathology, imaging, labs")],
    language: Annotated[
        str | None, typer.Option("--language", help="the language it is written in, e.g. en")
    ] = None,
    pages: Annotated[int | None, typer.Option("--pages", help="how many pages")] = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Add a record file: sealed in the records store, `record_received` recorded with its
    SHA-256; a record in another language than the site's has its translation requested."""
    s = session(actor)

    async def go() -> records.Added:
        return await records.add(
            s,
            case,
            _read(file, case),
            record_type=record_type,
            filename=file.name,
            language=language,
            pages=pages,
        )

    _added(run(go), as_json)


@records_app.command("list")
def records_list(
    case: Annotated[str, typer.Argument(help="case id")], actor: Actor = None, as_json: Json = False
) -> None:
    """A case's record files: type, language, from whom, translation state."""
    s = session(actor)

    async def go() -> list[records.RecordFile]:
        return records.listing(s, case)

    rows = run(go)
    if as_json:
        print_json([r.model_dump(mode="json", exclude={"key_id", "blob_key"}) for r in rows])
        return
    table = Table("id", "type", "language", "file", "from", "status", "translation", "added")
    for r in rows:
        table.add_row(
            str(r.id),
            r.record_type + (f" (translation of {r.translation_of})" if r.translation_of else ""),
            r.language or "",
            escape(f"{r.media_type}, {r.size_bytes:,} B"),
            f"{r.source}: {r.added_by}",
            r.status,
            r.translation or "",
            f"{r.added_at:%Y-%m-%d %H:%M} UTC",
        )
    out.print(table)


@records_app.command("get")
def records_get(
    case: Annotated[str, typer.Argument(help="case id")],
    record: Annotated[int, typer.Argument(help="record id (`cellpath records list`)")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here (default: stdout)")
    ] = None,
    actor: Actor = None,
) -> None:
    """Download a record's file (audited: `record_viewed`)."""
    s = session(actor)

    async def go() -> tuple[records.RecordFile, bytes]:
        return records.read(s, case, record)

    _row, data = run(go)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        out.print(f"wrote {len(data):,} bytes to {output}")


@records_app.command("translate")
def records_translate(
    case: Annotated[str, typer.Argument(help="case id")],
    record: Annotated[int, typer.Argument(help="the record translated")],
    file: Annotated[Path, typer.Argument(help="the translation's file")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Add a record's translation (a second file): `record_translated`."""
    s = session(actor)

    async def go() -> records.Added:
        return await records.add_translation(s, case, record, _read(file, case), filename=file.name)

    _added(run(go), as_json)


@records_app.command("verify")
def records_verify(
    case: Annotated[str, typer.Argument(help="case id")],
    record: Annotated[int, typer.Argument(help="the record whose translation you checked")],
    actor: Actor = None,
) -> None:
    """Say a record's translation was checked against it (`translation_verified`); not by the
    person who uploaded it."""
    s = session(actor)

    async def go() -> None:
        await records.verify(s, case, record)

    run(go)
    out.print(f"record {record}: translation verified")


@records_app.command("accept")
def records_accept(
    case: Annotated[str, typer.Argument(help="case id")],
    record: Annotated[int, typer.Argument(help="a record the family sent")],
    decline: Annotated[bool, typer.Option("--decline", help="decline it instead")] = False,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Accept a record the family sent (the journey is told) or `--decline` it."""
    s = session(actor)

    async def go() -> records.Added:
        return await records.accept(s, case, record, accepted=not decline)

    _added(run(go), as_json)


@app.command("notes")
def notes_command(
    case: Annotated[str, typer.Argument(help="case id")],
    add: Annotated[str | None, typer.Option("--add", help="add an internal note")] = None,
    to_family: Annotated[
        str | None, typer.Option("--to-family", help="send the family a message, in their language")
    ] = None,
    search: Annotated[str, typer.Option("--search", help="only entries with these words")] = "",
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """The case's thread: internal notes, messages to and from the family, symptom reports."""
    s = session(actor)

    async def go() -> list[notes.CaseNote]:
        if add is not None:
            notes.add_note(s, case, add)
        if to_family is not None:
            await notes.message_family(s, case, to_family)
        return notes.thread(s, case, search)

    thread = run(go)
    if as_json:
        print_json([n.model_dump(mode="json") for n in thread])
        return
    for n in thread:
        sent = f" [{n.delivery}]" if n.delivery else ""
        out.print(
            f"[bold]{n.created_at:%Y-%m-%d %H:%M} UTC · {n.kind} · {escape(n.author)}{sent}[/bold]"
        )
        out.print(escape(n.text), markup=False)


@family_app.command("link")
def family_link(case: Annotated[str, typer.Argument(help="case id")], actor: Actor = None) -> None:
    """E-mail the family a sign-in link to their page (single use, short-lived)."""
    s = session(actor)

    async def go() -> str:
        return await family.send_link(s, case)

    out.print(run(go))
