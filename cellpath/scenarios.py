"""Driving journeys through the pathway: used by the demo (`cellpath.demo`), the tests and the
benchmarks.

Each helper records real milestones through the validated update, exactly as a coordinator
would, so a journey it builds is indistinguishable from one built by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from cellpath.services.journeys import start_journey
from models.deadlines import DeadlineView
from models.enums import Program, SignatureMeaning
from models.examples import (
    DISCHARGE,
    ELIGIBLE,
    PI_ACCEPTED,
    TRANSCRIBED,
    consents,
    readiness,
)
from models.messages import (
    AcknowledgeAlertInput,
    Alert,
    JourneyStatus,
    MilestoneAck,
    MilestoneInput,
    ObservationAck,
    ObservationInput,
    RescheduleInput,
)
from workflows import PatientJourney

Handle = WorkflowHandle[PatientJourney, JourneyStatus]


# Journeys start as the product starts them (one `start_journey`), under the name the tests use.
start = start_journey


async def record(
    handle: Handle,
    kind: str,
    *,
    at: datetime | None = None,
    actor: str = "coord-1",
    note: str = "",
    milestone_id: str | None = None,
    **data: Any,
) -> MilestoneAck:
    """Record a milestone through the validated update."""
    return await handle.execute_update(
        PatientJourney.record_milestone,
        MilestoneInput(
            kind=kind,
            actor=actor,
            occurred_at=at,
            note=note,
            data=data,
            milestone_id=milestone_id,
        ),
    )


async def observe(handle: Handle, at: datetime | None = None, **fields: Any) -> ObservationAck:
    """Record an unremarkable observation; any field can be overridden."""
    values: dict[str, Any] = {"actor": "nurse-1", "temperature_c": 36.8, "systolic_bp": 120}
    values.update(fields)
    return await handle.execute_update(
        PatientJourney.record_observation, ObservationInput(observed_at=at, **values)
    )


async def labs(handle: Handle, at: datetime | None = None, **values: Any) -> ObservationAck:
    """Record laboratory results (no vital signs: a result from the laboratory)."""
    return await handle.execute_update(
        PatientJourney.record_observation,
        ObservationInput(actor="lab-1", observed_at=at, **values),
    )


async def acknowledge(
    handle: Handle,
    alert_id: str,
    actor: str = "dr-wang",
    note: str = "",
    meaning: SignatureMeaning | None = SignatureMeaning.RESPONSIBLE,
) -> Alert:
    """A physician acknowledges an alert (signed as responsible: rules v5 asks it of a
    critical alert)."""
    return await handle.execute_update(
        PatientJourney.acknowledge_alert,
        AcknowledgeAlertInput(alert_id=alert_id, actor=actor, note=note, signature_meaning=meaning),
    )


async def reschedule(
    handle: Handle, deadline: str, due_at: datetime, reason: str, actor: str = "lead-1"
) -> DeadlineView:
    """Move an open deadline through the validated update."""
    return await handle.execute_update(
        PatientJourney.reschedule,
        RescheduleInput(deadline=deadline, due_at=due_at, reason=reason, actor=actor),
    )


async def reschedule_soon(
    handle: Handle, deadline: str, seconds: float, reason: str, actor: str = "lead-1"
) -> DeadlineView:
    """Move a deadline to `seconds` from now, so that it falls due while a test watches.

    On a loaded machine the update may reach the journey after that instant, which the
    journey rightly refuses as a time in the past: try again with twice the margin.
    """
    for _ in range(5):
        try:
            return await reschedule(
                handle, deadline, datetime.now(UTC) + timedelta(seconds=seconds), reason, actor
            )
        except WorkflowUpdateFailedError as e:
            if "is not in the future" not in str(e.cause):
                raise
            seconds *= 2
    raise AssertionError(f"the journey took more than {seconds:.0f} s to answer an update")


async def status(handle: Handle) -> JourneyStatus:
    """The journey's status query."""
    return await handle.query(PatientJourney.status)


# A record in English and its translation for the PI (their files are in the records store;
# the journey sees only their hashes).
ENGLISH_RECORD = hashlib.sha256(b"pathology report, in English").hexdigest()
TRANSLATION = hashlib.sha256(b"pathology report, in Chinese").hexdigest()


# The family's estimate (runs under `LEDGER`): 9,500 USD, the family's share 8,000.
QUOTE: dict[str, Any] = {
    "currency": "USD",
    "items": [
        {"name": "evaluation", "category": "evaluation", "payer": "patient", "amount": "1500"},
        {"name": "product", "category": "manufacturing", "payer": "trial", "amount": "1500"},
        {"name": "ward, 28 days", "category": "hospital", "payer": "patient", "amount": "6500"},
    ],
    "total": "9500",
    "deposit": "2000",
}


async def translate_a_record(handle: Handle) -> None:
    """A pathology report in English, translated for the site and verified (runs under
    `RECORDS`)."""
    await record(
        handle,
        "record_received",
        record_type="pathology",
        sha256=ENGLISH_RECORD,
        language="en",
        pages=4,
    )
    await record(
        handle,
        "translation_requested",
        sha256=ENGLISH_RECORD,
        record_type="pathology",
        language="en",
    )
    await record(
        handle,
        "record_translated",
        actor="translator-1",
        sha256=ENGLISH_RECORD,
        translation_sha256=TRANSLATION,
    )
    await record(handle, "translation_verified", sha256=ENGLISH_RECORD)


async def to_pi_review(handle: Handle, *, records: bool = False) -> None:
    """Intake → pre-assessment → PI review (with `records`: a record translated first)."""
    if records:
        await translate_a_record(handle)
    await record(
        handle, "records_complete", records=["pathology", "imaging", "treatment_history", "labs"]
    )
    await record(handle, "eligibility_assessed", reviewer="dr-li", **ELIGIBLE)


async def to_logistics(handle: Handle, site: str = "site-a", *, records: bool = False) -> None:
    """… → accepted by `site`."""
    await to_pi_review(handle, records=records)
    await record(handle, "submitted_to_pi", site=site)
    # The site's PI decided in a signed letter: the coordinator transcribes it.
    await record(handle, "pi_decision", site=site, **(PI_ACCEPTED | TRANSCRIBED))


async def to_arrival(
    handle: Handle,
    today: date,
    *,
    allogeneic: bool = False,
    site: str = "site-a",
    records: bool = False,
    ledger: bool = False,
) -> None:
    """… → logistics complete (arrival in 7 days, a visa valid 200 days from `today`; with
    `ledger`, a quote issued and accepted and a deposit paid)."""
    await to_logistics(handle, site, records=records)
    if ledger:
        await record(handle, "quote_issued", **QUOTE)
        await record(handle, "cost_estimate_accepted", currency="USD", total=9500, version=1)
        await record(handle, "deposit_received", amount="2000", currency="USD", reference="D-1")
    else:
        await record(handle, "cost_estimate_accepted", currency="USD", total=9500)
    await record(handle, "invitation_letter_issued", site=site)
    await record(
        handle, "visa_issued", visa_type="S2", valid_until=str(today + timedelta(days=200))
    )
    await record(handle, "accommodation_booked")
    if allogeneic:
        await record(handle, "product_reserved", lot="LOT-NK-1", coi_id="COI-NK-1")
    await record(handle, "travel_booked", arrival_date=str(today + timedelta(days=7)))


async def arrive_and_clear(handle: Handle, program: Program = Program.TRIAL) -> None:
    """Arrival: arrived, every consent signed, registered, cleared."""
    await record(handle, "patient_arrived")
    for consent in consents(program):
        await record(handle, "consent_signed", **consent)
    await record(handle, "accommodation_registered")
    await record(handle, "pretreatment_cleared", outcome="cleared")


def iso(d: date | datetime) -> str:
    """ISO text of a date or time (as the CLI sends it)."""
    return d.isoformat()


async def to_infusion(
    handle: Handle,
    today: date,
    *,
    allogeneic: bool = False,
    records: bool = False,
    ledger: bool = False,
    custody: bool = False,
) -> None:
    """… → conditioning completed (the infusion window is open from 24 h; with `custody`,
    the product's chain from the apheresis unit to the ward, shipped in range)."""
    await to_arrival(handle, today, allogeneic=allogeneic, records=records, ledger=ledger)
    await arrive_and_clear(handle)
    if not allogeneic:
        await record(handle, "apheresis_completed", coi_id="COI-001")
        await record(handle, "manufacturing_started")
        await record(handle, "product_released", lot="LOT-001", coi_id="COI-001")
        if custody:
            await ship_the_product(handle)
    # Prophylaxis started two days before now (the real clock: a time-skipping clock is ahead).
    await record(handle, "readiness_checked", **readiness(datetime.now(UTC)))
    await record(handle, "conditioning_started", regimen="Flu/Cy")
    await record(handle, "conditioning_completed")


async def ship_the_product(handle: Handle) -> None:
    """The released product's chain of custody: the apheresis unit to the cell lab, shipped
    to the ward in range, customs cleared (runs under `CUSTODY`)."""
    lines = [{"item": "CAR-T bag, 50 mL", "quantity": 1}]
    await record(
        handle,
        "custody_transferred",
        from_party="apheresis-unit",
        to_party="cell-lab",
        location="cell lab",
        condition="LN2 vapour",
    )
    await record(
        handle,
        "shipment_dispatched",
        shipment_id="SH-001",
        from_party="cell-lab",
        courier="cryo-courier",
        waybill="WB-001",
        temp_min_c=-196,
        temp_max_c=-150,
        manifest=lines,
        invoice=lines,
    )
    await record(
        handle,
        "shipment_received",
        shipment_id="SH-001",
        to_party="ward",
        log_min_c=-190,
        log_max_c=-165,
        minutes_outside=0,
        customs_cleared=True,
    )


async def book_the_stay(handle: Handle, today: date, site: str = "site-a") -> None:
    """A bed and the apheresis chair as the booking service records them once the case store
    granted them (runs under `CAPACITY`); the chair given back once used. The rest is given
    back when the journey closes."""
    slots = [
        {
            "booking_id": "BK-SCN-BED",
            "site": site,
            "resource": "beds",
            "kind": "bed",
            "start": iso(today),
            "end": iso(today + timedelta(days=6)),
            "chain": "bed_at_arrival",
        },
        {
            "booking_id": "BK-SCN-CHAIR",
            "site": site,
            "resource": "apheresis",
            "kind": "apheresis",
            "start": iso(today + timedelta(days=7)),
            "end": iso(today + timedelta(days=7)),
            "chain": "apheresis",
        },
    ]
    await record(handle, "slot_booked", slots=slots)
    await record(handle, "slot_released", booking_ids=["BK-SCN-CHAIR"], reason="collected")


@dataclass
class LongJourney:
    """What `drive_long_journey` recorded, for the caller's assertions."""

    infused_at: datetime
    milestones: int = 0
    observations: int = 0


async def drive_long_journey(
    handle: Handle,
    now: Callable[[], Awaitable[datetime]],
    sleep: Callable[[timedelta], Awaitable[None]],
    *,
    years: int = 15,
) -> LongJourney:
    """An autologous CAR-T journey from intake to the last yearly check-in and completion.

    Observations daily for 14 days, then twice weekly to discharge on day 28; home on day 43
    (after the 42-day stay near the centre); telemedicine monthly for 12 months just before
    each is due; the response at months 1, 3, 6 and 12; the registry's track (pre-infusion and
    infusion forms, the three windows, a yearly form); a check-in each year from
    year 2 to `years`, ten days into its window (start the journey with
    `follow_up_protocol(years)` when `years` is under 15). `now` and `sleep` are the
    time-skipping environment's, so fifteen years take seconds.
    """
    first = await status(handle)
    await to_infusion(
        handle,
        (await now()).date(),
        records=first.records,
        ledger=first.ledger_rules,
        custody=first.custody_rules,
    )
    if first.capacity_rules:
        await book_the_stay(handle, (await now()).date())
    if first.reassign_rules:  # the coordinator goes on to other work; a colleague takes over
        data = {"coordinator": "coord-2", "previous": first.coordinator, "reason": "caseload"}
        await record(handle, "coordinator_changed", **data)
    before = len(await handle.query(PatientJourney.timeline))
    await sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    done = LongJourney(infused_at=await now(), milestones=before + 1)

    async def until(day: float) -> None:
        # Every step is 3 h 17 min off the whole hours that deadlines fall on after infusion,
        # and daily rounds drift by a few minutes: an update landing within milliseconds of
        # a timer's instant makes the time-skipping test server refuse the workflow task
        # ("invalid history builder state for action"), and real bedside times are never
        # that exact anyway.
        target = done.infused_at + timedelta(days=day, hours=3, minutes=17)
        await sleep(max(target - await now(), timedelta(0)))

    for day in range(28):
        if day < 14 or day % 7 in (0, 3):
            await until(day + (day * 7 % 11) / 100)
            await observe(handle)
            done.observations += 1
    await until(28.5)
    steps: list[tuple[float, str, dict[str, Any]]] = [
        (28.5, "discharged", DISCHARGE),
        (29, "handover_sent", {"bundle_sha256": "ab" * 32, "resources": 12, "channel": "email"}),
        (43, "returned_home", {}),
    ]
    steps += [(30 * m - 1, "telemedicine_completed", {"month": m}) for m in range(1, 13)]
    # The response at each protocol month, with MRD (month 1 by flow, then PET-CT too).
    steps += [
        (29.2, "response_assessed", {"response": "CR", "mrd": "negative", "mrd_method": "flow"})
    ]
    steps += [
        (30 * m - 1.5, "response_assessed", {"response": "CR", "method": "PET-CT", "month": m})
        for m in (3, 6, 12)
    ]
    # The registry's track (with registry consent): the pre-infusion and infusion forms, the
    # protocol's windows, then a yearly form to the last year of long-term follow-up.
    steps += [
        (0.5, "registry_reported", {"window": "pre_infusion", "form": "CIBMTR F4000"}),
        (10, "registry_reported", {"window": "infusion", "form": "CIBMTR F4006"}),
        (95, "registry_reported", {"window": "day_100"}),
        (185, "registry_reported", {"window": "month_6"}),
        (370, "registry_reported", {"window": "year_1"}),
    ]
    steps += [(365 * y + 10, "long_term_check_in", {"year": y}) for y in range(2, years + 1)]
    steps += [
        (365 * y + 11, "registry_reported", {"window": f"year_{y}", "form": "CIBMTR F4100"})
        for y in range(2, years + 1)
    ]
    for day, kind, data in sorted(steps, key=lambda s: s[0]):
        await until(day)
        await record(handle, kind, **data)
        done.milestones += 1
    await record(handle, "follow_up_completed")
    done.milestones += 1
    return done


@dataclass
class Complications:
    """What `drive_complications` went through: the times tests check deadlines against and
    the acknowledgements the journey gave."""

    infused_at: datetime
    icu_admitted_at: datetime | None = None
    igg_low_at: datetime | None = None
    pd_at: datetime | None = None
    acks: dict[str, ObservationAck | MilestoneAck] = field(default_factory=dict)


# A trial patient after a CAR-T infusion, day by day (`drive_complications`).
BEDSIDE = {"temperature_c": 36.9, "systolic_bp": 118}
CRS3 = {"temperature_c": 39.2, "systolic_bp": 95, "vasopressors": 1}


async def drive_complications(
    handle: Handle,
    now: Callable[[], Awaitable[datetime]],
    sleep: Callable[[timedelta], Awaitable[None]],
) -> Complications:
    """A trial CAR-T journey through what follows an infusion, as a ward would record it:
    neutropenic fever on day 0, grade 3 CRS and an ICU admission the next day (both reported
    to the sponsor within six hours), low IgG from day 20, discharge on day 28, prolonged
    cytopenia on day 29 in follow-up, the month-1 response MRD-negative, progression at month
    3 and its re-referral, and death on day 100, reported. `now` and `sleep` are the
    time-skipping environment's.
    """
    await to_infusion(handle, (await now()).date())
    await sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    done = Complications(infused_at=await now())

    steps = iter(range(1, 1_000))

    async def until(day: float) -> None:
        # Off the whole hours deadlines fall on, and each step a further 13 s off every step
        # before it: a deadline falls due whole hours after the step that opened it, and an
        # update landing on a timer's instant makes the time-skipping test server refuse the
        # workflow task (see `drive_long_journey`).
        target = done.infused_at + timedelta(
            days=day, hours=3, minutes=17, seconds=13 * next(steps)
        )
        await sleep(max(target - await now(), timedelta(0)))

    await until(0)
    done.acks["fever"] = await observe(handle, temperature_c=38.6, systolic_bp=112)
    done.acks["neutropenic"] = await labs(handle, anc_per_ul=300, platelets_per_ul=40_000)
    await until(1)
    done.acks["crs3"] = crs3 = await observe(handle, **CRS3)
    done.icu_admitted_at = await now()
    done.acks["icu"] = await record(handle, "icu_admitted", reason="grade 3 CRS")
    for alert in crs3.alerts:
        await acknowledge(handle, alert.id, note="tocilizumab given; ICU")
    await until(1.25)
    done.acks["report-1"] = await record(handle, "sae_reported", sponsor_reference="SP-0001")
    done.acks["report-2"] = await record(handle, "sae_reported", sponsor_reference="SP-0002")
    for day in range(2, 28):
        await until(day)
        await observe(handle, **BEDSIDE)
        if day == 3:
            await record(handle, "icu_discharged")
        if day == 20:
            done.igg_low_at = await now()
            done.acks["igg"] = await labs(handle, igg_mg_dl=320)
    await until(28.5)
    await record(handle, "discharged", **DISCHARGE)
    await until(29.5)
    done.acks["cytopenia"] = await labs(handle, anc_per_ul=420, platelets_per_ul=18_000)
    await until(30.5)
    await record(
        handle,
        "response_assessed",
        response="CR",
        mrd="negative",
        mrd_method="flow",
        mrd_sensitivity=1e-4,
    )
    await until(55.5)
    done.acks["igg-again"] = await labs(handle, igg_mg_dl=350, ivig_given=True)
    await until(88.5)
    done.pd_at = await now()
    done.acks["pd"] = await record(handle, "response_assessed", response="PD", method="PET-CT")
    await until(95.5)
    await record(handle, "re_referral_decided", decision="referred", therapy="car_nk")
    await until(100.5)
    done.acks["death"] = await record(
        handle, "death", cause="progression", related_to_product=False
    )
    await until(100.8)
    done.acks["death-report"] = await record(handle, "sae_reported", sponsor_reference="SP-0003")
    return done
