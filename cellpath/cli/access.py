"""`cellpath team` and `cellpath break-glass`: a case's care team, and emergency access.

Every case command is limited to the case's care team: its coordinator, those covering it,
physicians and site staff of its site (README, "Roles"). Its coordinator or an administrator
adds cover; anyone else with a clinical role breaks the glass, audited and told.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cellpath.cli.common import app, err, out, print_json, run, session
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
