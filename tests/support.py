"""Support the tests share that needs a server or a database: queue names, the recorder of
journeys started on the shared time-skipping server, the refusal helper, PostgreSQL databases.

Fixtures live in the `conftest.py` files and use these; test modules import from here (and
from `tests/builders.py`), never from one another.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from temporalio.client import (
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from cellpath.scenarios import record, status
from models.examples import intake_document
from models.examples import journey_input as sample_input
from models.journey import JourneyInput
from workflows import PatientJourney

ROOT = Path(__file__).resolve().parents[1]
TEST_QUEUE = "patient-journeys-test"  # the session's worker on the time-skipping server
QUEUE = "patient-journeys-e2e"  # the e2e worker on the dev server


class StartedJourneys(Interceptor):
    """Remembers the journeys started on the test queue, so each test's are closed after it.

    The time-skipping server is shared by the session: a journey left open fires its deadlines
    whenever a later test skips time, and enough of them make a later `env.sleep` time out.
    """

    def __init__(self) -> None:
        self.open: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        recorder = self

        class Recording(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
                handle = await super().start_workflow(input)
                if input.task_queue == TEST_QUEUE and input.workflow == "PatientJourney":
                    recorder.open.append(input.id)
                return handle

        return Recording(next)


STARTED = StartedJourneys()


async def workflow_exists(env: Any, workflow_id: str) -> bool:
    """Whether a workflow with this id was ever started on `env`'s server."""
    try:
        await env.client.get_workflow_handle(workflow_id).describe()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def refused(handle: Any, kind: str, match: str, **kw: Any) -> str:
    """Record a milestone that must be refused; check it changed nothing; return the reason."""
    before = await status(handle)
    timeline_before = await handle.query(PatientJourney.timeline)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await record(handle, kind, **kw)
    message = err.value.cause.message
    assert match in message, message
    assert await status(handle) == before
    assert await handle.query(PatientJourney.timeline) == timeline_before
    return message


DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("CELLPATH_TEST_POSTGRES_URL", DEFAULT_PG)


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database next to `admin_url`'s; returns its URL. Skips if unreachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.skip(
            f"PostgreSQL not reachable at {make_url(admin_url).render_as_string()} "
            f"({type(e.orig).__name__}); set CELLPATH_TEST_POSTGRES_URL to run these tests"
        )
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def path_to_infusion(today: Any) -> list[tuple[str, dict[str, Any]]]:
    """An autologous trial journey's milestones from intake to infusion, with their data as
    text (as a coordinator types them; `eligibility_assessed` is a physician's signature, the
    PI's decision a transcription of the signed letter): the gates' consents, checklist,
    readiness and signatures included."""
    from datetime import UTC, datetime, time, timedelta

    from models.examples import ELIGIBLE, PI_ACCEPTED, TRANSCRIBED, consents, readiness

    def text(data: dict[str, Any]) -> dict[str, str]:
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()}

    # Prophylaxis started days before any time the tests record conditioning at.
    ready = readiness(datetime.combine(today - timedelta(days=8), time(8), tzinfo=UTC))
    return [
        ("records_complete", {"records": "pathology, imaging, treatment_history, labs"}),
        ("eligibility_assessed", text(ELIGIBLE) | {"reviewer": "dr-ui"}),
        ("submitted_to_pi", {"site": "site-a"}),
        # Received in writing from the site's PI: a coordinator transcribes it.
        ("pi_decision", {"site": "site-a"} | PI_ACCEPTED | TRANSCRIBED),
        ("cost_estimate_accepted", {"currency": "USD", "total": "9500"}),
        ("invitation_letter_issued", {"site": "site-a"}),
        ("visa_issued", {"visa_type": "S2", "valid_until": str(today + timedelta(days=200))}),
        ("accommodation_booked", {}),
        ("travel_booked", {"arrival_date": str(today)}),
        ("patient_arrived", {}),
        # Treatment and the trial's informed consent (the other two are not needed to infuse).
        *[("consent_signed", c) for c in consents()[:2]],
        ("accommodation_registered", {}),
        ("pretreatment_cleared", {"outcome": "cleared"}),
        ("apheresis_completed", {"coi_id": "COI-UI-1"}),
        ("manufacturing_started", {}),
        ("product_released", {"lot": "LOT-UI-1", "coi_id": "COI-UI-1"}),
        ("readiness_checked", text(ready)),
        ("conditioning_started", {"regimen": "Flu/Cy"}),
        ("conditioning_completed", {}),
        ("infusion_completed", {"lot": "LOT-UI-1", "coi_id": "COI-UI-1"}),
    ]


def cli_data(data: dict[str, Any]) -> list[str]:
    """Milestone data as the CLI's `--data key=value` pairs."""
    pairs = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in data.items()]
    return [arg for pair in pairs for arg in ("--data", pair)]


def _eligible_data() -> list[str]:
    from models.examples import ELIGIBLE

    return cli_data(ELIGIBLE)


# `eligibility_assessed` with every checklist item passing and its signature (rules v5).
ELIGIBLE_DATA = _eligible_data()


def recorded_at(now: Any, steps: int) -> list[Any]:
    """When each of `steps` back-dated milestones happened, oldest first: an hour apart from
    four days ago, the last two (conditioning completed, infusion) 30 h apart ending now, so
    the infusion falls inside its 24–48 h window."""
    from datetime import timedelta

    start = now - timedelta(days=4)
    times = [start + timedelta(hours=i) for i in range(steps - 2)]
    return [*times, now - timedelta(hours=30), now - timedelta(minutes=5)]


# Debian's Chromium, as the browser tests and the screenshot script start it: as root on a
# machine with no outside network — no sandbox, no background calls.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def drive_to_monitoring(client: Any, case_id: str, task_queue: str) -> Any:
    """A journey recorded from intake through infusion (back-dated, through the validated
    update, as a coordinator would); returns its handle."""
    from datetime import UTC, datetime

    from cellpath.scenarios import start
    from models.examples import journey_input

    handle = await start(client, journey_input(case_id), task_queue)
    steps = path_to_infusion(datetime.now(UTC).date())
    for (kind, data), at in zip(steps, recorded_at(datetime.now(UTC), len(steps)), strict=True):
        if kind == "records_complete":
            data = {"records": [r.strip() for r in data["records"].split(",")]}
        await record(handle, kind, at=at, **data)
    return handle


# The coordinators the e2e and console tests act as: the journeys they start are theirs, so
# they are in each case's care team (a case's coordinator is; another coordinator is not).
E2E_COORDINATOR = "coord-e2e"
CONSOLE_COORDINATOR = "coord-ui"


def e2e_journey(case_id: str, **kw: Any) -> JourneyInput:
    """A sample journey coordinated by `E2E_COORDINATOR`."""
    return sample_input(case_id, **kw).model_copy(update={"coordinator": E2E_COORDINATOR})


def console_journey(case_id: str, **kw: Any) -> JourneyInput:
    """A sample journey coordinated by `CONSOLE_COORDINATOR`."""
    return sample_input(case_id, **kw).model_copy(update={"coordinator": CONSOLE_COORDINATOR})


def e2e_intake_file(tmp_path: Path, **overrides: Any) -> Path:
    """An intake document for the builders' patient, coordinated by `E2E_COORDINATOR`."""
    from tests.builders import PATIENT

    doc = intake_document(PATIENT, case_id=f"E2E-{uuid.uuid4().hex[:8]}") | {
        "coordinator": E2E_COORDINATOR
    }
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(doc | overrides))
    return path


AXE = ROOT / ".cellpath" / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page as it is now (WCAG 2.1 A/AA and axe's
    best practices). The page's context must bypass CSP: axe is injected as an inline script."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core from npm")
    await page.add_script_tag(content=AXE.read_text())
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                              'best-practice']})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
