"""What a change of the case's coordinator carries (runs under `REASSIGNED`)."""

from __future__ import annotations

from pydantic import Field

from models.bounds import ACTOR_ID
from models.pathway.data import MilestoneData


class CoordinatorChangedData(MilestoneData):
    """The colleague who coordinates the case from now on, and why (a coordinator leaves, a
    caseload is rebalanced). The service checks that they are a registered coordinator."""

    coordinator: str = Field(
        pattern=f"^{ACTOR_ID.pattern}$", description="the new coordinator's staff id"
    )
    # Who coordinated it until now, as the one reassigning saw it: the timeline names both,
    # and a case reassigned meanwhile by someone else is refused, not silently taken.
    previous: str = Field(pattern=f"^{ACTOR_ID.pattern}$", description="the coordinator until now")
    reason: str = Field(min_length=3, max_length=500)
