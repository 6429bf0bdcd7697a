"""What's next: the milestones a journey is waiting for now, with the data each takes.

Coordinators should never have to guess what a case needs. `status` lists these; a refused
milestone lists them too (only what is still expected, not what is already done). Hints name
the values a field takes for this journey (its remaining sites, the next telemedicine month),
except for chain-of-identity fields: a lot or CoI to verify at the bedside is never shown, so
that it cannot be copied from the screen instead of read from the bag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.enums import MilestoneKind, Phase
from models.messages import ExpectedMilestone, FieldHint
from models.pathway.data import field_hints
from models.pathway.rules import RULES

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
# Kinds a journey takes at any time from their first phase on, offered (status, the console's
# forms) but never named in a refusal's "expected one of".
ANY_TIME = frozenset({K.ADVERSE_EVENT.value, K.DEATH.value})


def expected(j: Journey) -> list[ExpectedMilestone]:
    """Milestones the journey waits for now (awaited first), each with its fields."""
    if j.state.phase is Phase.CLOSED:
        return []
    found: list[ExpectedMilestone] = []
    for kind, r in RULES.items():
        if j.state.died_at is not None and kind is not K.SAE_REPORTED:
            continue
        if r.cell_source not in (None, j.facts.cell_source):
            continue
        if j.state.phase not in r.phases and not r.accepted_now_elsewhere(j):
            continue
        if not r.awaited(j):
            continue
        found.append(
            ExpectedMilestone(
                kind=kind.value,
                fields=[_for_journey(j, kind, h) for h in field_hints(r.data)],
                optional=r.optional(j),
                after=[str(k) for k in r.after(j)],
            )
        )
    # Waited for and possible now, then waiting on another, then optional.
    return sorted(found, key=lambda e: (e.optional, bool(e.after)))


def records_missing(j: Journey) -> list[str]:
    """Record types the protocol requires that are not on file yet."""
    on_file = set(j.state.records_on_file)
    return [r.value for r in j.protocol.required_records if r not in on_file]


def _for_journey(j: Journey, kind: MilestoneKind, hint: FieldHint) -> FieldHint:
    """A field hint made specific to this journey where that helps (never for CoI fields)."""
    s = j.state
    takes: str | None = None
    if hint.name == "site":
        if kind is K.SUBMITTED_TO_PI:
            takes = "one of: " + ", ".join(j.remaining_sites())
        elif kind is K.PI_DECISION and s.submitted_site:
            takes = s.submitted_site
        elif kind is K.INVITATION_LETTER_ISSUED and s.current_site:
            takes = s.current_site
    elif hint.name == "window" and kind is K.REGISTRY_REPORTED:
        left = [w.name for w in j.protocol.registry_windows if w.name not in s.registry_reported]
        takes = "one of: " + ", ".join(left)
    elif hint.name == "month" and kind is K.TELEMEDICINE_COMPLETED:
        month = j.next_telemedicine_month()
        takes = f"whole number (next: {month})" if month else None
    elif hint.name == "year" and kind is K.LONG_TERM_CHECK_IN:
        year = j.next_check_in_year()
        takes = f"whole number (next: {year})" if year else None
    elif hint.name == "records" and kind is K.RECORDS_COMPLETE:
        missing = records_missing(j)
        if missing:
            takes = f"{hint.takes}; still missing: {', '.join(missing)}"
    elif hint.name in ("lot", "coi_id") and kind in (K.PRODUCT_THAWED, K.INFUSION_COMPLETED):
        takes = "text, read from the bag (verified against the product)"
    return hint if takes is None else hint.model_copy(update={"takes": takes})
