"""The phase graph, in one place: which milestone moves a journey from which phase to which,
and what each phase closes and opens when the journey enters it.

`PHASE_GRAPH` is the contract's phase list as edges (`docs/architecture.md` draws it from
here: `mermaid()`); `Journey.enter` refuses a move that is not in it (a bug, not an input).
`ON_ENTRY` is the phase → deadlines table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import DeadlineName, Phase
from models.pathway import deadlines, registry

if TYPE_CHECKING:
    from models.pathway.journey import Journey

N = DeadlineName
P = Phase


@dataclass(frozen=True)
class Edge:
    """A move between phases and what causes it."""

    source: Phase
    target: Phase
    cause: str


PHASE_GRAPH: tuple[Edge, ...] = (
    Edge(P.INTAKE, P.PRE_ASSESSMENT, "records_complete"),
    Edge(P.PRE_ASSESSMENT, P.PI_REVIEW, "eligibility_assessed: eligible"),
    Edge(P.PRE_ASSESSMENT, P.INTAKE, "eligibility_assessed: more_info_needed"),
    Edge(P.PRE_ASSESSMENT, P.CLOSED, "eligibility_assessed: ineligible"),
    Edge(P.PI_REVIEW, P.LOGISTICS, "pi_decision: accepted"),
    Edge(P.PI_REVIEW, P.CLOSED, "pi_decision: declined by the last site"),
    Edge(P.LOGISTICS, P.ARRIVAL, "every required logistics milestone recorded"),
    Edge(P.ARRIVAL, P.COLLECTION, "registered and cleared (autologous)"),
    Edge(P.ARRIVAL, P.CONDITIONING, "registered and cleared (allogeneic)"),
    Edge(P.ARRIVAL, P.CLOSED, "pretreatment_cleared: not_cleared"),
    Edge(P.COLLECTION, P.MANUFACTURING, "apheresis_completed"),
    Edge(P.MANUFACTURING, P.CONDITIONING, "product_released"),
    Edge(P.MANUFACTURING, P.COLLECTION, "manufacturing_failed, attempts left"),
    Edge(P.MANUFACTURING, P.CLOSED, "manufacturing_failed, none left"),
    Edge(P.CONDITIONING, P.INFUSION, "conditioning_completed"),
    Edge(P.INFUSION, P.MONITORING, "infusion_completed"),
    Edge(P.MONITORING, P.FOLLOW_UP, "discharged"),
    Edge(P.FOLLOW_UP, P.CLOSED, "follow_up_completed"),
)
# Any open phase closes on `withdraw` (outcome withdrawn); that edge is implied everywhere.
MOVES = frozenset((e.source, e.target) for e in PHASE_GRAPH)


# Phases in which a journey has not started conditioning (`Journey.watch`).
BEFORE_CONDITIONING = (
    P.INTAKE,
    P.PRE_ASSESSMENT,
    P.PI_REVIEW,
    P.LOGISTICS,
    P.ARRIVAL,
    P.COLLECTION,
    P.MANUFACTURING,
)


def allowed(source: Phase, target: Phase) -> bool:
    """Whether the graph has a move from `source` to `target` (withdrawal always closes)."""
    return (source, target) in MOVES or (target is P.CLOSED and source is not P.CLOSED)


Opener = Callable[["Journey", datetime, datetime], None]


@dataclass(frozen=True)
class OnEntry:
    """What a phase closes, then opens, when the journey enters it (`at`: when it happened)."""

    closes: tuple[DeadlineName, ...] = ()
    opens: tuple[Opener, ...] = ()


def _observation_after_infusion(j: Journey, at: datetime, now: datetime) -> None:
    deadlines.open_observation(j, at, now)
    if j.v2:
        deadlines.open_restrictions(j, now)
    if j.tracked:
        deadlines.open_response_months(j, now)
        registry.open_after_infusion(j, now)


def _follow_up(j: Journey, at: datetime, now: datetime) -> None:
    from models.pathway import gates  # (gates reads the journey's vocabulary)

    deadlines.open_telemedicine(j, now)
    if j.tracked:
        registry.open_follow_up(j, now)
        if gates.registry_consented(j):
            deadlines.open_long_term(j, now)
        return
    if j.v2 and gates.registry_consented(j):
        deadlines.open_registry(j, now)
        deadlines.open_long_term(j, now)
    if not j.state.responses:
        deadlines.open_response_assessment(j, at, now)


ON_ENTRY: dict[Phase, OnEntry] = {
    P.INTAKE: OnEntry(closes=(N.PRE_ASSESSMENT,), opens=(deadlines.open_records,)),
    P.PRE_ASSESSMENT: OnEntry(closes=(N.RECORDS,), opens=(deadlines.open_pre_assessment,)),
    P.PI_REVIEW: OnEntry(closes=(N.PRE_ASSESSMENT,), opens=(deadlines.open_pi_submission,)),
    P.LOGISTICS: OnEntry(
        closes=(N.PI_DECISION, N.PI_SUBMISSION), opens=(deadlines.open_logistics,)
    ),
    P.ARRIVAL: OnEntry(closes=(N.LOGISTICS,)),
    P.COLLECTION: OnEntry(
        closes=(N.PRETREATMENT_CLEARANCE, N.ACCOMMODATION_REGISTRATION, N.MANUFACTURING),
        opens=(deadlines.open_apheresis,),
    ),
    P.MANUFACTURING: OnEntry(closes=(N.APHERESIS,), opens=(deadlines.open_manufacturing,)),
    P.CONDITIONING: OnEntry(
        closes=(N.MANUFACTURING, N.PRETREATMENT_CLEARANCE, N.ACCOMMODATION_REGISTRATION),
        opens=(deadlines.open_conditioning, deadlines.open_readiness, registry.open_pre_infusion),
    ),
    P.INFUSION: OnEntry(
        closes=(N.CONDITIONING, N.READINESS), opens=(deadlines.open_infusion_window,)
    ),
    P.MONITORING: OnEntry(
        closes=(N.INFUSION_WINDOW, N.THAW_TO_INFUSION), opens=(_observation_after_infusion,)
    ),
    P.FOLLOW_UP: OnEntry(closes=(N.OBSERVATION,), opens=(_follow_up,)),
}


def mermaid() -> str:
    """The phase graph as a Mermaid state diagram (docs/architecture.md shows it)."""
    lines = ["stateDiagram-v2", f"    [*] --> {P.INTAKE.value}"]
    lines += [f"    {e.source.value} --> {e.target.value}: {e.cause}" for e in PHASE_GRAPH]
    lines.append(f"    {P.CLOSED.value} --> [*]")
    return "\n".join(lines)
