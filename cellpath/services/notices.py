"""A notice to a case's coordinator from the services themselves (not from the journey): put in
the outbox, then delivered by its own `DeliverNotification` workflow, as the journey's are.

Used when a person's action needs the coordinator to know at once: someone broke the glass
to open their case; a family was taken in whose language has no message templates.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cellpath.services.base import Session
from models.directory import DeliveryRequest
from models.enums import NotificationKind, Recipient, Severity
from models.messages import Notification


async def tell_coordinator(
    session: Session,
    case_id: str,
    coordinator: str,
    text: str,
    *,
    kind: NotificationKind,
    severity: Severity = Severity.WARNING,
) -> None:
    """Put a notice to `coordinator` in the outbox and start its delivery. A notice that could
    not be started stays in the outbox (the session is warned), never lost."""
    n = Notification(
        idempotency_key=f"{case_id}:{kind}:{uuid.uuid4()}",
        case_id=case_id,
        kind=kind,
        recipient=Recipient.COORDINATOR,
        recipient_ref=coordinator,
        severity=severity,
        scheduled_for=datetime.now(UTC),
        text=text,
    )
    session.case_store().add_notifications([n])
    s = session.settings
    client = await session.temporal()
    try:
        await client.start_workflow(
            "DeliverNotification",
            DeliveryRequest(notification=n, tuning=s.delivery_tuning()),
            id=f"deliver-{n.idempotency_key}",
            task_queue=s.task_queue,
            static_summary=f"Deliver {n.kind} for {n.case_id} to {n.recipient}",
        )
    except Exception as e:  # the notice is in the outbox; the dispatcher retries it
        session.warn(f"the coordinator's notice is in the outbox but was not sent yet: {e}")
