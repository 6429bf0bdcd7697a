"""The scheduled outbox with real parts: a journey writes its escalation ahead, the dispatcher
sends it at its instant (before the journey's own timer has fired), and the journey's later
write sends nothing again; a deadline moved takes its row along; a dispatcher that dies
after sending leaves one message, not two."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.delivery import delivery_id
from activities.dispatcher import Dispatcher
from cellpath.config import Settings
from cellpath.runtime import create_dispatcher
from cellpath.scenarios import reschedule
from cellpath.services.intake import admit
from cellpath.store import CaseStore
from cellpath.store.ahead import HELD, SENT, Scheduled
from cellpath.store.directory import Deliveries, Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput
from models.enums import NotificationKind, Recipient, Severity
from models.examples import intake_document
from models.messages import JourneyStatus, Notification
from tests.builders import PATIENT
from tests.delivery.conftest import SmtpServer, subject
from tests.support import workflow_exists

pytestmark = pytest.mark.usefixtures("delivering_worker")


def uid() -> str:
    return uuid.uuid4().hex[:8]


def patient(d: Dispatcher) -> Dispatcher:
    """A dispatcher that never hands a send to `DeliverNotification` for being slow on a
    loaded machine: such a workflow would outlive the test on a queue nobody polls, and the
    time-skipping server, shared by the session, would wait for it in later tests' sleeps."""
    d.send_seconds = 120.0
    return d


@pytest.fixture
def dispatcher(
    env: WorkflowEnvironment, store: CaseStore, delivery_settings: Settings, delivery_queue: str
) -> Dispatcher:
    return patient(
        create_dispatcher(
            env.client, task_queue=delivery_queue, store=store, settings=delivery_settings
        )
    )


async def until(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait (real time) for the journey's write to reach the case store."""
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"waited {seconds} s for {what}")


async def journey_with_lead(
    env: WorkflowEnvironment, store: CaseStore, directory: Directory, queue: str, ended: list[str]
) -> tuple[str, str]:
    """A journey whose lead coordinator (one of them: a lead is everywhere until the case
    has a site) is reached by e-mail."""
    site, lead, coord = f"site-{uid()}", f"lead-{uid()}", f"coord-{uid()}"
    directory.set_contact(ContactInput(actor=lead, email=f"{lead}@example.org"), by="t")
    directory.set_contact(ContactInput(actor=coord, email=f"{coord}@example.org"), by="t")
    directory.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=lead), by="t")
    doc = intake_document(PATIENT, case_id=f"S-{uid()}", coordinator=coord, sites=[site])
    inp, _ = await admit(doc, store=store, client=env.client, task_queue=queue)
    ended.append(f"journey-{inp.case_id}")
    return inp.case_id, lead


def mails(smtp: SmtpServer, lead: str, case_id: str) -> list:
    """The lead's messages about this case (a lead is everywhere: other tests' cases reach
    them too when a round takes those tests' rows)."""
    return [m for m in smtp.mailbox.to(f"{lead}@example.org") if case_id in subject(m)]


def escalation_row(store: CaseStore, case_id: str, due: datetime) -> Callable[[], bool]:
    key = f"{case_id}:records:escalation:1:{due.isoformat()}"
    return lambda: any(r.idempotency_key == key for r in Scheduled(store).rows(case_id))


async def test_the_dispatcher_sends_at_the_instant_and_the_journey_then_sends_nothing(
    env: WorkflowEnvironment,
    store: CaseStore,
    directory: Directory,
    delivery_queue: str,
    smtp: SmtpServer,
    dispatcher: Dispatcher,
    ended: list[str],
):
    case_id, lead = await journey_with_lead(env, store, directory, delivery_queue, ended)
    handle = env.client.get_workflow_handle(f"journey-{case_id}")
    due = (await env.get_current_time()).replace(microsecond=0) + timedelta(minutes=1)
    # Without skipping time meanwhile (awaiting an update can let the test server jump to
    # the journey's timer, which then sends the escalation itself, and the row is gone).
    with env.auto_time_skipping_disabled():
        await reschedule(handle, "records", due, "test: an escalation ahead", actor="coord-x")
        await until(escalation_row(store, case_id, due), "the escalation written ahead")

    await dispatcher.round(now=due - timedelta(seconds=1), cases=[case_id])
    assert mails(smtp, lead, case_id) == []  # not before its time
    assert await dispatcher.round(now=due, cases=[case_id]) >= 1
    (mail,) = mails(smtp, lead, case_id)
    assert f"Escalation level 1 · case {case_id} · records" in subject(mail)
    key = f"{case_id}:records:escalation:1:{due.isoformat()}"
    assert {r.idempotency_key: r.state for r in Scheduled(store).rows(case_id)}[key] == SENT
    # The journey itself has not escalated yet (its timer has not fired): the dispatcher sent
    # what the journey wrote ahead.
    status = await handle.query("status", result_type=JourneyStatus)
    (records,) = [d for d in status.open_deadlines if d.name == "records"]
    assert records.escalation_level == 0

    # The journey's own timer fires; its write finds the row taken and sends nothing.
    await env.sleep(timedelta(minutes=3))

    def escalated() -> bool:
        return any(j.case_id == case_id and j.escalation_level == 1 for j in store.list_journeys())

    await until(escalated, "the journey's own write of its escalation")
    assert len(mails(smtp, lead, case_id)) == 1
    # Each lead (earlier tests' too: a lead is everywhere) once, on each channel.
    assert {d.attempts for d in Deliveries(store).of(key)} == {1}
    assert not await workflow_exists(env, delivery_id(key))
    assert [n.idempotency_key for n in store.notifications(case_id)].count(key) == 1


async def test_a_deadline_moved_takes_its_scheduled_rows_along(
    env: WorkflowEnvironment,
    store: CaseStore,
    directory: Directory,
    delivery_queue: str,
    smtp: SmtpServer,
    dispatcher: Dispatcher,
    ended: list[str],
):
    case_id, lead = await journey_with_lead(env, store, directory, delivery_queue, ended)
    handle = env.client.get_workflow_handle(f"journey-{case_id}")
    now = (await env.get_current_time()).replace(microsecond=0)
    first, later = now + timedelta(minutes=1), now + timedelta(days=3)
    with env.auto_time_skipping_disabled():
        await reschedule(handle, "records", first, "test: soon", actor="coord-x")
        await until(escalation_row(store, case_id, first), "the first escalation ahead")
        await reschedule(handle, "records", later, "test: later after all", actor="coord-x")
        await until(escalation_row(store, case_id, later), "the moved escalation ahead")
    assert not escalation_row(store, case_id, first)()
    await dispatcher.round(now=first + timedelta(seconds=1), cases=[case_id])
    assert mails(smtp, lead, case_id) == []


async def test_a_dispatcher_that_dies_after_sending_leaves_one_message(
    env: WorkflowEnvironment,
    store: CaseStore,
    directory: Directory,
    delivery_queue: str,
    smtp: SmtpServer,
    dispatcher: Dispatcher,
    ended: list[str],
    monkeypatch: pytest.MonkeyPatch,
):
    case_id, lead = await journey_with_lead(env, store, directory, delivery_queue, ended)
    handle = env.client.get_workflow_handle(f"journey-{case_id}")
    due = (await env.get_current_time()).replace(microsecond=0) + timedelta(hours=1)
    with env.auto_time_skipping_disabled():
        await reschedule(handle, "records", due, "test: a crash mid-round", actor="coord-x")
        await until(escalation_row(store, case_id, due), "the escalation written ahead")

    def died(claim: object) -> None:
        raise SystemExit("the dispatcher's process ended after sending, before marking sent")

    monkeypatch.setattr(dispatcher.scheduled, "finish", died)
    with pytest.raises(SystemExit):
        await dispatcher.round(now=due, cases=[case_id])
    assert len(mails(smtp, lead, case_id)) == 1
    monkeypatch.undo()
    # Another dispatcher takes the stale claim again: the ledger has the send, none goes out.
    again = patient(create_dispatcher(env.client, task_queue=dispatcher.task_queue, store=store))
    assert await again.round(now=due + timedelta(minutes=2), cases=[case_id]) >= 1
    assert len(mails(smtp, lead, case_id)) == 1
    key = f"{case_id}:records:escalation:1:{due.isoformat()}"
    # Each lead (earlier tests' too: a lead is everywhere) once, on each channel.
    assert {d.attempts for d in Deliveries(store).of(key)} == {1}


# --- the fast path's own cases, on a case store of their own (nobody else's staff) --------


@pytest.fixture
def own(
    tmp_path, env: WorkflowEnvironment, delivery_settings: Settings
) -> tuple[CaseStore, Dispatcher]:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'own.db'}")
    # No worker polls its queue: the fast path must start no workflow.
    queue = f"nobody-polls-{uid()}"
    return store, patient(
        create_dispatcher(env.client, task_queue=queue, store=store, settings=delivery_settings)
    )


def escalation(case_id: str, at: datetime, recipient: Recipient, ref: str | None) -> Notification:
    return Notification(
        idempotency_key=f"{case_id}:records:escalation:1:{at.isoformat()}",
        case_id=case_id,
        kind=NotificationKind.ESCALATION,
        recipient=recipient,
        recipient_ref=ref,
        deadline="records",
        level=1,
        severity=Severity.WARNING,
        scheduled_for=at,
        text="Overdue (level 1): Records — was due",
        due_at=at,
    )


def test_nobody_reachable_goes_up_the_levels_without_a_workflow(own):
    store, dispatcher = own
    at = datetime.now(UTC)
    n = escalation(f"U-{uid()}", at, Recipient.ON_CALL_PHYSICIAN, "site-nobody")
    assert dispatcher.deliver(n, at) is None
    actions = [(a.action, a.detail.get("to")) for a in store.audit_trail(n.case_id)]
    assert actions == [("delivery_escalated", "medical_director"), ("undeliverable", None)]
    assert dispatcher.deliver(n, at) is None  # a retaken claim: audited once
    assert len(store.audit_trail(n.case_id)) == 2


async def test_quiet_hours_hold_on_the_fast_path_and_a_later_round_sends(own, smtp: SmtpServer):
    store, dispatcher = own
    zone, now = "Asia/Shanghai", datetime.now(UTC)
    local = now.astimezone(ZoneInfo(zone))
    quiet = f"{local - timedelta(hours=1):%H:%M}-{local + timedelta(hours=2):%H:%M}"
    awake, asleep = f"lead-{uid()}", f"lead-{uid()}"
    d = Directory(store)
    d.set_contact(ContactInput(actor=awake, email=f"{awake}@example.org"), by="t")
    d.set_contact(
        ContactInput(actor=asleep, email=f"{asleep}@example.org", timezone=zone, quiet_hours=quiet),
        by="t",
    )
    for lead in (awake, asleep):
        d.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=lead), by="t")
    n = escalation(f"Q-{uid()}", now, Recipient.LEAD_COORDINATOR, None)
    Scheduled(store).hold(n, now)  # due now, as a journey's row would be
    assert await dispatcher.round(now=now, cases=[n.case_id]) == 1
    assert len(mails(smtp, awake, n.case_id)) == 1 and mails(smtp, asleep, n.case_id) == []
    (held,) = [r for r in Scheduled(store).rows(n.case_id) if r.state == HELD]
    assert now + timedelta(hours=1) < held.due_at <= now + timedelta(hours=2, minutes=1)
    assert [a.action for a in store.audit_trail(n.case_id)] == ["delivery_held"]
    ledger = {d.person: d for d in Deliveries(store).of(n.idempotency_key)}
    assert ledger[asleep].held_until == held.due_at and ledger[awake].delivered_at is not None
    # Their morning: a round sends it to whoever does not have it yet, and only to them.
    morning = held.due_at + timedelta(seconds=1)
    assert await dispatcher.round(now=morning, cases=[n.case_id]) == 1
    assert len(mails(smtp, asleep, n.case_id)) == 1 and len(mails(smtp, awake, n.case_id)) == 1
