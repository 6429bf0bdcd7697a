"""What the console's forms offer and how their text becomes a service's typed request.

The milestone forms come from the pathway's rules: the kinds the journey's phase accepts
(those it waits for first), each with the fields of the milestone's typed data model, each
field's input chosen from what it takes (a date, a number, one of a list, text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.enums import MilestoneKind, Phase
from models.grading import CerebralEdema, Consciousness, OxygenDevice, Seizure
from models.messages import FieldHint, JourneyStatus
from models.pathway import RULES
from models.pathway.data import field_hints

OBSERVATION_CHOICES: dict[str, list[str]] = {
    "oxygen_device": [d.value for d in OxygenDevice],
    "consciousness": [c.value for c in Consciousness],
    "seizure": [s.value for s in Seizure],
    "cerebral_edema": [e.value for e in CerebralEdema],
}

PHASES = [p for p in Phase if p is not Phase.CLOSED]


@dataclass(frozen=True)
class Input:
    """One form field: its name, label, HTML input type, choices and whether required."""

    name: str
    label: str
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    hint: str = ""


@dataclass(frozen=True)
class MilestoneForm:
    """A milestone kind the phase accepts, with its fields; `waited`: the journey waits for
    it now; `after`: what must come first."""

    kind: str
    inputs: tuple[Input, ...]
    waited: bool
    optional: bool
    after: tuple[str, ...]


def input_of(hint: FieldHint) -> Input:
    """The HTML input for a milestone data field, from what the field takes."""
    takes = hint.takes
    label = hint.name.replace("_", " ")
    if takes.startswith("one of: "):
        choices = tuple(c.strip() for c in takes.removeprefix("one of: ").split(","))
        return Input(hint.name, label, "select", hint.required, choices)
    kind = {"date": "date", "whole number": "number", "number": "number"}.get(takes, "text")
    if takes == "true/false":
        return Input(hint.name, label, "select", hint.required, ("true", "false"))
    return Input(hint.name, label, kind, hint.required, hint=takes if kind == "text" else "")


# Recorded by a service that did the work (`handover_sent`: built, checked and sent the bundle),
# never typed in: the case page offers the action instead.
RECORDED_BY_SERVICES = frozenset({MilestoneKind.HANDOVER_SENT})


def milestone_forms(status: JourneyStatus) -> list[MilestoneForm]:
    """The milestones the journey's phase accepts: the ones it waits for first, then the rest
    of the phase's kinds (a refusal then says what they need first)."""
    expected = {e.kind: e for e in status.expected}
    forms = []
    for kind, rule in RULES.items():
        if status.phase not in rule.phases or kind in RECORDED_BY_SERVICES:
            continue
        if rule.cell_source is not None and rule.cell_source != status.cell_source:
            continue
        e = expected.get(kind.value)
        forms.append(
            MilestoneForm(
                kind=kind.value,
                inputs=tuple(input_of(h) for h in field_hints(rule.data)),
                waited=e is not None and not e.optional,
                optional=e is not None and e.optional,
                after=tuple(e.after) if e else (),
            )
        )
    return sorted(forms, key=lambda f: (not f.waited, f.optional, f.kind))


def zone(name: str) -> ZoneInfo:
    """A time zone by name (UTC when the name is unknown)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(text: str, tz: str, field: str) -> datetime | None:
    """A `datetime-local` input (no offset) read in the person's time zone; empty: None.

    Raises:
        ValueError: naming the field and the format expected.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: expected a date and time like 2026-12-05T09:30") from None
    return value if value.tzinfo else value.replace(tzinfo=zone(tz))
