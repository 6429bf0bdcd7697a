"""The coordinators', physicians' and nurses' commands: intake, milestones, observations,
alerts, deadlines, reading a journey, the demo.

Each parses what was typed into the service's input, calls the service (`cellpath.services`),
and prints the answer; refusals and errors become exit codes in `common.run`.
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cellpath.cli.common import (
    app,
    deadlines_table,
    default_actor,
    err,
    out,
    parse_data,
    parse_time,
    print_ack,
    print_json,
    run,
    session,
)
from cellpath.scenarios import start_demo
from cellpath.services import casefile, journeys
from cellpath.services.base import Refusal
from cellpath.services.intake import take_in
from models.grading import (
    CerebralEdema,
    Consciousness,
    GradingError,
    OxygenDevice,
    Seizure,
    ice_score,
)
from models.messages import (
    AcknowledgeAlertInput,
    MilestoneInput,
    ObservationInput,
    RescheduleInput,
    WithdrawInput,
)


@app.command()
def intake(
    file: Annotated[
        Path,
        typer.Argument(
            help="intake JSON file (see README)", exists=True, dir_okay=False, readable=True
        ),
    ],
) -> None:
    """Store the patient's details in the case store and start the journey; print the case id."""

    async def go() -> str:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise Refusal(f"{file} is not valid JSON: {e}") from None
        except RecursionError:
            raise Refusal(f"{file} is nested too deeply to be an intake file") from None
        return (await take_in(session(), raw)).case_id

    out.print(run(go))


@app.command()
def milestone(
    case: Annotated[str, typer.Argument(help="case id")],
    kind: Annotated[str, typer.Argument(help="milestone kind, e.g. records_complete")],
    data: Annotated[list[str] | None, typer.Option("--data", help="key=value (repeatable)")] = None,
    data_json: Annotated[
        str | None, typer.Option("--data-json", help="data as a JSON object")
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
    m = MilestoneInput(
        kind=kind,
        actor=actor or default_actor(),
        occurred_at=parse_time(at, "--at"),
        note=note,
        data=parse_data(kind, data or [], data_json),
        milestone_id=milestone_id,
    )
    print_ack(run(lambda: journeys.record_milestone(session(), case, m)), as_json)


@app.command()
def observe(
    case: Annotated[str, typer.Argument(help="case id")],
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="ask for each field, as at the bedside")
    ] = False,
    temperature: Annotated[float | None, typer.Option("--temperature", help="°C")] = None,
    systolic: Annotated[int | None, typer.Option("--systolic", help="systolic BP, mmHg")] = None,
    heart_rate: Annotated[int | None, typer.Option("--heart-rate", help="/min")] = None,
    respiratory_rate: Annotated[int | None, typer.Option("--respiratory-rate", help="/min")] = None,
    spo2: Annotated[float | None, typer.Option("--spo2", help="%")] = None,
    oxygen_device: Annotated[OxygenDevice, typer.Option("--oxygen-device")] = OxygenDevice.NONE,
    oxygen_flow: Annotated[float | None, typer.Option("--oxygen-flow", help="L/min")] = None,
    vasopressors: Annotated[
        int, typer.Option("--vasopressors", help="count, not counting vasopressin")
    ] = 0,
    vasopressin: Annotated[bool, typer.Option("--vasopressin")] = False,
    fever_other_cause: Annotated[
        bool, typer.Option("--fever-other-cause", help="fever attributable to another cause")
    ] = False,
    anticytokine: Annotated[
        bool,
        typer.Option(
            "--anticytokine-or-antipyretic",
            help="tocilizumab, steroids or antipyretics given (fever no longer required)",
        ),
    ] = False,
    ice_score: Annotated[int | None, typer.Option("--ice-score", help="ICE 0–10")] = None,
    consciousness: Annotated[Consciousness, typer.Option("--consciousness")] = Consciousness.AWAKE,
    seizure: Annotated[Seizure, typer.Option("--seizure")] = Seizure.NONE,
    motor_weakness: Annotated[
        bool, typer.Option("--motor-weakness", help="deep focal motor weakness")
    ] = False,
    cerebral_edema: Annotated[CerebralEdema, typer.Option("--cerebral-edema")] = CerebralEdema.NONE,
    ferritin: Annotated[float | None, typer.Option("--ferritin", help="ng/mL")] = None,
    gvhd_skin: Annotated[
        float | None, typer.Option("--gvhd-skin-bsa", help="% body surface with rash")
    ] = None,
    bilirubin: Annotated[float | None, typer.Option("--bilirubin", help="mg/dL")] = None,
    stool: Annotated[float | None, typer.Option("--stool", help="mL/day")] = None,
    at: Annotated[str | None, typer.Option("--at", help="when observed (ISO, with offset)")] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    note: Annotated[str, typer.Option("--note")] = "",
    observation_id: Annotated[str | None, typer.Option("--id", help="idempotency key")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record a monitoring observation; prints the computed CRS/ICANS/GvHD grades and alerts.

    Grades are never typed: they are computed from the findings (ASTCT, MAGIC).
    `--interactive` asks for each finding in turn, the ICE score from its five parts.
    """
    fields: dict[str, Any] = {
        "temperature_c": temperature,
        "systolic_bp": systolic,
        "heart_rate": heart_rate,
        "respiratory_rate": respiratory_rate,
        "spo2": spo2,
        "oxygen_device": oxygen_device.value,
        "oxygen_flow_l_min": oxygen_flow,
        "vasopressors": vasopressors,
        "vasopressin": vasopressin,
        "fever_other_cause": fever_other_cause,
        "anticytokine_or_antipyretic_given": anticytokine,
        "ice_score": ice_score,
        "consciousness": consciousness.value,
        "seizure": seizure.value,
        "motor_weakness": motor_weakness,
        "cerebral_edema": cerebral_edema.value,
        "ferritin_ng_ml": ferritin,
        "gvhd_skin_bsa_pct": gvhd_skin,
        "bilirubin_mg_dl": bilirubin,
        "stool_ml_day": stool,
    }
    if interactive:
        s = run(lambda: journeys.status(session(), case))
        fields = bedside_prompts(allogeneic=s.cell_source == "allogeneic")
    elif temperature is None or systolic is None:
        err.print("--temperature and --systolic are required (or use --interactive)")
        raise typer.Exit(2)
    o = ObservationInput(
        actor=actor or default_actor(),
        observed_at=parse_time(at, "--at"),
        note=note,
        observation_id=observation_id,
        **fields,
    )
    ack = run(lambda: journeys.observe(session(), case, o))
    if as_json:
        print_json(ack)
        return
    if ack.duplicate:
        out.print("observation already recorded (duplicate id): nothing changed")
        return
    gvhd = "—" if ack.gvhd_grade is None else str(ack.gvhd_grade)
    out.print(
        f"observation recorded · CRS grade [bold]{ack.crs_grade}[/bold] · "
        f"ICANS grade [bold]{ack.icans_grade}[/bold] · GvHD grade {gvhd}"
        + (f" · flags: {', '.join(ack.flags)}" if ack.flags else "")
    )
    for a in ack.alerts:
        out.print(f"[red]{a.severity.upper()} alert {a.id}[/red] → on-call physician: {a.text}")
    if ack.next_observation_due:
        out.print(f"next observation due {ack.next_observation_due:%Y-%m-%d %H:%M} UTC")


def bedside_prompts(*, allogeneic: bool) -> dict[str, Any]:
    """Ask a nurse for each finding in turn; blank answers skip the optional ones.

    Prompts go to stderr, so stdout carries only the result (`--json` stays parseable).
    """

    ask = functools.partial(typer.prompt, err=True)
    yes = functools.partial(typer.confirm, err=True)

    def optional(label: str, kind: type) -> Any:
        text = ask(f"{label} (blank to skip)", default="", show_default=False)
        return kind(text) if text.strip() else None

    def choice(label: str, enum: type[StrEnum]) -> str:
        values = [m.value for m in enum]

        def known(text: str) -> str:
            if text not in values:
                # A BadParameter makes the prompt say why and ask again.
                raise typer.BadParameter(f"expected one of: {', '.join(values)}")
            return text

        return str(ask(f"{label} [{' / '.join(values)}]", default=values[0], value_proc=known))

    f: dict[str, Any] = {
        "temperature_c": ask("Temperature (°C)", type=float),
        "systolic_bp": ask("Systolic blood pressure (mmHg)", type=int),
        "heart_rate": optional("Heart rate (/min)", int),
        "respiratory_rate": optional("Respiratory rate (/min)", int),
        "spo2": optional("SpO2 (%)", float),
    }
    f["oxygen_device"] = choice("Oxygen", OxygenDevice)
    if f["oxygen_device"] != OxygenDevice.NONE:
        f["oxygen_flow_l_min"] = optional("Oxygen flow (L/min)", float)
    f["vasopressors"] = ask("Vasopressors running, not counting vasopressin", default=0)
    f["vasopressin"] = yes("Vasopressin running?", default=False)
    if f["temperature_c"] >= 38.0:
        f["fever_other_cause"] = yes("Is the fever attributable to another cause?", default=False)
    f["anticytokine_or_antipyretic_given"] = yes(
        "Tocilizumab, steroids or antipyretics given?", default=False
    )
    f["consciousness"] = choice("Consciousness", Consciousness)
    if f["consciousness"] != Consciousness.UNAROUSABLE and yes("ICE screen done?", default=True):
        f["ice_score"] = ice_score_of(
            orientation=ask("  ICE orientation: year, month, city, hospital (0–4)", type=int),
            naming=ask("  ICE naming of 3 objects (0–3)", type=int),
            commands=ask("  ICE follows simple commands (0–1)", type=int),
            writing=ask("  ICE writes a standard sentence (0–1)", type=int),
            attention=ask("  ICE counts back from 100 by 10 (0–1)", type=int),
        )
        err.print(f"  ICE score {f['ice_score']}/10")
    f["seizure"] = choice("Seizure", Seizure)
    f["motor_weakness"] = yes("Deep focal motor weakness?", default=False)
    f["cerebral_edema"] = choice("Cerebral oedema on imaging", CerebralEdema)
    f["ferritin_ng_ml"] = optional("Ferritin (ng/mL)", float)
    if allogeneic:
        f["gvhd_skin_bsa_pct"] = optional("GvHD rash, % body surface", float)
        f["bilirubin_mg_dl"] = optional("Total bilirubin (mg/dL)", float)
        f["stool_ml_day"] = optional("Stool volume (mL/day)", float)
    return f


def ice_score_of(**parts: int) -> int:
    """The ICE score from its parts; a part out of range is a usage error (exit 2)."""
    try:
        return ice_score(**parts)
    except GradingError as e:
        err.print(str(e))
        raise typer.Exit(2) from None


@app.command()
def acknowledge(
    case: Annotated[str, typer.Argument(help="case id")],
    alert_id: Annotated[str, typer.Argument(help="the alert's id (cellpath status CASE)")],
    note: Annotated[str, typer.Option("--note", help="what was done")] = "",
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Acknowledge an alert (a critical alert repeats until a physician does)."""
    request = AcknowledgeAlertInput(alert_id=alert_id, actor=actor or default_actor(), note=note)
    alert = run(lambda: journeys.acknowledge(session(), case, request))
    if as_json:
        print_json(alert)
        return
    out.print(
        f"alert {alert.id} ({alert.severity} {alert.kind}) acknowledged by "
        f"{alert.acknowledged_by}; it was sent {alert.repeats + 1} time(s)"
    )


@app.command()
def status(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a journey's phase, open deadlines, alerts and refused signals."""
    s = run(lambda: journeys.status(session(), case))
    if as_json:
        print_json(s)
        return
    outcome = f" → {s.outcome}" if s.outcome else ""
    out.print(
        f"[bold]{s.case_id}[/bold] ({s.patient_ref}) · {s.therapy} {s.cell_source} · "
        f"{s.program} · protocol {s.protocol}"
    )
    out.print(
        f"phase [bold]{s.phase}[/bold]{outcome} · site {s.current_site or '—'} · "
        f"coordinator {s.coordinator} · {s.milestone_count} timeline entries"
    )
    if s.open_deadlines:
        out.print(deadlines_table(s.open_deadlines))
    tox = s.toxicity
    if tox.last_observed_at is not None:
        gvhd = (
            ""
            if tox.gvhd_worst is None
            else f" · GvHD {tox.gvhd_current if tox.gvhd_current is not None else '—'} "
            f"(worst {tox.gvhd_worst})"
        )
        out.print(
            f"toxicity at {tox.last_observed_at:%Y-%m-%d %H:%M} UTC: CRS {tox.crs_current} "
            f"(worst {tox.crs_worst}) · ICANS {tox.icans_current} (worst {tox.icans_worst})"
            + gvhd
            + (f" · flags: {', '.join(tox.flags)}" if tox.flags else "")
        )
    for a in s.alerts:
        mark = (
            f"acknowledged by {a.acknowledged_by} {a.acknowledged_at:%Y-%m-%d %H:%M}"
            if a.acknowledged and a.acknowledged_at
            else "OPEN"
        )
        out.print(f"[red]{a.severity.upper()}[/red] {a.kind} {a.id} ({mark}): {a.text}")
    for r in s.rejected:
        out.print(
            f"[yellow]rejected signal[/yellow] {r.kind} from {r.actor or '?'} "
            f"at {r.received_at:%Y-%m-%d %H:%M}: {r.reason}"
        )


@app.command()
def timeline(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show who recorded what, when it happened and when it was recorded."""
    events = run(lambda: journeys.timeline(session(), case))
    if as_json:
        print_json(events)
        return
    table = Table("occurred (UTC)", "kind", "actor", "data", "note", title=f"timeline of {case}")
    for e in events:
        table.add_row(
            f"{e.occurred_at:%Y-%m-%d %H:%M}",
            e.kind,
            e.actor,
            json.dumps(e.data, ensure_ascii=False) if e.data else "",
            e.note,
        )
    out.print(table)


@app.command("list")
def list_journeys(
    phase: Annotated[str | None, typer.Option("--phase")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only overdue journeys")] = False,
    site: Annotated[str | None, typer.Option("--site")] = None,
    coordinator: Annotated[str | None, typer.Option("--coordinator")] = None,
    escalated: Annotated[
        bool, typer.Option("--escalated", help="only journeys escalated (level ≥ 1)")
    ] = False,
    include_closed: Annotated[
        bool, typer.Option("--all", help="closed journeys too (with their outcome)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List open journeys from Temporal visibility (the search attributes journeys keep)."""
    rows = run(
        lambda: casefile.journeys(
            session(),
            phase=phase,
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
        "case", "phase", "site", "coordinator", "next deadline (UTC)", "level", title="journeys"
    )
    for r in rows:
        due = f"{r.next_deadline_at:%Y-%m-%d %H:%M}" if r.next_deadline_at else ""
        table.add_row(
            r.case_id,
            (r.phase or "?") + (f" ({r.outcome})" if r.outcome else ""),
            r.site or "",
            r.coordinator or "",
            due + (" overdue" if r.overdue else ""),
            str(r.escalation_level),
            style="red" if r.overdue else None,
        )
    out.print(table)


@app.command()
def audit(
    case: Annotated[str, typer.Argument(help="case id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print a case's whole audit trail from Temporal history, across continued runs.

    Milestones and actions with their actor and reason, refused signals, reminders,
    escalations and alerts sent. Updates refused by validation never enter Temporal history
    (that is what validation is for); the CLI records those in the case store's audit log,
    and they are listed here too, marked `case store`. `cellpath audit staff` lists the
    changes of roles (and refused attempts) from the case store.
    """
    lines = run(lambda: casefile.audit(session(), case))
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
def demo() -> None:
    """Start a handful of sample journeys at different phases (safe to run twice)."""

    async def go() -> list[tuple[str, str]]:
        s = session()
        return await start_demo(await s.temporal(), s.case_store(), s.settings.task_queue)

    for case_id, what in run(go):
        out.print(f"{case_id}: {what}")
