"""`cellpath`: the coordinators' command line.

Exit codes: 0 done · 1 refused (the reason on stderr) · 2 usage or connection error.
Every command talks to Temporal through typed handles (`PatientJourney.record_milestone`, …)
with the pydantic data converter, exactly as integrations do.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import json
import os
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_origin

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from cellpath.codec import UnknownKeyError
from cellpath.config import get_settings
from cellpath.store import STAFF_AUDIT, CaseStore
from models.deadlines import DeadlineView
from models.enums import MilestoneKind
from models.errors import CaseStoreError, Refused
from models.grading import (
    CerebralEdema,
    Consciousness,
    GradingError,
    OxygenDevice,
    Seizure,
    ice_score,
)
from models.intake import IntakeProblems
from models.messages import (
    AcknowledgeAlertInput,
    Alert,
    AuditEntry,
    JourneyStatus,
    MilestoneAck,
    MilestoneEvent,
    MilestoneInput,
    ObservationAck,
    ObservationInput,
    RescheduleInput,
    WithdrawInput,
)
from models.pathway import MILESTONE_KINDS, SPECS
from models.roles import Action, Role, check_permission
from workflows import PatientJourney

T = TypeVar("T")

app = typer.Typer(
    name="cellpath",
    help="Run patients' CAR-T / CAR-NK journeys: record milestones, read status and deadlines.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


class Refusal(Exception):
    """The journey (or the intake) refused the request: exit 1."""


class Unreachable(Exception):
    """Temporal or the case store could not be reached, or the case does not exist: exit 2."""


def workflow_id(case_id: str) -> str:
    """The journey's workflow id (contract: `journey-{case_id}`)."""
    return f"journey-{case_id}"


def default_actor() -> str:
    """Who is typing: `CELLPATH_ACTOR`, else the login name."""
    return os.environ.get("CELLPATH_ACTOR") or getpass.getuser()


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command; map failures to the contract's exit codes."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except Refusal as e:
        # escape(): a reason may hold text rich would read as markup (a pattern's "[A-Z]").
        err.print(f"[red]refused:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    except Unreachable as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None
    except UnknownKeyError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(2) from None
    except KeyError as e:
        # The SDK's converter names an encoding it has no codec for: encrypted payloads read
        # by a process without keys.
        if "binary/encrypted" not in str(e):
            raise
        err.print(
            "[red]error:[/red] this journey's payloads are encrypted and this process has no "
            "keys; set CELLPATH_ENCRYPTION_KEY_FILE (or CELLPATH_ENCRYPTION_KEYS)",
            highlight=False,
        )
        raise typer.Exit(2) from None


async def connect() -> Client:
    """A client with the product's data converter, or `Unreachable`."""
    from cellpath import connection

    try:
        target = connection.temporal_target()
        converter = connection.data_converter()
    except ValueError as e:  # a bad envconfig profile or key ring: say which
        raise Unreachable(f"configuration: {e}") from None
    try:
        return await connection.connect(converter=converter)
    except Exception as e:  # connection errors come in many types; all mean "not reachable"
        raise Unreachable(f"cannot reach Temporal at {target.describe()}: {e}") from None


def journey(client: Client, case_id: str) -> WorkflowHandle[PatientJourney, JourneyStatus]:
    """A typed handle on a case's journey."""
    return client.get_workflow_handle_for(PatientJourney.run, workflow_id(case_id))


async def call_update(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an update; a refusal becomes `Refusal`, a missing journey `Unreachable`."""
    try:
        return await fn()
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        raise Refusal(getattr(cause, "message", None) or str(cause)) from None
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            raise Unreachable("no open journey for that case (closed, or never started)") from None
        raise Unreachable(str(e)) from None


def case_store() -> CaseStore:
    """The case store of the settings, or `Unreachable`."""
    try:
        return CaseStore.from_url(get_settings().database_url)
    except Exception as e:  # driver errors come in many types; all mean "not reachable"
        raise Unreachable(f"cannot open the case store: {e}") from None


def authorise(
    actor: str,
    action: Action,
    *,
    case: str = STAFF_AUDIT,
    request: Any = None,
    milestone: str | None = None,
    critical_alert: bool = False,
) -> None:
    """Check the actor's role in the case store; a refusal is audited and exits 1.

    Identity is the `--actor` / `CELLPATH_ACTOR` the command runs as: the CLI is an internal
    tool on machines the service controls (see README, "Roles").
    """
    store = case_store()
    try:
        role = store.role_of(actor)
    except Exception as e:
        raise Unreachable(f"cannot read roles from the case store: {e}") from None
    try:
        check_permission(actor, role, action, milestone=milestone, critical_alert=critical_alert)
    except Refused as e:
        record_refusal(case, action.value, request, str(e), actor=actor)
        raise Refusal(str(e)) from None


# Which permission each update of the journey needs.
UPDATE_ACTIONS = {
    "record_milestone": Action.MILESTONE,
    "record_observation": Action.OBSERVE,
    "acknowledge_alert": Action.ACKNOWLEDGE,
    "reschedule": Action.RESCHEDULE,
    "withdraw": Action.WITHDRAW,
}


def send_update(case: str, update: Any, request: Any) -> Any:
    """Check the actor's role, send a validated update to the journey, return its result.

    A refusal (by role or by the journey) exits 1 with the reason and is written to the audit
    log; an unreachable server or case exits 2.
    """
    name = getattr(update, "__name__", "update")

    async def go() -> Any:
        client = await connect()
        critical = False
        if name == "acknowledge_alert":
            # Whether a physician is needed depends on the alert: ask the journey.
            s = await call_query(lambda: journey(client, case).query(PatientJourney.status))
            critical = any(a.id == request.alert_id and a.severity == "critical" for a in s.alerts)
        authorise(
            request.actor,
            UPDATE_ACTIONS[name],
            case=case,
            request=request,
            milestone=getattr(request, "kind", None),
            critical_alert=critical,
        )
        try:
            return await call_update(lambda: journey(client, case).execute_update(update, request))
        except Refusal as e:
            record_refusal(case, name, request, str(e))
            raise

    return run(go)


def record_refusal(
    case: str,
    update_name: str,
    request: Any,
    reason: str,
    *,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write a refused update to the case store's audit log: who tried what, and why not.

    Temporal keeps updates refused by validation out of history (that is the point of
    validating), so this is where an auditor finds them. PHI-free: kind, ids and the reason.
    """
    detail = (detail or {}) | {
        key: str(getattr(request, key))
        for key in ("kind", "deadline", "alert_id", "milestone_id", "observation_id")
        if getattr(request, key, None) is not None
    }
    now = datetime.now(UTC)
    entry = AuditEntry(
        event_id=f"{case}:refused:{uuid.uuid4()}",
        case_id=case,
        action=f"refused:{update_name}",
        actor=actor or getattr(request, "actor", "") or default_actor(),
        occurred_at=now,
        recorded_at=now,
        detail=detail,
        reason=reason,
    )
    try:
        case_store().append_audit([entry])
    except Exception as e:  # the refusal stands; failing to audit it must be visible
        err.print(f"warning: the refusal could not be written to the audit log: {e}")


def store_only_entries(case: str) -> list[Any]:
    """Audit entries only the case store holds: refusals by role or validation, erasure.

    (Everything the journey itself audits is in its history and read from there.) Empty,
    with a warning, when the store is unreachable.
    """
    try:
        rows = case_store().audit_trail(case)
    except Exception as e:
        err.print(f"warning: case store unreachable, the entries it holds are not shown: {e}")
        return []
    return [r for r in rows if r.action.startswith("refused:") or r.action in STORE_ONLY_ACTIONS]


# Audit actions written by the CLI or the store itself, not by a journey (whose own entries are
# read from its history): erasure, writes set aside, resets by `cellpath doctor`.
STORE_ONLY_ACTIONS = frozenset({"patient_erased", "write_set_aside", "journey_reset"})


def read_query(case: str, query: Any) -> Any:
    """Ask the case's journey a query; an unreachable server or case exits 2."""

    async def go() -> Any:
        authorise(default_actor(), Action.READ, case=case)
        client = await connect()
        return await call_query(lambda: journey(client, case).query(query))

    return run(go)


async def call_query(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a query; a missing journey is `Unreachable`."""
    try:
        return await fn()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            raise Unreachable("no journey for that case") from None
        raise Unreachable(str(e)) from None
    except WorkflowQueryFailedError as e:
        raise Unreachable(f"the journey could not answer: {e}") from None


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO time with a UTC offset (`Z` allowed); a naive one is a usage error."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO time such as 2026-11-21T10:00+08:00, got {text!r}", param_hint=option
        ) from None
    if value.tzinfo is None:
        raise typer.BadParameter(
            "the time needs a UTC offset, e.g. 2026-11-21T10:00+08:00", param_hint=option
        )
    return value


def parse_data(kind: str, pairs: list[str], data_json: str | None) -> dict[str, Any]:
    """`--data k=v` pairs (and `--data-json`) as the milestone's data.

    A value that is JSON (a number, `true`, a list) is taken as JSON; otherwise as text. For a
    field the milestone declares as a list, `a,b` is split at commas and repeated keys collect.
    """
    data: dict[str, Any] = {}
    if data_json:
        try:
            loaded = json.loads(data_json)
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"not JSON: {e}", param_hint="--data-json") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("expected a JSON object", param_hint="--data-json")
        data.update(loaded)
    spec = SPECS[MilestoneKind(kind)] if kind in MILESTONE_KINDS else None
    list_fields = {
        name
        for name, f in (spec.data.model_fields.items() if spec else [])
        if get_origin(f.annotation) is list or "list[" in str(f.annotation)
    }
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--data")
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if key in list_fields:
            items = value if isinstance(value, list) else [v.strip() for v in str(text).split(",")]
            data[key] = [*data.get(key, []), *items]
        else:
            data[key] = value
    return data


def print_json(value: BaseModel | list[BaseModel]) -> None:
    """Machine-readable output for scripts."""
    if isinstance(value, list):
        out.print_json(json.dumps([v.model_dump(mode="json") for v in value]))
    else:
        out.print_json(value.model_dump_json())


def deadlines_table(deadlines: list[DeadlineView]) -> Table:
    """Open deadlines as a table, overdue ones in red."""
    table = Table("deadline", "due (UTC)", "level", "overdue", title="open deadlines")
    for d in deadlines:
        style = "red" if d.overdue else None
        table.add_row(
            d.name,
            f"{d.due_at:%Y-%m-%d %H:%M}",
            str(d.escalation_level),
            "yes" if d.overdue else "",
            style=style,
        )
    return table


def print_ack(ack: MilestoneAck, as_json: bool) -> None:
    if as_json:
        print_json(ack)
        return
    note = " (duplicate: already recorded)" if ack.duplicate else ""
    out.print(f"accepted{note} — phase [bold]{ack.phase}[/bold]")
    if ack.next_deadlines:
        out.print(deadlines_table(ack.next_deadlines))


# --- commands -------------------------------------------------------------------------------


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
        from cellpath.services.casefile import CaseExists, admit

        authorise(default_actor(), Action.INTAKE, case="intake")
        store = case_store()
        client = await connect()
        try:
            inp, _ = await admit(
                raw, store=store, client=client, task_queue=get_settings().task_queue
            )
        except IntakeProblems as e:
            raise Refusal(
                "the intake file has problems:\n  - " + "\n  - ".join(e.problems)
            ) from None
        except CaseExists as e:
            raise Refusal(str(e)) from None
        return inp.case_id

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
    print_ack(send_update(case, PatientJourney.record_milestone, m), as_json)


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
        s: JourneyStatus = read_query(case, PatientJourney.status)
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
    ack: ObservationAck = send_update(case, PatientJourney.record_observation, o)
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
    alert: Alert = send_update(
        case,
        PatientJourney.acknowledge_alert,
        AcknowledgeAlertInput(alert_id=alert_id, actor=actor or default_actor(), note=note),
    )
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
    s: JourneyStatus = read_query(case, PatientJourney.status)
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
    events: list[MilestoneEvent] = read_query(case, PatientJourney.timeline)
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
    from cellpath.services.casefile import list_journeys as listed
    from cellpath.services.casefile import list_query

    query = list_query(
        phase=phase,
        overdue=overdue,
        site=site,
        coordinator=coordinator,
        escalated=escalated,
        include_closed=include_closed,
    )

    async def go() -> list[Any]:
        authorise(default_actor(), Action.READ, case="list")
        client = await connect()
        try:
            return await listed(client, query)
        except RPCError as e:
            raise Unreachable(f"visibility query failed ({query}): {e.message}") from None

    rows = run(go)
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
    from cellpath.services.casefile import AuditLine, audit_trail

    async def go() -> list[AuditLine]:
        authorise(default_actor(), Action.READ, case=case)
        if case == STAFF_AUDIT:
            return [
                AuditLine.of_entry(e, 0, " (case store)") for e in case_store().audit_trail(case)
            ]
        client = await connect()
        try:
            lines = await audit_trail(client, case)
        except RPCError as e:
            raise Unreachable(str(e)) from None
        if not lines:
            raise Unreachable(f"no journey for case {case}")
        return lines

    lines = run(go)
    if case != STAFF_AUDIT:
        lines += [AuditLine.of_entry(e, 0, " (case store)") for e in store_only_entries(case)]
    lines.sort(key=lambda line: line.at)
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
    print_ack(send_update(case, PatientJourney.withdraw, request), as_json)


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
    view: DeadlineView = send_update(case, PatientJourney.reschedule, request)
    if as_json:
        print_json(view)
    else:
        out.print(f"{view.name} now due {view.due_at:%Y-%m-%d %H:%M} UTC")


@app.command()
def demo() -> None:
    """Start a handful of sample journeys at different phases (safe to run twice)."""

    async def go() -> list[tuple[str, str]]:
        from cellpath.scenarios import start_demo

        client = await connect()
        store = CaseStore.from_url(get_settings().database_url)
        return await start_demo(client, store, get_settings().task_queue)

    for case_id, what in run(go):
        out.print(f"{case_id}: {what}")


@app.command()
def erase(
    case: Annotated[str, typer.Argument(help="case id")],
    reason: Annotated[str, typer.Option("--reason", help="legal basis or request reference")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase the patient's identifying details (GDPR art. 17, PIPL art. 47); audited.

    The journey, its history and the audit trail stay: they only hold the pseudonymous
    `patient_ref`. Erasure cannot be undone.
    """
    who = actor or default_actor()
    authorise(who, Action.ERASE, case=case)
    if not yes and not typer.confirm(
        f"Erase the identifying details of case {case}'s patient? This cannot be undone.",
        err=True,
    ):
        raise typer.Exit(1)
    try:
        ref = case_store().erase_patient(case, actor=who, reason=reason)
    except CaseStoreError as e:
        err.print(f"[red]refused:[/red] {e}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"erased the identifying details of {ref} (case {case}); the journey is intact")


staff_app = typer.Typer(
    help="Who may use cellpath, in which role (coordinator, physician, site_staff, viewer, "
    "administrator). Only an administrator changes roles; every change is audited "
    "(`cellpath audit staff`).",
    no_args_is_help=True,
)
app.add_typer(staff_app, name="staff")


def change_staff(member: str, role: Role | None, by: str | None) -> None:
    """Change a role as an administrator; a refusal is audited (under `staff`) and exits 1."""
    who = by or default_actor()
    request = {"staff": member, "to": role.value if role else None}

    async def go() -> None:
        authorise(who, Action.MANAGE_STAFF, case=STAFF_AUDIT)
        try:
            case_store().set_role(member, role, by=who)
        except CaseStoreError as e:
            record_refusal(STAFF_AUDIT, "staff", None, str(e), actor=who, detail=request)
            raise Refusal(str(e)) from None

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


@staff_app.command("bootstrap")
def staff_bootstrap(
    member: Annotated[str, typer.Argument(help="the first administrator's actor id")],
) -> None:
    """Register the first administrator; refused once one exists (audited)."""

    async def go() -> None:
        try:
            case_store().bootstrap_administrator(member, by=default_actor())
        except CaseStoreError as e:
            record_refusal(STAFF_AUDIT, "staff_bootstrap", None, str(e), actor=default_actor())
            raise Refusal(str(e)) from None

    run(go)
    out.print(f"{member}: administrator")


@staff_app.command("list")
def staff_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Everyone registered and their role."""
    members = case_store().staff()
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
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Journeys that cannot move on (their workflow task keeps failing) and writes set aside.

    For each stuck journey: the failure's cause, and — for a nondeterminism error — the
    workflow task to reset to (found by replaying its history here). `--reset CASE` performs
    that reset (administrators; audited): Temporal re-runs the journey from there with this
    code and re-applies every milestone and signal received since. Exit 0 when all is well,
    1 when something needs an operator.
    """
    from cellpath.services import doctor as diagnosis

    actor = default_actor()

    async def go() -> tuple[list[Any], list[Any], str | None]:
        authorise(actor, Action.OPERATE, case="doctor")
        client = await connect()
        try:
            stuck = await diagnosis.stuck_journeys(client, deep=deep)
        except RPCError as e:
            raise Unreachable(f"cannot list journeys: {e.message}") from None
        note = None
        if reset is not None:
            note = await reset_stuck(client, reset)
            stuck = [s for s in stuck if s.case_id != reset]
        return stuck, case_store().dead_letters(), note

    async def reset_stuck(client: Client, case: str) -> str:
        try:
            found = await diagnosis.stuck_journey(client, workflow_id(case))
        except RPCError as e:
            raise Unreachable(f"no running journey for case {case}: {e.message}") from None
        if found is None:
            raise Refusal(f"case {case} is not stuck (its workflow task is not failing)")
        if not reason or not reason.strip():
            raise Refusal("--reason is required: why the journey is reset (it is audited)")
        event = found.diagnosis.reset_to_event if found.diagnosis else None
        if not yes and not typer.confirm(
            f"Reset case {reset}: re-run it from event {event} with this code, re-applying "
            "what arrived since?",
            err=True,
        ):
            raise typer.Exit(1)
        try:
            run_id = await diagnosis.reset_journey(client, found, reason=reason, actor=actor)
        except ValueError as e:
            raise Refusal(str(e)) from None
        now = datetime.now(UTC)
        detail = {
            "from_run": found.run_id,
            "reset_to_event": event,
            "new_run": run_id,
            "cause": found.cause,
        }
        entry = AuditEntry(
            event_id=f"{reset}:journey_reset:{uuid.uuid4()}",
            case_id=reset,
            action="journey_reset",
            actor=actor,
            occurred_at=now,
            recorded_at=now,
            detail=detail,
            reason=reason,
        )
        case_store().append_audit([entry])
        verdict = await diagnosis.verify_reset(client, found.workflow_id, run_id)
        return f"reset {reset}: new run {run_id}; {verdict}"

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


def main() -> None:
    """Console-script entry point.

    Ends the process with `os._exit` once the command is done and its output flushed: the
    Temporal client's Rust runtime keeps threads that may call into Python while the
    interpreter finalises, which aborts the process ("Fatal Python error: PyGILState_Release",
    exit 134) — after a command that succeeded (sdk-python#300). Nothing is left to clean up
    at that point: every command has finished its work, and the case store commits per unit.
    """
    code = 0
    try:
        app()
    except SystemExit as e:
        if isinstance(e.code, str):
            err.print(e.code)
            code = 1
        else:
            code = e.code or 0
    except ValidationError as e:  # a malformed option value that reached a model
        err.print(f"[red]error:[/red] {e}")
        code = 2
    except KeyboardInterrupt:
        code = 130
    except Exception:  # a bug: show it, and still exit cleanly
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
