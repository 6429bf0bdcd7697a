"""Whether a journey takes a milestone of this kind now, before its data and its own rule:
the journey open, the kind known, the patient alive (but for the death's report), the kind
for this product and this phase. Each refusal names what the journey expects instead."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.enums import MilestoneKind
from models.errors import RefusalCode, refused
from models.pathway.rules import RULES

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def kind_taken(j: Journey, raw: str) -> MilestoneKind:
    """The milestone kind `raw` names, when the journey takes it now; `Refused` otherwise."""
    if j.closed:
        raise refused(
            "the journey is closed ({outcome}); no milestone is expected",
            RefusalCode.CLOSED,
            outcome=j.state.outcome,
        )
    try:
        kind = MilestoneKind(raw)
    except ValueError:
        raise refused(
            "unknown milestone kind {kind}; expected one of: {expected}",
            RefusalCode.UNKNOWN_NAME,
            kind=repr(raw),
            expected=", ".join(j.expected_kinds()),
        ) from None
    r = RULES[kind]
    if j.state.died_at is not None and kind is not MilestoneKind.SAE_REPORTED:
        raise refused(
            "the patient died ({day}); the journey waits only for sae_reported (the "
            "death's report to the sponsor)",
            RefusalCode.CLOSED,
            day=j.state.died_at.strftime("%Y-%m-%d"),
        )
    if r.cell_source is not None and r.cell_source is not j.facts.cell_source:
        raise refused(
            "milestone '{kind}' applies to {source} products only; this journey's product "
            "is {product}",
            RefusalCode.WRONG_PRODUCT,
            kind=kind,
            source=r.cell_source,
            product=j.facts.cell_source,
        )
    if j.state.phase not in r.phases and not r.accepted_now_elsewhere(j):
        raise refused(
            "milestone '{kind}' is not expected in phase '{phase}'; expected one of: {expected}",
            RefusalCode.WRONG_PHASE,
            kind=kind,
            phase=j.state.phase,
            expected=", ".join(j.expected_kinds()),
        )
    return kind
