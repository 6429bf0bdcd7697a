"""The operators' commands: erasure, staff and roles, stuck journeys (`doctor`), and running
the product's processes (worker, migrations, codec server, keys)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import app, err, out, print_json, run, session
from cellpath.config import get_settings
from cellpath.services import doctor as doctoring
from cellpath.services import records, staff
from cellpath.services.authority import authorise
from models.roles import Action, Role


@app.command()
def erase(
    case: Annotated[str, typer.Argument(help="case id")],
    reason: Annotated[str, typer.Option("--reason", help="legal basis or request reference")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Erase the patient's identifying details and record files (GDPR art. 17, PIPL art. 47);
    audited.

    The journey, its history and the audit trail stay: they only hold the pseudonymous
    `patient_ref`. Erasure cannot be undone.
    """
    s = session(actor)

    async def may_erase() -> None:
        authorise(s, Action.ERASE, case=case)

    run(may_erase)  # refused before anyone is asked to confirm
    if not yes and not typer.confirm(
        f"Erase the identifying details of case {case}'s patient? This cannot be undone.",
        err=True,
    ):
        raise typer.Exit(1)

    async def go() -> tuple[str, int]:
        # The files first: an erasure that stops half-way is run again, and the details'
        # erasure refuses a second time ("already erased") — the files must not wait on it.
        files = records.erase(s, case, reason)
        return staff.erase(s, case, reason), files

    ref, files = run(go)
    if as_json:
        print_json({"case_id": case, "patient_ref": ref, "erased": True, "files_removed": files})
        return
    out.print(
        f"erased the identifying details of {ref} (case {case}) and {files} record file(s); "
        "the journey is intact"
    )


staff_app = typer.Typer(
    # A traceback with local variables would print a patient's details (Typer shows them).
    pretty_exceptions_enable=False,
    help="Who may use cellpath, in which role (coordinator, physician, site_staff, viewer, "
    "administrator). Only an administrator changes roles; every change is audited "
    "(`cellpath audit staff`).",
    no_args_is_help=True,
)
app.add_typer(staff_app, name="staff")


def change_staff(member: str, role: Role | None, by: str | None) -> None:
    """Change a role as an administrator; a refusal is audited (under `staff`) and exits 1."""

    async def go() -> None:
        staff.change_role(session(by), member, role)

    run(go)


@staff_app.command("add")
def staff_add(
    member: Annotated[str, typer.Argument(help="the actor id they record under")],
    role: Annotated[Role, typer.Option("--role")],
    by: Annotated[str | None, typer.Option("--by", help="the administrator granting it")] = None,
) -> None:
    """Register a staff member with a role (or change their role); administrators only."""
    change_staff(member, role, by)
    out.print(f"{member}: {role.value}")


@staff_app.command("remove")
def staff_remove(
    member: Annotated[str, typer.Argument(help="the actor id")],
    by: Annotated[str | None, typer.Option("--by", help="the administrator revoking it")] = None,
) -> None:
    """Remove a staff member: they can no longer read or record anything."""
    change_staff(member, None, by)
    out.print(f"{member}: removed")


@staff_app.command("passwd")
def staff_passwd(
    member: Annotated[str, typer.Argument(help="the actor id")],
    by: Annotated[str | None, typer.Option("--by", help="the administrator setting it")] = None,
) -> None:
    """Set a member's console password, read from stdin (at least 12 characters); only its
    Argon2 hash is stored. Administrators only; audited without the password."""
    password = sys.stdin.readline().rstrip("\r\n")

    async def go() -> None:
        staff.set_password(session(by), member, password)

    run(go)
    out.print(f"{member}: password set")


@staff_app.command("sites")
def staff_sites(
    member: Annotated[str, typer.Argument(help="the actor id")],
    sites: Annotated[list[str] | None, typer.Argument(help="site ids; none: every site")] = None,
    by: Annotated[str | None, typer.Option("--by", help="the administrator setting it")] = None,
) -> None:
    """The sites whose cases a physician or nurse works on (their console worklist)."""

    async def go() -> None:
        staff.set_sites(session(by), member, sites or [])

    run(go)
    out.print(f"{member}: {', '.join(sorted(set(sites or []))) or 'every site'}")


@staff_app.command("bootstrap")
def staff_bootstrap(
    member: Annotated[str, typer.Argument(help="the first administrator's actor id")],
) -> None:
    """Register the first administrator; refused once one exists (audited)."""

    async def go() -> None:
        staff.bootstrap(session(), member)

    run(go)
    out.print(f"{member}: administrator")


@staff_app.command("list")
def staff_list(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Everyone registered and their role."""

    async def go() -> list[Any]:
        return staff.members(session())

    members = run(go)
    if as_json:
        print_json(members)
        return
    table = Table("actor", "role", "granted by", "at (UTC)", title="staff")
    for m in members:
        table.add_row(m.actor, m.role, m.added_by, f"{m.added_at:%Y-%m-%d %H:%M}")
    out.print(table)


@app.command()
def doctor(
    deep: Annotated[
        bool, typer.Option("--deep", help="describe every running journey (any server)")
    ] = False,
    reset: Annotated[
        str | None, typer.Option("--reset", help="reset this stuck case to its last good task")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why (for the audit)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Journeys that cannot move on (their workflow task keeps failing) and writes set aside.

    For each stuck journey: the failure's cause, and — for a nondeterminism error — the
    workflow task to reset to (found by replaying its history here). `--reset CASE` performs
    that reset (administrators; audited): Temporal re-runs the journey from there with this
    code and re-applies every milestone and signal received since. Exit 0 when all is well,
    1 when something needs an operator.
    """
    if reset is not None and not yes:
        case = reset
        found = run(lambda: doctoring.diagnose_case(session(), case))
        event = found.diagnosis.reset_to_event if found.diagnosis else None
        if not typer.confirm(
            f"Reset case {case}: re-run it from event {event} with this code, re-applying "
            "what arrived since?",
            err=True,
        ):
            raise typer.Exit(1)

    async def go() -> tuple[list[Any], list[Any], str | None]:
        s = session()
        note = await doctoring.reset(s, reset, reason or "") if reset is not None else None
        stuck, dead = await doctoring.examine(s, deep=deep)
        return [x for x in stuck if x.case_id != reset], dead, note

    stuck, dead, note = run(go)
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "stuck": [s.model_dump(mode="json") | {"advice": s.advice} for s in stuck],
                    "dead_letters": [d.model_dump(mode="json") for d in dead],
                    "reset": note,
                }
            )
        )
    else:
        if note:
            out.print(note, highlight=False)
        if not stuck:
            out.print("no stuck journey")
        for s in stuck:
            out.print(
                f"[red]STUCK[/red] {s.case_id} · {s.cause} · {s.attempts} attempts", highlight=False
            )
            out.print(f"  {escape(s.message)}", highlight=False)
            out.print(f"  → {escape(s.advice)}", highlight=False)
        if dead:
            table = Table("case", "kind", "key", "error", "at (UTC)", title="writes set aside")
            for d in dead:
                table.add_row(d.case_id, d.kind, d.key, d.error, f"{d.created_at:%Y-%m-%d %H:%M}")
            out.print(table)
    if stuck or dead:
        raise typer.Exit(1)


@app.command()
def worker() -> None:
    """Run a worker in this terminal (the same as `python worker.py`)."""
    from cellpath.runtime import main as worker_main

    worker_main()


@app.command()
def migrate() -> None:
    """Bring the case store (`CELLPATH_DATABASE_URL`) to the newest schema; safe to repeat."""
    from cellpath.store import migrations

    url = get_settings().database_url
    try:
        migrations.upgrade(url)
        import sqlalchemy as sa

        at = migrations.current(sa.create_engine(url))
    except Exception as e:  # driver and migration errors alike: say what failed
        err.print(f"[red]error:[/red] migration failed: {e}")
        raise typer.Exit(2) from None
    out.print(f"case store at revision {at}")


@app.command("console")
def console() -> None:
    """Serve the coordinator console alone (at CELLPATH_CONSOLE_URL, default
    http://localhost:8000); `make run` serves it with the dev stack."""
    from cellpath.console.serve import main as console_main

    console_main()


@app.command("codec-server")
def codec_server() -> None:
    """Run the codec server for the Temporal UI and CLI (`python codec_server.py`)."""
    from cellpath.codec_server import main as codec_main

    codec_main()


@app.command("new-key")
def new_key(
    key_id: Annotated[str, typer.Argument(help="an id for the key, e.g. 2026-11")],
) -> None:
    """Print a fresh AES-256 key entry (`id:base64`) to put first in the key ring."""
    from cellpath.codec import KeyRingError, new_key_entry

    try:
        print(new_key_entry(key_id))
    except KeyRingError as e:
        err.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from None
