"""`cellpath team`, `reassign`, `cover` and `break-glass`: a case's care team, giving cases to
another coordinator, covering a colleague for a period, and emergency access.

Every case command is limited to the case's care team: its coordinator, those covering it,
physicians and site staff of its site (README, "Roles"). Its coordinator or an administrator
adds cover; anyone else with a clinical role breaks the glass, audited and told.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cellpath.cli.common import app, err, out, parse_time, print_json, run, session
from cellpath.services import access

team_app = typer.Typer(
    # A traceback with local variables could print a patient's details (Typer shows them).
    pretty_exceptions_enable=False,
    help="A case's care team: who may open it and work on it. Its coordinator or an "
    "administrator adds and removes cover; every change is audited (`cellpath audit CASE`).",
    no_args_is_help=True,
)
app.add_typer(team_app, name="team")


@team_app.command("show")
def team_show(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Who is in the case's care team."""

    async def call() -> access.CareTeamView:
        return access.team(session(), case)

    view = run(call)
    if as_json:
        print_json(view)
        return
    out.print(f"case {view.case_id} · site {view.site or '(none yet)'}")
    out.print(f"  coordinator: {view.coordinator}")
    out.print(f"  covering:    {', '.join(view.covering) or '-'}")
    out.print(f"  site staff:  {', '.join(view.site_staff) or '-'}")


@team_app.command("add")
def team_add(
    case: Annotated[str, typer.Argument(help="case id")],
    member: Annotated[str, typer.Argument(help="the staff member who covers the case")],
) -> None:
    """Add someone to the case's care team (its coordinator or an administrator)."""

    async def call() -> str:
        return access.cover(session(), case, member)

    out.print(run(call))


@team_app.command("remove")
def team_remove(
    case: Annotated[str, typer.Argument(help="case id")],
    member: Annotated[str, typer.Argument(help="the staff member who no longer covers it")],
) -> None:
    """Take someone's cover of the case away (its coordinator or an administrator)."""

    async def call() -> str:
        return access.cover(session(), case, member, remove=True)

    out.print(run(call))


@app.command("break-glass")
def break_glass(
    case: Annotated[str, typer.Argument(help="case id")],
    reason: Annotated[str, typer.Option("--reason", help="why you need this case now")],
    yes: Annotated[
        bool, typer.Option("--yes", help="confirm without the prompt (scripts)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Emergency access to a case outside your care team: for a few hours, audited, and its
    coordinator is told."""
    confirmed = yes
    if not yes:
        err.print(
            f"You are not in the care team of case {case}. Breaking the glass opens it to you "
            "for a few hours; the access and your reason are audited and its coordinator is "
            "told."
        )
        try:
            confirmed = typer.confirm("Break the glass?", default=False, err=True)
        except (typer.Abort, EOFError):
            confirmed = False  # no answer (no terminal): not confirmed

    async def call() -> access.Grant:
        return await access.break_glass(session(), case, reason, confirmed=confirmed)

    grant = run(call)
    if as_json:
        print_json(grant)
    else:
        out.print(f"case {case} open to you until {grant.expires_at:%Y-%m-%d %H:%M} UTC (audited)")


@app.command("reassign")
def reassign(
    cases: Annotated[list[str], typer.Argument(help="case ids")],
    to: Annotated[str, typer.Option("--to", help="the coordinator who takes the cases")],
    reason: Annotated[str, typer.Option("--reason", help="why (a leave, a caseload rebalanced)")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Give cases to another coordinator (each case's coordinator or an administrator); each
    journey records `coordinator_changed`. Exits 1 when any case was refused."""

    async def call() -> list[access.Reassigned]:
        return await access.reassign(session(), cases, to, reason)

    results = run(call)
    if as_json:
        print_json(results)
    else:
        for r in results:
            if r.done:
                out.print(f"{r.case_id}: {r.previous} → {to}")
            else:
                err.print(f"{r.case_id}: refused: {r.reason}", markup=False, highlight=False)
    if not all(r.done for r in results):
        raise typer.Exit(1)


cover_app = typer.Typer(
    pretty_exceptions_enable=False,
    help="A coordinator covering a colleague's cases for a period (a leave): in the care team "
    "of each of them while it lasts; `cellpath list --coordinator COLLEAGUE` shows them. Set "
    "by the absent coordinator or an administrator; audited (`cellpath audit staff`).",
    no_args_is_help=True,
)
app.add_typer(cover_app, name="cover")


@cover_app.command("add")
def cover_add(
    absent: Annotated[str, typer.Argument(help="the coordinator who is away")],
    covering: Annotated[str, typer.Argument(help="the coordinator who covers their cases")],
    until: Annotated[str, typer.Option("--until", help="ISO time with offset; the cover ends")],
    reason: Annotated[str, typer.Option("--reason", help="why (a leave, a conference)")],
    start: Annotated[
        str | None, typer.Option("--from", help="ISO time with offset (default: now)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """`covering` covers every case `absent` coordinates, from now (or --from) until --until."""
    ends = parse_time(until, "--until")
    starts = parse_time(start, "--from") or datetime.now(UTC)
    assert ends is not None

    async def call() -> access.Cover:
        return access.cover_colleague(session(), absent, covering, starts, ends, reason)

    cover = run(call)
    if as_json:
        print_json(cover)
    else:
        out.print(
            f"cover {cover.id}: {covering} covers {absent}'s cases from "
            f"{cover.starts_at:%Y-%m-%d %H:%M} until {cover.ends_at:%Y-%m-%d %H:%M} UTC"
        )


@cover_app.command("end")
def cover_end(cover_id: Annotated[int, typer.Argument(help="the cover's number")]) -> None:
    """End a cover now (the colleague is back early)."""

    async def call() -> access.Cover:
        return access.end_cover(session(), cover_id)

    cover = run(call)
    out.print(f"cover {cover.id} ended: {cover.absent} coordinates their cases again")


@cover_app.command("list")
def cover_list(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Covers in force or ahead."""

    async def call() -> list[access.Cover]:
        return access.covers(session())

    covers = run(call)
    if as_json:
        print_json(covers)
        return
    for c in covers:
        out.print(
            f"{c.id}: {c.covering} covers {c.absent} · {c.starts_at:%Y-%m-%d %H:%M} → "
            f"{c.ends_at:%Y-%m-%d %H:%M} UTC · {c.reason}",
            markup=False,
        )
    if not covers:
        out.print("no cover in force or ahead")
