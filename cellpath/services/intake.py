"""Intake: the one place identifying details enter cellpath.

`admit` stores a patient's details in the case store under a freshly minted random
`patient_ref` and starts the PHI-free journey; `take_in` is the service (role check, refusals
in words, audited).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError

from cellpath.delivery import messages
from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, refusing
from cellpath.services.journeys import journey, start_journey
from cellpath.services.notices import tell_coordinator
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from cellpath.store.tables import Patient
from models.calendar import load_business_calendar
from models.enums import NotificationKind, Phase
from models.errors import RefusalCode, Refused, Words, refused
from models.intake import IntakeProblems, parse_intake
from models.journey import JourneyInput
from models.messages import HistoryImport, HistoryImportAck, JourneyProjection
from models.pathway.backfill import rehearse_import
from models.pathway.data import describe_validation_error
from models.protocol import resolve_protocol
from models.roles import Action


class CaseExists(ValueError):
    """The intake names a case id that is already in use."""


class Admitted(BaseModel):
    """What intake did: the journey's input (PHI-free), and what an imported history did."""

    journey: JourneyInput
    history: HistoryImportAck | None = None


def _own(e: Refused) -> Words | str:
    """A refusal as a part of another, in its own words when it has them (nested once)."""
    return Words(e.template, e.params) if e.template and not e.nested else str(e)


def read_history(raw: Any, actor: str) -> HistoryImport:
    """A history file's content as a `HistoryImport` imported by `actor`; or `Refused` naming
    every field that is wrong."""
    if not isinstance(raw, dict):
        raise refused(
            "the history file must hold a JSON object with 'milestones' and/or 'observations'",
            RefusalCode.INVALID_DATA,
        )
    unknown = sorted(set(raw) - {"milestones", "observations", "note"})
    if unknown:
        raise refused(
            "the history file has unknown field(s): {fields}; expected "
            "'milestones', 'observations' and an optional 'note'",
            RefusalCode.INVALID_DATA,
            fields=", ".join(unknown),
        )
    try:
        return HistoryImport.model_validate(raw | {"actor": actor})
    except ValidationError as e:
        raise refused(
            "the history file is invalid: {problems}",
            RefusalCode.INVALID_DATA,
            problems=describe_validation_error(e),
        ) from None


def rehearse(inp: JourneyInput, history: HistoryImport, now: datetime) -> HistoryImportAck:
    """The history applied to a journey for `inp` started `now`, without Temporal, with the
    business calendar the journey will load; `Refused` names the first item refused."""
    p = resolve_protocol(inp.protocol)
    calendar = load_business_calendar(
        p.business_calendar_country, p.team_timezone, [now.year, now.year + 1]
    )
    return rehearse_import(inp, calendar, history, now)


async def admit(
    raw: Any,
    *,
    store: CaseStore,
    client: Client,
    task_queue: str,
    history: HistoryImport | None = None,
) -> tuple[JourneyInput, str]:
    """Intake: store the patient's identifying details, then start the PHI-free journey.

    The one place identifying details enter cellpath. They go to the case store's `patients`
    table under a freshly minted random `patient_ref`; the journey gets that reference and
    nothing else. One unit of work: the patient row commits only if the journey started.

    Returns:
        The journey's input and the run id of its first run.

    With a `history` (a patient already mid-treatment), the history is first rehearsed on a
    journey held in memory: if any item is refused, nothing is stored and nothing started.

    Raises:
        IntakeProblems: the document is invalid (every problem, by field name, no values).
        CaseExists: the case id is taken (in the store or in Temporal).
        Refused: an item of the history is refused (named, with the reason).
    """
    from temporalio.exceptions import WorkflowAlreadyStartedError

    minted = f"CP-{datetime.now(UTC):%Y}-{uuid.uuid4().hex[:6].upper()}"
    if isinstance(raw, dict) and isinstance(raw.get("sites"), list):
        # Site ids are the directory's, in lower case: `Site-A` is site-a.
        raw = raw | {
            "sites": [s.strip().lower() if isinstance(s, str) else s for s in raw["sites"]]
        }
    patient, inp = parse_intake(raw, case_id=minted, patient_ref=store.mint_patient_ref())
    known = {row.site for row in Directory(store).sites()}
    unknown = [s for s in inp.sites if known and s not in known]
    if unknown:
        # Once sites are registered (`cellpath sites set`), a case goes only to one of them:
        # a typo would send the PI review nowhere and the family no number to call.
        raise IntakeProblems(
            [
                f"sites: {', '.join(unknown)} not in the site directory; expected one of: "
                + ", ".join(sorted(known))
            ]
        )
    if store.case_exists(inp.case_id):
        raise CaseExists(f"case {inp.case_id} already exists; choose another case_id")
    if history is not None:
        rehearse(inp, history, datetime.now(UTC))
    with store.session() as session:
        store.add_patient(
            session,
            Patient(patient_ref=inp.patient_ref, created_at=datetime.now(UTC), **patient.columns()),
            inp.case_id,
        )
        # Revision -1: the journey's own first write (revision 0 on) replaces it.
        store.add_projection(
            session,
            JourneyProjection(
                case_id=inp.case_id,
                patient_ref=inp.patient_ref,
                revision=-1,
                phase=Phase.INTAKE,
                therapy=inp.therapy,
                cell_source=inp.cell_source,
                program=inp.program,
                coordinator=inp.coordinator,
                updated_at=datetime.now(UTC),
            ),
        )
        try:
            handle = await start_journey(client, inp, task_queue)
        except WorkflowAlreadyStartedError:
            raise CaseExists(f"a journey for case {inp.case_id} already exists") from None
    return inp, handle.result_run_id or ""


async def take_in(session: Session, raw: Any, history_raw: Any = None) -> Admitted:
    """Intake as a service: coordinators and physicians; every problem listed by field.

    With `history_raw` (a history file's content) the journey starts from the patient's past:
    checked first as a whole, then sent as one `import_history` update.
    """
    authorise(session, Action.INTAKE, case="intake")
    client = await session.temporal()
    history = None
    try:
        if history_raw is not None:
            history = read_history(history_raw, session.actor)
        inp, _ = await admit(
            raw,
            store=session.case_store(),
            client=client,
            task_queue=session.settings.task_queue,
            history=history,
        )
    except Refused as e:
        record_refusal(session, "intake", "intake", None, str(e))
        raise refusing(
            "the history was refused, nothing was started: {reason}", e.code, reason=_own(e)
        ) from None
    except IntakeProblems as e:
        message = "the intake file has problems:\n  - " + "\n  - ".join(e.problems)
        record_refusal(session, "intake", "intake", None, "; ".join(e.problems))
        raise Refusal(message, RefusalCode.INVALID_DATA) from None
    except CaseExists as e:
        record_refusal(session, "intake", "intake", None, str(e))
        raise Refusal(str(e), RefusalCode.ALREADY_DONE) from None
    await _tell_if_no_family_language(session, inp, raw)
    if history is None:
        return Admitted(journey=inp)
    try:
        ack = await journey(client, inp.case_id).execute_update(
            "import_history", history, result_type=HistoryImportAck
        )
    except WorkflowUpdateFailedError as e:
        # Rehearsed a moment ago: only a clock at a boundary can get here. The journey runs,
        # empty; the history can be recorded again milestone by milestone.
        message = getattr(e.cause, "message", None) or str(e.cause)
        record_refusal(session, inp.case_id, "import_history", None, message)
        raise refusing(
            "case {case} was started, but its history was refused: {reason}",
            RefusalCode.PATHWAY_RULE,
            case=inp.case_id,
            reason=message,
        ) from None
    return Admitted(journey=inp, history=ack)


async def _tell_if_no_family_language(session: Session, inp: JourneyInput, raw: Any) -> None:
    """A family whose language has no message templates gets English: their coordinator is
    told so at once (to tell the family, or arrange an interpreter), never left to find out."""
    patient = raw.get("patient") if isinstance(raw, dict) else None
    wanted = patient.get("preferred_language") if isinstance(patient, dict) else None
    if not wanted or messages.family_language(str(wanted)) is not None:
        return
    await tell_coordinator(
        session,
        inp.case_id,
        inp.coordinator,
        f"The family of case {inp.case_id} prefers the language '{wanted}', which cellpath has "
        "no messages in: they will receive English. Tell them, or arrange an interpreter. "
        f"Languages with messages: {', '.join(sorted(set(messages.LANGUAGES.values())))}.",
        kind=NotificationKind.SUMMARY,
    )
