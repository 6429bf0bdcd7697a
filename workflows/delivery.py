"""`DeliverNotification`: one outbox notification, delivered durably to the people it means.

Started by the activity that writes the notification to the outbox (workflow id
`deliver-<idempotency key>`, never reused: a retried write cannot deliver twice). It

1. resolves the recipient role to people and channels (`resolve_recipients`); nobody
   reachable → the next level at once (audited), and at the top, `undeliverable` (audited,
   logged as an error) — never dropped in silence;
2. holds a non-urgent message for a person's quiet hours until their morning (a durable
   timer), urgent and critical alerts never;
3. sends on each channel (`send_message`), retried with backoff for as long as the channel is
   down: nothing is lost while the SMTP server or a webhook is away;
4. for a critical alert, if nobody has it within `critical_after`, sends it to the next level
   at once as well (audited), while still trying the first.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from models.directory import (
        NEXT_LEVEL,
        DeliveryEvent,
        DeliveryOutcome,
        DeliveryRequest,
        DeliveryTuning,
        ResolveRequest,
        SendRequest,
        Target,
    )
    from models.enums import AuditAction, Recipient, Severity
    from models.messages import Notification

QUICK = timedelta(seconds=30)
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=60)
)


@workflow.defn(name="DeliverNotification")
class DeliverNotification:
    """Deliver one notification to every person its recipient role resolves to."""

    @workflow.init
    def __init__(self, request: DeliveryRequest) -> None:
        self._outcome = DeliveryOutcome()
        self._delivered: set[str] = set()
        self._tuning = request.tuning

    @workflow.run
    async def run(self, request: DeliveryRequest) -> DeliveryOutcome:
        """Resolve, hold, send, escalate; complete when every reachable person has it."""
        n = request.notification
        await self._deliver(n, n.recipient, f"{n.recipient}")
        return self._outcome

    @workflow.query
    def outcome(self) -> DeliveryOutcome:
        """Who has it so far, and the roles it went up to."""
        return self._outcome

    async def _deliver(self, n: Notification, role: Recipient, why: str) -> None:
        # Local: a quick read of the directory, without a round trip through the server.
        resolution = await workflow.execute_local_activity_method(
            DeliveryActivities.resolve_recipients,
            ResolveRequest(notification=n, role=role, at=workflow.now()),
            start_to_close_timeout=QUICK,
            retry_policy=STORE_RETRY,
            summary=f"Resolve {role}",
        )
        if not resolution.targets:
            await self._up(n, role, f"{why}: {resolution.unreachable}")
            return
        sends = [asyncio.ensure_future(self._to(n, t)) for t in resolution.targets]
        if n.severity is Severity.CRITICAL and NEXT_LEVEL.get(role) is not None:
            people = {t.person for t in resolution.targets}
            try:
                # Until someone has it — or every send ended without (those went up already).
                await workflow.wait_condition(
                    lambda: bool(self._delivered & people) or all(s.done() for s in sends),
                    timeout=self._critical_after(),
                    timeout_summary="critical alert delivered in time?",
                )
            except TimeoutError:
                # Still trying the first level (a channel that is down): the next one gets it too.
                minutes = self._critical_after().total_seconds() / 60
                sends.append(
                    asyncio.ensure_future(
                        self._up(n, role, f"not delivered to {role} within {minutes:g} min")
                    )
                )
        await asyncio.gather(*sends)

    async def _up(self, n: Notification, role: Recipient, reason: str) -> None:
        """The level above `role` gets it now; at the top, nobody could: audited loudly."""
        nxt = NEXT_LEVEL.get(role)
        if nxt is not None and nxt in self._outcome.escalated_to:
            return  # another of this level's people already sent it up
        if nxt is None:
            self._outcome.undeliverable = not self._outcome.delivered_to
            await self._event(n, AuditAction.UNDELIVERABLE, reason, {"role": str(role)})
            return
        self._outcome.escalated_to.append(nxt)
        await self._event(
            n, AuditAction.DELIVERY_ESCALATED, reason, {"from": str(role), "to": str(nxt)}
        )
        await self._deliver(n, nxt, f"escalated from {role}")

    async def _to(self, n: Notification, t: Target) -> None:
        if t.hold_until is not None and t.hold_until > workflow.now():
            await self._event(
                n,
                AuditAction.DELIVERY_HELD,
                "quiet hours",
                {
                    "person": t.person,
                    "until": t.hold_until.isoformat(),
                    "channels": ",".join(c.name for c in t.channels),
                },
            )
            await workflow.sleep(
                t.hold_until - workflow.now(), summary=f"Quiet hours of {t.person}"
            )
        results = await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    DeliveryActivities.send_message,
                    SendRequest(notification=n, target=t, channel=c),
                    start_to_close_timeout=timedelta(seconds=self._tuning.send_timeout_seconds),
                    retry_policy=self._retry(),
                    summary=f"Send {n.kind} to {t.person} by {c.name}",
                )
                for c in t.channels
            ),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        for r in failed:
            if not isinstance(r, ActivityError):
                raise r
        if len(failed) < len(results):
            self._delivered.add(t.person)
            self._outcome.delivered_to.append(t.person)
        else:
            # Every channel of this person is unusable (not merely down: that is retried).
            await self._up(n, t.role, f"{t.person}: no channel could be used")

    async def _event(
        self, n: Notification, action: str, reason: str, detail: dict[str, str | int | None]
    ) -> None:
        await workflow.execute_activity_method(
            DeliveryActivities.record_delivery_event,
            DeliveryEvent(notification=n, action=str(action), reason=reason, detail=detail),
            start_to_close_timeout=QUICK,
            retry_policy=STORE_RETRY,
            summary=f"Audit {action}",
        )

    def _critical_after(self) -> timedelta:
        return timedelta(minutes=self._tuning.critical_minutes)

    def _retry(self) -> RetryPolicy:
        t: DeliveryTuning = self._tuning
        return RetryPolicy(
            initial_interval=timedelta(seconds=t.retry_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=t.max_interval_seconds),
            maximum_attempts=0,  # never given up: a channel that is down comes back
            non_retryable_error_types=["NotConfigured"],
        )
