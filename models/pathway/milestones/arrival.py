"""Arrival checks: the patient arrives, registers the accommodation with the police (where the
protocol requires it) and is cleared by the pre-treatment assessment. Registered and cleared,
an autologous journey goes to collection, an allogeneic one straight to conditioning.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import CellSource, DeadlineName, MilestoneKind, Outcome, Phase
from models.errors import RefusalCode, refused
from models.pathway import deadlines
from models.pathway.data import NoData, PretreatmentData
from models.pathway.milestones import money
from models.pathway.rules import Accepted, D, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def maybe_leave(j: Journey, at: datetime, now: datetime) -> None:
    """Registered (or not required to) and cleared: on to collection or conditioning."""
    s = j.state
    registered = s.accommodation_registered or j.protocol.accommodation_registration_hours is None
    if s.cleared and registered:
        autologous = j.facts.cell_source is CellSource.AUTOLOGOUS
        j.enter(Phase.COLLECTION if autologous else Phase.CONDITIONING, at, now)


@rule
class PatientArrived(MilestoneRule[NoData]):
    """The patient is in the country: registration and pre-treatment clocks start."""

    kind = MilestoneKind.PATIENT_ARRIVED
    phases = (Phase.ARRIVAL,)

    def awaited(self, j: Journey) -> bool:
        return j.state.arrived_at is None

    def check(self, j: Journey, a: Accepted[NoData]) -> None:
        money.check_gate(j, self.kind)

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        at = a.occurred_at
        j.state.arrived_at = at
        j.met(DeadlineName.ARRIVAL, at=a.occurred_at, now=now)
        deadlines.open_accommodation_registration(j, at, now)
        deadlines.open_pretreatment_clearance(j, at, now)
        deadlines.open_visa_extension(j, now)
        maybe_leave(j, at, now)


class AfterArrival(MilestoneRule[D]):
    """A milestone that needs the patient to have arrived."""

    def after(self, j: Journey) -> list[str]:
        return [] if j.state.arrived_at is not None else [MilestoneKind.PATIENT_ARRIVED]

    def check(self, j: Journey, a: Accepted[D]) -> None:
        if j.state.arrived_at is None:
            raise refused(
                "'{kind}' needs the patient to have arrived; expected patient_arrived first",
                RefusalCode.PATHWAY_RULE,
                kind=a.kind,
            )


@rule
class AccommodationRegistered(AfterArrival[NoData]):
    """The accommodation is registered with the police."""

    kind = MilestoneKind.ACCOMMODATION_REGISTERED
    phases = (Phase.ARRIVAL,)

    def awaited(self, j: Journey) -> bool:
        return not j.state.accommodation_registered

    def optional(self, j: Journey) -> bool:
        return j.protocol.accommodation_registration_hours is None

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        j.state.accommodation_registered = True
        j.met(DeadlineName.ACCOMMODATION_REGISTRATION, at=a.occurred_at, now=now)
        maybe_leave(j, a.occurred_at, now)


@rule
class PretreatmentCleared(AfterArrival[PretreatmentData]):
    """The pre-treatment assessment: cleared, or not (the journey closes)."""

    kind = MilestoneKind.PRETREATMENT_CLEARED
    phases = (Phase.ARRIVAL,)
    data = PretreatmentData

    def awaited(self, j: Journey) -> bool:
        return not j.state.cleared

    def apply(self, j: Journey, a: Accepted[PretreatmentData], now: datetime) -> None:
        if a.data.outcome == "not_cleared":
            j.close(Outcome.NOT_CLEARED)
            return
        j.state.cleared = True
        j.met(DeadlineName.PRETREATMENT_CLEARANCE, at=a.occurred_at, now=now)
        maybe_leave(j, a.occurred_at, now)
