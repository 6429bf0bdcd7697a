"""The phase graph is the pathway's behaviour, not a drawing of it: every edge is walked by a
real journey, no journey moves along an edge the graph lacks, and every rule's phases are in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from models.enums import CellSource, MilestoneKind, Phase
from models.pathway import RULES
from models.pathway.phases import ON_ENTRY, PHASE_GRAPH, allowed, mermaid
from tests.builders import Case

Move = tuple[Phase, Phase]


class Watched(Case):
    """A `Case` that notes every phase change a milestone causes."""

    def __init__(self, moves: set[Move], **kw: Any) -> None:
        self.moves = moves
        super().__init__(**kw)

    def record(self, kind: str, **kw: Any):  # type: ignore[override]
        before = self.phase
        ack = super().record(kind, **kw)
        if self.phase is not before:
            self.moves.add((before, self.phase))
        return ack


def _infused(c: Watched) -> None:
    c.to_infusion()
    c.at(hours=30)
    if c.j.facts.cell_source is CellSource.ALLOGENEIC:
        c.record("product_thawed", lot="LOT-NK")
        c.record("infusion_completed", lot="LOT-NK", coi_id="COI-NK")
    else:
        c.record("infusion_completed", lot="LOT-1", coi_id="COI-1")


def _completed(c: Watched) -> None:
    _infused(c)
    c.at(days=28)
    c.record("discharged")
    c.record("follow_up_completed")  # rules version 2: closes without the v3 completeness check


def _more_info_then_ineligible(c: Watched) -> None:
    c.record("records_complete", records=["pathology", "imaging", "treatment_history", "labs"])
    c.record("eligibility_assessed", outcome="more_info_needed", reviewer="dr-li")
    c.record("records_complete", records=[])
    c.record("eligibility_assessed", outcome="ineligible", reviewer="dr-li")


def _declined_everywhere(c: Watched) -> None:
    c.to_pi_review()
    for site in ("site-a", "site-b"):
        c.record("submitted_to_pi", site=site)
        c.record("pi_decision", site=site, decision="declined")


def _not_cleared(c: Watched) -> None:
    c.to_arrival()
    c.at(days=7)
    c.record("patient_arrived")
    c.record("pretreatment_cleared", outcome="not_cleared")


def _manufacturing_fails_twice(c: Watched) -> None:
    c.to_arrival()
    c.at(days=7)
    c.arrive_and_clear()
    for _ in range(2):
        c.record("apheresis_completed", coi_id="COI-1")
        c.record("manufacturing_started")
        c.record("manufacturing_failed", reason="insufficient expansion")


PATHS: list[tuple[Callable[[Watched], None], CellSource]] = [
    (_completed, CellSource.AUTOLOGOUS),
    (_completed, CellSource.ALLOGENEIC),
    (_more_info_then_ineligible, CellSource.AUTOLOGOUS),
    (_declined_everywhere, CellSource.AUTOLOGOUS),
    (_not_cleared, CellSource.AUTOLOGOUS),
    (_manufacturing_fails_twice, CellSource.AUTOLOGOUS),
]


def test_journeys_walk_every_edge_of_the_graph_and_no_other():
    moves: set[Move] = set()
    for path, source in PATHS:
        path(Watched(moves, cell_source=source, rules_version=2))
    graph = {(e.source, e.target) for e in PHASE_GRAPH}
    assert moves == graph


def test_a_move_outside_the_graph_is_a_bug_caught_at_once():
    c = Case()
    with pytest.raises(AssertionError, match="no move from intake to monitoring"):
        c.j.enter(Phase.MONITORING, c.now, c.now)
    assert c.phase is Phase.INTAKE


def test_withdrawal_closes_any_open_phase():
    assert all(allowed(p, Phase.CLOSED) for p in Phase if p is not Phase.CLOSED)
    assert not allowed(Phase.CLOSED, Phase.INTAKE)


def test_every_open_phase_says_what_it_opens_and_every_rule_is_placed_in_the_graph():
    open_phases = {p for p in Phase if p is not Phase.CLOSED}
    assert set(ON_ENTRY) == open_phases
    assert set(RULES) == set(MilestoneKind)
    in_graph = {e.source for e in PHASE_GRAPH} | {e.target for e in PHASE_GRAPH}
    for kind, rule in RULES.items():
        assert rule.kind is kind
        assert set(rule.phases) <= in_graph - {Phase.CLOSED}, kind


def test_the_mermaid_diagram_has_one_line_per_edge():
    lines = mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert len(lines) == len(PHASE_GRAPH) + 3
    assert "    monitoring --> follow_up: discharged" in lines
