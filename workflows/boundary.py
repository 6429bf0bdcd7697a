"""Where a journey meets the outside: refusals as Temporal sees them, counters, and the text
the Temporal UI shows (activity summaries, current details). No PHI in any of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from models import bounds
    from models.errors import RefusalCode, Refused, refused
    from models.messages import JourneyWrite
    from models.pathway import Journey, expected

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def decode(
    raw: RawValue, model: type[M], what: str, *, bounded: bool, limit: int, strict: bool = False
) -> M:
    """A message from its raw payload, bounded first (rules version 3); or `Refused`.

    Messages arrive raw so that nothing about them — size, encoding, shape, a key this worker
    lacks — can fail the workflow task in the SDK's decoder. Runs recorded before rules
    version 3 (`bounded` false) decode exactly as the SDK did, so their replay sees the same
    messages.
    """
    payload = raw.payload
    encoding = payload.metadata.get("encoding")
    why = payload.metadata.get("undecodable")
    if bounded:
        value = bounds.decode_payload(payload.data, encoding, what, why, limit)
        if strict:
            bounds.check_times_are_text(value, what)
        return bounds.build(model, value, what)
    if encoding == b"binary/encrypted":
        bounds.decode_payload(b"", encoding, what, why)  # raises the refusal
    try:
        return workflow.payload_converter().from_payload(payload, model)
    except Exception as e:
        raise refused(
            "the {what} message could not be read ({error}); expected a {model}",
            RefusalCode.INVALID_DATA,
            what=what,
            error=f"{type(e).__name__}: {str(e)[:200]}",
            model=model.__name__,
        ) from None


def checked(fn: Callable[[], T]) -> T:
    """Run a domain check; any exception it raises becomes a `Refused`.

    A check is supposed to raise only `Refused`; anything else (an overflow in date arithmetic
    on a hostile value, a bug) would fail the workflow task and retry for ever. Nothing was
    changed yet when a check fails, so refusing is always safe, and the journey lives on.
    """
    try:
        return fn()
    except Refused:
        raise
    except Exception as e:
        workflow.logger.error(
            "message check raised; refused instead",
            extra={"error": f"{type(e).__name__}: {str(e)[:200]}"},
        )
        raise refused(
            "the message could not be checked ({error}); "
            "nothing was changed; expected a message the journey can read",
            RefusalCode.INTERNAL,
            error=f"{type(e).__name__}: {str(e)[:160]}",
        ) from None


def refusal(fn: Callable[[], T], update: str = "") -> T:
    """Run a domain check; a refusal becomes the `ApplicationError` the caller sees.

    Only `ApplicationError` fails an update on purpose: anything else would fail the workflow
    task and retry forever. The error carries the refusal code in its details and is BENIGN
    (a refusal is an answer, not a failure of the worker). Validators pass `update`, so each
    refusal is counted once.
    """
    try:
        return checked(fn)
    except Refused as e:
        if update:
            count("cellpath_refusals", {"update": update, "reason": e.code.value})
        details: dict[str, object] = {"code": e.code.value}
        if e.template is not None:  # the words apart from the data, for each reader's language
            details |= {"template": e.template, "params": e.params, "nested": e.nested}
        raise ApplicationError(
            str(e),
            details,
            type="Refused",
            non_retryable=True,
            category=ApplicationErrorCategory.BENIGN,
        ) from None


def continuing() -> None:
    """The refusal of an update that arrives while the run continues as new."""
    raise refused(
        "the journey is starting a fresh run; nothing was changed; expected the same message "
        "again in a moment",
        RefusalCode.CONTINUING,
    )


def count(name: str, labels: dict[str, str]) -> None:
    """Add one to a product counter (the SDK's workflow meter skips it during replay)."""
    workflow.metric_meter().create_counter(name).add(1, labels)


def write_summary(batch: JourneyWrite) -> str:
    """The timer-and-activity summary of a case-store write (no PHI: roles and names only)."""
    parts = [f"Write journey: {batch.projection.phase}, rev {batch.projection.revision}"]
    if batch.audit:
        parts.append("audit " + ", ".join(e.action for e in batch.audit))
    if batch.notifications:
        parts.append(
            "notify "
            + "; ".join(f"{n.kind} {n.deadline or ''} → {n.recipient}" for n in batch.notifications)
        )
    return " · ".join(parts).replace("  ", " ")[:200]


def details(journey: Journey) -> str:
    """A short markdown view for the Temporal UI's "current details" (no PHI)."""
    s = journey.state
    lines = [f"**{journey.facts.case_id}** — phase `{s.phase}`"]
    if s.outcome:
        lines.append(f"outcome `{s.outcome}`")
    if s.icu_since is not None:
        lines.append(f"🏥 in the ICU since {s.icu_since:%Y-%m-%d %H:%M} UTC")
    if s.died_at is not None:
        lines.append(f"died {s.died_at:%Y-%m-%d}")
    pending = [r for r in s.sae_reports if r.reported_at is None]
    if pending:
        lines.append(f"📨 {len(pending)} serious adverse event(s) to report to the sponsor")
    if s.watching:
        lines.append("present: " + ", ".join(f"`{w}`" for w in s.watching))
    for d in journey.open_deadlines():
        flag = f" ⚠ level {d.escalation_level}" if d.escalation_level else ""
        lines.append(f"- `{d.name}` due {d.due_at:%Y-%m-%d %H:%M} UTC{flag}")
    tox = s.toxicity
    if tox.last_observed_at is not None:
        lines.append(
            f"CRS {tox.crs_current} (worst {tox.crs_worst}) · "
            f"ICANS {tox.icans_current} (worst {tox.icans_worst})"
            + (f" · GvHD {tox.gvhd_current}" if tox.gvhd_worst is not None else "")
        )
    for a in s.alerts:
        if a.open:
            lines.append(f"- 🚨 {a.severity} `{a.kind}` {a.id[:8]}: {_words(a.text, 120)}")
    # The expected milestones alone, not the whole status (this runs in every workflow task).
    waiting = [e.kind for e in expected.expected(journey) if not e.optional]
    if waiting and not journey.closed:
        lines.append("waiting for: " + ", ".join(f"`{k}`" for k in waiting))
    # Escalations stood down because the deadline was met on time (recorded late): the last
    # few, so whoever was paged and opens the journey sees why no action is needed.
    stood_down = [e for e in s.timeline if e.kind == "escalation_resolved"][-3:]
    for e in stood_down:
        lines.append(f"- ✅ `{e.data.get('deadline')}` stood down: {_words(e.note, 120)}")
    return "\n".join(lines)


def _words(text: str, limit: int) -> str:
    """`text` shortened at a word boundary (never mid-word), marked `…` when shortened."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:—-") + "…"
