"""History events per run of a full CAR-T journey: intake to 15 years of follow-up.

Runs on the time-skipping test server with the real worker and a throw-away SQLite store,
drives one journey the way coordinators would (`scenarios.drive_long_journey`: observations,
discharge on day 28, monthly telemedicine, the month-3 response, three registry windows, a
check-in every year to year 15), then follows the continue-as-new chain and prints the events
of each run.

    .venv/bin/python benchmarks/history_events.py [--years N] [--save DIR] [--complications]

`--complications` drives `scenarios.drive_complications` instead: a trial patient through
neutropenic fever, grade 3 CRS and the ICU, low IgG, prolonged cytopenia, progression and
death, each serious event reported to the sponsor (the replay case of `WATCHED`).

With `--save DIR` each run's history is written as JSON; `tests/histories/` keeps such files and
the replay test replays them, so a change that would break journeys already running fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cellpath.config import find_binary
from cellpath.connection import data_converter
from cellpath.runtime import create_worker, ensure_search_attributes
from cellpath.scenarios import drive_complications, drive_long_journey, start
from cellpath.store import CaseStore
from models.examples import follow_up_protocol, journey_input

QUEUE = "bench"


async def runs_of(
    client: Client, workflow_id: str, first_run_id: str, save: Path | None, prefix: str = "car-t"
) -> list[tuple[str, int]]:
    """(run id, event count) for every run in the continue-as-new chain."""
    runs, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append((run_id, len(history.events)))
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{prefix}-run{len(runs):02d}.json").write_text(history.to_json())
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    return runs


async def main(years: int, save: Path | None, complications: bool = False) -> None:
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="cellpath-bench-")
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=data_converter(),  # encrypted when CELLPATH_ENCRYPTION_KEYS is set
    ) as env:
        await ensure_search_attributes(env.client)
        store = CaseStore.from_url(f"sqlite:///{tmp}/bench.db")
        async with create_worker(env.client, task_queue=QUEUE, store=store):
            inp = journey_input("BENCH-0001", protocol=follow_up_protocol(years))
            handle = await start(env.client, inp, QUEUE)
            first_run = handle.result_run_id
            if complications:
                await drive_complications(handle, env.get_current_time, env.sleep)
                result = await handle.result()
                runs = await runs_of(env.client, handle.id, first_run, save, "complications")
                print(f"journey: {result.phase}/{result.outcome}, {result.milestone_count} entries")
                for n, (run_id, events) in enumerate(runs, start=1):
                    print(f"run {n:2d}: {events:5d} history events  ({run_id})")
                return
            done = await drive_long_journey(handle, env.get_current_time, env.sleep, years=years)
            result = await handle.result()
            runs = await runs_of(env.client, handle.id, first_run, save)
    elapsed = time.perf_counter() - started
    print(
        f"journey: {years} years, {result.phase}/{result.outcome}, "
        f"{result.milestone_count} timeline entries ({done.milestones} recorded), "
        f"{done.observations} observations, "
        f"{len(store.notifications('BENCH-0001'))} notifications"
    )
    for n, (run_id, events) in enumerate(runs, start=1):
        print(f"run {n:2d}: {events:5d} history events  ({run_id})")
    sizes = [e for _, e in runs]
    print(f"largest run: {max(sizes)} events; all runs: {sum(sizes)}; runs: {len(sizes)}")
    print(f"wall time: {elapsed:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=15, help="years of follow-up (2–15)")
    parser.add_argument("--save", type=Path, help="write each run's history here as JSON")
    parser.add_argument(
        "--complications", action="store_true", help="the complications journey instead"
    )
    args = parser.parse_args()
    asyncio.run(main(args.years, args.save, args.complications))
