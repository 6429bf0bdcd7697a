"""Poison messages: nothing a sender puts in a message can fail a journey's workflow task.

Each poison is sent twice, as the `record_milestone` update (it must be refused in words,
naming the field and what is expected, changing nothing) and as the `milestone` signal (it
must be kept, as a bounded summary, in `status().rejected`). After each the journey must still
answer, its task must not be failing, and nothing else in it may have changed. Hypothesis then
throws generated payloads at every message type.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cellpath.scenarios import Handle, record, start, status, to_infusion
from models.messages import MilestoneInput, ObservationInput, WithdrawInput
from tests.builders import journey_input
from tests.support import STARTED, TEST_QUEUE
from workflows import PatientJourney

pytestmark = pytest.mark.usefixtures("worker", "terminated")

OPEN: list[Handle] = []


async def begin(env: WorkflowEnvironment, case_id: str) -> Handle:
    """Start a journey that is terminated after the test: the session's time-skipping server
    is shared, and open journeys would fire their deadlines whenever a later test skips time."""
    handle = await start(env.client, journey_input(case_id), TEST_QUEUE)
    OPEN.append(handle)
    return handle


async def close(handle: Handle) -> None:
    """Withdraw a journey: it drains its writes and completes by itself. (Terminating it can
    leave the time-skipping server waiting for an activity of a dead journey; awaiting its
    result lets that server skip ten years of the shared clock.)"""
    with contextlib.suppress(WorkflowUpdateFailedError, RPCError):
        await handle.execute_update(
            PatientJourney.withdraw, WithdrawInput(reason="test over", actor="tests")
        )


@pytest_asyncio.fixture(loop_scope="session")
async def terminated() -> AsyncIterator[None]:
    yield
    while OPEN:
        await close(OPEN.pop())


def raw(data: bytes, encoding: bytes = b"json/plain") -> RawValue:
    """A payload exactly as given (the client's codec still encrypts it)."""
    return RawValue(Payload(metadata={"encoding": encoding}, data=data))


def milestone(**fields: Any) -> RawValue:
    """A milestone message as JSON, with whatever the fields hold."""
    body = {"kind": "record_received", "actor": "bridge", "data": {"record_type": "labs"}}
    return raw(json.dumps(body | fields, default=str).encode())


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


MINUS_12 = timezone(timedelta(hours=-12))
PLUS_14 = timezone(timedelta(hours=14))

# (name, message, words the refusal must contain)
POISONS: list[tuple[str, RawValue, str]] = [
    (
        "occurred_at past year 9999",
        milestone(occurred_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_12).isoformat()),
        "occurred_at 9999-12-31T23:59:59-12:00 is out of range",
    ),
    (
        "occurred_at before year 1",
        milestone(occurred_at=datetime(1, 1, 1, 0, 0, 0, tzinfo=PLUS_14).isoformat()),
        "occurred_at 0001-01-01T00:00:00+14:00 is out of range",
    ),
    ("600 KB note", milestone(note="n" * 600_000), "expected at most 65,536 bytes"),
    ("NUL in actor", milestone(actor="a\x00b"), "actor contains a control character (U+0000)"),
    (
        "right-to-left override in actor",
        milestone(actor="coord\u202e1"),
        "actor contains a bidirectional control character (U+202E)",
    ),
    ("20,000-character actor", milestone(actor="a" * 20_000), "actor is 20000 characters"),
    ("300-character milestone id", milestone(milestone_id="m" * 300), "milestone_id"),
    (
        "20 KB language",
        milestone(kind="interpreter_arranged", data={"language": "x" * 20_000}),
        "data.language is 20000 characters; expected at most 500",
    ),
    (
        "lists nested 150 deep",
        milestone(kind="cost_estimate_accepted", data={"items": nested(150)}),
        "nested too deeply",
    ),
    (
        "total: Infinity",
        raw(
            b'{"kind": "cost_estimate_accepted", "actor": "a",'
            b' "data": {"currency": "USD", "total": Infinity}}'
        ),
        "Infinity is not a number JSON allows",
    ),
    ("not JSON", raw(b"\xff\xfe not json"), "is not valid JSON"),
    ("a JSON array", raw(b"[1, 2, 3]"), "is a JSON array; expected a JSON object"),
    ("no kind", raw(b'{"actor": "a"}'), "kind: field required"),
    ("kind is a number", raw(b'{"kind": 5, "actor": "a"}'), "kind: input should be a valid string"),
    ("another encoding", raw(b"\x00\x01", encoding=b"binary/plain"), "expected a JSON object"),
    ("data is a list", milestone(data=["x"]), "data: input should be a valid dictionary"),
]


async def snapshot(handle: Handle) -> tuple[Any, Any]:
    s = await status(handle)
    return (s.model_copy(update={"rejected": [], "rejected_total": 0}), s.rejected_total), (
        await handle.query(PatientJourney.timeline)
    )


async def assert_healthy(handle: Handle) -> None:
    """The journey answers and its workflow task is not failing."""
    await status(handle)
    task = (await handle.describe()).raw_description.pending_workflow_task
    assert task.attempt <= 1, f"workflow task attempt {task.attempt}"


@pytest.mark.parametrize(("name", "poison", "words"), POISONS, ids=[p[0] for p in POISONS])
async def test_a_poisoned_update_is_refused_in_words_and_changes_nothing(
    env: WorkflowEnvironment, case_id: str, name: str, poison: RawValue, words: str
):
    handle = await begin(env, case_id)
    before = await snapshot(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("record_milestone", poison, result_type=dict)
    message = refused.value.cause.message
    assert words in message, message
    assert len(message) < 600  # the refusal never echoes the input back whole
    assert await snapshot(handle) == before
    await assert_healthy(handle)


@pytest.mark.parametrize(("name", "poison", "words"), POISONS, ids=[p[0] for p in POISONS])
async def test_a_poisoned_signal_is_kept_as_rejected_and_changes_nothing_else(
    env: WorkflowEnvironment, case_id: str, name: str, poison: RawValue, words: str
):
    handle = await begin(env, case_id)
    _, timeline = await snapshot(handle)
    await handle.signal("milestone", poison)
    await record(handle, "record_received", record_type="imaging")  # after the signal
    s = await status(handle)
    assert s.rejected_total == 1 and len(s.rejected) == 1, (s.rejected, s.milestone_count)
    assert words in s.rejected[0].reason, s.rejected[0].reason
    assert len(s.model_dump_json()) < 16_000  # kept as a bounded summary
    assert [e.kind for e in await handle.query(PatientJourney.timeline)] == [
        *(e.kind for e in timeline),
        "record_received",
    ]
    await assert_healthy(handle)


async def test_hundreds_of_kilobytes_of_rejected_signals_keep_the_journey_readable(
    env: WorkflowEnvironment, case_id: str
):
    """60 signals of 40 KB each (2.4 MB, over Temporal's 2 MB payload limit if kept whole):
    `status` once failed with "Blob data size exceeds limit" after about 60 of 200 KB."""
    handle = await begin(env, case_id)
    for n in range(60):
        await handle.signal(
            PatientJourney.milestone,
            MilestoneInput(kind="discharged", actor="bridge", note="x" * 40_000, data={"n": n}),
        )
    s = await status(handle)
    assert (s.rejected_total, len(s.rejected)) == (60, 50)  # the most recent 50 are kept
    assert len(s.model_dump_json()) < 64_000
    await assert_healthy(handle)


async def test_a_reused_milestone_id_with_other_content_is_a_conflict(
    env: WorkflowEnvironment, case_id: str
):
    handle = await begin(env, case_id)
    first = await record(handle, "record_received", record_type="labs", milestone_id="m-1")
    again = await record(handle, "record_received", record_type="labs", milestone_id="m-1")
    assert (first.duplicate, again.duplicate) == (False, True)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await record(handle, "record_received", record_type="imaging", milestone_id="m-1")
    assert "milestone_id 'm-1' was already used for 'record_received'" in (
        refused.value.cause.message
    )
    assert "different data" in refused.value.cause.message
    await handle.signal(
        PatientJourney.milestone,
        MilestoneInput(kind="records_complete", actor="b", milestone_id="m-1", data={}),
    )
    s = await status(handle)
    assert "different kind" in s.rejected[-1].reason
    assert s.records_on_file == ["labs"]  # the first milestone's data stands


# --- fuzzing ----------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
KINDS = st.sampled_from(["record_received", "records_complete", "cost_estimate_accepted"]) | TEXT
TIMES = st.none() | st.datetimes(
    timezones=st.sampled_from([UTC, MINUS_12, PLUS_14]), allow_imaginary=False
).map(lambda d: d.isoformat())
FIELDS_NAMED = ("kind", "actor", "note", "occurred_at", "milestone_id", "data", "message")


def messages(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[RawValue]:
    """JSON objects with some of `fields` (well- or ill-typed) and some junk keys."""
    values = st.fixed_dictionaries({}, optional={**fields, "junk": JSONISH})
    return values.map(lambda v: raw(json.dumps(v).encode()))


MILESTONES = messages(
    {
        "kind": KINDS | JSONISH,
        "actor": TEXT | JSONISH,
        "note": TEXT,
        "occurred_at": TIMES | JSONISH,
        "milestone_id": TEXT | st.none(),
        "data": st.dictionaries(TEXT, JSONISH, max_size=4) | JSONISH,
    }
)
OBSERVATIONS = messages(
    {
        "actor": TEXT,
        "temperature_c": st.floats(allow_nan=False) | JSONISH,
        "systolic_bp": st.integers() | JSONISH,
        "oxygen_device": TEXT,
        "oxygen_flow_l_min": st.floats(allow_nan=False),
        "observed_at": TIMES,
        "observation_id": TEXT,
    }
)
RESCHEDULES = messages(
    {"deadline": TEXT, "due_at": TIMES | JSONISH, "reason": TEXT, "actor": TEXT | JSONISH}
)
WITHDRAWALS = messages({"reason": TEXT | JSONISH, "actor": TEXT | JSONISH})
ACKNOWLEDGEMENTS = messages({"alert_id": TEXT | JSONISH, "actor": TEXT, "note": TEXT})

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed(env: WorkflowEnvironment) -> AsyncIterator[dict[str, Handle]]:
    """Journeys shared by the examples: at intake, in monitoring, and one to withdraw."""
    suffix = uuid.uuid4().hex[:8]
    intake = await start(env.client, journey_input(f"FUZZ-I-{suffix}"), TEST_QUEUE)
    withdraw = await start(env.client, journey_input(f"FUZZ-W-{suffix}"), TEST_QUEUE)
    monitoring = await start(env.client, journey_input(f"FUZZ-M-{suffix}"), TEST_QUEUE)
    await to_infusion(monitoring, (await env.get_current_time()).date())
    await record(monitoring, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    for handle in (intake, withdraw, monitoring):  # they outlive each test: closed below
        STARTED.open.remove(handle.id)
    yield {"intake": intake, "monitoring": monitoring, "withdraw": withdraw}
    for handle in (intake, withdraw, monitoring):
        await close(handle)


CLOSED: set[str] = set()  # journeys a generated withdrawal closed
MALFORMED = {"invalid_data", "too_large", "undecodable", "invalid_time", "missing_field"}
FIELD_WORDS = {
    *MilestoneInput.model_fields,
    *ObservationInput.model_fields,
    "deadline",
    "due_at",
    "reason",
    "alert_id",
    "message",
}


async def throw(handle: Handle, update: str, message: RawValue) -> None:
    """Send one generated message; a refusal must say what it expected.

    A generated withdrawal may be valid: the journey then closes, and later messages find no
    running journey (that is an answer too).
    """
    try:
        await handle.execute_update(update, message, result_type=dict)
        if update == "withdraw":
            CLOSED.add(handle.id)
    except RPCError as e:
        assert handle.id in CLOSED and "not found" in str(e), e
    except WorkflowUpdateFailedError as e:
        text = e.cause.message
        assert "expected" in text or "required" in text, text
        assert len(text) < 1_000, len(text)
        (details,) = e.cause.details
        if details["code"] in MALFORMED:
            # A malformed message is refused naming the field (or the message as a whole).
            assert any(name in text for name in FIELD_WORDS), text


@FUZZ
@given(message=MILESTONES)
async def test_fuzzed_milestones_never_fail_a_workflow_task(fuzzed, message: RawValue):
    await throw(fuzzed["intake"], "record_milestone", message)
    await assert_healthy(fuzzed["intake"])


@FUZZ
@given(message=OBSERVATIONS)
async def test_fuzzed_observations_never_fail_a_workflow_task(fuzzed, message: RawValue):
    await throw(fuzzed["monitoring"], "record_observation", message)
    await assert_healthy(fuzzed["monitoring"])


@FUZZ
@given(message=RESCHEDULES)
async def test_fuzzed_reschedules_never_fail_a_workflow_task(fuzzed, message: RawValue):
    await throw(fuzzed["intake"], "reschedule", message)
    await assert_healthy(fuzzed["intake"])


@FUZZ
@given(message=ACKNOWLEDGEMENTS)
async def test_fuzzed_acknowledgements_never_fail_a_workflow_task(fuzzed, message: RawValue):
    await throw(fuzzed["monitoring"], "acknowledge_alert", message)
    await assert_healthy(fuzzed["monitoring"])


@FUZZ
@given(message=MILESTONES, withdrawal=WITHDRAWALS)
async def test_fuzzed_signals_and_withdrawals_never_fail_a_workflow_task(
    fuzzed, message: RawValue, withdrawal: RawValue
):
    await fuzzed["intake"].signal("milestone", message)
    await throw(fuzzed["withdraw"], "withdraw", withdrawal)
    await assert_healthy(fuzzed["intake"])
    s = await status(fuzzed["intake"])
    assert all(r.reason for r in s.rejected)
    assert len(s.model_dump_json()) < 64_000


def test_observations_have_no_field_the_fuzzer_misses():
    """The observation fuzzer covers the fields a nurse sends most; the rest default."""
    assert {"temperature_c", "systolic_bp", "observed_at"} <= set(ObservationInput.model_fields)
