"""Screenshots of the board and the measures from the running console, for the README.

A program's worth of journeys is written to a fresh case store the way the journeys' own
writes fill it (`CaseStore.write_journey`: projection, schedule, escalations and alerts), over
three sites and the last seven months, each journey's steps spaced by the default protocol's
durations (a seeded random draw between each step's shortest and longest). The console is then
served on that store (the board and the measures read the case store only, never Temporal),
and Playwright, driving Debian's Chromium, photographs:

- a coordinator's month board, patients' names shown (their care team)
  → docs/screenshots/console-board.png
- the measures by site for all quarters → docs/screenshots/console-measures.png

    .venv/bin/python scripts/program_screenshots.py
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from cellpath.config import Settings  # noqa: E402
from cellpath.console.serve import server  # noqa: E402
from cellpath.store import CaseStore  # noqa: E402
from cellpath.store.tables import Case, Patient  # noqa: E402
from models.enums import CellSource, Phase, Program, Therapy  # noqa: E402
from models.messages import JourneyProjection, JourneyWrite, Notification  # noqa: E402
from models.pathway.projection import STEPS  # noqa: E402
from models.protocol import PRESETS  # noqa: E402
from models.roles import Role  # noqa: E402
from models.schedule import ProjectedStep  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "screenshots only!"
COORDINATOR = "coord-lin"
NAMES = [
    "Ana Lima",
    "Kofi Mensah",
    "Olga Petrova",
    "Ahmed Hassan",
    "Maria Rossi",
    "Juan Pérez",
    "Fatima Khan",
    "Lars Nilsson",
    "Aiko Tanaka",
    "Sipho Dlamini",
    "Elena Popescu",
    "Omar Farouk",
    "Nadia Haddad",
    "Tomás Silva",
    "Grace Okafor",
    "Ivan Horvat",
    "Leila Ahmadi",
    "Pablo Ruiz",
]
# The phase a journey is in when this step is the next one ahead.
PHASE_BEFORE = {
    "records_complete": Phase.INTAKE,
    "eligibility_assessed": Phase.PRE_ASSESSMENT,
    "submitted_to_pi": Phase.PRE_ASSESSMENT,
    "pi_decision": Phase.PI_REVIEW,
    "patient_arrived": Phase.LOGISTICS,
    "pretreatment_cleared": Phase.ARRIVAL,
    "apheresis_completed": Phase.COLLECTION,
    "product_released": Phase.MANUFACTURING,
    "conditioning_started": Phase.CONDITIONING,
    "conditioning_completed": Phase.CONDITIONING,
    "infusion_completed": Phase.INFUSION,
    "discharged": Phase.MONITORING,
}


def fill(store: CaseStore, now: datetime, journeys: int = 54) -> None:
    """`journeys` autologous CAR-T journeys taken in over seven months, three sites."""
    draw = random.Random(2026)
    protocol = PRESETS["default"]
    steps = [s for s in STEPS if s.cell_source in (None, CellSource.AUTOLOGOUS)]
    for n in range(journeys):
        case_id = f"CN-2026-{n + 101:04d}"
        taken = now - timedelta(days=210 * (n + 0.5) / journeys, hours=draw.randint(0, 20))
        site = ("site-a", "site-b", "site-c")[n % 3]
        with store.session() as s:
            store.add_patient(
                s,
                Patient(
                    patient_ref=f"pt-{n}",
                    full_name=NAMES[n % len(NAMES)],
                    birth_date=date(1960 + n % 30, 1 + n % 12, 1 + n % 27),
                    nationality=("BR", "GH", "RU", "EG", "IT", "ES")[n % 6],
                    created_at=taken,
                ),
                case_id,
            )
            # Taken in on that day (intake dates the case; here it is written later).
            case = s.get(Case, case_id)
            assert case is not None
            case.created_at = taken
        schedule, at, ahead = [], taken, None
        for step in steps:
            typical, low, high = step.span(protocol)
            at = at + timedelta(days=draw.uniform(low, high) if high > low else typical)
            done = at <= now
            ahead = ahead or (None if done else step.kind)
            schedule.append(
                ProjectedStep(
                    step=step.kind,
                    expected=at,
                    earliest=at - timedelta(days=typical - low),
                    latest=at + timedelta(days=high - typical),
                    basis="recorded" if done else "protocol",
                    done_at=at if done else None,
                )
            )
        phase = PHASE_BEFORE.get(ahead or "", Phase.FOLLOW_UP if ahead else Phase.CLOSED)
        notes = []
        if n % 5 == 1:
            notes.append(
                _note(case_id, "escalation", "lead_coordinator", taken, deadline="pi_decision")
            )
        if n % 9 == 2:
            notes.append(
                _note(case_id, "escalation", "medical_director", taken, deadline="arrival")
            )
        if n % 4 == 0 and phase in (Phase.MONITORING, Phase.FOLLOW_UP, Phase.CLOSED):
            notes.append(_note(case_id, "alert", "on_call_physician", taken, severity="urgent"))
        store.write_journey(
            JourneyWrite(
                projection=JourneyProjection(
                    case_id=case_id,
                    patient_ref=f"pt-{n}",
                    revision=1,
                    phase=phase,
                    therapy=Therapy.CAR_T,
                    cell_source=CellSource.AUTOLOGOUS,
                    program=(Program.TRIAL, Program.HOSPITAL)[n % 2],
                    site=site,
                    coordinator=(COORDINATOR, "coord-wang")[n % 2],
                    overdue=n % 11 == 3 and phase is not Phase.CLOSED,
                    escalation_level=1 if n % 5 == 1 and phase is not Phase.CLOSED else 0,
                    updated_at=now,
                ),
                notifications=notes,
                schedule=schedule,
            )
        )


def _note(case_id: str, kind: str, recipient: str, at: datetime, **kw: str) -> Notification:
    return Notification(
        idempotency_key=f"{case_id}-{kind}-{recipient}",
        case_id=case_id,
        kind=kind,
        recipient=recipient,
        level=1 if kind == "escalation" else 0,
        severity=kw.pop("severity", "warning"),
        scheduled_for=at,
        text=kind,
        **kw,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def photograph(url: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{url}/login")
        await page.get_by_label("Name").fill(COORDINATOR)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{url}/")
        await page.goto(f"{url}/board?view=month")
        await page.locator("table.board").wait_for()
        await page.screenshot(path=OUT / "console-board.png", full_page=True)
        await page.goto(f"{url}/measures")
        await page.locator("svg.bars").first.wait_for()
        await page.screenshot(path=OUT / "console-measures.png")
        await browser.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = CaseStore.from_url(f"sqlite:///{Path(tmp) / 'program.db'}")
        hashed = PasswordHasher().hash(PASSWORD)
        for actor in (COORDINATOR, "coord-wang"):
            store.set_role(actor, Role.COORDINATOR, by="screenshots")
        store.set_password_hash(COORDINATOR, hashed, by="screenshots")
        fill(store, datetime.now(UTC))
        port = free_port()
        settings = Settings(
            console_url=f"http://127.0.0.1:{port}",
            database_url=str(store.engine.url),
            records_url=str(Path(tmp) / "records"),
            records_key_file=Path(tmp) / "records.keys",
        )
        web = server(settings, store=store)
        serving = asyncio.create_task(web.serve())
        while not web.started:  # noqa: ASYNC110 (uvicorn says so by a flag only)
            await asyncio.sleep(0.05)
        try:
            await photograph(settings.console_url)
        finally:
            web.should_exit = True
            await serving
    print(f"wrote {OUT / 'console-board.png'} and {OUT / 'console-measures.png'}")


if __name__ == "__main__":
    asyncio.run(main())
