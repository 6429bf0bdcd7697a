"""A projected schedule: for every step still ahead, the date it is expected and a range.

Families ask *when*: when they travel, when the infusion is, when they can go home. Each step
follows the one before it by the protocol's durations (business days where the protocol
counts them), as a typical value and a range (`STEPS`). The chain starts from the last step
recorded, at the time it happened. An open deadline of a step caps its latest date (the team
is held to it), and a site's own history, where the service has enough of it, replaces the
protocol's durations: its median as the typical value, its 80th percentile as the latest
(`SiteDurations`).

Pure: the journey's query answers it from its state (`PatientJourney.projected`), so a
projection is recomputed whenever a milestone lands, and costs nothing to store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from models.enums import CellSource, Phase
from models.protocol import ProtocolConfig
from models.schedule import ProjectedStep

if TYPE_CHECKING:
    from models.pathway.journey import Journey


# (typical, shortest, longest) after the step before, in days; a callable reads the protocol.
Span = tuple[float, float, float]


@dataclass(frozen=True)
class Step:
    """A step of the pathway, and how long after the one before it it takes."""

    kind: str
    span: Callable[[ProtocolConfig], Span]
    business: bool = False  # counted in business days (the reviewing team's calendar)
    deadline: str | None = None  # the deadline that holds the team to it
    planned: bool = False  # its deadline is the planned date itself (the arrival booked)
    cell_source: CellSource | None = None  # only for this kind of product


def _fixed(typical: float, low: float, high: float) -> Callable[[ProtocolConfig], Span]:
    return lambda p: (typical, low, high)


STEPS: tuple[Step, ...] = (
    Step(
        "records_complete",
        lambda p: (p.records_sla_days / 2, 1, p.records_sla_days),
        deadline="records",
    ),
    Step(
        "eligibility_assessed",
        lambda p: (p.pre_assessment_reminder_business_days or 3, 1, p.pre_assessment_business_days),
        business=True,
        deadline="pre_assessment",
    ),
    Step(
        "submitted_to_pi",
        lambda p: (2, 0, p.pi_submission_business_days),
        business=True,
        deadline="pi_submission",
    ),
    Step("pi_decision", lambda p: (14, 7, p.pi_review_sla_days), deadline="pi_decision"),
    Step(
        "patient_arrived",
        lambda p: (21, 14, p.logistics_sla_days),
        deadline="arrival",
        planned=True,
    ),
    Step(
        "pretreatment_cleared",
        lambda p: (5, 2, p.pretreatment_clearance_days),
        deadline="pretreatment_clearance",
    ),
    Step(
        "apheresis_completed",
        lambda p: (2, 1, p.apheresis_days),
        cell_source=CellSource.AUTOLOGOUS,
        deadline="apheresis",
    ),
    Step(
        "product_released",
        lambda p: (
            p.manufacturing_expected_days,
            min(14, p.manufacturing_expected_days),
            p.manufacturing_escalate_days,
        ),
        cell_source=CellSource.AUTOLOGOUS,
        deadline="manufacturing",
    ),
    Step("conditioning_started", _fixed(1, 0, 3)),
    Step(
        "conditioning_completed",
        lambda p: (p.conditioning_days - 1, p.conditioning_days - 1, p.conditioning_escalate_days),
        deadline="conditioning",
    ),
    Step(
        "infusion_completed",
        lambda p: (
            (p.infusion_window_opens_hours + p.infusion_window_closes_hours) / 48,
            p.infusion_window_opens_hours / 24,
            p.infusion_window_closes_hours / 24,
        ),
        deadline="infusion_window",
    ),
    Step(
        "discharged",
        lambda p: (p.earliest_discharge_day, p.earliest_discharge_day, p.stay_near_centre_days),
    ),
    Step(
        "returned_home",
        lambda p: (
            max(0, p.stay_near_centre_days - p.earliest_discharge_day),
            0,
            max(0, p.stay_near_centre_days - p.earliest_discharge_day) + 7,
        ),
    ),
)

# A site's own history of a step (days after the step before): (median, 80th percentile).
SiteDurations = dict[str, tuple[float, float]]


class ProjectionQuery(BaseModel):
    """What the `projected` query is asked with: the reader's now (a journey idle for weeks
    knows only the time of its last task) and the site's own durations, if it has enough."""

    now: datetime
    site: SiteDurations | None = None


# Closed journeys a site needs before its own durations replace the protocol's.
SITE_MINIMUM = 5


def steps_for(cell_source: CellSource) -> list[Step]:
    """The steps of a journey with this product, in order."""
    return [s for s in STEPS if s.cell_source in (None, cell_source)]


def project(j: Journey, now: datetime, site: SiteDurations | None = None) -> list[ProjectedStep]:
    """Every step still ahead of the journey, projected from its last recorded step (none
    once it closed or reached follow-up, whose visits its deadlines already date)."""
    if j.state.phase is Phase.FOLLOW_UP:
        return _follow_up(j, now)
    if j.state.phase is Phase.CLOSED:
        return []
    steps = steps_for(j.facts.cell_source)
    recorded = {e.kind: e.occurred_at for e in j.state.timeline}
    done = [i for i, s in enumerate(steps) if s.kind in recorded]
    last = max(done, default=-1)
    # From the last step recorded, when it happened; before any, from now.
    start = recorded[steps[last].kind] if last >= 0 else now
    expected = earliest = latest = start
    out = []
    for s in steps[last + 1 :]:
        typical, low, high = s.span(j.protocol)
        basis = "protocol"
        if site and s.kind in site:
            typical, high = site[s.kind]
            low = min(low, typical)
            basis = "site history"
        expected = _after(j, expected, typical, s.business)
        earliest = _after(j, earliest, low, s.business)
        latest = _after(j, latest, max(high, typical), s.business)
        due = _due(j, s.deadline)
        if due is not None and s.planned:
            # A day booked (the arrival): its deadline is that day's end, where the team is.
            latest = max(due, now)
            expected, earliest = latest - timedelta(hours=12), latest - timedelta(days=1)
            basis = "planned"
        elif due is not None and due >= earliest:
            # The team is held to the deadline: it caps what the protocol allows.
            latest = min(latest, due) if basis == "protocol" else latest
            expected = min(expected, latest)
            basis = basis if basis != "protocol" else "deadline"
        # Nothing ahead is expected in the past: a late step is expected from now.
        expected, earliest = max(expected, now), max(earliest, now)
        latest = max(latest, expected)
        out.append(
            ProjectedStep(
                step=s.kind, expected=expected, earliest=earliest, latest=latest, basis=basis
            )
        )
    return out


def _after(j: Journey, at: datetime, days: float, business: bool) -> datetime:
    if business and j.state.calendar is not None and days == int(days):
        return j.business(at, int(days))
    return at + timedelta(days=days)


def _due(j: Journey, name: str | None) -> datetime | None:
    if name is None:
        return None
    d = j.book.get(name)
    return None if d is None else d.due_at


# In follow-up, the visits ahead are the open deadlines themselves.
FOLLOW_UP_VISITS = {
    "telemedicine": "telemedicine_completed",
    "response_assessment": "response_assessed",
    "long_term_check_in": "long_term_check_in",
}


def _follow_up(j: Journey, now: datetime) -> list[ProjectedStep]:
    out = []
    for name, kind in FOLLOW_UP_VISITS.items():
        d = j.book.get(name)
        if d is not None:
            due = max(d.due_at, now)
            out.append(
                ProjectedStep(
                    step=kind,
                    expected=due,
                    earliest=max(due - timedelta(days=7), now),
                    latest=due,
                    basis="deadline",
                )
            )
    return sorted(out, key=lambda p: p.expected)


def schedule(j: Journey, now: datetime) -> list[ProjectedStep]:
    """The whole schedule the board shows: the steps done (when they happened) and those
    ahead (`project`, with the protocol's durations only: a site's history is the service's)."""
    done = {}
    for e in j.state.timeline:
        if e.kind in _KINDS and e.kind not in done:
            done[e.kind] = e.occurred_at
    out = [
        ProjectedStep(step=k, expected=at, earliest=at, latest=at, basis="recorded", done_at=at)
        for k, at in done.items()
    ]
    return out + project(j, now)


_KINDS = {s.kind for s in STEPS} | {"discharged", "returned_home"}
