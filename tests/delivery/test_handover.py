"""The hand-over to the home team, end to end on the time-skipping server.

A v5 journey from intake through consent, the eligibility checklist, readiness, infusion and a
signed discharge; then the bundle is exported (identified for the coordinator, pseudonymous for
a viewer), parsed back with `fhir.resources` with every reference resolved inside it, e-mailed
to the home oncologist (a real SMTP server in this process) and recorded as `handover_sent`,
which meets the `handover_summary` deadline. The family's calendar parses with `icalendar`,
and its wall times are right on both sides of a daylight-saving change.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from fhir.resources.R4B.bundle import Bundle
from icalendar import Calendar
from temporalio.testing import WorkflowEnvironment

from cellpath.config import Settings, find_binary
from cellpath.connection import data_converter
from cellpath.handover import fhir, ics
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.scenarios import observe, record, to_infusion
from cellpath.services import handover, journeys
from cellpath.services.base import Refusal, Session
from cellpath.services.intake import admit
from cellpath.store import CaseStore
from models.deadlines import DeadlineView
from models.enums import CellSource, Phase, Program, Therapy
from models.examples import DISCHARGE, intake_document
from models.journey import workflow_id
from models.messages import JourneyStatus
from models.roles import Role
from tests.builders import PATIENT
from tests.conftest import TEST_RING
from tests.delivery.conftest import SmtpServer

ONCOLOGIST = {
    "name": "Dr Imogen Vantablack",
    "institution": "Royal Marsden",
    "email": "imogen.vantablack@example.org",
}


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    return []


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's own: the journey here ends with timers (the
    follow-up's, deliveries') that the package's shared server would later wait on."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=data_converter(ring=TEST_RING),
    ) as environment:
        await ensure_search_attributes(environment.client)
        yield environment


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def handover_queue(
    own_env: WorkflowEnvironment, store: CaseStore, delivery_settings: Settings
) -> AsyncIterator[str]:
    """The product's worker, delivering, on this module's server."""
    queue = f"handover-{uuid.uuid4().hex[:8]}"
    async with create_worker(
        own_env.client, task_queue=queue, store=store, settings=delivery_settings, deliver=True
    ):
        yield queue


@pytest.fixture(scope="module")
def staff(store: CaseStore) -> None:
    store.set_role("coord-h", Role.COORDINATOR, by="test")
    store.set_role("dr-h", Role.PHYSICIAN, by="test")
    store.set_role("auditor-h", Role.VIEWER, by="test")


async def test_a_journey_through_the_gates_is_handed_over_to_the_home_oncologist(
    own_env: WorkflowEnvironment,
    store: CaseStore,
    smtp: SmtpServer,
    delivery_settings: Settings,
    handover_queue: str,
    staff: None,
):
    env, delivery_queue = own_env, handover_queue
    # No family contact details: a message to the family would otherwise be held for their
    # quiet hours on a timer that outlives this package's worker (and the time-skipping server
    # then waits for it in later tests).
    patient = {k: v for k, v in PATIENT.items() if k not in ("email", "phone")}
    doc = intake_document(
        patient | {"home_oncologist": ONCOLOGIST},
        case_id="HO-0001",
        coordinator="coord-h",
        home_timezone="America/New_York",
    )
    inp, _ = await admit(doc, store=store, client=env.client, task_queue=delivery_queue)
    handle = env.client.get_workflow_handle(workflow_id(inp.case_id))

    def session(actor: str) -> Session:
        return Session(actor=actor, settings=delivery_settings, client=env.client, store=store)

    # Consent, the checklist, readiness and the signed decisions are in the path to infusion.
    await to_infusion(handle, (await env.get_current_time()).date())
    await env.sleep(timedelta(hours=30))
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    infused = await env.get_current_time()
    # Observed as the protocol asks (daily for 14 days, then twice weekly), so that nothing
    # escalates while the days pass; 1 h 13 min (and a few minutes more each day) before the
    # hour a deadline falls on: the time-skipping server refuses a workflow task when an
    # update lands in the instant a timer fires (see `drive_long_journey`).
    for day in [*range(1, 15), 17, 21, 24, 28]:
        at = infused + timedelta(days=day, hours=-1, minutes=-13 - day)
        await env.sleep(at - await env.get_current_time())
        await observe(handle)
    await env.sleep(timedelta(hours=3))
    ack = await record(handle, "discharged", actor="dr-h", **DISCHARGE)
    assert ack.phase is Phase.FOLLOW_UP
    assert "handover_summary" in [d.name for d in ack.next_deadlines]
    # Follow-up starts a fresh run (continue-as-new). Queried while that run is being created,
    # the time-skipping server answered once and then stopped answering (and skipping time);
    # a few minutes later all is well.
    await env.sleep(timedelta(minutes=7))

    status: JourneyStatus = await journeys.status(session("coord-h"), inp.case_id)
    assert [s.decision for s in status.signatures] == [
        "eligibility_assessed",
        "pi_decision",
        "discharged",
    ]
    assert {c.consent_type for c in status.consents} == {
        "treatment",
        "trial",
        "registry",
        "data_transfer",
    }

    # The coordinator's export names the patient; every reference resolves in the bundle.
    export = await handover.bundle(session("coord-h"), inp.case_id)
    parsed = Bundle.model_validate_json(export.data)
    doc_json = json.loads(export.data)
    urls = {e["fullUrl"] for e in doc_json["entry"]}
    assert set(references(doc_json)) <= urls
    assert export.counts == {
        "BiologicallyDerivedProduct": 1,
        "CarePlan": 1,
        "Consent": 4,
        "DocumentReference": 1,
        "Observation": 18,
        "Patient": 1,
        "Practitioner": 1,
        "Procedure": 1,
        "Task": len(status.open_deadlines),
    }
    assert parsed.type == "collection"
    assert PATIENT["full_name"].encode() in export.data and export.identified
    # The discharge letter says what was treated, with which product, in words.
    (letter,) = [
        e["resource"]
        for e in doc_json["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    text = base64.b64decode(letter["content"][0]["attachment"]["data"]).decode()
    assert "Treatment: CAR-T cell therapy (autologous product)" in text
    assert f"Diagnosis: {inp.indication}; target antigen(s): CD19" in text
    assert "Product: lot LOT-001 (chain of identity COI-001)" in text
    assert "_" not in text.split("Follow-up still due:")[1], "no snake_case for people"
    procedure = next(
        e["resource"] for e in doc_json["entry"] if e["resource"]["resourceType"] == "Procedure"
    )
    assert "LOT-001" in procedure["note"][0]["text"] and "COI-001" in procedure["note"][0]["text"]

    # A viewer (an auditor) gets the pseudonymous bundle, whatever they ask for.
    blind = await handover.bundle(session("auditor-h"), inp.case_id)
    assert not blind.identified and PATIENT["full_name"].encode() not in blind.data
    assert "Practitioner" not in blind.counts

    # Sent to the home oncologist by e-mail, with the bundle attached; the deadline is met.
    before = len(smtp.mailbox.to(ONCOLOGIST["email"]))
    ack = await handover.send(session("coord-h"), inp.case_id)
    mails = smtp.mailbox.to(ONCOLOGIST["email"])
    assert len(mails) == before + 1
    attachment = next(p for p in mails[-1].walk() if p.get_filename())
    sent = attachment.get_payload(decode=True)
    assert isinstance(sent, bytes)
    Bundle.model_validate_json(sent)
    assert "handover_summary" not in [d.name for d in ack.next_deadlines]
    status = await journeys.status(session("coord-h"), inp.case_id)
    assert status.handover_sent_at is not None
    timeline = await journeys.timeline(session("coord-h"), inp.case_id)
    assert timeline[-1].kind == "handover_sent"
    assert timeline[-1].data["bundle_sha256"] == fhir.sha256(sent)

    # Home: the family's calendar is in New York time and parses.
    await record(handle, "returned_home")
    data = await handover.calendar(session("coord-h"), inp.case_id)
    cal = Calendar.from_ical(data)
    events = list(cal.walk("VEVENT"))
    assert events, "the family has follow-up appointments"
    status = await journeys.status(session("coord-h"), inp.case_id)
    # Each at the whole minute of its deadline (a visit at "21:23:19" helps nobody).
    due = {d.due_at.replace(second=0, microsecond=0) for d in status.open_deadlines}
    for e in events:
        start = e.decoded("dtstart")
        assert str(start.tzinfo) == "America/New_York"
        assert start.astimezone(UTC) in due

    actions = [e.action for e in store.audit_trail(inp.case_id)]
    assert actions.count("exported") == 3 and "patient_viewed" in actions


async def test_the_handover_is_refused_without_a_home_oncologist(
    own_env: WorkflowEnvironment,
    store: CaseStore,
    delivery_settings: Settings,
    handover_queue: str,
    staff: None,
):
    env, delivery_queue = own_env, handover_queue
    doc = intake_document(PATIENT, case_id="HO-0002", coordinator="coord-h")
    inp, _ = await admit(doc, store=store, client=env.client, task_queue=delivery_queue)
    session = Session(actor="coord-h", settings=delivery_settings, client=env.client, store=store)
    with pytest.raises(Refusal, match="names no home oncologist"):
        await handover.send(session, inp.case_id)
    assert "refused:handover" in [e.action for e in store.audit_trail(inp.case_id)]


def test_calendar_times_are_right_across_a_daylight_saving_change():
    """New York leaves standard time on 14 March 2027: 14:00 UTC is 09:00 before, 10:00 after."""
    zone = ZoneInfo("America/New_York")
    before = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)
    after = datetime(2027, 3, 17, 14, 0, tzinfo=UTC)
    status = JourneyStatus(
        case_id="DST-1",
        patient_ref="pt-dst-1",
        phase=Phase.FOLLOW_UP,
        coordinator="coord-1",
        therapy=Therapy.CAR_T,
        cell_source=CellSource.AUTOLOGOUS,
        program=Program.TRIAL,
        protocol="default",
        home_timezone="America/New_York",
        open_deadlines=[
            DeadlineView(name="telemedicine", due_at=before),
            DeadlineView(name="response_assessment", due_at=after),
            DeadlineView(name="registry_day_100", due_at=after),  # the team's, not the family's
        ],
    )
    cal = Calendar.from_ical(ics.calendar(status, "America/New_York", before))
    starts = {str(e["summary"]): e.decoded("dtstart") for e in cal.walk("VEVENT")}
    assert set(starts) == {
        "Telemedicine visit with the home oncologist",
        "Response assessment (CT/PET-CT, bone marrow)",
    }
    tele = starts["Telemedicine visit with the home oncologist"]
    resp = starts["Response assessment (CT/PET-CT, bone marrow)"]
    assert (tele.hour, tele.utcoffset()) == (9, timedelta(hours=-5))
    assert (resp.hour, resp.utcoffset()) == (10, timedelta(hours=-4))
    assert tele == before and resp == after
    assert tele.tzinfo == zone or str(tele.tzinfo) == "America/New_York"
    # The zone travels with the file: a VTIMEZONE with both offsets.
    (tz,) = cal.walk("VTIMEZONE")
    assert tz["TZID"] == "America/New_York"
    assert b"TZID=America/New_York:20270310T090000" in cal.to_ical()
    assert b"TZID=America/New_York:20270317T100000" in cal.to_ical()


def _family_calendar(deadlines: list[DeadlineView]) -> bytes:
    status = JourneyStatus(
        case_id="ICS-1",
        patient_ref="pt-ics-1",
        phase=Phase.FOLLOW_UP,
        coordinator="coord-1",
        therapy=Therapy.CAR_T,
        cell_source=CellSource.AUTOLOGOUS,
        program=Program.TRIAL,
        protocol="default",
        centre_timezone="Europe/London",
        home_timezone="America/New_York",
        open_deadlines=deadlines,
    )
    return ics.calendar(status, "America/New_York", datetime(2026, 12, 6, tzinfo=UTC))


ICALJS = Path(__file__).parents[2] / ".cellpath/tools/icaljs/node_modules/ical.js"


def _read_with_icaljs(text: str) -> dict[str, tuple[str, int]]:
    """Each event's summary → (local wall time, UTC offset in minutes), as ical.js reads it."""
    if not ICALJS.exists():
        pytest.fail("ical.js is missing: `make test` installs it (npm)")
    script = Path(__file__).with_name("icaljs_read.mjs")
    env = os.environ | {"ICALJS": str(ICALJS / "dist" / "ical.js")}
    done = subprocess.run(
        ["node", str(script)], input=text, capture_output=True, text=True, env=env, check=True
    )
    return {e["summary"]: (e["wall"], e["offset"]) for e in json.loads(done.stdout)}


def test_the_calendar_reads_the_same_in_calendar_programs_we_do_not_write_with():
    """vobject and ical.js once read London's winter an hour early and New York's summer an
    hour late (comma-separated RDATEs), and nothing after 2038; every event is now right in
    both, in both seasons, in 2040, each in the zone where it happens, at whole minutes."""
    import vobject

    due = {
        "conditioning": datetime(2027, 1, 15, 9, 0, 17, tzinfo=UTC),  # London winter, seconds
        "stay_near_centre": datetime(2027, 7, 15, 8, 0, tzinfo=UTC),  # London summer
        "telemedicine": datetime(2040, 1, 15, 14, 0, tzinfo=UTC),  # New York winter, 2040
        "long_term_check_in": datetime(2040, 7, 15, 13, 0, tzinfo=UTC),  # New York summer
    }
    lived = {  # the wall time and offset the family lives each at
        "conditioning": ("2027-01-15T09:00:00", 0),
        "stay_near_centre": ("2027-07-15T09:00:00", 60),
        "telemedicine": ("2040-01-15T09:00:00", -300),
        "long_term_check_in": ("2040-07-15T09:00:00", -240),
    }
    data = _family_calendar([DeadlineView(name=n, due_at=at) for n, at in due.items()])
    text = data.decode()
    assert "," not in "".join(line for line in text.splitlines() if line.startswith("RDATE"))
    title = {name: ics.FAMILY_DEADLINES[name] for name in due}
    by_icaljs = _read_with_icaljs(text)
    by_vobject = {
        str(e.summary.value): (
            e.dtstart.value.replace(tzinfo=None).isoformat(),
            int(e.dtstart.value.utcoffset().total_seconds() // 60),
        )
        for e in vobject.readOne(text).vevent_list
    }
    expected = {title[name]: when for name, when in lived.items()}
    assert by_icaljs == expected
    assert by_vobject == expected
    # A rescheduled deadline moves its event: the same UID.
    later = due["telemedicine"] + timedelta(days=3)
    moved = _family_calendar([DeadlineView(name="telemedicine", due_at=later)])

    def uids(ical: bytes) -> set[str]:
        return {
            str(e["UID"])
            for e in Calendar.from_ical(ical).walk("VEVENT")
            if "Telemedicine" in str(e["SUMMARY"])
        }

    assert uids(data) == uids(moved) and len(uids(data)) == 1


def test_a_bundle_with_a_bad_status_or_a_dangling_reference_is_refused():
    good = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111",
                "resource": {
                    "resourceType": "Patient",
                    "id": "11111111-1111-1111-1111-111111111111",
                },
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222",
                "resource": {
                    "resourceType": "Task",
                    "id": "22222222-2222-2222-2222-222222222222",
                    "status": "requested",
                    "intent": "plan",
                    "for": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
                },
            },
        ],
    }
    fhir.check(good)
    bogus = json.loads(json.dumps(good))
    bogus["entry"][1]["resource"]["status"] = "bogus"  # fhir.resources itself accepts it
    with pytest.raises(fhir.HandoverInvalid, match=r"Task\.status 'bogus'"):
        fhir.check(bogus)
    dangling = json.loads(json.dumps(good))
    dangling["entry"][1]["resource"]["for"]["reference"] = "urn:uuid:nowhere"
    with pytest.raises(fhir.HandoverInvalid, match="do not resolve"):
        fhir.check(dangling)
    with pytest.raises(fhir.HandoverInvalid, match="does not validate"):
        fhir.check({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": 1}]})
