"""Conditioning and infusion: lymphodepletion, an off-the-shelf product thawed on the day, and
the infusion, checked against the product's chain of identity; an infusion outside its window
(24–48 h after conditioning, within the thaw limit) is recorded and raises an urgent alert.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import AlertKind, CellSource, DeadlineName, MilestoneKind, Phase, Severity
from models.errors import RefusalCode, refused
from models.pathway import deadlines, gates
from models.pathway.data import LotData, NoData, ProductData, ReadinessData, RegimenData
from models.pathway.milestones import custody, money
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


@rule
class ConditioningStarted(MilestoneRule[RegimenData]):
    """Lymphodepleting conditioning started."""

    kind = MilestoneKind.CONDITIONING_STARTED
    phases = (Phase.CONDITIONING,)
    data = RegimenData

    def awaited(self, j: Journey) -> bool:
        return j.state.conditioning_started_at is None

    def after(self, j: Journey) -> list[str]:
        if not j.v5:
            return []
        out: list[str] = []
        if gates.consent_missing(j):
            out.append(MilestoneKind.CONSENT_SIGNED)
        if not all(g.done for g in gates.readiness(j, None)):
            out.append(MilestoneKind.READINESS_CHECKED)
        return out

    def check(self, j: Journey, a: Accepted[RegimenData]) -> None:
        money.check_gate(j, self.kind)
        gates.check_ready(j, a.occurred_at)

    def apply(self, j: Journey, a: Accepted[RegimenData], now: datetime) -> None:
        j.state.conditioning_started_at = a.occurred_at
        j.met(DeadlineName.READINESS, at=a.occurred_at, now=now)


@rule
class ReadinessChecked(MilestoneRule[ReadinessData]):
    """Rules v5: items of the readiness checklist (tumour-lysis prophylaxis, tocilizumab on
    hand, ICU bed, caregiver), recorded as each is done; the latest value of an item counts."""

    kind = MilestoneKind.READINESS_CHECKED
    phases = (Phase.ARRIVAL, Phase.COLLECTION, Phase.MANUFACTURING, Phase.CONDITIONING)
    data = ReadinessData

    def awaited(self, j: Journey) -> bool:
        return j.v5 and bool(j.protocol.readiness_checklist) and not gates.ready(j)

    def optional(self, j: Journey) -> bool:
        return j.state.phase is not Phase.CONDITIONING

    def check(self, j: Journey, a: Accepted[ReadinessData]) -> None:
        if j.state.conditioning_started_at is not None:
            raise refused(
                "conditioning has started; readiness is checked before it", RefusalCode.ALREADY_DONE
            )
        gates.check_readiness_data(j, a.data, a.occurred_at)

    def apply(self, j: Journey, a: Accepted[ReadinessData], now: datetime) -> None:
        r = j.state.readiness
        for name, value in a.data.model_dump(exclude_none=True).items():
            setattr(r, name, value)
        if a.data.tls_prophylaxis_started_at is not None:  # checked: it has an offset
            r.tls_prophylaxis_started_at = a.data.tls_prophylaxis_started_at.astimezone(UTC)
        if gates.ready(j):
            j.met(DeadlineName.READINESS, at=a.occurred_at, now=now)


@rule
class ConditioningCompleted(MilestoneRule[NoData]):
    """Conditioning ended: the infusion window opens."""

    kind = MilestoneKind.CONDITIONING_COMPLETED
    phases = (Phase.CONDITIONING,)

    def after(self, j: Journey) -> list[str]:
        started = j.state.conditioning_started_at is not None
        return [] if started else [MilestoneKind.CONDITIONING_STARTED]

    def check(self, j: Journey, a: Accepted[NoData]) -> None:
        if j.state.conditioning_started_at is None:
            raise refused(
                "expected conditioning_started before conditioning_completed",
                RefusalCode.PATHWAY_RULE,
            )

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        j.state.conditioning_completed_at = a.occurred_at
        j.enter(Phase.INFUSION, a.occurred_at, now)


@rule
class ProductThawed(MilestoneRule[LotData]):
    """The reserved lot is thawed: it must be infused within the thaw limit."""

    kind = MilestoneKind.PRODUCT_THAWED
    phases = (Phase.INFUSION,)
    data = LotData
    cell_source = CellSource.ALLOGENEIC

    def awaited(self, j: Journey) -> bool:
        return j.state.thawed_at is None

    def check(self, j: Journey, a: Accepted[LotData]) -> None:
        product = j.state.product
        if product is None or a.data.lot != product.lot:
            raise refused(
                # Never the expected lot: it must be read from the bag, not the screen.
                "lot {lot} differs from the reserved lot; read the lot again from the bag",
                RefusalCode.CHAIN_OF_IDENTITY,
                lot=repr(a.data.lot),
            )

    def apply(self, j: Journey, a: Accepted[LotData], now: datetime) -> None:
        j.state.thawed_at = a.occurred_at
        deadlines.open_thaw_to_infusion(j, a.occurred_at, now)


@rule
class InfusionCompleted(MilestoneRule[ProductData]):
    """The infusion, at the bedside: the bag's lot and coi_id must be the product's."""

    kind = MilestoneKind.INFUSION_COMPLETED
    phases = (Phase.INFUSION,)
    data = ProductData

    def after(self, j: Journey) -> list[str]:
        allogeneic = j.facts.cell_source is CellSource.ALLOGENEIC
        return [MilestoneKind.PRODUCT_THAWED] if allogeneic and j.state.thawed_at is None else []

    def check(self, j: Journey, a: Accepted[ProductData]) -> None:
        s, d = j.state, a.data
        if j.facts.cell_source is CellSource.ALLOGENEIC and s.thawed_at is None:
            raise refused(
                "expected product_thawed before infusion_completed", RefusalCode.PATHWAY_RULE
            )
        product = s.product
        if product is None:
            raise refused(
                "no product was released or reserved for this journey", RefusalCode.PATHWAY_RULE
            )
        differ = [
            name
            for name, given, known in (
                ("lot", d.lot, product.lot),
                ("coi_id", d.coi_id, product.coi_id),
            )
            if given != known
        ]
        if differ:
            # Say which one differs, never the expected value: the bedside check must read
            # the bag, not copy the screen.
            raise refused(
                "chain of identity mismatch: the {fields} given {differ} from the {source} "
                "product's; verify the patient and the bag",
                RefusalCode.CHAIN_OF_IDENTITY,
                fields=" and the ".join(differ),
                differ="differs" if len(differ) == 1 else "differ",
                source=product.source,
            )
        custody.check_infusion(j)

    def apply(self, j: Journey, a: Accepted[ProductData], now: datetime) -> None:
        check_windows(j, a.occurred_at, now)
        j.state.infused_at = a.occurred_at
        j.enter(Phase.MONITORING, a.occurred_at, now)


def check_windows(j: Journey, at: datetime, now: datetime) -> None:
    """An infusion outside the window after conditioning, or late after thawing, is recorded
    (it happened) and raises an urgent alert for the physician."""
    s, p = j.state, j.protocol
    if s.conditioning_completed_at is not None:
        opens = s.conditioning_completed_at + timedelta(hours=p.infusion_window_opens_hours)
        closes = s.conditioning_completed_at + timedelta(hours=p.infusion_window_closes_hours)
        if not opens <= at <= closes:
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.URGENT,
                now,
                f"Infusion at {at:%Y-%m-%d %H:%M} UTC is outside the "
                f"{p.infusion_window_opens_hours}–{p.infusion_window_closes_hours} h window "
                f"after conditioning ({opens:%Y-%m-%d %H:%M}–{closes:%Y-%m-%d %H:%M} UTC)",
            )
    if s.thawed_at is not None:
        limit = s.thawed_at + timedelta(minutes=p.thaw_to_infusion_minutes)
        if at > limit:
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.URGENT,
                now,
                f"Infusion at {at:%Y-%m-%d %H:%M} UTC is more than "
                f"{p.thaw_to_infusion_minutes} min after thawing "
                f"({s.thawed_at:%Y-%m-%d %H:%M} UTC)",
            )
