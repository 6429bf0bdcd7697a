"""The scheduled outbox: each journey's next reminders and escalations, sent on time by the
dispatcher (`activities.dispatcher`), not when the journey's own timer gets a turn.

In a storm of deadlines due together, the journey's path — timer, workflow task, write
activity, send — queues behind thousands of others; the rows here were written ahead, with
the milestone or reschedule that set the deadline, so at the instant only a query and the
sends remain (docs/architecture.md, "The scheduled outbox").

The journey stays the one place that decides: it writes the rows (`JourneyWrite.ahead`,
`models.pathway.deadlines.ahead`) and replaces them whole with each write that changes them,
so a deadline met or moved takes its pending rows with it. Each row carries the key the
journey's timer gives the same notification later, so the two are one outbox row and one
message (the delivery ledger keeps each person and channel to one send).

States: `pending` (written ahead) → `sending` (claimed by a dispatcher, `claimed_at`) →
`sent`; or `done` when the journey's own write got there first and sends it itself. A claim
older than `stale` (a dispatcher that died mid-batch) is taken again; the ledger then skips
whoever already has it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from cellpath.store.rows import _insert_ignoring_duplicates
from cellpath.store.tables import ScheduledRow
from models.messages import Notification

PENDING, SENDING, SENT, DONE = "pending", "sending", "sent", "done"
# A notification the dispatcher holds for someone's quiet hours: sent again at `due_at` (to
# whoever the ledger says does not have it yet). The journey's writes leave such rows alone.
HELD = "held"

_KEY = ScheduledRow.idempotency_key
_STATE = ScheduledRow.state


# Built once, the case as a parameter (compiled once per process: this runs with every write
# that changes a deadline).
_UNPEND = sa.delete(ScheduledRow).where(
    ScheduledRow.case_id == sa.bindparam("a_case"),  # type: ignore[arg-type]
    _STATE == PENDING,  # type: ignore[arg-type]
)


def replace(s: Session, case_id: str, ahead: Sequence[Notification]) -> None:
    """A journey's pending rows become `ahead` (inside the write's transaction). Rows already
    claimed or sent stay as they are: the same key written again is not sent twice."""
    s.connection().execute(_UNPEND, {"a_case": case_id})
    rows = [
        {
            "idempotency_key": n.idempotency_key,
            "case_id": case_id,
            "due_at": n.scheduled_for,
            "state": PENDING,
            "payload": n.model_dump_json(),
        }
        for n in {n.idempotency_key: n for n in ahead}.values()
    ]
    _insert_ignoring_duplicates(s, ScheduledRow, "idempotency_key", rows)


def settle(s: Session, keys: Sequence[str]) -> list[str]:
    """The journey's own timer sends `keys` (inside its write's transaction): those still
    pending are the journey's to send now (`done`); returns those a dispatcher has taken
    (sending or sent), which the journey's write must not send again."""
    if not keys:
        return []
    s.execute(
        sa.update(ScheduledRow)
        .where(_KEY.in_(keys), _STATE == PENDING)  # type: ignore[union-attr,arg-type]
        .values(state=DONE)
    )
    taken = s.exec(
        select(_KEY).where(_KEY.in_(keys), _STATE.in_((SENDING, SENT)))  # type: ignore[union-attr,attr-defined]
    ).all()
    return list(taken)


@dataclass(frozen=True)
class Claim:
    """Rows one dispatcher took in one round: their notifications, and the claim's token
    (`Scheduled.finish` marks exactly these rows sent)."""

    token: str
    notifications: list[Notification]


class Scheduled:
    """The dispatcher's side of the scheduled outbox."""

    def __init__(self, store: object) -> None:
        # A CaseStore (typed loosely: the store package imports this module).
        self.store = store

    def _session(self) -> Session:
        return self.store.session()  # type: ignore[attr-defined,no-any-return]

    def claim(
        self,
        now: datetime,
        *,
        limit: int = 200,
        stale: timedelta = timedelta(seconds=60),
        cases: Sequence[str] | None = None,
    ) -> Claim:
        """Take up to `limit` rows due by `now` (and claims older than `stale`), soonest
        first, for this caller alone: two dispatchers never hold the same row. `cases`
        narrows a round to some cases (a test's own, on a shared store)."""
        token = uuid.uuid4().hex
        due = sa.or_(
            sa.and_(_STATE.in_((PENDING, HELD)), ScheduledRow.due_at <= now),  # type: ignore[attr-defined,arg-type]
            sa.and_(_STATE == SENDING, ScheduledRow.claimed_at < now - stale),  # type: ignore[arg-type,operator]
        )
        if cases is not None:
            due = sa.and_(due, ScheduledRow.case_id.in_(cases))  # type: ignore[attr-defined]
        with self._session() as s:
            # Most rounds find nothing due: a read, not a write that takes SQLite's lock
            # from the journeys' writes five times a second.
            if s.exec(select(_KEY).where(due).limit(1)).first() is None:
                return Claim(token, [])
        with self._session() as s:
            wanted = select(_KEY).where(due).order_by(ScheduledRow.due_at).limit(limit)
            if s.get_bind().dialect.name == "postgresql":
                # Another dispatcher's rows are skipped, not waited for.
                wanted = wanted.with_for_update(skip_locked=True)
            s.execute(
                sa.update(ScheduledRow)
                .where(_KEY.in_(wanted.scalar_subquery()), due)  # type: ignore[union-attr]
                .values(state=SENDING, claimed_at=now, claim=token)
                .execution_options(synchronize_session=False)
            )
        with self._session() as s:
            payloads = s.exec(
                select(ScheduledRow.payload)
                .where(ScheduledRow.claim == token)
                .order_by(ScheduledRow.due_at)
            ).all()
        return Claim(token, [Notification.model_validate_json(p) for p in payloads])

    def finish(self, claim: Claim) -> None:
        """A claim's rows went out (or to their delivery workflow, or are held): `sent`."""
        if not claim.notifications:
            return
        with self._session() as s:
            s.execute(
                sa.update(ScheduledRow)
                .where(ScheduledRow.claim == claim.token, _STATE == SENDING)  # type: ignore[arg-type]
                .values(state=SENT)
                .execution_options(synchronize_session=False)
            )

    def hold(self, n: Notification, until: datetime) -> None:
        """Send `n` again at `until` (the end of someone's quiet hours): a row of its own,
        named by the notification and the time, which the journey's writes leave alone."""
        row = {
            "idempotency_key": f"{n.idempotency_key}@{until.isoformat()}"[:255],
            "case_id": n.case_id,
            "due_at": until,
            "state": HELD,
            "payload": n.model_dump_json(),
        }
        with self._session() as s:
            _insert_ignoring_duplicates(s, ScheduledRow, "idempotency_key", [row])

    def rows(self, case_id: str) -> list[ScheduledRow]:
        """A case's rows, soonest first (tests, `cellpath doctor`)."""
        with self._session() as s:
            return list(
                s.exec(
                    select(ScheduledRow)
                    .where(ScheduledRow.case_id == case_id)
                    .order_by(ScheduledRow.due_at)
                ).all()
            )
