"""Alerts: raised once, sent to whom their severity needs, repeated while critical and open,
acknowledged by a person or resolved by the journey.

Urgent and critical alerts go to the site's on-call physician; a critical one is sent again
every `critical_alert_repeat_minutes` until a physician acknowledges it (docs/clinical-rules.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models import bounds
from models.enums import AlertKind, AuditAction, NotificationKind, Recipient, Severity
from models.errors import RefusalCode, refused
from models.messages import AcknowledgeAlertInput, Alert, MilestoneEvent, Notification
from models.pathway import sae

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def raise_alert(
    j: Journey,
    kind: AlertKind,
    severity: Severity,
    now: datetime,
    text: str,
    notify: bool = True,
    site: str | None = None,
) -> Alert | None:
    """Raise an alert once: an open alert with the same text is not repeated. An urgent or
    critical one pages the on-call physician of `site` (default: the case's current site)."""
    if any(a.text == text and a.open for a in j.state.alerts):
        return None
    notify = notify and not j.quiet
    alert = Alert(id=j.new_id(), kind=kind, severity=severity, raised_at=now, text=text)
    j.state.alerts.append(alert)
    recipient = (
        Recipient.ON_CALL_PHYSICIAN
        if severity in (Severity.URGENT, Severity.CRITICAL)
        else Recipient.COORDINATOR
    )
    if notify:
        alert.last_sent_at = now
        j.notifications.append(
            Notification(
                idempotency_key=f"{j.facts.case_id}:alert:{alert.id}",
                case_id=j.facts.case_id,
                kind=NotificationKind.ALERT,
                recipient=recipient,
                recipient_ref=(site if recipient is Recipient.ON_CALL_PHYSICIAN else None)
                or j.recipient_ref(recipient),
                severity=severity,
                scheduled_for=now,
                text=text,
                alert_id=alert.id,
                event_at=alert.raised_at,
            )
        )
    if severity is Severity.CRITICAL:
        # A critical alert is a serious adverse event for a trial's sponsor (runs under
        # `WATCHED`): reported within 24 h of now, when the team became aware of it.
        sae.serious(j, f"{kind.value} alert: {text}", now, now)
    return alert


def next_resend(j: Journey) -> datetime | None:
    """When the next open critical alert is due to be sent again."""
    every = timedelta(minutes=j.protocol.critical_alert_repeat_minutes)
    times = [
        (a.last_sent_at or a.raised_at) + every
        for a in j.state.alerts
        if a.severity is Severity.CRITICAL and a.open
    ]
    return min(times) if times else None


def resend_critical(j: Journey, now: datetime) -> int:
    """Send each open critical alert again once its repeat interval has passed.

    After a late wake-up an alert is resent once, not once per missed interval.
    """
    every = timedelta(minutes=j.protocol.critical_alert_repeat_minutes)
    sent = 0
    for alert in j.state.alerts:
        if alert.severity is not Severity.CRITICAL or not alert.open:
            continue
        if (alert.last_sent_at or alert.raised_at) + every > now:
            continue
        alert.repeats += 1
        alert.last_sent_at = now
        sent += 1
        j.notifications.append(
            Notification(
                idempotency_key=f"{j.facts.case_id}:alert:{alert.id}:{alert.repeats}",
                case_id=j.facts.case_id,
                kind=NotificationKind.ALERT,
                recipient=Recipient.ON_CALL_PHYSICIAN,
                recipient_ref=j.recipient_ref(Recipient.ON_CALL_PHYSICIAN),
                level=alert.repeats,
                severity=Severity.CRITICAL,
                scheduled_for=now,
                text=f"Not yet acknowledged (repeat {alert.repeats}): {alert.text} "
                f"— alert {alert.id}",
                alert_id=alert.id,
                event_at=alert.raised_at,
            )
        )
    return sent


def check_acknowledge(j: Journey, ack: AcknowledgeAlertInput) -> Alert:
    """The alert an acknowledgement is for; `Refused` saying what is wrong."""
    if j.v3:
        bounds.check_text(ack.alert_id, "alert_id", limit=bounds.ID_MAX_CHARS)
    alert = next((a for a in j.state.alerts if a.id == ack.alert_id), None)
    if alert is None:
        open_ids = [f"{a.id} ({a.kind})" for a in j.state.alerts if a.open]
        raise refused(
            "no alert {alert} on this journey; expected one of the open alerts: {open}",
            RefusalCode.UNKNOWN_NAME,
            alert=repr(ack.alert_id),
            open=", ".join(open_ids) or "(none open)",
        )
    if alert.acknowledged:
        assert alert.acknowledged_at is not None
        raise refused(
            "alert {alert} was already acknowledged by {who} at {at} UTC",
            RefusalCode.ALREADY_DONE,
            alert=alert.id,
            who=alert.acknowledged_by,
            at=alert.acknowledged_at.strftime("%Y-%m-%d %H:%M"),
        )
    if alert.resolved_at is not None:
        raise refused(
            "alert {alert} was resolved at {at} UTC: {resolution}",
            RefusalCode.ALREADY_DONE,
            alert=alert.id,
            at=alert.resolved_at.strftime("%Y-%m-%d %H:%M"),
            resolution=alert.resolution,
        )
    j.check_sender(ack.actor, ack.note, "who acknowledges the alert")
    if j.v5 and alert.severity is Severity.CRITICAL:
        from models.pathway import gates  # (gates imports the journey's vocabulary)

        gates.check_signature(
            ack.signature_meaning,
            gates.ACKNOWLEDGE_MEANINGS,
            "acknowledging a critical alert",
        )
    return alert


def apply_acknowledge(j: Journey, ack: AcknowledgeAlertInput, now: datetime) -> Alert:
    """Mark the alert acknowledged (its resends stop) and record who, when and why."""
    alert = check_acknowledge(j, ack)
    alert.acknowledged = True
    alert.acknowledged_by = ack.actor.strip()
    alert.acknowledged_at = now
    alert.acknowledgement_note = ack.note
    if j.v5 and alert.severity is Severity.CRITICAL and ack.signature_meaning is not None:
        from models.pathway import gates

        gates.sign(
            j, "alert_acknowledged", alert.acknowledged_by, ack.signature_meaning, now, alert.id
        )
    data = {"alert_id": alert.id, "alert_kind": alert.kind, "severity": alert.severity.value}
    j.state.timeline.append(
        MilestoneEvent(
            kind="alert_acknowledged",
            actor=alert.acknowledged_by,
            occurred_at=now,
            recorded_at=now,
            data=data,
            note=ack.note,
        )
    )
    j.audit_entry(
        AuditAction.ALERT_ACKNOWLEDGED,
        alert.acknowledged_by,
        now,
        now,
        detail=data,
        reason=ack.note,
    )
    j.touch()
    return alert


def resolve(j: Journey, kind: AlertKind, now: datetime, resolution: str) -> None:
    """Resolve every open alert of `kind`: the journey found its condition cleared."""
    resolve_where(j, lambda a: a.kind == kind, now, resolution)


def resolve_where(j: Journey, which: Callable[[Alert], bool], now: datetime, why: str) -> None:
    """Resolve (audited, with the reason) every open alert `which` selects."""
    resolution = why
    for alert in j.state.alerts:
        if which(alert) and alert.open:
            alert.resolved_at = now
            alert.resolution = resolution
            j.audit_entry(
                AuditAction.ALERT_RESOLVED,
                "system",
                now,
                now,
                detail={"alert_id": alert.id, "alert_kind": alert.kind},
                reason=resolution,
            )
