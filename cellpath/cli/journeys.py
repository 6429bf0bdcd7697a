"""The coordinators', physicians' and nurses' commands: intake, milestones, observations,
alerts, deadlines, reading a journey, the demo.

Each parses what was typed into the service's input, calls the service (`cellpath.services`),
and prints the answer; refusals and errors become exit codes in `common.run`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cellpath.cli.common import (
    app,
    deadlines_table,
    default_actor,
    out,
    parse_data,
    parse_time,
    print_ack,
    print_json,
    run,
    session,
)
from cellpath.demo import start_demo
from cellpath.services import casefile, journeys
from cellpath.services.base import Refusal
from cellpath.services.intake import Admitted, take_in
from models.enums import Phase, SignatureMeaning
from models.messages import (
    AcknowledgeAlertInput,
    MilestoneInput,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway import RULES
from models.pathway.data import field_hints
from models.pathway.gates import SIGNED_DECISIONS


def _read_json(file: Path, what: str) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise Refusal(f"{file} is not valid JSON: {e}") from None
    except RecursionError:
        raise Refusal(f"{file} is nested too deeply to be {what}") from None


@app.command()
def intake(
    file: Annotated[
        Path,
        typer.Argument(
            help="intake JSON file (see README)", exists=True, dir_okay=False, readable=True
        ),
    ],
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="the patient's past milestones and observations (JSON; see README), for a "
            "patient already mid-treatment",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Store the patient's details in the case store and start the journey; print the case id.

    With `--history FILE` the journey starts from the patient's past: every milestone and
    observation is checked as a live one (all or nothing: one refused item starts nothing),
    deadlines are evaluated once, and what fell due in the past goes to the coordinator in one
    summary instead of escalating.
    """

    async def go() -> Admitted:
        raw = _read_json(file, "an intake file")
        past = _read_json(history, "a history file") if history is not None else None
        return await take_in(session(), raw, past)

    admitted = run(go)
    if as_json:
        print_json(admitted)
        return
    out.print(admitted.journey.case_id)
    if admitted.history is not None:
        h = admitted.history
        out.print(
            f"history imported: {h.milestones} milestone(s), {h.observations} observation(s); "
            f"phase [bold]{h.phase}[/bold]"
        )
        out.print(escape(h.summary), highlight=False)
        if h.next_deadlines:
            out.print(deadlines_table(h.next_deadlines))


def parse_item(text: str) -> dict[str, Any]:
    """`--item "ward, 28 days=35000@family"`: the name (commas and all), the amount after the
    last `=`, and who pays after `@`."""
    name, sep, rest = text.rpartition("=")
    amount, _, payer = rest.partition("@")
    if not sep or not name.strip():
        raise typer.BadParameter(
            f"expected NAME=AMOUNT or NAME=AMOUNT@PAYER, got {text!r}", param_hint="--item"
        )
    try:
        value: Any = float(amount)
    except ValueError:
        raise typer.BadParameter(
            f"the amount of {name.strip()!r} is not a number: {amount!r}", param_hint="--item"
        ) from None
    return {"name": name.strip(), "amount": value} | (
        {"payer": payer.strip()} if payer.strip() else {}
    )


def _milestone_epilog() -> str:
    """Every milestone kind by phase with its data fields (`?`: optional), for --help."""
    lines = ["Milestone kinds by phase, with their --data fields (? = optional):", ""]
    for phase in Phase:
        kinds = [(k, r) for k, r in RULES.items() if phase in r.phases]
        if not kinds:
            continue
        lines.append(f"{phase}:")
        for kind, rule in kinds:
            # A signed decision's meaning is required, though the model allows none (runs
            # started before signatures had none to give).
            signed = kind in SIGNED_DECISIONS
            fields = [
                h.name + ("" if h.required or (signed and h.name == "signature_meaning") else "?")
                for h in field_hints(rule.data)
            ]
            only = f" ({rule.cell_source} only)" if rule.cell_source else ""
            lines.append(f"  {kind}{only}: {', '.join(fields) or 'no data'}")
        lines.append("")
    lines.append(
        "Signed decisions (eligibility_assessed, pi_decision, discharged) are a physician's own "
        "signature. A PI's decision received in writing is recorded as transcribed, never as "
        "your signature: --data principal_investigator=pi-zhang --data "
        "transcribed_from_sha256=$(sha256sum letter.pdf | cut -c1-64)."
    )
    lines.append("")
    lines.append("`cellpath status CASE` lists what the journey waits for now, field by field.")
    # Typer rewraps help text; a blank line between lines keeps each on its own.
    return "\n".join(lines)


@app.command(epilog=_milestone_epilog())
def milestone(
    case: Annotated[str, typer.Argument(help="case id")],
    kind: Annotated[str, typer.Argument(help="milestone kind (listed below)")],
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            metavar="KEY=VALUE",
            help="a data field (repeatable); combines with --data-json, --data wins",
        ),
    ] = None,
    data_json: Annotated[
        str | None,
        typer.Option("--data-json", metavar="JSON", help="data as a JSON object"),
    ] = None,
    item: Annotated[
        list[str] | None,
        typer.Option(
            "--item",
            metavar="NAME=AMOUNT[@PAYER]",
            help='a cost estimate item (repeatable), e.g. --item "ward, 28 days=35000@family"',
        ),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="when it happened (ISO, with offset)")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="who records it")] = None,
    note: Annotated[str, typer.Option("--note", help="free text, ≤ 2,000 characters")] = "",
    milestone_id: Annotated[str | None, typer.Option("--id", help="idempotency key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the ack as JSON")] = False,
) -> None:
    """Record a milestone; exit 1 with the reason when the journey refuses it."""
    fields = parse_data(kind, data or [], data_json)
    if item:
        fields["items"] = [parse_item(text) for text in item]
    m = MilestoneInput(
        kind=kind,
        actor=actor or default_actor(),
        occurred_at=parse_time(at, "--at"),
        note=note,
        data=fields,
        milestone_id=milestone_id,
    )
    print_ack(run(lambda: journeys.record_milestone(session(), case, m)), as_json)


@app.command()
def acknowledge(
    case: Annotated[str, typer.Argument(help="case id")],
    alert_id: Annotated[str, typer.Argument(help="the alert's id (cellpath status CASE)")],
    note: Annotated[str, typer.Option("--note", help="what was done")] = "",
    meaning: Annotated[
        SignatureMeaning | None,
        typer.Option(
            "--meaning", help="what signing means (a critical alert: responsible/reviewed)"
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Acknowledge an alert (a critical alert repeats until a physician does, signing it)."""
    request = AcknowledgeAlertInput(
        alert_id=alert_id, actor=actor or default_actor(), note=note, signature_meaning=meaning
    )
    alert = run(
        lambda: journeys.acknowledge(session(), case, request),
        flags={"signature_meaning": "--meaning"},
    )
    if as_json:
        print_json(alert)
        return
    out.print(
        f"alert {alert.id} ({alert.severity} {alert.kind}) acknowledged by "
        f"{alert.acknowledged_by}; it was sent {alert.repeats + 1} time(s)"
    )


@app.command()
def timeline(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who is reading")] = None,
) -> None:
    """Show who recorded what and the observations: when each happened, when it was recorded.

    `--json` prints the milestones and actions only (the timeline query); `cellpath vitals`
    lists the observations in full.
    """

    async def go() -> tuple[list[Any], list[Any]]:
        s = session(actor)
        events = await journeys.timeline(s, case)
        return events, await journeys.observations(s, case)

    events, observations = run(go)
    if as_json:
        print_json(events)
        return
    rows: list[tuple[Any, ...]] = [
        (
            e.occurred_at,
            e.recorded_at,
            e.kind,
            e.actor,
            json.dumps(e.data, ensure_ascii=False) if e.data else "",
            e.note,
        )
        for e in events
    ]
    for r in observations:
        o = r.observation
        grades = f"CRS {r.crs_grade} · ICANS {r.icans_grade}" + (
            f" · GvHD {r.gvhd_grade}" if r.gvhd_grade is not None else ""
        )
        vitals = f"T {o.temperature_c} °C · SBP {o.systolic_bp}"
        rows.append((r.observed_at, r.recorded_at, "observation", o.actor, vitals, grades))
    table = Table(
        "occurred (UTC)",
        "recorded (UTC)",
        "kind",
        "actor",
        "data",
        "note",
        title=f"timeline of {case}",
    )
    for occurred, recorded, kind, actor, data, note in sorted(rows, key=lambda r: r[0]):
        late = recorded - occurred
        table.add_row(
            f"{occurred:%Y-%m-%d %H:%M}",
            f"{recorded:%Y-%m-%d %H:%M}" if late.total_seconds() >= 60 else "same time",
            kind,
            escape(actor),
            escape(data),
            escape(note),
        )
    out.print(table)


@app.command("list")
def list_journeys(
    phase: Annotated[
        Phase | None, typer.Option("--phase", help="only journeys in this phase")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only overdue journeys")] = False,
    site: Annotated[str | None, typer.Option("--site")] = None,
    coordinator: Annotated[str | None, typer.Option("--coordinator")] = None,
    escalated: Annotated[
        bool, typer.Option("--escalated", help="only journeys escalated (level ≥ 1)")
    ] = False,
    include_closed: Annotated[
        bool, typer.Option("--all", help="closed journeys too (with their outcome)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who is reading")] = None,
) -> None:
    """List open journeys from Temporal visibility (the search attributes journeys keep)."""
    rows = run(
        lambda: casefile.journeys(
            session(actor),
            phase=phase.value if phase else None,
            overdue=overdue,
            site=site,
            coordinator=coordinator,
            escalated=escalated,
            include_closed=include_closed,
        )
    )
    if as_json:
        out.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table(
        "case",
        "phase",
        "site",
        "coordinator",
        "next deadline (UTC)",
        "level",
        "alerts",
        title="journeys (critical and urgent alerts first)",
    )
    for r in rows:
        due = f"{r.next_deadline_at:%Y-%m-%d %H:%M}" if r.next_deadline_at else ""
        a = r.alerts
        counts = [f"{a.critical} critical"] if a.critical else []
        counts += [f"{a.urgent} urgent"] if a.urgent else []
        counts += [f"{a.other} other"] if a.other else []
        table.add_row(
            r.case_id,
            (r.phase or "?") + (f" ({r.outcome})" if r.outcome else ""),
            r.site or "",
            r.coordinator or "",
            due + (" overdue" if r.overdue else ""),
            str(r.escalation_level),
            ", ".join(counts),
            style="bold red" if a.critical else "red" if r.overdue or a.urgent else None,
        )
    out.print(table)


@app.command()
def audit(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    actor: Annotated[str | None, typer.Option("--actor", help="who is reading")] = None,
) -> None:
    """Print a case's whole audit trail from Temporal history, across continued runs.

    Milestones and actions with their actor and reason, refused signals, reminders,
    escalations and alerts sent. Updates refused by validation never enter Temporal history
    (that is what validation is for); the CLI records those in the case store's audit log,
    and they are listed here too, marked `case store`. `cellpath audit staff` lists the
    changes of roles (and refused attempts) from the case store.
    """
    lines = run(lambda: casefile.audit(session(actor), case))
    if as_json:
        out.print_json(json.dumps([line.model_dump(mode="json") for line in lines]))
        return
    table = Table("at (UTC)", "run", "what", "who", "detail", "reason", title=f"audit of {case}")
    for line in lines:
        table.add_row(
            f"{line.at:%Y-%m-%d %H:%M:%S}",
            str(line.run or "—"),
            line.what,
            line.actor,
            line.detail,
            line.reason,
        )
    out.print(table)


@app.command()
def withdraw(
    case: Annotated[str, typer.Argument(help="case id")],
    reason: Annotated[str, typer.Option("--reason", help="why the journey ends")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Close a journey as withdrawn."""
    request = WithdrawInput(reason=reason, actor=actor or default_actor())
    print_ack(run(lambda: journeys.withdraw(session(), case, request)), as_json)


@app.command()
def reschedule(
    case: Annotated[str, typer.Argument(help="case id")],
    deadline: Annotated[str, typer.Argument(help="deadline name, e.g. pi_decision")],
    due: Annotated[str, typer.Option("--due", help="new due time (ISO, with offset)")],
    reason: Annotated[str, typer.Option("--reason", help="why it moves")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Move an open deadline; its reminders and escalation start again from the new time."""
    due_at = parse_time(due, "--due")
    assert due_at is not None
    request = RescheduleInput(
        deadline=deadline, due_at=due_at, reason=reason, actor=actor or default_actor()
    )
    view = run(lambda: journeys.reschedule(session(), case, request))
    if as_json:
        print_json(view)
    else:
        out.print(f"{view.name} now due {view.due_at:%Y-%m-%d %H:%M} UTC")


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="print the cases as JSON")] = False,
) -> None:
    """Start a handful of sample journeys at different phases, yours to coordinate (safe to
    run twice)."""

    async def go() -> list[tuple[str, str]]:
        s = session()
        return await start_demo(
            await s.temporal(), s.case_store(), s.settings.task_queue, coordinator=s.actor
        )

    started = run(go)
    if as_json:
        print_json([{"case_id": case_id, "what": what} for case_id, what in started])
        return
    for case_id, what in started:
        out.print(f"{case_id}: {what}")
