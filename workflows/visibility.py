"""What a journey shows in Temporal's visibility: search attributes and its start summary.

Search attributes let clinical leads and auditors ask the Temporal UI (and `cellpath list`)
"which journeys are in manufacturing", "which are overdue, at what level". They are typed
keys, upserted by the workflow whenever a value changes, and hold no PHI: case id, phase,
product, program, site, coordinator, next deadline, escalation, outcome.

Budget (SQL visibility): 8 of 10 Keyword, 1 of 3 Datetime, 1 of 3 Int, 1 of 3 Bool.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from models.journey import JourneyInput
from models.messages import JourneyProjection
from models.protocol import ProtocolConfig

CASE_ID = SearchAttributeKey.for_keyword("CaseId")
JOURNEY_PHASE = SearchAttributeKey.for_keyword("JourneyPhase")
THERAPY = SearchAttributeKey.for_keyword("Therapy")
CELL_SOURCE = SearchAttributeKey.for_keyword("CellSource")
PROGRAM = SearchAttributeKey.for_keyword("Program")
SITE = SearchAttributeKey.for_keyword("Site")
COORDINATOR = SearchAttributeKey.for_keyword("Coordinator")
JOURNEY_OUTCOME = SearchAttributeKey.for_keyword("JourneyOutcome")
NEXT_DEADLINE_AT = SearchAttributeKey.for_datetime("NextDeadlineAt")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
OVERDUE = SearchAttributeKey.for_bool("Overdue")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    CASE_ID,
    JOURNEY_PHASE,
    THERAPY,
    CELL_SOURCE,
    PROGRAM,
    SITE,
    COORDINATOR,
    JOURNEY_OUTCOME,
    NEXT_DEADLINE_AT,
    ESCALATION_LEVEL,
    OVERDUE,
)


def journey_values(p: JourneyProjection) -> dict[str, Any]:
    """The search attribute values of a journey (None = unset), keyed by attribute name."""
    return {
        CASE_ID.name: p.case_id,
        JOURNEY_PHASE.name: p.phase.value,
        THERAPY.name: p.therapy.value,
        CELL_SOURCE.name: p.cell_source.value,
        PROGRAM.name: p.program.value,
        SITE.name: p.site,
        COORDINATOR.name: p.coordinator,
        JOURNEY_OUTCOME.name: p.outcome.value if p.outcome else None,
        NEXT_DEADLINE_AT.name: p.next_deadline_at,
        ESCALATION_LEVEL.name: p.escalation_level,
        OVERDUE.name: p.overdue,
    }


def updates(wanted: dict[str, Any], current: dict[str, Any]) -> list[SearchAttributeUpdate[Any]]:
    """The upserts that turn `current` into `wanted` (only the values that changed)."""
    out: list[SearchAttributeUpdate[Any]] = []
    for key in ALL_KEYS:
        value = wanted.get(key.name)
        if key.name in current and current[key.name] == value:
            continue
        out.append(key.value_unset() if value is None else key.value_set(value))
    return out


def initial_search_attributes(inp: JourneyInput) -> TypedSearchAttributes:
    """Attributes set when a journey starts (the workflow keeps them current afterwards)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(CASE_ID, inp.case_id),
        SearchAttributePair(JOURNEY_PHASE, "intake"),
        SearchAttributePair(THERAPY, inp.therapy.value),
        SearchAttributePair(CELL_SOURCE, inp.cell_source.value),
        SearchAttributePair(PROGRAM, inp.program.value),
        SearchAttributePair(COORDINATOR, inp.coordinator),
        SearchAttributePair(ESCALATION_LEVEL, 0),
        SearchAttributePair(OVERDUE, False),
    ]
    return TypedSearchAttributes(pairs)


def start_summary(inp: JourneyInput) -> tuple[str, str]:
    """The static summary and details shown at the top of a journey in the Temporal UI.

    PHI-free by construction: built only from the journey input's pseudonymous fields.
    """
    protocol = inp.protocol.name if isinstance(inp.protocol, ProtocolConfig) else inp.protocol
    summary = (
        f"{inp.case_id} · {inp.therapy.value} {inp.cell_source.value} · {inp.indication} · "
        f"{inp.program.value}"
    )
    details = "\n".join(
        [
            f"**Case** `{inp.case_id}` (patient ref `{inp.patient_ref}`)",
            f"- therapy: {inp.therapy.value}, {inp.cell_source.value}; "
            f"targets {', '.join(inp.target_antigens)}",
            f"- sites, in order: {', '.join(inp.sites)}",
            f"- coordinator: {inp.coordinator}",
            f"- protocol: {protocol}",
        ]
    )
    return summary, details
