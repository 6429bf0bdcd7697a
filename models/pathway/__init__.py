"""The pathway's rules, pure: which milestone is accepted when, and what it changes.

- `journey.Journey` — the facade the workflow and the tests use: one journey's state, the
  checks every message shares, and the vocabulary the rules speak (enter a phase, close, raise
  an alert, audit).
- `rules` — the shape of a milestone rule and the registry `RULES`; `milestones/` — every
  kind's rule, grouped by phase (what it requires, what it changes).
- `phases` — the phase graph and what each phase opens on entry; `deadlines` — every deadline.
- `alerts`, `observations`, `actions` — alerts, bedside observations and grading, reschedule,
  withdraw and refused signals.
- `data` — what each milestone and observation carries.

Nothing here touches Temporal, a clock or a database (an import-linter contract holds it).
"""

from models.pathway import milestones as _milestones  # noqa: F401  (registers every rule)
from models.pathway.actions import MAX_REJECTED, rejected_summary
from models.pathway.data import MilestoneData, describe_validation_error, expected_fields
from models.pathway.journey import MILESTONE_KINDS, Journey
from models.pathway.milestones.logistics import LOGISTICS_REQUIRED
from models.pathway.rules import RULES, Accepted, MilestoneRule


def milestone_data_model(kind: str) -> type[MilestoneData] | None:
    """The data model of a milestone kind (None for an unknown kind)."""
    from models.enums import MilestoneKind

    return RULES[MilestoneKind(kind)].data if kind in MILESTONE_KINDS else None


__all__ = [
    "LOGISTICS_REQUIRED",
    "MAX_REJECTED",
    "MILESTONE_KINDS",
    "RULES",
    "Accepted",
    "Journey",
    "MilestoneRule",
    "describe_validation_error",
    "expected_fields",
    "milestone_data_model",
    "rejected_summary",
]
