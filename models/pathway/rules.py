"""The shape of a milestone rule, and the registry of every kind's rule.

A rule holds everything about one milestone kind in one place: the phases that accept it, the
data it carries, the products it applies to (`cell_source`), what must hold before it is
accepted (`check`, the contract's "after" column and the chain-of-identity checks) and what
it changes (`apply`, the "effect" column: phase moves, deadlines opened or closed, alerts).
The rules live in `models/pathway/milestones/`, grouped by phase; `Journey` dispatches to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from models.enums import CellSource, MilestoneKind, Phase
from models.errors import RefusalCode, refused
from models.messages import MilestoneInput
from models.pathway.data import MilestoneData, NoData

if TYPE_CHECKING:
    from models.pathway.journey import Journey

D = TypeVar("D", bound=MilestoneData)
# Every phase a journey can still take a milestone in.
OPEN_PHASES = tuple(p for p in Phase if p is not Phase.CLOSED)


def require_run(taken: bool, what: str) -> None:
    """Refuse what only runs under a later patch take (`taken`: this run does), as earlier
    runs always did: an unknown name, so the refusal and its replay never change."""
    if not taken:
        raise refused(
            "unknown {what} for this journey's run (it is taken from the journey's next run)",
            RefusalCode.UNKNOWN_NAME,
            what=what,
        )


@dataclass
class Accepted(Generic[D]):
    """A milestone that passed its checks, with its data parsed into its kind's model."""

    kind: MilestoneKind | None  # None only for a duplicate of an unknown kind
    occurred_at: datetime
    data: D
    raw: MilestoneInput
    duplicate: bool = False


class MilestoneRule(Generic[D]):
    """One milestone kind: where it is accepted, what it carries, requires and changes."""

    kind: ClassVar[MilestoneKind]
    phases: ClassVar[tuple[Phase, ...]]
    data: ClassVar[type[MilestoneData]] = NoData
    cell_source: ClassVar[CellSource | None] = None

    def check(self, j: Journey, a: Accepted[D]) -> None:
        """Raise `Refused` (naming what is missing) unless the milestone may be recorded."""

    def awaited(self, j: Journey) -> bool:
        """Whether the journey, in one of this kind's phases, is waiting for it now (a
        logistics step already done, a second `submitted_to_pi` before the decision: no)."""
        return True

    def optional(self, j: Journey) -> bool:
        """Whether it may be recorded but is never waited for (bridging therapy, an
        interpreter, a visa extension)."""
        return False

    def after(self, j: Journey) -> list[str]:
        """Milestones that must be recorded before this one can be (none by default)."""
        return []

    def accepted_now_elsewhere(self, j: Journey) -> bool:
        """Whether it is accepted now outside its phases (a changed quote accepted after
        logistics, under `LEDGER`); no by default."""
        return False

    def apply(self, j: Journey, a: Accepted[D], now: datetime) -> None:
        """Change the journey: the milestone happened at `a.occurred_at`, recorded at `now`."""


class AnyTimeRule(MilestoneRule[D]):
    """A milestone that may come in any open phase and is never waited for (money, bookings),
    taken only by runs under its patch (`taken`)."""

    phases = OPEN_PHASES

    def taken(self, j: Journey) -> bool:
        """Whether this journey's run takes the kind (its patch's flag)."""
        return True

    def optional(self, j: Journey) -> bool:
        return True

    def awaited(self, j: Journey) -> bool:
        return False

    def check(self, j: Journey, a: Accepted[D]) -> None:
        require_run(self.taken(j), f"milestone kind {self.kind.value!r}")


RULES: dict[MilestoneKind, MilestoneRule[Any]] = {}

R = TypeVar("R", bound=MilestoneRule[Any])


def rule(cls: type[R]) -> type[R]:
    """Register a rule class (one instance per kind)."""
    if cls.kind in RULES:
        raise ValueError(f"two rules for milestone {cls.kind}")
    RULES[cls.kind] = cls()
    return cls
