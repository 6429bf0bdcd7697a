"""What one escalation costs the worker outside Temporal: the outbox write and the direct send.

In this process, one after another (no contention), N escalations of N journeys, each:

- **outbox write**: `CaseStore.write_journey` — the journey's projection, an audit entry and
  the notification, in one transaction (what `write_journey` does for the timer's task);
- **milestone write**: `CaseStore.write_journey` of a coordinator's reschedule — a real
  journey's projection, audit entry, schedule (13 steps) and scheduled-outbox rows, revision
  after revision of one journey (what each milestone's write does);
- **direct send**: `DeliveryActivities.deliver_now` — the lead coordinator resolved from the
  directory, the ledger before and after, the message rendered and sent through Apprise to an
  SMTP server (aiosmtpd, in a process of its own);

beside the least the same work can cost in Python, on the same machine and in the same run:

- **bare write**: the standard library's `sqlite3` inserting the same rows (as JSON: the
  projection, each audit entry, notification and schedule step) in one transaction;
- **bare send**: `smtplib` sending a message of the same size to the same server, a
  connection per message (as Apprise does).

Prints CPU (process time) and wall time per escalation, and the ratios last. The storm
benchmark (`reminder_storm.py`) shows what the rest of an escalation — the journey's workflow
task, the activity task — costs inside Temporal.

    .venv/bin/python benchmarks/notification_costs.py [--escalations N] 2>/dev/null

It logs as a deployed worker does (a JSON line per message delivered, to stderr).
"""

from __future__ import annotations

import argparse
import itertools
import json
import smtplib
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from reminder_storm import LEAD, Arrivals, free_port, start_sink
from storm_design_b import level_one_escalation
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from cellpath.config import Settings
from cellpath.logs import configure_logging
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput
from models.enums import CellSource, Phase, Program, Therapy
from models.examples import journey_input
from models.journey import JourneyState
from models.messages import (
    AuditEntry,
    JourneyProjection,
    JourneyWrite,
    RescheduleInput,
)
from models.pathway.deadlines import ahead
from models.pathway.journey import Journey
from models.pathway.projection import schedule
from models.protocol import resolve_protocol
from models.roles import Role

WARM_UP = 50
_NUMBER = itertools.count()


def escalation(now: datetime) -> JourneyWrite:
    """The write a journey's records deadline makes when it escalates to the lead."""
    # The SMTP sink knows a case by this shape (`reminder_storm.CASE`).
    case = f"STORM-{next(_NUMBER):05d}-{uuid.uuid4().hex[:4]}"
    n = level_one_escalation(
        case, now, f"{case}:records:escalation:1", f"Escalation: the records of {case} are overdue"
    )
    projection = JourneyProjection(
        case_id=case,
        patient_ref="pt-0000000000000000",
        revision=3,
        phase=Phase.INTAKE,
        therapy=Therapy.CAR_T,
        cell_source=CellSource.AUTOLOGOUS,
        program=Program.TRIAL,
        coordinator="coord-1",
        next_deadline="records",
        next_deadline_at=now,
        overdue=True,
        escalation_level=1,
        updated_at=now,
    )
    entry = AuditEntry(
        event_id=f"{case}:escalated:1",
        case_id=case,
        action="escalated",
        actor="system",
        occurred_at=now,
        recorded_at=now,
        detail={"deadline": "records", "level": 1},
    )
    return JourneyWrite(projection=projection, audit=[entry], notifications=[n])


def reschedules(now: datetime, count: int) -> list[JourneyWrite]:
    """The writes of `count` reschedules of one journey's records deadline, in order."""
    inp = journey_input(f"MS-{uuid.uuid4().hex[:8]}")
    j = Journey(inp, JourneyState(protocol=resolve_protocol(inp.protocol)), new_id=_new_id)
    j.start(now)
    out = []
    for i in range(count):
        due = now + timedelta(days=20, minutes=i)
        j.apply_reschedule(
            RescheduleInput(deadline="records", due_at=due, reason="b", actor="c"), now
        )
        notes, audit = j.take_outbox()
        out.append(
            JourneyWrite(
                projection=j.projection(now),
                audit=audit,
                notifications=notes,
                schedule=schedule(j, now),
                ahead=ahead(j, now),
            )
        )
    return out


def _new_id() -> str:
    return str(uuid.uuid4())


def per_item(
    items: list[JourneyWrite], step: Callable[[JourneyWrite], object]
) -> tuple[float, float]:
    """CPU and wall milliseconds per item of `step`, after a warm-up on the first items."""
    for w in items[:WARM_UP]:
        step(w)
    measured = items[WARM_UP:]
    cpu, wall = time.process_time(), time.perf_counter()
    for w in measured:
        step(w)
    return (
        (time.process_time() - cpu) / len(measured) * 1000,
        (time.perf_counter() - wall) / len(measured) * 1000,
    )


def bare_writer(path: Path) -> Callable[[JourneyWrite], object]:
    """The same three rows through `sqlite3`, as JSON, in one transaction (WAL and SQLite's
    default durability, as the store has them)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for table in ("journeys", "audit", "outbox", "schedule"):
        db.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v TEXT)")

    def write(w: JourneyWrite) -> None:
        db.execute("BEGIN")
        db.execute(
            "INSERT OR REPLACE INTO journeys VALUES (?, ?)",
            (w.projection.case_id, w.projection.model_dump_json()),
        )
        for e in w.audit:
            db.execute(
                "INSERT OR IGNORE INTO audit VALUES (?, ?)", (e.event_id, e.model_dump_json())
            )
        for n in w.notifications:
            db.execute(
                "INSERT OR IGNORE INTO outbox VALUES (?, ?)",
                (n.idempotency_key, n.model_dump_json()),
            )
        for st in w.schedule or []:
            db.execute(
                "INSERT OR REPLACE INTO schedule VALUES (?, ?)",
                (f"{w.projection.case_id}:{st.step}", st.model_dump_json()),
            )
        db.execute("COMMIT")

    return write


def bare_sender(port: int) -> Callable[[JourneyWrite], object]:
    """A message of the same size through `smtplib`, one connection per message."""

    def send(w: JourneyWrite) -> None:
        n = w.notifications[0]
        msg = EmailMessage()
        msg["From"], msg["To"] = "storm@example.org", "lead@example.org"
        msg["Subject"] = f"[cellpath] {n.text}"
        msg.set_content(json.dumps(n.model_dump(mode="json"), indent=2))
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(msg)

    return send


def main(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cellpath-costs-"))
    port = free_port()
    arrivals = Arrivals(tmp / "arrivals.txt")
    sink = start_sink(port, arrivals.path)
    try:
        store = CaseStore.from_url(f"sqlite:///{tmp}/store.db")
        store.set_role(LEAD, Role.COORDINATOR, by="bench")
        directory = Directory(store)
        directory.set_contact(ContactInput(actor=LEAD, email="lead@example.org"), by="bench")
        directory.assign(
            AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=LEAD), by="bench"
        )
        settings = Settings(
            smtp_url=SecretStr(f"smtp://127.0.0.1:{port}"), mail_from="storm@example.org"
        )
        delivery = DeliveryActivities(store, settings)
        env = ActivityEnvironment()
        now = datetime.now(UTC)
        items = [escalation(now) for _ in range(count + WARM_UP)]

        milestones = reschedules(now, count + WARM_UP)
        figures = {
            "bare write": per_item(items, bare_writer(tmp / "bare.db")),
            "outbox write": per_item(items, store.write_journey),
            "bare m.write": per_item(milestones, bare_writer(tmp / "bare-milestones.db")),
            "milestone write": per_item(milestones, store.write_journey),
            "bare send": per_item(items, bare_sender(port)),
            "direct send": per_item(
                items, lambda w: env.run(delivery.deliver_now, w.notifications[0])
            ),
        }
        for name, (cpu, wall) in figures.items():
            print(f"{name:<15} {cpu:6.2f} ms CPU  {wall:6.2f} ms wall  per escalation ({count})")
        sent = len(arrivals.path.read_text().splitlines())
        print(f"messages at the SMTP server: {sent} of {2 * (count + WARM_UP)}")
        milestone = figures["milestone write"][0] / figures["bare m.write"][0]
        print(f"milestone write (a reschedule) vs bare: {milestone:.2f}× CPU")
        write, send = figures["outbox write"][0], figures["direct send"][0]
        bare_write, bare_send = figures["bare write"][0], figures["bare send"][0]
        print(
            f"ratios (cellpath / bare, CPU): write {write / bare_write:.2f}×, "
            f"send {send / bare_send:.2f}×, both {(write + send) / (bare_write + bare_send):.2f}×"
        )
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escalations", type=int, default=1000)
    args = parser.parse_args()
    # As deployed: a JSON line per message delivered, to stderr (part of what a send costs).
    configure_logging("json")
    main(args.escalations)
