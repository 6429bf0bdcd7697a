"""Activities on a real case store (SQLite and PostgreSQL): outbox, audit, projection, roles."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.journey import CalendarActivities, CaseStoreActivities, NotificationActivities
from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.tables import IDENTIFYING_FIELDS, Patient
from models.enums import Phase
from models.errors import CaseStoreError
from models.messages import (
    AuditBatch,
    AuditEntry,
    CalendarRequest,
    JourneyProjection,
    JourneyWrite,
    Notification,
    NotificationBatch,
)
from models.roles import Role
from tests.builders import STORE_NOW, stored_projection, stored_reminder

NOW = STORE_NOW


async def test_a_retried_notification_is_stored_once(fresh_store):
    acts = NotificationActivities(fresh_store)
    env = ActivityEnvironment()
    batch = NotificationBatch(
        notifications=[stored_reminder("C-1:records:0"), stored_reminder("C-1:records:1")]
    )
    assert (await env.run(acts.send_notifications, batch)).written == 2
    assert (await env.run(acts.send_notifications, batch)).written == 0
    rows = fresh_store.notifications("C-1")
    assert [r.idempotency_key for r in rows] == ["C-1:records:0", "C-1:records:1"]
    assert rows[0].scheduled_for == NOW  # read back aware, in UTC


def test_audit_is_append_only_and_idempotent(fresh_store):
    acts = CaseStoreActivities(fresh_store)
    entry = AuditEntry(
        event_id="C-1:e1",
        case_id="C-1",
        action="milestone:records_complete",
        actor="coord-1",
        occurred_at=NOW,
        recorded_at=NOW,
        detail={"records": ["labs"], "at": NOW},
        reason="all in",
    )
    env = ActivityEnvironment()
    assert env.run(acts.record_audit, AuditBatch(entries=[entry])).written == 1
    assert env.run(acts.record_audit, AuditBatch(entries=[entry])).written == 0
    (row,) = fresh_store.audit_trail("C-1")
    assert (row.actor, row.reason, row.detail["records"]) == ("coord-1", "all in", ["labs"])


def projection(revision: int, phase: Phase) -> JourneyProjection:
    return stored_projection(
        revision, phase, next_deadline="records", next_deadline_at=NOW + timedelta(days=14)
    )


def test_an_older_projection_never_overwrites_a_newer_one(fresh_store):
    acts = CaseStoreActivities(fresh_store)
    env = ActivityEnvironment()
    assert env.run(acts.project_journey, projection(2, Phase.PRE_ASSESSMENT)).written == 1
    assert env.run(acts.project_journey, projection(1, Phase.INTAKE)).written == 0
    (row,) = fresh_store.list_journeys()
    assert (row.phase, row.revision) == ("pre_assessment", 2)
    assert fresh_store.list_journeys(phase="intake") == []


async def test_unknown_calendar_is_not_retried():
    from temporalio.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(
            CalendarActivities().load_business_calendar,
            CalendarRequest(country="XX", timezone="UTC", years=[2026]),
        )
    assert err.value.non_retryable and err.value.type == "UnknownCalendar"


async def test_a_calendar_is_computed_once_per_process():
    calendars = CalendarActivities()
    request = CalendarRequest(country="CN", timezone="Asia/Shanghai", years=[2027, 2026])
    first = await ActivityEnvironment().run(calendars.load_business_calendar, request)
    again = await ActivityEnvironment().run(
        calendars.load_business_calendar, request.model_copy(update={"years": [2026, 2027]})
    )
    assert again is first and first.years == [2026, 2027]


def add_patient(store: CaseStore, case_id: str) -> str:
    ref = store.mint_patient_ref()
    with store.session() as s:
        store.add_patient(
            s,
            Patient(
                patient_ref=ref,
                full_name="Ottoline Brackenbury-Vance",
                birth_date=date(1970, 1, 2),
                nationality="IE",
                passport_number="PX0001234",
                created_at=NOW,
            ),
            case_id,
        )
    return ref


def test_erasure_clears_details_keeps_the_case_and_is_audited(fresh_store):
    ref = add_patient(fresh_store, "C-9")
    assert fresh_store.erase_patient("C-9", actor="coord-1", reason="GDPR art. 17") == ref
    patient = fresh_store.patient(ref)
    assert patient is not None and patient.erased_by == "coord-1"
    assert all(getattr(patient, f) is None for f in IDENTIFYING_FIELDS)
    assert fresh_store.case_exists("C-9")
    (entry,) = fresh_store.audit_trail("C-9")
    assert (entry.action, entry.reason, entry.detail["patient_ref"]) == (
        "patient_erased",
        "GDPR art. 17",
        ref,
    )
    with pytest.raises(CaseStoreError, match="already erased"):
        fresh_store.erase_patient("C-9", actor="coord-1", reason="again")
    with pytest.raises(CaseStoreError, match="no case 'C-404'"):
        fresh_store.erase_patient("C-404", actor="coord-1", reason="x")
    with pytest.raises(CaseStoreError, match="needs a reason"):
        fresh_store.erase_patient("C-9", actor="coord-1", reason=" ")


def test_roles_are_stored_changed_removed_and_audited(fresh_store):
    assert fresh_store.role_of("dr-1") is None
    fresh_store.set_role("dr-1", Role.PHYSICIAN, by="ops")
    fresh_store.set_role("dr-1", Role.VIEWER, by="ops")
    assert fresh_store.role_of("dr-1") is Role.VIEWER
    fresh_store.set_role("dr-1", None, by="ops")
    assert fresh_store.role_of("dr-1") is None and fresh_store.staff() == []
    changes = [(e.detail["from"], e.detail["to"]) for e in fresh_store.audit_trail(STAFF_AUDIT)]
    assert changes == [(None, "physician"), ("physician", "viewer"), ("viewer", None)]


def journey_write(
    revision: int, audit: list[AuditEntry], notes: list[Notification]
) -> JourneyWrite:
    return JourneyWrite(
        projection=projection(revision, Phase.INTAKE), audit=audit, notifications=notes
    )


def audit_entry(event_id: str, actor: str = "coord-1") -> AuditEntry:
    return AuditEntry(
        event_id=event_id,
        case_id="C-1",
        action="milestone:record_received",
        actor=actor,
        occurred_at=NOW,
        recorded_at=NOW,
    )


async def test_a_journey_write_is_one_unit_of_work_and_idempotent(fresh_store):
    acts = CaseStoreActivities(fresh_store)
    env = ActivityEnvironment()
    batch = journey_write(1, [audit_entry("C-1:a")], [stored_reminder("C-1:records:0")])
    first = await env.run(acts.write_journey, batch)
    assert (first.projected, first.audit, first.notifications) == (True, 1, 1)
    assert first.queued == ["C-1:records:0"]
    again = await env.run(acts.write_journey, batch)  # a retry, or a superseded write's entries
    assert (again.projected, again.audit, again.notifications, again.queued) == (
        False,
        0,
        0,
        [],
    )
    assert [r.event_id for r in fresh_store.audit_trail("C-1")] == ["C-1:a"]


async def test_a_write_carrying_entries_already_stored_adds_only_the_new_ones(fresh_store):
    """A newer write repeats entries a superseded one stored: those are skipped, the rest are
    stored, and only the new notifications are reported queued (nothing is sent twice)."""
    acts = CaseStoreActivities(fresh_store)
    env = ActivityEnvironment()
    first = journey_write(
        1, [audit_entry("C-1:a"), audit_entry("C-1:b")], [stored_reminder("C-1:records:0")]
    )
    await env.run(acts.write_journey, first)
    newer = journey_write(
        2,
        [audit_entry("C-1:b"), audit_entry("C-1:c"), audit_entry("C-1:d")],
        [stored_reminder("C-1:records:0"), stored_reminder("C-1:records:1")],
    )
    result = await env.run(acts.write_journey, newer)
    assert (result.projected, result.audit, result.notifications) == (True, 2, 1)
    assert result.queued == ["C-1:records:1"]
    assert [r.event_id for r in fresh_store.audit_trail("C-1")] == [
        "C-1:a",
        "C-1:b",
        "C-1:c",
        "C-1:d",
    ]
    assert [n.idempotency_key for n in fresh_store.notifications("C-1")] == [
        "C-1:records:0",
        "C-1:records:1",
    ]


async def test_a_value_the_store_cannot_hold_is_set_aside_and_never_blocks_later_writes(
    fresh_store,
):
    """A data error is not an outage: retrying it for ever would freeze the journey's writes."""
    acts = CaseStoreActivities(fresh_store)
    env = ActivityEnvironment()
    bad = [audit_entry("C-1:surrogate", actor="\ud800")]  # no database can encode it
    if fresh_store.engine.dialect.name == "postgresql":
        bad += [audit_entry("C-1:nul", actor="a\x00b"), audit_entry("C-1:" + "x" * 300)]
    result = await env.run(
        acts.write_journey,
        journey_write(1, [audit_entry("C-1:good"), *bad], [stored_reminder("C-1:records:0")]),
    )
    assert (result.set_aside, result.audit, result.notifications) == (len(bad), 1, 1)
    letters = fresh_store.dead_letters("C-1")
    assert [d.kind for d in letters] == ["audit"] * len(bad)
    assert all("\x00" not in d.payload and d.error for d in letters)
    trail = fresh_store.audit_trail("C-1")
    assert [r.action for r in trail].count("write_set_aside") == len(bad)
    later = await env.run(acts.write_journey, journey_write(2, [audit_entry("C-1:later")], []))
    assert (later.projected, later.audit, later.set_aside) == (True, 1, 0)
