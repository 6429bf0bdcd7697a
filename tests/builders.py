"""Builders the tests share: sample inputs, a journey driven by hand, an intake file.

Pure (models only), so the unit tier can use them without importing Temporal or a database;
what needs a server or a database is in `tests/support.py`. Test modules import from here,
never from one another.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.calendar import load_business_calendar
from models.enums import CellSource, NotificationKind, Phase, Program, Recipient, Therapy
from models.errors import Refused
from models.examples import (
    ELIGIBLE,
    PI_ACCEPTED,
    consents,
    follow_up_protocol,
    intake_document,
    journey_input,
    readiness,
)
from models.messages import MilestoneInput, ObservationAck, ObservationInput
from models.pathway import Journey
from models.protocol import PRESETS, ProtocolConfig
from models.state import JourneyState
from models.writes import JourneyProjection, Notification

__all__ = [
    "CALENDAR",
    "PATIENT",
    "T0",
    "Case",
    "follow_up_protocol",
    "intake_document",
    "intake_file",
    "journey_input",
    "monitoring_case",
    "past_pathway",
]

CALENDAR = load_business_calendar("CN", "Asia/Shanghai", [2026, 2027])
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


class Case:
    """A journey driven by hand through `Journey` (no Temporal), with a controllable clock."""

    def __init__(
        self,
        cell_source: CellSource = CellSource.AUTOLOGOUS,
        protocol: ProtocolConfig | None = None,
        program: Program = Program.TRIAL,
        rules_version: int = 4,
        watched: bool = False,
        records: bool = False,
        ledger: bool = False,
        custody: bool = False,
        capacity: bool = False,
        **facts_update: Any,
    ) -> None:
        counter = itertools.count()
        facts = journey_input("CN-2026-0001", cell_source=cell_source, program=program)
        facts = facts.model_copy(update=facts_update)
        state = JourneyState(
            protocol=protocol or PRESETS["default"], calendar=CALENDAR, rules_version=rules_version
        )
        self.j = Journey(facts, state, new_id=lambda: f"id-{next(counter)}")
        # A run under `WATCHED` (and the patches before it), started before conditioning.
        self.j.after_infusion = watched
        if watched:
            self.j.watch()
        # A run under `RECORDS`: records' files, translations, the family's reports.
        self.j.records = records
        # A run under `LEDGER`: quotes, deposits, payments, refunds.
        self.j.ledger = ledger
        # A run under `CUSTODY`: the chain of custody and condition.
        self.j.custody = custody
        # A run under `CAPACITY`: bookings of a site's resources.
        self.j.capacity = capacity
        self.now = T0
        self.j.start(self.now)

    def at(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def record(
        self,
        kind: str,
        *,
        occurred_at: datetime | None = None,
        actor: str = "coord-1",
        note: str = "",
        milestone_id: str | None = None,
        **data: Any,
    ):
        m = MilestoneInput(
            kind=kind,
            actor=actor,
            occurred_at=occurred_at,
            note=note,
            data=data,
            milestone_id=milestone_id,
        )
        return self.j.apply_milestone(self.j.check_milestone(m, self.now), self.now)

    def refused(self, kind: str, match: str, **kw: Any) -> str:
        before = self.j.state.model_dump_json()
        with pytest.raises(Refused, match=match) as err:
            self.record(kind, **kw)
        assert self.j.state.model_dump_json() == before, "a refusal must change nothing"
        return str(err.value)

    def observe(self, **findings: Any) -> ObservationAck:
        """Record an observation now (findings as `ObservationInput` takes them)."""
        o = ObservationInput(actor=findings.pop("actor", "nurse-1"), **findings)
        return self.j.apply_observation(o, self.j.check_observation(o, self.now), self.now)

    def observe_refused(self, match: str, **findings: Any) -> str:
        before = self.j.state.model_dump_json()
        with pytest.raises(Refused, match=match) as err:
            self.observe(**findings)
        assert self.j.state.model_dump_json() == before, "a refusal must change nothing"
        return str(err.value)

    @property
    def phase(self) -> Phase:
        return self.j.state.phase

    def deadline(self, name: str):
        return self.j.state.book.get(name)

    # paths
    def to_pi_review(self) -> None:
        self.record(
            "records_complete", records=["pathology", "imaging", "treatment_history", "labs"]
        )
        self.record("eligibility_assessed", reviewer="dr-li", **ELIGIBLE)

    def to_logistics(self) -> None:
        self.to_pi_review()
        self.record("submitted_to_pi", site="site-a")
        self.record("pi_decision", site="site-a", **PI_ACCEPTED)

    def to_arrival(self, visa_days: int = 200) -> None:
        self.to_logistics()
        today = self.now.date()
        self.record("cost_estimate_accepted", currency="USD", total=9500)
        self.record("invitation_letter_issued", site="site-a")
        self.record("visa_issued", visa_type="S2", valid_until=str(today + timedelta(visa_days)))
        self.record("accommodation_booked")
        if self.j.facts.cell_source is CellSource.ALLOGENEIC:
            self.record("product_reserved", lot="LOT-NK", coi_id="COI-NK")
        self.record("travel_booked", arrival_date=str(today + timedelta(days=7)))

    def arrive_and_clear(self) -> None:
        self.record("patient_arrived")
        for consent in consents(self.j.facts.program):
            self.record("consent_signed", **consent)
        self.record("accommodation_registered")
        self.record("pretreatment_cleared", outcome="cleared")

    def to_conditioning(self) -> None:
        """Arrived a week after logistics, cleared, collected and manufactured (21 days) if
        autologous; conditioning started."""
        self.to_arrival()
        self.at(days=7)
        self.arrive_and_clear()
        if self.j.facts.cell_source is CellSource.AUTOLOGOUS:
            self.record("apheresis_completed", coi_id="COI-1")
            self.record("manufacturing_started")
            self.at(days=21)
            self.record("product_released", lot="LOT-1", coi_id="COI-1")
        self.record("readiness_checked", **readiness(self.now))
        self.record("conditioning_started")

    def to_infusion(self) -> None:
        self.to_conditioning()
        self.at(days=3)
        self.record("conditioning_completed")


def past_pathway(start: date) -> list[tuple[str, timedelta, dict[str, Any]]]:
    """An autologous pathway from records to infusion that met every deadline, as (kind,
    time after the first milestone, data); `start` is the first milestone's date."""
    return [
        (
            "records_complete",
            timedelta(),
            {"records": ["pathology", "imaging", "treatment_history", "labs"]},
        ),
        ("eligibility_assessed", timedelta(days=3), ELIGIBLE | {"reviewer": "dr-li"}),
        ("submitted_to_pi", timedelta(days=3, hours=1), {"site": "site-a"}),
        ("pi_decision", timedelta(days=10), {"site": "site-a"} | PI_ACCEPTED),
        ("cost_estimate_accepted", timedelta(days=11), {"currency": "USD", "total": 9500}),
        ("invitation_letter_issued", timedelta(days=12), {"site": "site-a"}),
        (
            "visa_issued",
            timedelta(days=16),
            {"visa_type": "S2", "valid_until": str(start + timedelta(days=300))},
        ),
        ("accommodation_booked", timedelta(days=16, hours=2), {}),
        ("travel_booked", timedelta(days=17), {"arrival_date": str(start + timedelta(days=24))}),
        ("patient_arrived", timedelta(days=24), {}),
        *[
            ("consent_signed", timedelta(days=24, hours=1, minutes=i), c)
            for i, c in enumerate(consents())
        ],
        ("accommodation_registered", timedelta(days=24, hours=5), {}),
        ("pretreatment_cleared", timedelta(days=26), {"outcome": "cleared"}),
        ("apheresis_completed", timedelta(days=27), {"coi_id": "COI-1"}),
        ("manufacturing_started", timedelta(days=27, hours=3), {}),
        ("product_released", timedelta(days=48), {"lot": "LOT-1", "coi_id": "COI-1"}),
        (
            "readiness_checked",
            timedelta(days=48, hours=1),
            readiness(datetime.combine(start, time(), UTC) + timedelta(days=49)),
        ),
        ("conditioning_started", timedelta(days=49), {}),
        ("conditioning_completed", timedelta(days=52), {}),
        ("infusion_completed", timedelta(days=53, hours=6), {"lot": "LOT-1", "coi_id": "COI-1"}),
    ]


def monitoring_case(**kw: Any) -> Case:
    """A journey just infused (allogeneic: thawed first), in monitoring."""
    c = Case(**kw)
    c.to_infusion()
    c.at(hours=30)
    if c.j.facts.cell_source is CellSource.ALLOGENEIC:
        c.record("product_thawed", lot="LOT-NK")
        c.record("infusion_completed", lot="LOT-NK", coi_id="COI-NK")
    else:
        c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")
    return c


# A patient's identifying details, synthetic and distinctive: tests search histories and logs
# for them to prove they never reach Temporal.
PATIENT = {
    "full_name": "Zebulon Quixote-Farnsworth",
    "birth_date": "1961-04-02",
    "nationality": "GB",
    "passport_number": "X99887766Q",
    "email": "zebulon.q@example.org",
    "phone": "+44 7700 900123",
}


def intake_file(tmp_path: Path, **overrides: Any) -> Path:
    """An intake document for `PATIENT` with a fresh case id, written where the CLI reads it."""
    doc = intake_document(PATIENT, case_id=f"E2E-{uuid.uuid4().hex[:8]}") | overrides
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(doc))
    return path


# The instant the case-store tests write at.
STORE_NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def stored_reminder(key: str, at: datetime = STORE_NOW) -> Notification:
    """A coordinator's reminder for case C-1's records deadline, as a journey hands it to the
    case store."""
    return Notification(
        idempotency_key=key,
        case_id="C-1",
        kind=NotificationKind.REMINDER,
        recipient=Recipient.COORDINATOR,
        deadline="records",
        scheduled_for=at,
        text="Reminder: records",
    )


def stored_projection(revision: int, phase: Phase, **kw: Any) -> JourneyProjection:
    """Case C-1's projection at `revision`, as a journey's write carries it."""
    return JourneyProjection(
        case_id="C-1",
        patient_ref="pt-1",
        revision=revision,
        phase=phase,
        therapy=Therapy.CAR_T,
        cell_source=CellSource.AUTOLOGOUS,
        program=Program.TRIAL,
        coordinator="coord-1",
        updated_at=STORE_NOW,
        **kw,
    )
