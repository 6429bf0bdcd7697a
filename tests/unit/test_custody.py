"""Chain of custody and condition (runs under `CUSTODY`): hand-offs from the holder only,
shipments whose manifest and invoice agree, excursions waiting for QA, and the infusion
refused while a link is missing.

Journeys are driven by hand through `Journey` (no Temporal); earlier runs refuse it all."""

from __future__ import annotations

from datetime import timedelta

from models.enums import AlertKind, Severity
from models.protocol import PRESETS
from tests.builders import Case

LINES = [{"item": "CAR-T bag, 50 mL", "quantity": 2}, {"item": "QC sample", "quantity": 1}]
INFUSED = {"lot": "LOT-1", "coi_id": "COI-1"}


def in_conditioning(**protocol: object) -> Case:
    """A journey under `CUSTODY` with its product released, conditioning done."""
    p = PRESETS["default"].model_copy(update=protocol)
    c = Case(custody=True, protocol=p)
    c.to_infusion()
    return c


def ship(c: Case, shipment: str = "SH-1", **change: object) -> None:
    data = {
        "shipment_id": shipment,
        "from_party": "cell-lab",
        "courier": "Cryoport",
        "waybill": "WB-77",
        "container": "dry shipper",
        "temp_min_c": -196,
        "temp_max_c": -150,
        "manifest": LINES,
        "invoice": LINES,
    } | change
    c.record("shipment_dispatched", **data)


def received(c: Case, shipment: str = "SH-1", **change: object) -> None:
    data = {
        "shipment_id": shipment,
        "to_party": "ward-7",
        "log_min_c": -190,
        "log_max_c": -160,
        "minutes_outside": 0,
        "customs_cleared": True,
    } | change
    c.record("shipment_received", **data)


def test_a_chain_from_the_lab_to_the_ward_lets_the_infusion_through() -> None:
    c = in_conditioning()
    c.record(
        "custody_transferred",
        from_party="apheresis-unit",
        to_party="cell-lab",
        location="cell lab, room 3",
        condition="LN2 vapour, -160 °C",
    )
    c.at(hours=1)
    ship(c)
    c.refused("infusion_completed", "shipment SH-1 is in transit", **INFUSED)
    c.at(hours=5)
    received(c)
    c.record("infusion_completed", **INFUSED)
    chain = c.j.status().custody
    assert [(x.from_party, x.to_party) for x in chain] == [
        ("apheresis-unit", "cell-lab"),
        ("cell-lab", "courier Cryoport"),
        ("courier Cryoport", "ward-7"),
    ]


def test_an_excursion_waits_for_qa_and_a_rejection_stops_the_infusion() -> None:
    c = in_conditioning()
    ship(c)
    c.at(hours=5)
    received(c, log_max_c=-120, minutes_outside=35)
    (alert,) = [a for a in c.j.state.alerts if a.open]
    assert (alert.kind, alert.severity) == (AlertKind.TEMPERATURE_EXCURSION, Severity.WARNING)
    message = c.refused("infusion_completed", "left its temperature range", **INFUSED)
    assert "logged -190 to -120 °C, range -196 to -150 °C; 35 min outside" in message
    c.record("qa_disposition", shipment_id="SH-1", decision="accept", actor="dr-qa")
    assert not [a for a in c.j.state.alerts if a.open]
    c.record("infusion_completed", **INFUSED)

    rejected = in_conditioning()
    ship(rejected)
    rejected.at(hours=5)
    received(rejected, minutes_outside=12)
    rejected.record("qa_disposition", shipment_id="SH-1", decision="reject", actor="dr-qa")
    rejected.refused("qa_disposition", "already decided", shipment_id="SH-1", decision="accept")
    rejected.refused("infusion_completed", "QA rejected the product", **INFUSED)


def test_custody_from_someone_who_did_not_hold_it_and_bad_shipments_are_refused() -> None:
    c = in_conditioning()
    c.record(
        "custody_transferred", from_party="apheresis-unit", to_party="cell-lab", location="lab"
    )
    c.refused(
        "custody_transferred",
        "'ward-7' does not hold the product",
        from_party="ward-7",
        to_party="ward-8",
        location="ward",
    )
    c.refused(
        "shipment_dispatched",
        "line 2: the manifest says 1 × 'QC sample', the invoice 2",
        shipment_id="SH-1",
        from_party="cell-lab",
        courier="C",
        waybill="W",
        temp_min_c=-196,
        temp_max_c=-150,
        manifest=LINES,
        invoice=[LINES[0], LINES[1] | {"quantity": 2}],
    )
    c.refused(
        "shipment_dispatched",
        "temp_min_c must be below",
        shipment_id="SH-1",
        from_party="cell-lab",
        courier="C",
        waybill="W",
        temp_min_c=-150,
        temp_max_c=-196,
        manifest=LINES,
        invoice=LINES,
    )
    c.refused(
        "shipment_received",
        "was not dispatched",
        shipment_id="SH-9",
        to_party="ward",
        log_min_c=-190,
        log_max_c=-160,
        minutes_outside=0,
        customs_cleared=True,
    )
    ship(c)
    c.refused(
        "shipment_dispatched",
        "already dispatched",
        shipment_id="SH-1",
        from_party="cell-lab",
        courier="C",
        waybill="W",
        temp_min_c=-196,
        temp_max_c=-150,
        manifest=LINES,
        invoice=LINES,
    )
    # Received before it left: the timeline refuses it (never backwards), naming the time.
    c.refused(
        "shipment_received",
        "before the previous milestone",
        shipment_id="SH-1",
        to_party="ward",
        log_min_c=-190,
        log_max_c=-160,
        minutes_outside=0,
        customs_cleared=True,
        occurred_at=c.now - timedelta(hours=1),
    )


def test_a_late_shipment_escalates() -> None:
    c = in_conditioning()
    due = c.now + timedelta(hours=12)
    ship(c, expected_at=due.isoformat())
    assert c.deadline("shipment_SH-1").due_at == due
    fired = [e for e in c.j.fire_deadlines(due) if e.deadline == "shipment_SH-1"]
    assert [(e.kind, e.level) for e in fired] == [("escalation", 1)]
    c.at(hours=13)
    received(c)
    assert c.deadline("shipment_SH-1") is None


def test_a_protocol_that_requires_custody_refuses_an_infusion_without_any() -> None:
    c = in_conditioning(custody_required=True)
    c.refused("infusion_completed", "no custody of the product is recorded", **INFUSED)
    untracked = in_conditioning()
    untracked.record("infusion_completed", **INFUSED)  # nothing tracked: as before


def test_runs_before_the_patch_refuse_it_as_they_always_did() -> None:
    c = Case()
    c.to_infusion()
    c.refused(
        "custody_transferred", "unknown milestone kind", from_party="a", to_party="b", location="x"
    )
    c.record("infusion_completed", **INFUSED)


def test_a_hand_off_signed_by_giver_and_receiver_records_both_signatures() -> None:
    c = in_conditioning()
    c.refused(
        "custody_transferred",
        "gives and receives the product; expected the receiver to be someone else",
        from_party="apheresis-unit",
        to_party="cell-lab",
        location="cell lab",
        received_by="coord-1",
    )
    c.record(
        "custody_transferred",
        from_party="apheresis-unit",
        to_party="cell-lab",
        location="cell lab, room 3",
        received_by="tech-wu",
    )
    link = c.j.state.custody[-1]
    assert (link.recorded_by, link.received_by) == ("coord-1", "tech-wu")
    signed = [(g.decision, g.signer, g.meaning.value) for g in c.j.state.signatures]
    assert signed[-2:] == [
        ("custody_transferred", "coord-1", "responsible"),
        ("custody_transferred", "tech-wu", "responsible"),
    ]
    c.refused(
        "custody_transferred",
        "received_by",
        from_party="cell-lab",
        to_party="ward",
        location="ward 7",
        received_by="Nurse Li",
    )
