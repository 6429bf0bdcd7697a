"""Who coordinates the case (runs under `REASSIGNED`; earlier runs refuse the kind as unknown).

- `coordinator_changed`: a colleague takes the case over, in any open phase. The journey's
  facts name the new coordinator from then on (its reminders, its worklist row, its search
  attribute, the care team), and the run after a continue-as-new keeps them. The previous
  coordinator is in the milestone's data, and must be who coordinates it (a case reassigned
  meanwhile by someone else is refused). Only the service records it (`cellpath reassign`,
  the console's care-team section), having checked that the colleague is a coordinator.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import MilestoneKind
from models.errors import RefusalCode, refused
from models.pathway.data_team import CoordinatorChangedData
from models.pathway.rules import Accepted, AnyTimeRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


@rule
class CoordinatorChanged(AnyTimeRule[CoordinatorChangedData]):
    """A colleague coordinates the case from now on."""

    kind = MilestoneKind.COORDINATOR_CHANGED
    data = CoordinatorChangedData

    def taken(self, j: Journey) -> bool:
        return j.reassigned

    def check(self, j: Journey, a: Accepted[CoordinatorChangedData]) -> None:
        super().check(j, a)
        if a.data.previous != j.facts.coordinator:
            raise refused(
                "{current} coordinates this case, not {previous}; expected the current "
                "coordinator as previous (reassigned meanwhile?)",
                RefusalCode.PATHWAY_RULE,
                current=j.facts.coordinator,
                previous=a.data.previous,
            )
        if a.data.coordinator == j.facts.coordinator:
            raise refused(
                "{coordinator} already coordinates this case; expected a colleague",
                RefusalCode.PATHWAY_RULE,
                coordinator=a.data.coordinator,
            )

    def apply(self, j: Journey, a: Accepted[CoordinatorChangedData], now: datetime) -> None:
        # The facts object is the one the workflow continues as new with: changed in place.
        j.facts.coordinator = a.data.coordinator
