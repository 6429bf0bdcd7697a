"""Serious adverse events in a trial: the sponsor hears of each within `sae_report_hours`
(24 h) of the team's awareness (China GCP 2020 art. 26; ICH E6 4.11).

A serious adverse event, a critical alert, an ICU admission or a death is reportable (runs
under `WATCHED`, `program=trial`). Each is kept as a `SaeReport` until `sae_reported` names
its sponsor reference; the deadline `sae_report` is due 24 h after the earliest awareness not
yet reported and escalates like every clinical window. A journey whose patient died closes
(`died`) once nothing is left to report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import DeadlineName, Outcome, Program
from models.state import SaeReport

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def reportable(j: Journey) -> bool:
    """Whether this journey reports serious adverse events to a sponsor."""
    return j.watched and j.facts.program is Program.TRIAL


def pending(j: Journey) -> list[SaeReport]:
    """Reportable events not reported yet, the earliest awareness first."""
    return sorted(
        (r for r in j.state.sae_reports if r.reported_at is None), key=lambda r: r.aware_at
    )


def serious(j: Journey, what: str, aware_at: datetime, now: datetime) -> SaeReport | None:
    """Keep a reportable event and (re)open `sae_report` for the earliest one pending."""
    if not reportable(j):
        return None
    report = SaeReport(id=j.new_id(), what=what[:200], aware_at=aware_at)
    j.state.sae_reports.append(report)
    open_deadline(j, now)
    return report


def open_deadline(j: Journey, now: datetime) -> None:
    """`sae_report` due `sae_report_hours` after the earliest pending awareness (or closed).

    Left as it is when it already runs for that event, so its escalation is not restarted
    by a later event.
    """
    waiting = pending(j)
    if not waiting:
        j.book.close(DeadlineName.SAE_REPORT)
        return
    first, hours = waiting[0], j.protocol.sae_report_hours
    due = first.aware_at + timedelta(hours=hours)
    more = f" (+{len(waiting) - 1} more)" if len(waiting) > 1 else ""
    summary = f"Report the serious adverse event to the sponsor within {hours} h: {first.what}"
    current = j.book.get(DeadlineName.SAE_REPORT)
    if current is not None and current.due_at == due:
        current.summary = summary + more
        return
    j.book.open(
        DeadlineName.SAE_REPORT,
        now=now,
        start=first.aware_at,
        due_at=due,
        summary=summary + more,
        before=[timedelta(hours=12), timedelta(hours=2)],
        clinical=True,
        level2_after=timedelta(minutes=j.protocol.clinical_level2_after_minutes),
    )


def reported(j: Journey, report: SaeReport, reference: str, at: datetime, now: datetime) -> None:
    """Record a report to the sponsor; the deadline moves to the next pending event, and a
    journey whose patient died closes once nothing is left to report."""
    report.reported_at, report.sponsor_reference = at, reference
    remaining = pending(j)
    if not remaining:
        j.met(DeadlineName.SAE_REPORT, at=at, now=now)
    else:
        open_deadline(j, now)
    if j.state.died_at is not None and not remaining:
        j.close(Outcome.DIED)
