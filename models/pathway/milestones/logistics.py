"""Logistics after a site accepted: the family's cost estimate, the hospital's invitation
letter, the visa, travel, accommodation, an interpreter, and for an off-the-shelf (allogeneic)
product its reservation. Once every required one is recorded, the journey awaits the arrival.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from models.enums import CellSource, MilestoneKind, Phase
from models.errors import RefusalCode, refused
from models.pathway import deadlines
from models.pathway.data import (
    CostEstimateData,
    InterpreterData,
    NoData,
    ProductData,
    SiteData,
    TravelBookedData,
    VisaIssuedData,
    cost_items,
)
from models.pathway.milestones import money, visa
from models.pathway.rules import Accepted, D, MilestoneRule, rule
from models.state import Product

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind

# Recorded before the patient can travel, for every product; an allogeneic one is also reserved.
LOGISTICS_REQUIRED: tuple[MilestoneKind, ...] = (
    K.COST_ESTIMATE_ACCEPTED,
    K.INVITATION_LETTER_ISSUED,
    K.VISA_ISSUED,
    K.TRAVEL_BOOKED,
    K.ACCOMMODATION_BOOKED,
)


def required(j: Journey) -> list[MilestoneKind]:
    """The logistics milestones this journey needs before the arrival."""
    kinds = list(LOGISTICS_REQUIRED)
    if j.facts.cell_source is CellSource.ALLOGENEIC:
        kinds.append(K.PRODUCT_RESERVED)
    return kinds


class LogisticsRule(MilestoneRule[D]):
    """A logistics milestone: recorded as done, its own effect, then maybe on to arrival."""

    phases: ClassVar[tuple[Phase, ...]] = (Phase.LOGISTICS,)

    def awaited(self, j: Journey) -> bool:
        return self.kind not in j.state.logistics_done

    def apply(self, j: Journey, a: Accepted[D], now: datetime) -> None:
        s = j.state
        if self.kind not in s.logistics_done:
            s.logistics_done.append(self.kind)
        self.effect(j, a, now)
        if all(k in s.logistics_done for k in required(j)):
            j.enter(Phase.ARRIVAL, a.occurred_at, now)

    def effect(self, j: Journey, a: Accepted[D], now: datetime) -> None:
        """What this milestone changes besides being done."""


@rule
class CostEstimateAccepted(LogisticsRule[CostEstimateData]):
    """The family accepted the hospital's cost estimate."""

    kind = K.COST_ESTIMATE_ACCEPTED
    data = CostEstimateData

    def accepted_now_elsewhere(self, j: Journey) -> bool:
        # Under `LEDGER`, a quote changed after logistics is accepted where the journey is.
        return money.awaiting_acceptance(j) and j.state.phase is not Phase.CLOSED

    def awaited(self, j: Journey) -> bool:
        return super().awaited(j) or money.awaiting_acceptance(j)

    def apply(self, j: Journey, a: Accepted[CostEstimateData], now: datetime) -> None:
        if j.state.phase is Phase.LOGISTICS:
            super().apply(j, a, now)
        else:  # a changed quote accepted later: the phase stays where it is
            self.effect(j, a, now)

    def effect(self, j: Journey, a: Accepted[CostEstimateData], now: datetime) -> None:
        money.accept(j, a.data, a.occurred_at, now)

    def check(self, j: Journey, a: Accepted[CostEstimateData]) -> None:
        d = a.data
        money.check_acceptance(j, d)
        if not j.forms_in_words or not d.items:
            return
        try:
            items = cost_items(d.items)
        except ValueError as e:
            raise refused("items: {problem}", RefusalCode.INVALID_DATA, problem=e) from None
        added = sum(i.amount for i in items)
        if abs(added - d.total) > 0.005:
            raise refused(
                "the items add up to {added} {currency}, not the total {total} {currency}; "
                "expected a total equal to the sum of the items",
                RefusalCode.INVALID_DATA,
                added=format(added, ",.2f"),
                total=format(d.total, ",.2f"),
                currency=d.currency,
            )


@rule
class InvitationLetterIssued(LogisticsRule[SiteData]):
    """The accepting hospital's invitation letter, which the visa application needs."""

    kind = K.INVITATION_LETTER_ISSUED
    data = SiteData

    def check(self, j: Journey, a: Accepted[SiteData]) -> None:
        if a.data.site != j.state.current_site:
            raise refused(
                "the invitation letter must come from the accepting site {accepting}, not {site}",
                RefusalCode.PATHWAY_RULE,
                accepting=repr(j.state.current_site),
                site=repr(a.data.site),
            )

    def effect(self, j: Journey, a: Accepted[SiteData], now: datetime) -> None:
        j.state.letter_site = a.data.site


@rule
class VisaIssued(LogisticsRule[VisaIssuedData]):
    """The visa, checked against the expected stay (a short one raises a warning)."""

    kind = K.VISA_ISSUED
    data = VisaIssuedData

    def after(self, j: Journey) -> list[str]:
        done = j.state.logistics_done
        return [] if K.INVITATION_LETTER_ISSUED in done else [K.INVITATION_LETTER_ISSUED]

    def check(self, j: Journey, a: Accepted[VisaIssuedData]) -> None:
        if K.INVITATION_LETTER_ISSUED not in j.state.logistics_done:
            raise refused(
                "a visa needs the hospital's invitation letter; expected "
                "invitation_letter_issued first",
                RefusalCode.PATHWAY_RULE,
            )

    def effect(self, j: Journey, a: Accepted[VisaIssuedData], now: datetime) -> None:
        j.state.visa_valid_until = a.data.valid_until
        visa.check_covers_stay(j, a.occurred_at, now)


@rule
class TravelBooked(LogisticsRule[TravelBookedData]):
    """Travel booked: the arrival date becomes a deadline; the visa must cover the stay."""

    kind = K.TRAVEL_BOOKED
    data = TravelBookedData

    def after(self, j: Journey) -> list[str]:
        done = j.state.logistics_done
        return [] if K.COST_ESTIMATE_ACCEPTED in done else [K.COST_ESTIMATE_ACCEPTED]

    def check(self, j: Journey, a: Accepted[TravelBookedData]) -> None:
        if K.COST_ESTIMATE_ACCEPTED not in j.state.logistics_done:
            raise refused(
                "travel is booked only after the family accepted the cost estimate; "
                "expected cost_estimate_accepted first",
                RefusalCode.PATHWAY_RULE,
            )
        # A day's grace: the booking's time is UTC, the arrival date the site's.
        if a.data.arrival_date < a.occurred_at.date() - visa.ONE_DAY:
            raise refused(
                "arrival_date {day} is before the booking; expected a date on or after it",
                RefusalCode.INVALID_DATA,
                day=a.data.arrival_date,
            )

    def effect(self, j: Journey, a: Accepted[TravelBookedData], now: datetime) -> None:
        j.state.arrival_date = a.data.arrival_date
        deadlines.open_arrival(j, now)
        visa.check_covers_stay(j, a.occurred_at, now)


@rule
class InterpreterArranged(LogisticsRule[InterpreterData]):
    """An interpreter is arranged (optional)."""

    kind = K.INTERPRETER_ARRANGED
    data = InterpreterData

    def optional(self, j: Journey) -> bool:
        return True


@rule
class AccommodationBooked(LogisticsRule[NoData]):
    """Accommodation near the centre is booked."""

    kind = K.ACCOMMODATION_BOOKED


@rule
class ProductReserved(LogisticsRule[ProductData]):
    """An off-the-shelf product's lot is reserved; the infusion must use that lot."""

    kind = K.PRODUCT_RESERVED
    data = ProductData
    cell_source = CellSource.ALLOGENEIC

    def effect(self, j: Journey, a: Accepted[ProductData], now: datetime) -> None:
        j.state.product = Product(lot=a.data.lot, coi_id=a.data.coi_id, source="reserved")
