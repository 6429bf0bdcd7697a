"""Intake: the one place identifying details enter cellpath.

`admit` stores a patient's details in the case store under a freshly minted random
`patient_ref` and starts the PHI-free journey; `take_in` is the service (role check, refusals
in words, audited).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session
from cellpath.services.journeys import start_journey
from cellpath.store import CaseStore
from cellpath.store.tables import Patient
from models.errors import RefusalCode
from models.intake import IntakeProblems, parse_intake
from models.journey import JourneyInput
from models.roles import Action


class CaseExists(ValueError):
    """The intake names a case id that is already in use."""


async def admit(
    raw: Any, *, store: CaseStore, client: Client, task_queue: str
) -> tuple[JourneyInput, str]:
    """Intake: store the patient's identifying details, then start the PHI-free journey.

    The one place identifying details enter cellpath. They go to the case store's `patients`
    table under a freshly minted random `patient_ref`; the journey gets that reference and
    nothing else. One unit of work: the patient row commits only if the journey started.

    Returns:
        The journey's input and the run id of its first run.

    Raises:
        IntakeProblems: the document is invalid (every problem, by field name, no values).
        CaseExists: the case id is taken (in the store or in Temporal).
    """
    from temporalio.exceptions import WorkflowAlreadyStartedError

    minted = f"CP-{datetime.now(UTC):%Y}-{uuid.uuid4().hex[:6].upper()}"
    patient, inp = parse_intake(raw, case_id=minted, patient_ref=store.mint_patient_ref())
    if store.case_exists(inp.case_id):
        raise CaseExists(f"case {inp.case_id} already exists; choose another case_id")
    with store.session() as session:
        store.add_patient(
            session,
            Patient(
                patient_ref=inp.patient_ref, created_at=datetime.now(UTC), **patient.model_dump()
            ),
            inp.case_id,
        )
        try:
            handle = await start_journey(client, inp, task_queue)
        except WorkflowAlreadyStartedError:
            raise CaseExists(f"a journey for case {inp.case_id} already exists") from None
    return inp, handle.result_run_id or ""


async def take_in(session: Session, raw: Any) -> JourneyInput:
    """Intake as a service: coordinators and physicians; every problem listed by field."""
    authorise(session, Action.INTAKE, case="intake")
    client = await session.temporal()
    try:
        inp, _ = await admit(
            raw, store=session.case_store(), client=client, task_queue=session.settings.task_queue
        )
    except IntakeProblems as e:
        message = "the intake file has problems:\n  - " + "\n  - ".join(e.problems)
        record_refusal(session, "intake", "intake", None, "; ".join(e.problems))
        raise Refusal(message, RefusalCode.INVALID_DATA) from None
    except CaseExists as e:
        record_refusal(session, "intake", "intake", None, str(e))
        raise Refusal(str(e), RefusalCode.ALREADY_DONE) from None
    return inp
