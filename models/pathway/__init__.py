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

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, get_origin

from models.pathway import milestones as _milestones  # noqa: F401  (registers every rule)
from models.pathway.actions import MAX_REJECTED, rejected_summary
from models.pathway.data import MilestoneData, describe_validation_error, expected_fields
from models.pathway.idempotency import MILESTONE_KINDS
from models.pathway.journey import Journey
from models.pathway.milestones.logistics import LOGISTICS_REQUIRED
from models.pathway.rules import RULES, Accepted, MilestoneRule

if TYPE_CHECKING:
    from collections.abc import Mapping


def milestone_data_model(kind: str) -> type[MilestoneData] | None:
    """The data model of a milestone kind (None for an unknown kind)."""
    from models.enums import MilestoneKind

    return RULES[MilestoneKind(kind)].data if kind in MILESTONE_KINDS else None


def list_fields(kind: str) -> set[str]:
    """The data fields of a milestone kind that take a list."""
    model = milestone_data_model(kind)
    return {
        name
        for name, f in (model.model_fields.items() if model else [])
        if get_origin(f.annotation) is list or "list[" in str(f.annotation)
    }


def text_value(text: str, *, is_list: bool) -> Any:
    """A data field written as text (a form, `--data k=v`): JSON when it parses (a number,
    `true`, a list), otherwise the text; a list field also takes `a, b` split at commas."""
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if is_list and not isinstance(value, list):
        return [v.strip() for v in text.split(",") if v.strip()]
    return value


def data_from_text(kind: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """A milestone's data from a form's text fields; empty fields are left out (optional)."""
    lists = list_fields(kind)
    return {
        key: text_value(text.strip(), is_list=key in lists)
        for key, text in fields.items()
        if text.strip()
    }


__all__ = [
    "LOGISTICS_REQUIRED",
    "MAX_REJECTED",
    "MILESTONE_KINDS",
    "RULES",
    "Accepted",
    "Journey",
    "MilestoneRule",
    "data_from_text",
    "describe_validation_error",
    "expected_fields",
    "list_fields",
    "milestone_data_model",
    "rejected_summary",
    "text_value",
]
