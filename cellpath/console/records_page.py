"""The case page's records and thread: files (upload, download, translation, the family's
uploads to accept), notes, messages to the family, and the family's sign-in link.

Every action goes through the services (`records`, `notes`, `family`), which check the care
team and audit; a refusal is shown next to its form with nothing kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from cellpath.console import auth, i18n
from cellpath.console.forms import read_document, sha256_of
from cellpath.services import family, notes, records
from cellpath.services.base import Refusal, Session, Unreachable, refusing
from models.enums import RecordType
from models.errors import RefusalCode
from models.roles import Action

Act = Callable[..., Awaitable[Response]]


def records_context(s: Session, case_id: str, may: Callable[..., bool]) -> dict[str, Any]:
    """What the records and thread sections show (only to those who may see identity)."""
    if not may(Action.READ_IDENTITY):
        return {"records_shown": False}
    try:
        files = records.listing(s, case_id)
        thread = notes.thread(s, case_id)
    except (Refusal, Unreachable):
        return {"records_shown": False}
    return {
        "records_shown": True,
        "record_files": files,
        "thread": thread,
        "record_types": [t.value for t in RecordType],
        "may_records": may(Action.MILESTONE),
        "may_note": may(Action.NOTE),
        "max_mb": f"{s.settings.records_max_bytes / 1e6:g}",
    }


Document = tuple[bytes, UploadFile]


async def signed_documents(
    s: Session, case_id: str, form: Any, fields: dict[str, str]
) -> list[Document]:
    """The signed documents a milestone form carries (`file.<field>`, chosen instead of a
    typed SHA-256): checked as records are, their SHA-256 put in `fields`. Nothing is kept
    until the milestone is accepted (`keep_documents`)."""
    found: list[Document] = []
    for key, upload in form.multi_items():
        name = str(key).removeprefix("file.")
        if not str(key).startswith("file.") or not isinstance(upload, UploadFile):
            continue
        if not upload.filename or fields.get(name, "").strip():
            continue
        content = await read_document(upload, name)
        records.check_file(
            s, case_id, content, filename=upload.filename, declared=upload.content_type
        )
        fields[name] = sha256_of(content)
        found.append((content, upload))
    return found


def keep_documents(s: Session, case_id: str, kind: str, documents: list[Document]) -> None:
    """Keep a recorded milestone's signed documents in the records store."""
    for content, upload in documents:
        records.keep_document(
            s,
            case_id,
            content,
            kind=kind,
            filename=upload.filename or "",
            declared=upload.content_type,
        )


async def _upload(form: Any, name: str, limit: int) -> tuple[bytes, str, str | None]:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise refusing("choose a file", RefusalCode.MISSING_FIELD)
    return await upload.read(limit + 1), upload.filename, upload.content_type


def records_routes(app: FastAPI, console: Any, *, actor: Any, act: Act) -> None:
    """Add the records and thread actions to the console."""
    limit = console.settings.records_max_bytes

    @app.post("/cases/{case_id}/records", dependencies=[Depends(auth.check_csrf)])
    async def add_record(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()

        async def call(s: Session) -> str:
            data, filename, declared = await _upload(form, "file", limit)
            pages = str(form.get("pages", "")).strip()
            added = await records.add(
                s,
                case_id,
                data,
                record_type=str(form.get("record_type", "")),
                filename=filename,
                declared=declared,
                language=str(form.get("language", "")) or None,
                pages=int(pages) if pages.isdigit() else None,
            )
            said = (
                i18n.gettext("record {id} already on file")
                if added.duplicate
                else i18n.gettext("record {id} kept")
            ).format(id=added.record.id)
            return said + "".join(
                "; " + i18n.gettext("{kind} recorded").format(kind=k) for k in added.recorded
            )

        return await act(request, who, case_id, "records", call)

    @app.get("/cases/{case_id}/records/{record_id}")
    async def get_record(case_id: str, record_id: int, who: str = Depends(actor)) -> Response:
        s = console.session(who)
        try:
            row, data = records.read(s, case_id, record_id)
        except Refusal as e:
            code = 403 if e.code in (RefusalCode.PERMISSION, RefusalCode.CARE_TEAM) else 404
            raise HTTPException(code, str(e)) from None
        except Unreachable as e:
            raise HTTPException(503, str(e)) from None
        finally:
            console.keep(s)
        from cellpath.records.content import Content

        name = f"{case_id}-record-{record_id}.{Content(row.media_type).suffix}"
        return Response(
            data,
            media_type=row.media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @app.post(
        "/cases/{case_id}/records/{record_id}/translation", dependencies=[Depends(auth.check_csrf)]
    )
    async def add_translation(
        request: Request, case_id: str, record_id: int, who: str = Depends(actor)
    ) -> Response:
        form = await request.form()

        async def call(s: Session) -> str:
            data, filename, declared = await _upload(form, "file", limit)
            await records.add_translation(
                s, case_id, record_id, data, filename=filename, declared=declared
            )
            return i18n.gettext(
                "translation of record {id} kept; record_translated recorded"
            ).format(id=record_id)

        return await act(request, who, case_id, "records", call)

    @app.post(
        "/cases/{case_id}/records/{record_id}/verify", dependencies=[Depends(auth.check_csrf)]
    )
    async def verify(
        request: Request, case_id: str, record_id: int, who: str = Depends(actor)
    ) -> Response:
        async def call(s: Session) -> str:
            await records.verify(s, case_id, record_id)
            return i18n.gettext("translation of record {id} verified").format(id=record_id)

        return await act(request, who, case_id, "records", call)

    @app.post(
        "/cases/{case_id}/records/{record_id}/accept", dependencies=[Depends(auth.check_csrf)]
    )
    async def accept(
        request: Request, case_id: str, record_id: int, who: str = Depends(actor)
    ) -> Response:
        form = await request.form()
        accepted = form.get("decision") != "decline"

        async def call(s: Session) -> str:
            await records.accept(s, case_id, record_id, accepted=accepted)
            done = i18n.N_("record {id} accepted") if accepted else i18n.N_("record {id} declined")
            return i18n.gettext(done).format(id=record_id)

        return await act(request, who, case_id, "records", call)

    @app.post("/cases/{case_id}/notes", dependencies=[Depends(auth.check_csrf)])
    async def add_note(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        form = await request.form()
        text = str(form.get("text", ""))
        to_family = form.get("to") == "family"

        async def call(s: Session) -> str:
            if to_family:
                note = await notes.message_family(s, case_id, text)
                return i18n.gettext("message to the family: {delivery}").format(
                    delivery=note.delivery
                )
            notes.add_note(s, case_id, text)
            return i18n.gettext("note added")

        return await act(request, who, case_id, "notes", call)

    @app.post("/cases/{case_id}/family-link", dependencies=[Depends(auth.check_csrf)])
    async def family_link(request: Request, case_id: str, who: str = Depends(actor)) -> Response:
        async def call(s: Session) -> str:
            return await family.send_link(s, case_id)

        return await act(request, who, case_id, "notes", call)
