"""Activities of `DeliverNotification`: whom a notification reaches, sending it on one channel,
auditing what happened to it.

Addresses never enter Temporal: a target names a person (`coord-1`, `family:<patient_ref>`)
and a channel (`email`, `sms`, `url:slack#1`); `send` reads the address from the directory when
it sends. The delivery ledger (`deliveries`) makes a send idempotent: a delivery recorded as
done is not sent again, and one sent but not recorded (a crash in between) is sent again with
the same e-mail Message-ID.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import time
from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import MetricMeter, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime

from cellpath.config import Settings, get_settings
from cellpath.delivery import channels, messages
from cellpath.store import CaseStore
from cellpath.store.directory import Deliveries, Directory
from models.directory import (
    AssignedRole,
    Channel,
    DeliveryEvent,
    DeliveryRequest,
    DeliveryTuning,
    Resolution,
    ResolveRequest,
    SendRequest,
    SendResult,
    Target,
    held_for_quiet_hours,
    quiet_until,
)
from models.enums import AuditAction, Recipient
from models.messages import AuditEntry, Notification

Logger = structlog.typing.FilteringBoundLogger

ROLE_OF: dict[Recipient, AssignedRole] = {
    Recipient.LEAD_COORDINATOR: AssignedRole.LEAD_COORDINATOR,
    Recipient.SITE_COORDINATOR: AssignedRole.LEAD_COORDINATOR,
    Recipient.MEDICAL_DIRECTOR: AssignedRole.MEDICAL_DIRECTOR,
    Recipient.ON_CALL_PHYSICIAN: AssignedRole.ON_CALL,
}
FAMILY = "family:"


def _meter(fallback: MetricMeter | None = None) -> MetricMeter:
    """The activity's meter; outside one (the dispatcher), its client's runtime's."""
    if activity.in_activity():
        return activity.metric_meter()
    return fallback or Runtime.default().metric_meter


def _attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1


class DeliveryActivities:
    """Resolve, send, audit — each one unit of work, safe to retry."""

    def __init__(
        self, store: CaseStore, settings: Settings | None = None, logger: Logger | None = None
    ) -> None:
        self.store = store
        self.directory = Directory(store)
        self.ledger = Deliveries(store)
        self.settings = settings or get_settings()
        self.log = logger or structlog.get_logger("cellpath.delivery")
        # Where sends outside an activity are counted (the dispatcher sets its client's).
        self.meter: MetricMeter | None = None

    # --- whom ----------------------------------------------------------------------------------

    @activity.defn(name="resolve_recipients")
    def resolve_recipients(self, request: ResolveRequest) -> Resolution:
        """The people `request.role` means for this notification now, with their channels and
        any quiet-hours hold; or why nobody is reachable."""
        n, role, now = request.notification, request.role, request.at or datetime.now(UTC)
        if role is Recipient.PATIENT_FAMILY:
            return self._family(n)
        if role is Recipient.COORDINATOR:
            # The notification's own recipient names them; one that went up from the family
            # names the patient, so the case's coordinator is read from the journey's row.
            own = n.recipient is Recipient.COORDINATOR
            person = n.recipient_ref if own else self.directory.coordinator_of(n.case_id)
            people = [person] if person else []
            why = "the case has no coordinator on file"
        else:
            site, program = self.directory.case_context(n.case_id)
            # The journey's projection knows the case's site; else the notification names it
            # (a staff role's recipient_ref is the site; a coordinator's is a person).
            by_site = n.recipient not in (Recipient.COORDINATOR, Recipient.PATIENT_FAMILY)
            site = site or (n.recipient_ref if by_site else None)
            people = self.directory.holders(ROLE_OF[role], site=site, program=program, at=now)
            where = f" at {site}" if site else ""
            why = (
                f"nobody is on call{where} now (a gap in the rota)"
                if role is Recipient.ON_CALL_PHYSICIAN
                else f"nobody is assigned as {ROLE_OF[role]}{where}"
            )
        targets: list[Target] = []
        unreachable: list[str] = []
        for person in people:
            target = self._staff(person, role, n, now)
            if target.channels:
                targets.append(target)
            else:
                unreachable.append(person)
        if not targets:
            if people:
                why = (
                    f"{', '.join(unreachable)} ha{'s' if len(unreachable) == 1 else 've'} no "
                    "contact details (cellpath contacts set)"
                )
            return Resolution(unreachable=why)
        return Resolution(targets=targets)

    def _staff(self, person: str, role: Recipient, n: Notification, now: datetime) -> Target:
        c = self.directory.contact(person)
        if c is None:
            return Target(person=person, role=role)
        found: list[Channel] = []
        if c.email and self.settings.smtp_url is not None:
            found.append(Channel(name="email", kind="email"))
        if c.phone and self.settings.sms_url is not None:
            found.append(Channel(name="sms", kind="sms"))
        for i, url in enumerate(c.urls, start=1):
            found.append(Channel(name=f"url:{channels.scheme(url)}#{i}", kind="url"))
        hold = None
        if held_for_quiet_hours(n.severity):
            hold = quiet_until(c.quiet_hours, c.timezone, now)
        return Target(
            person=person,
            role=role,
            channels=found,
            language=c.language,
            timezone=c.timezone,
            hold_until=hold.astimezone(UTC) if hold else None,
        )

    def _family(self, n: Notification) -> Resolution:
        ref = n.recipient_ref or self.directory.patient_ref_of(n.case_id)
        patient = self.directory.family(ref) if ref else None
        if patient is None or patient.erased_at is not None:
            return Resolution(unreachable="the family's details are not on file (or erased)")
        found: list[Channel] = []
        if self.settings.smtp_url is not None:
            if patient.email:
                found.append(Channel(name="email", kind="email"))
            if patient.caregiver_email:
                found.append(Channel(name="email:caregiver", kind="email"))
        if self.settings.sms_url is not None:
            if patient.phone:
                found.append(Channel(name="sms", kind="sms"))
            if patient.caregiver_phone:
                found.append(Channel(name="sms:caregiver", kind="sms"))
        if not found:
            return Resolution(unreachable="the family has no e-mail or phone on file")
        # The family's language and time zone are read again when sending: they are details
        # about the patient and stay out of Temporal.
        return Resolution(
            targets=[Target(person=f"{FAMILY}{ref}", role=Recipient.PATIENT_FAMILY, channels=found)]
        )

    # --- send ----------------------------------------------------------------------------------

    @activity.defn(name="send_message")
    def send_message(self, request: SendRequest) -> SendResult:
        """Send one notification to one person on one channel, once.

        A delivery the ledger holds as done is not sent again. Failures are raised (retried
        with backoff by the workflow's policy); a channel that cannot work at all (no address
        any more, no SMTP server) fails without retrying, and the workflow moves on.
        """
        return self._send(request.notification, request.target, request.channel, "workflow")

    def deliver_now(self, n: Notification) -> bool:
        """`DeliverNotification`'s whole path when nothing in it has to wait: every person the
        recipient role means now is reachable, none is in quiet hours, and every channel takes
        the message at the first try. Sent, in the ledger, logged and counted exactly as the
        workflow does it.

        Returns False, having sent nothing, when the notification needs the workflow (nobody
        reachable: it goes up a level; quiet hours: it is held). Raises when a send failed:
        the workflow then takes the notification over, and the ledger keeps it from sending
        again what already went out.
        """
        resolution = self.resolve_recipients(
            ResolveRequest(notification=n, role=n.recipient, at=datetime.now(UTC))
        )
        if not resolution.targets or any(t.hold_until for t in resolution.targets):
            return False
        for t in resolution.targets:
            for ch in t.channels:
                self._send(n, t, ch, "direct")
        return True

    def send(self, n: Notification, t: Target, ch: Channel, via: str) -> SendResult:
        """One send to one person on one channel, once (the ledger), for any caller."""
        return self._send(n, t, ch, via)

    def _send(self, n: Notification, t: Target, ch: Channel, via: str) -> SendResult:
        msg_id = channels.message_id(n.idempotency_key, t.person, ch.name)
        row = self.ledger.begin(n.idempotency_key, n.case_id, t.person, ch.name, msg_id)
        meter = _meter(self.meter)
        counter = meter.create_counter(
            "cellpath_deliveries_total", "messages delivered (or failed) by channel and outcome"
        )
        if row.delivered_at is not None:
            counter.add(1, {"channel": ch.kind, "outcome": "already_delivered"})
            return SendResult(delivered_at=row.delivered_at, already=True)
        try:
            url, message = self._compose(n, t, ch)
            channels.send(url, subject=message.subject, body=message.body, msg_id=msg_id)
        except channels.NotConfigured as e:
            self.ledger.failed(n.idempotency_key, t.person, ch.name, str(e))
            counter.add(1, {"channel": ch.kind, "outcome": "not_configured"})
            raise ApplicationError(str(e), type="NotConfigured", non_retryable=True) from None
        except channels.ChannelError as e:
            self.ledger.failed(n.idempotency_key, t.person, ch.name, str(e))
            counter.add(1, {"channel": ch.kind, "outcome": "failed"})
            self.log.warning(
                "delivery_failed",
                case_id=n.case_id,
                key=n.idempotency_key,
                person=t.person,
                channel=ch.name,
                via=via,
                attempt=_attempt(),
                error=str(e),
            )
            raise
        now = datetime.now(UTC)
        # The outbox row says when the notification first reached someone; the ledger has
        # every person and channel (both in one transaction).
        self.ledger.delivered(n.idempotency_key, t.person, ch.name, now)
        counter.add(1, {"channel": ch.kind, "outcome": "delivered"})
        meter.create_histogram_float(
            "cellpath_delivery_lag_seconds",
            "seconds from a notification's due time to its delivery",
            "s",
        ).record(max((now - n.scheduled_for).total_seconds(), 0.0), {"channel": ch.kind})
        self.log.info(
            "delivered",
            case_id=n.case_id,
            key=n.idempotency_key,
            person=t.person,
            channel=ch.name,
            kind=str(n.kind),
            via=via,
        )
        return SendResult(delivered_at=now)

    def _compose(self, n: Notification, t: Target, ch: Channel) -> tuple[str, messages.Message]:
        """The channel's URL and the message, addresses and names read now from the store."""
        s = self.settings
        if t.person.startswith(FAMILY):
            patient = self.directory.family(t.person.removeprefix(FAMILY))
            if patient is None or patient.erased_at is not None:
                raise channels.NotConfigured("the family's details are no longer on file")
            caregiver = ch.name.endswith(":caregiver")
            address = (
                (patient.caregiver_email if caregiver else patient.email)
                if ch.kind == "email"
                else (patient.caregiver_phone if caregiver else patient.phone)
            )
            name = patient.caregiver_name if caregiver else patient.full_name
            # The name greets the family by e-mail only: SMS can be read by anyone nearby.
            message = messages.render(
                n,
                audience="family",
                language=patient.preferred_language,
                timezone=n.timezone or "UTC",
                family_name=name if ch.kind == "email" else None,
                centre=self.directory.site_of_case(n.case_id),
            )
        else:
            c = self.directory.contact(t.person)
            if c is None:
                raise channels.NotConfigured(f"{t.person} has no contact details any more")
            if ch.kind == "url":
                index = int(ch.name.rsplit("#", 1)[1]) - 1
                if index >= len(c.urls):
                    raise channels.NotConfigured(f"{t.person}'s {ch.name} was removed")
                address = c.urls[index]
            else:
                address = c.email if ch.kind == "email" else c.phone
            message = messages.render(
                n,
                audience="staff",
                language=c.language,
                timezone=c.timezone,
                console_url=s.console_url,
            )
        if not address:
            raise channels.NotConfigured(f"{t.person} has no {ch.kind} address any more")
        if ch.kind == "email":
            if s.smtp_url is None:
                raise channels.NotConfigured("CELLPATH_SMTP_URL is not set")
            return channels.email_url(s.smtp_url.get_secret_value(), s.mail_from, address), message
        if ch.kind == "sms":
            if s.sms_url is None:
                raise channels.NotConfigured("CELLPATH_SMS_URL is not set")
            return s.sms_url.get_secret_value().replace("{phone}", address), message
        return address, message

    # --- audit ---------------------------------------------------------------------------------

    @activity.defn(name="record_delivery_event")
    def record_delivery_event(self, event: DeliveryEvent) -> None:
        """Audit an escalation of a delivery, a hold for quiet hours, or a notification nobody
        could receive (never dropped in silence: logged as an error too)."""
        n = event.notification
        info = activity.info()
        entry = AuditEntry(
            event_id=f"{info.workflow_id}:{info.activity_id}",
            case_id=n.case_id,
            action=event.action,
            actor="system",
            occurred_at=datetime.now(UTC),
            recorded_at=datetime.now(UTC),
            detail={"key": n.idempotency_key, **event.detail},
            reason=event.reason,
        )
        self.store.append_audit([entry])
        if event.action == AuditAction.DELIVERY_HELD:
            hold = event.detail.get("until")
            person = str(event.detail.get("person"))
            names = [c for c in str(event.detail.get("channels", "")).split(",") if c]
            if isinstance(hold, str):
                self.ledger.held(
                    n.idempotency_key,
                    n.case_id,
                    person,
                    [(c, channels.message_id(n.idempotency_key, person, c)) for c in names],
                    datetime.fromisoformat(hold),
                )
        log = self.log.error if event.action == "undeliverable" else self.log.warning
        if event.action != AuditAction.DELIVERY_HELD:
            log(event.action, case_id=n.case_id, key=n.idempotency_key, reason=event.reason)


def delivery_id(key: str) -> str:
    """The workflow id of a notification's delivery."""
    return f"deliver-{key}"


class DeliveryStarter:
    """Delivers each notification an activity wrote to the outbox, after the write committed.

    The direct path first (`DeliveryActivities.deliver_now`, when `direct` is given): a
    notification nobody has to wait for goes out from the writing activity itself, without a
    workflow (no workflow start, no two workflow tasks and an activity task of its own: in a
    storm of 1,000 due deadlines, p99 49 s → 17 s; docs/benchmarks.md). Anything
    else — quiet hours, nobody reachable, a channel that fails or is slow, a retried write —
    gets its own `DeliverNotification` workflow, which waits, retries and escalates durably.

    Exactly once as far as the ledger can tell: the workflow id is the notification's key and
    is never reused; the direct path runs only in a write's first attempt (a retry may follow
    a crash half-way through a send, which the workflow then finishes); a send the ledger
    holds as done is never repeated. A send interrupted by a crash, or one still running when
    its time was up, may reach the person twice with the same Message-ID (one message to the
    mail system), as after any crash between sending and recording.
    """

    def __init__(
        self,
        tuning: DeliveryTuning,
        direct: DeliveryActivities | None = None,
        *,
        direct_seconds: float = 4.0,
        pause_seconds: float = 60.0,
    ) -> None:
        self.tuning = tuning
        self.direct = direct
        self.direct_seconds = direct_seconds
        self.pause_seconds = pause_seconds
        # After a direct send failed or was slow, every notification goes to a workflow for
        # a while: a channel that is down must not slow every journey's writes.
        self._direct_paused_until = 0.0
        # Sends of their own threads: never queued behind the store's writes.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=32, thread_name_prefix="cellpath-send"
        )

    async def start(self, notifications: list[Notification]) -> int:
        """Deliver each notification now or start its workflow; how many workflows started
        now (none for a notification delivered directly or whose workflow exists)."""
        info = activity.info()
        return await self.deliver(
            activity.client(), info.task_queue, notifications, first_try=info.attempt == 1
        )

    async def deliver(
        self, client: Client, queue: str, notifications: list[Notification], *, first_try: bool
    ) -> int:
        """`start`, for any caller (the dispatcher sends outside an activity): directly on a
        `first_try` while the direct path is not resting, else by `DeliverNotification`."""
        if not notifications:
            return 0
        direct = (
            self.direct is not None and first_try and time.monotonic() >= self._direct_paused_until
        )
        started = await asyncio.gather(
            *(self._one(client, queue, n, direct) for n in notifications)
        )
        return sum(started)

    async def _one(self, client: Client, queue: str, n: Notification, direct: bool) -> bool:
        if direct and await self._now(n):
            return False
        return await self._start(client, queue, n)

    async def _now(self, n: Notification) -> bool:
        assert self.direct is not None
        loop = asyncio.get_running_loop()
        # The activity's context (metrics, info) goes with the send into its thread.
        call = functools.partial(contextvars.copy_context().run, self.direct.deliver_now, n)
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, call), self.direct_seconds
            )
        except Exception as e:
            # A channel this person cannot use at all (no address, a bad URL) says nothing
            # about the others: handed over without pausing. Anything else (a server down,
            # a slow one) may hit every message: the direct path rests.
            unusable = isinstance(e, ApplicationError) and e.type == "NotConfigured"
            if not unusable:
                self._direct_paused_until = time.monotonic() + self.pause_seconds
            structlog.get_logger("cellpath.delivery").warning(
                "delivery_handed_to_workflow",
                case_id=n.case_id,
                key=n.idempotency_key,
                why="too slow" if isinstance(e, TimeoutError) else type(e).__name__,
                direct_paused_seconds=0 if unusable else self.pause_seconds,
            )
            return False

    async def _start(self, client: Client, queue: str, n: Notification) -> bool:
        try:
            await client.start_workflow(
                "DeliverNotification",
                DeliveryRequest(notification=n, tuning=self.tuning),
                id=delivery_id(n.idempotency_key),
                task_queue=queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Deliver {n.kind} for {n.case_id} to {n.recipient}",
            )
        except WorkflowAlreadyStartedError:
            return False
        return True
