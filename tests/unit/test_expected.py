"""What's next: the milestones a journey waits for, their fields, and the records missing."""

from __future__ import annotations

from datetime import timedelta

from models.enums import CellSource, Phase
from models.messages import ExpectedMilestone
from tests.builders import Case


def by_kind(c: Case) -> dict[str, ExpectedMilestone]:
    return {e.kind: e for e in c.j.status().expected}


def test_a_new_journey_waits_for_records_and_names_the_missing_ones():
    c = Case()
    status = c.j.status()
    assert [e.kind for e in status.expected] == ["record_received", "records_complete"]
    assert status.records_missing == ["pathology", "imaging", "treatment_history", "labs"]
    record = by_kind(c)["record_received"].fields[0]
    assert (record.name, record.required) == ("record_type", True)
    assert "pathology" in record.takes
    assert "still missing: pathology" in by_kind(c)["records_complete"].fields[0].takes
    for r in ("pathology", "imaging", "treatment_history", "labs"):
        c.record("record_received", record_type=r)
    assert c.j.status().records_missing == []
    # More records may still arrive, but none is awaited.
    assert by_kind(c)["record_received"].optional


def test_logistics_lists_only_what_is_not_done_and_what_must_come_first():
    c = Case()
    c.to_logistics()
    c.record("cost_estimate_accepted", currency="USD", total=9500)
    expected = by_kind(c)
    assert "cost_estimate_accepted" not in expected
    assert expected["visa_issued"].after == ["invitation_letter_issued"]
    assert expected["invitation_letter_issued"].fields[0].takes == "site-a"
    assert expected["interpreter_arranged"].optional
    assert not expected["travel_booked"].optional
    # The awaited and possible come first, then what waits on another, then the optional.
    order = [e.kind for e in c.j.status().expected]
    assert order.index("invitation_letter_issued") < order.index("visa_issued")
    assert order[-1] == "interpreter_arranged"
    # A refusal lists only what is still expected.
    said = c.refused("patient_arrived", "not expected in phase 'logistics'")
    assert "cost_estimate_accepted" not in said and "invitation_letter_issued" in said


def test_an_allogeneic_journey_in_logistics_says_it_waits_for_its_product():
    c = Case(CellSource.ALLOGENEIC)
    c.to_logistics()
    today = c.now.date()
    c.record("cost_estimate_accepted", currency="USD", total=9500)
    c.record("invitation_letter_issued", site="site-a")
    c.record("visa_issued", visa_type="S2", valid_until=str(today + timedelta(200)))
    c.record("accommodation_booked")
    c.record("travel_booked", arrival_date=str(today + timedelta(days=7)))
    assert c.phase is Phase.LOGISTICS
    waiting = [e.kind for e in c.j.status().expected if not e.optional]
    assert waiting == ["product_reserved"]
    assert [f.name for f in by_kind(c)["product_reserved"].fields] == ["lot", "coi_id"]
    # An autologous journey is never asked for a reserved product.
    auto = Case()
    auto.to_logistics()
    assert "product_reserved" not in by_kind(auto)


def test_pi_review_names_the_sites_left_and_the_site_under_review():
    c = Case()
    c.to_pi_review()
    assert by_kind(c)["submitted_to_pi"].fields[0].takes == "one of: site-a, site-b"
    c.record("submitted_to_pi", site="site-a")
    status = c.j.status()
    assert status.submitted_site == "site-a"
    assert [e.kind for e in status.expected if not e.optional] == ["pi_decision"]
    assert by_kind(c)["pi_decision"].fields[0].takes == "site-a"


def test_bedside_chain_of_identity_fields_never_show_the_expected_values():
    c = Case()
    c.to_infusion()
    infusion = by_kind(c)["infusion_completed"]
    for field in infusion.fields:
        assert "LOT-1" not in field.takes and "COI-1" not in field.takes
    assert "read from the bag" in infusion.fields[0].takes
    assert "LOT-1" not in c.j.status().model_dump_json(include={"expected"})


def test_a_closed_journey_expects_nothing():
    c = Case()
    c.to_pi_review()
    c.record("submitted_to_pi", site="site-a")
    c.record("pi_decision", site="site-a", decision="declined")
    c.record("submitted_to_pi", site="site-b")
    c.record("pi_decision", site="site-b", decision="declined")
    assert c.phase is Phase.CLOSED
    assert c.j.status().expected == []
