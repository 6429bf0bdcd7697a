"""The bare baseline workflows the benchmarks compare cellpath with, in a module of their own
with no side effects at import (the workflow sandbox imports it again for every instance)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

# cellpath's registered keyword attribute, reused so the bare workflow can say it ran.
PHASE = SearchAttributeKey.for_keyword("JourneyPhase")


@activity.defn(name="open_noop")
async def noop(tag: str) -> str:
    """The bare workflow's one activity."""
    return tag


@workflow.defn(name="OpenBare")
class OpenBare:
    """One activity, then a timer for a month (a journey mostly sleeps). Sandboxed, as
    journeys are. It marks itself in visibility once its activity ran, so the benchmark can
    count the ones the worker has seen."""

    @workflow.run
    async def run(self, tag: str) -> None:
        await workflow.execute_activity(noop, tag, start_to_close_timeout=timedelta(minutes=5))
        workflow.upsert_search_attributes([PHASE.value_set("bare-ran")])
        await workflow.sleep(timedelta(days=30))


@workflow.defn(name="UpdateBare")
class UpdateBare:
    """Waits for ever and takes a no-op update. Sandboxed, as journeys are."""

    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def touch(self, note: str) -> int:
        """A no-op update (the baseline of a milestone's round trip)."""
        del note
        self.count += 1
        return self.count


@workflow.defn(name="UpdateBareWrite")
class UpdateBareWrite:
    """A no-op update that, like a journey's milestone, starts one activity it does not await
    (the journey's write) and, when `upsert` is set, upserts one search attribute (the
    journey's `NextDeadlineAt`). The least Temporal can do for a milestone written once,
    durably, without delaying the answer: the floor of any such design."""

    def __init__(self) -> None:
        self.count = 0
        self.upsert = False

    @workflow.run
    async def run(self, upsert: bool) -> None:
        self.upsert = upsert
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def touch(self, note: str) -> int:
        """A no-op update followed by its write, not awaited."""
        self.count += 1
        workflow.start_activity(noop, note, start_to_close_timeout=timedelta(minutes=5))
        if self.upsert:
            workflow.upsert_search_attributes([PHASE.value_set(f"n{self.count}")])
        return self.count
