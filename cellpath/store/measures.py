"""The program's measures, from the case store alone (never Temporal's histories): journeys by
site, program or product and the quarter they were taken in.

- **Durations** (days, median and 80th percentile): from intake (the case's creation) to the
  eligibility assessment, the PI's decision, the arrival and the discharge; and vein to vein,
  from apheresis to infusion.
- **On time**: for each deadline, the share of journeys that reached its step, or were
  escalated for it, without an escalation (`notification_outbox`).
- **Escalations** per 100 journeys, by who received them (lead coordinator, director, …).
- **Manufacturing failures** (`milestone:manufacturing_failed` in the audit log), per
  journey that had its cells collected.
- **Alerts** by grade (severity), counted.

Each journey's durations and steps done are summarised as it is written (`summarise`, one
`journey_measures` row per journey, with its quarter), so a report reads one row per journey
of its quarter rather than every step of every journey: 10,000 journeys answer in tens of
milliseconds (`benchmarks/program_pages.py`). Escalations, alerts and failures are few and read
as they are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median, quantiles
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from cellpath.store.tables import AuditRow, Case, MeasureRow, NotificationRow
from models.enums import milestone_action
from models.messages import JourneyProjection
from models.schedule import ProjectedStep

if TYPE_CHECKING:
    from cellpath.store import CaseStore

By = Literal["site", "program", "product"]

# (measure, its column in `journey_measures`, from step or "intake", to step)
DURATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("intake to eligibility", "to_eligibility", "intake", "eligibility_assessed"),
    ("intake to PI decision", "to_pi_decision", "intake", "pi_decision"),
    ("intake to arrival", "to_arrival", "intake", "patient_arrived"),
    ("vein to vein", "vein_to_vein", "apheresis_completed", "infusion_completed"),
    ("intake to discharge", "to_discharge", "intake", "discharged"),
)
# Each deadline that holds a step, and the step that meets it.
DEADLINES: tuple[tuple[str, str], ...] = (
    ("records", "records_complete"),
    ("pre_assessment", "eligibility_assessed"),
    ("pi_submission", "submitted_to_pi"),
    ("pi_decision", "pi_decision"),
    ("arrival", "patient_arrived"),
    ("pretreatment_clearance", "pretreatment_cleared"),
    ("apheresis", "apheresis_completed"),
    ("manufacturing", "product_released"),
    ("conditioning", "conditioning_completed"),
    ("infusion_window", "infusion_completed"),
)


# The steps whose being done a report counts (on time; cells collected).
TRACKED = frozenset({step for _, step in DEADLINES} | {"apheresis_completed"})


def quarter_of(at: datetime) -> str:
    """`2026Q4`."""
    return f"{at.year}Q{(at.month - 1) // 3 + 1}"


@dataclass
class Stat:
    """A duration's median and 80th percentile over `n` journeys (days)."""

    n: int
    median: float
    p80: float


@dataclass
class Report:
    """Every measure, by group (a site, a program, or a product), for the journeys taken in
    the quarter (or all)."""

    by: By
    quarter: str | None
    groups: list[str] = field(default_factory=list)
    journeys: dict[str, int] = field(default_factory=dict)
    durations: dict[str, dict[str, Stat]] = field(default_factory=dict)
    on_time: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)
    escalations: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: dict[str, tuple[int, int]] = field(default_factory=dict)
    alerts: dict[str, dict[str, int]] = field(default_factory=dict)


def _stat(days: list[float]) -> Stat:
    p80 = quantiles(days, n=5, method="inclusive")[3] if len(days) > 1 else days[0]
    return Stat(n=len(days), median=round(median(days), 1), p80=round(p80, 1))


def summarise(s: Session, p: JourneyProjection, steps: Sequence[ProjectedStep]) -> None:
    """Write the journey's `journey_measures` row from its newest write (in its transaction).

    Journeys with no case row (started without intake, as some tests do) have no intake
    time, and no row: the measures count cases taken in through intake.
    """
    # Core statements: this runs with every one of a journey's writes (see `_upsert_projection`).
    conn = s.connection()
    taken = conn.execute(_TAKEN, {"m_case": p.case_id}).scalar_one_or_none()
    if taken is None:
        return
    done = {st.step: st.done_at for st in steps if st.done_at is not None}
    values: dict[str, object] = {
        "quarter": quarter_of(taken),
        "site": p.site or "no site",
        "program": str(p.program),
        "product": str(p.therapy),
        "done": "".join(f"|{step}" for step in sorted(TRACKED & done.keys())) + "|",
    }
    for _, column, start, end in DURATIONS:
        a = taken if start == "intake" else done.get(start)
        b = done.get(end)
        values[column] = (
            (b - a).total_seconds() / 86400 if a is not None and b is not None and b >= a else None
        )
    if not conn.execute(_KEPT, {**values, "m_case": p.case_id}).rowcount:
        conn.execute(sa.insert(_MEASURES), {**values, "case_id": p.case_id})


def _table(model: type[SQLModel]) -> sa.Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


# Built once, values as parameters (compiled once per process, see `rows._upsert_projection`).
_MEASURES, _CASES = _table(MeasureRow), _table(Case)
_TAKEN = sa.select(_CASES.c.created_at).where(_CASES.c.case_id == sa.bindparam("m_case"))
_KEPT = sa.update(_MEASURES).where(_MEASURES.c.case_id == sa.bindparam("m_case"))


def report(store: CaseStore, *, by: By = "site", quarter: str | None = None) -> Report:
    """The measures for journeys taken in `quarter` (all when None), grouped `by`."""
    column = {"site": MeasureRow.site, "program": MeasureRow.program, "product": MeasureRow.product}
    spans = [getattr(MeasureRow, c) for _, c, _, _ in DURATIONS]
    q = select(MeasureRow.case_id, column[by], MeasureRow.done, *spans)
    if quarter:
        q = q.where(MeasureRow.quarter == quarter)
    with store.session() as s:
        summaries = s.exec(q).all()
        sent = s.exec(
            select(
                NotificationRow.case_id,
                NotificationRow.kind,
                NotificationRow.recipient,
                NotificationRow.deadline,
                NotificationRow.severity,
                NotificationRow.level,
            ).where(col(NotificationRow.kind).in_(("escalation", "alert")))
        ).all()
        failed = s.exec(
            select(AuditRow.case_id).where(
                AuditRow.action == milestone_action("manufacturing_failed")
            )
        ).all()
    group: dict[str, str] = {}
    done: dict[str, str] = {}
    days: list[dict[str, list[float]]] = [defaultdict(list) for _ in DURATIONS]
    for case_id, key, steps, *spent in summaries:
        group[case_id], done[case_id] = key, steps
        for i, d in enumerate(spent):
            if d is not None:
                days[i][key].append(d)
    out = Report(by=by, quarter=quarter)
    out.journeys = dict(Counter(group.values()))
    out.groups = sorted(out.journeys)
    for (measure, _, _, _), spans_of in zip(DURATIONS, days, strict=True):
        out.durations[measure] = {g: _stat(d) for g, d in spans_of.items() if d}
    late: dict[str, set[str]] = defaultdict(set)
    escalated: dict[str, Counter[str]] = defaultdict(Counter)
    alerts: dict[str, Counter[str]] = defaultdict(Counter)
    for case_id, kind, recipient, deadline, severity, level in sent:
        if case_id not in group:
            continue
        if kind == "escalation" and level >= 1:
            escalated[group[case_id]][recipient] += 1
            if deadline:
                late[deadline].add(case_id)
        elif kind == "alert":
            alerts[group[case_id]][severity] += 1
    for deadline, step in DEADLINES:
        reached: dict[str, list[bool]] = defaultdict(list)
        for case_id, g in group.items():
            if f"|{step}|" in done[case_id] or case_id in late[deadline]:
                reached[g].append(case_id not in late[deadline])
        out.on_time[deadline] = {
            g: (round(sum(v) / len(v), 3), len(v)) for g, v in reached.items() if v
        }
    out.escalations = {
        g: {r: round(100 * c / out.journeys[g], 1) for r, c in sorted(counts.items())}
        for g, counts in escalated.items()
    }
    failures = Counter(group[c] for c in set(failed) if c in group)
    collected = Counter(g for c, g in group.items() if "|apheresis_completed|" in done[c])
    out.failures = {g: (failures[g], collected[g]) for g in out.groups if collected[g]}
    out.alerts = {g: dict(sorted(c.items())) for g, c in alerts.items()}
    return out


def rows(r: Report) -> list[dict[str, str | int | float]]:
    """Every figure of a report as flat rows (the CSV, and the tables the console shows)."""
    out: list[dict[str, str | int | float]] = []
    q = r.quarter or "all"
    for g in r.groups:
        out.append(
            {
                "quarter": q,
                r.by: g,
                "measure": "journeys",
                "value": r.journeys[g],
                "n": r.journeys[g],
            }
        )
    for measure, by_group in r.durations.items():
        for g, st in sorted(by_group.items()):
            out.append(
                {
                    "quarter": q,
                    r.by: g,
                    "measure": f"{measure}, median days",
                    "value": st.median,
                    "n": st.n,
                }
            )
            out.append(
                {
                    "quarter": q,
                    r.by: g,
                    "measure": f"{measure}, 80th percentile days",
                    "value": st.p80,
                    "n": st.n,
                }
            )
    for deadline, by_group in r.on_time.items():
        for g, (share, n) in sorted(by_group.items()):
            out.append(
                {
                    "quarter": q,
                    r.by: g,
                    "measure": f"{deadline} on time, share",
                    "value": share,
                    "n": n,
                }
            )
    for g, by_recipient in sorted(r.escalations.items()):
        for recipient, per100 in by_recipient.items():
            out.append(
                {
                    "quarter": q,
                    r.by: g,
                    "measure": f"escalations to {recipient} per 100 journeys",
                    "value": per100,
                    "n": r.journeys[g],
                }
            )
    for g, (failed, collected) in sorted(r.failures.items()):
        out.append(
            {
                "quarter": q,
                r.by: g,
                "measure": "manufacturing failures",
                "value": failed,
                "n": collected,
            }
        )
    for g, by_severity in sorted(r.alerts.items()):
        for severity, count in by_severity.items():
            out.append(
                {
                    "quarter": q,
                    r.by: g,
                    "measure": f"{severity} alerts",
                    "value": count,
                    "n": r.journeys[g],
                }
            )
    return out
