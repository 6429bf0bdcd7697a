"""History events per run of a full autologous journey: intake to 12 months of follow-up.

Runs on the time-skipping test server with the real worker and a throw-away SQLite store,
drives one journey the way coordinators would (daily observations for the protocol's daily
period, twice weekly until discharge on day 28, monthly telemedicine, month-3 response), then
follows the continue-as-new chain and prints the events of each run.

    .venv/bin/python benchmarks/history_events.py [--save tests/histories]

With `--save DIR` each run's history is written as JSON: the replay test replays those files,
so a change to the workflow that would break journeys already running fails the suite.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.store import CaseStore
from scenarios import journey_input, observe, record, start, to_infusion
from settings import find_binary
from worker import create_worker

QUEUE = "bench"


async def runs_of(
    client: Client, workflow_id: str, first_run_id: str, save: Path | None
) -> list[tuple[str, int]]:
    """(run id, event count) for every run in the continue-as-new chain."""
    runs, run_id = [], first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append((run_id, len(history.events)))
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"autologous-12-months-run{len(runs)}.json").write_text(history.to_json())
        last = history.events[-1]
        attrs = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attrs.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else ""
        )
    return runs


async def main(save: Path | None) -> None:
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="cellpath-bench-")
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    ) as env:
        store = CaseStore.from_url(f"sqlite:///{tmp}/bench.db")
        async with create_worker(env.client, task_queue=QUEUE, store=store):
            handle = await start(env.client, journey_input("BENCH-0001"), QUEUE)
            first_run = handle.result_run_id
            await to_infusion(handle, (await env.get_current_time()).date())
            await env.sleep(timedelta(hours=30))
            await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
            observations = 0
            for day in range(28):
                if day < 14 or day % 7 in (0, 3):
                    await observe(handle)
                    observations += 1
                await env.sleep(timedelta(days=1))
            await record(handle, "discharged")
            await record(handle, "returned_home")
            for month in range(1, 13):
                await env.sleep(timedelta(days=30))
                await record(handle, "telemedicine_completed", month=month)
                if month == 3:
                    await record(handle, "response_assessed", response="CR")
            await record(handle, "follow_up_completed")
            result = await handle.result()
            runs = await runs_of(env.client, handle.id, first_run, save)
    elapsed = time.perf_counter() - started
    print(
        f"journey: {result.phase}/{result.outcome}, {result.milestone_count} timeline entries, "
        f"{observations} observations, {len(store.notifications('BENCH-0001'))} notifications"
    )
    for n, (run_id, events) in enumerate(runs, start=1):
        print(f"run {n}: {events:5d} history events  ({run_id})")
    print(f"largest run: {max(e for _, e in runs)} events; all runs: {sum(e for _, e in runs)}")
    print(f"wall time: {elapsed:.1f} s")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(Path(args[1]) if args[:1] == ["--save"] and len(args) == 2 else None))
