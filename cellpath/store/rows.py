"""Rows as the case store writes them: audit and outbox rows from their models, inserts that
skip what is there already, the projection's ordered upsert, and the text and JSON a column can
hold. Used by `CaseStore` and the store's other modules (access, directory)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, select

from cellpath.store.tables import AuditRow, JourneyRow, NotificationRow, ScheduleRow
from models.messages import AuditEntry, JourneyProjection, Notification


def is_data_error(error: Exception) -> bool:
    """Whether the database refused the data itself (retrying cannot help), not an outage.

    Data and integrity errors, and errors raised while adapting a value (e.g. a NUL character
    PostgreSQL text cannot hold, an unpaired surrogate), are data errors; connection,
    operational and programming errors (an outage, a schema not migrated) are not.
    """
    if isinstance(error, sa.exc.DataError | sa.exc.IntegrityError | UnicodeError):
        return True
    if isinstance(error, sa.exc.StatementError) and not isinstance(error, sa.exc.DBAPIError):
        return isinstance(error.orig, ValueError | TypeError)
    return False


_JOURNEYS: sa.Table = JourneyRow.__table__  # type: ignore[attr-defined]
# Built once, values passed as parameters: a statement built from the values coerces each of
# them anew on every write (a millisecond); this one is compiled once per process and cached.
_NEWER = sa.update(_JOURNEYS).where(
    _JOURNEYS.c.case_id == sa.bindparam("w_case"), _JOURNEYS.c.revision < sa.bindparam("w_rev")
)
_STORED = sa.select(_JOURNEYS.c.revision).where(_JOURNEYS.c.case_id == sa.bindparam("w_case"))


def _upsert_projection(s: Session, p: JourneyProjection) -> bool:
    """Store `p` unless the row holds its revision or a newer one; whether it was stored.

    Core statements on the session's connection, not the ORM: this runs on every one of a
    journey's writes, and loading the row into the session, then flushing attribute changes,
    was a third of a write's CPU (`benchmarks/notification_costs.py`). The conditional UPDATE
    is also the check: one statement for every write but a journey's first.
    """
    values = p.model_dump(mode="python", exclude={"bookings"})
    for key in ("phase", "outcome", "therapy", "cell_source", "program", "top_alert"):
        if values[key] is not None:
            values[key] = str(values[key])
    s.flush()  # what the caller's unit of work holds (intake: the case row) goes first
    conn = s.connection()
    if conn.execute(_NEWER, {**values, "w_case": p.case_id, "w_rev": p.revision}).rowcount:
        return True
    if conn.execute(_STORED, {"w_case": p.case_id}).first() is not None:
        return False
    conn.execute(sa.insert(_JOURNEYS), values)
    return True


def _replace_schedule(s: Session, p: JourneyProjection, steps: Sequence[Any]) -> None:
    """The board's rows of a journey: what its newest write says, whole."""
    # Core, one statement for all the rows (the ORM's object per row was half a write's CPU).
    conn = s.connection()
    conn.execute(_UNSCHEDULE, {"s_case": p.case_id})
    rows = [
        {
            "case_id": p.case_id,
            "step": step.step,
            "at": step.done_at or step.expected,
            "expected": step.expected,
            "earliest": step.earliest,
            "latest": step.latest,
            "basis": step.basis,
            "done_at": step.done_at,
            "site": p.site,
            "coordinator": p.coordinator,
        }
        for step in {st.step: st for st in steps}.values()
    ]
    if rows:
        conn.execute(sa.insert(_SCHEDULE), rows)


_SCHEDULE: sa.Table = ScheduleRow.__table__  # type: ignore[attr-defined]
_UNSCHEDULE = sa.delete(_SCHEDULE).where(_SCHEDULE.c.case_id == sa.bindparam("s_case"))


def _insert_ignoring_duplicates(
    s: Session, table: type[SQLModel], key: str, rows: Sequence[dict[str, Any]]
) -> list[str]:
    """Insert rows, skipping those whose unique `key` exists; returns the keys that were new."""
    if not rows:
        return []
    dialect = s.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if insert is not None:
        # The rows as parameters of one statement, not baked into it (`.values(rows)`): the
        # statement is then compiled once per process and cached, not once per write (that
        # compilation was a quarter of an outbox write's CPU). RETURNING, not rowcount: psycopg
        # reports -1 for a multi-row insert.
        stmt = (
            insert(table.__table__)  # type: ignore[attr-defined]
            .on_conflict_do_nothing(index_elements=[key])
            .returning(getattr(table, key))
        )
        s.flush()  # Core on the session's connection: what the session holds goes first
        return [row[0] for row in s.connection().execute(stmt, list(rows)).all()]
    # Other databases: check first (the unique constraint still guards races).
    column = getattr(table, key)
    existing = set(s.exec(select(column).where(column.in_([r[key] for r in rows]))).all())
    new = [r for r in rows if r[key] not in existing]
    for r in new:
        s.add(table(**r))
    s.flush()
    return [r[key] for r in new]


def _notification_rows(notifications: Sequence[Notification]) -> list[dict[str, Any]]:
    now = _now()
    rows = []
    columns = NotificationRow.model_fields
    for n in notifications:
        # What a message says of an alert (its id, when raised) travels with the notification
        # to its delivery; the outbox keeps what lists and audits need.
        row = {k: v for k, v in n.model_dump(mode="python").items() if k in columns}
        for key in ("kind", "recipient", "severity"):
            row[key] = str(row[key])
        rows.append(row | {"created_at": now, "delivered_at": None})
    return rows


def _audit_rows(entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    now = _now()
    rows = [e.model_dump(mode="python") | {"stored_at": now} for e in entries]
    for row in rows:
        row["detail"] = _jsonable(row["detail"])
    return rows


def _printable(text: str, limit: int) -> str:
    """Text safe for any column and log: printable ASCII escapes for everything else."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def _audit_row(
    case_id: str, action: str, actor: str, now: datetime, detail: dict[str, Any], reason: str = ""
) -> AuditRow:
    """An audit row for something the store itself does (erasure, role change), in its session."""
    return AuditRow(
        event_id=f"{case_id}:{action}:{uuid.uuid4()}",
        case_id=case_id,
        action=str(action),
        actor=actor,
        occurred_at=now,
        recorded_at=now,
        detail=_jsonable(detail),
        reason=reason,
        stored_at=now,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    """Dates and times in audit details as ISO strings (JSON columns hold plain JSON)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
