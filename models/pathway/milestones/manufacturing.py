"""Collection and manufacturing of an autologous product: apheresis, the manufacturing run
(with bridging therapy meanwhile), the release checked against the apheresis' chain of
identity, and a failed run (another collection while attempts remain).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import CellSource, MilestoneKind, Outcome, Phase
from models.errors import RefusalCode, Refused
from models.pathway.data import CoiData, NoData, ProductData, ReasonData, RegimenData
from models.pathway.rules import Accepted, MilestoneRule, rule
from models.state import Product

if TYPE_CHECKING:
    from models.pathway.journey import Journey

AUTO = CellSource.AUTOLOGOUS


@rule
class ApheresisCompleted(MilestoneRule[CoiData]):
    """Cells collected, labelled with the chain-of-identity id every later step must match."""

    kind = MilestoneKind.APHERESIS_COMPLETED
    phases = (Phase.COLLECTION,)
    data = CoiData
    cell_source = AUTO

    def apply(self, j: Journey, a: Accepted[CoiData], now: datetime) -> None:
        j.state.apheresis_coi = a.data.coi_id
        j.enter(Phase.MANUFACTURING, a.occurred_at, now)


@rule
class ManufacturingStarted(MilestoneRule[NoData]):
    """The manufacturing run started."""

    kind = MilestoneKind.MANUFACTURING_STARTED
    phases = (Phase.MANUFACTURING,)
    cell_source = AUTO

    def awaited(self, j: Journey) -> bool:
        return not j.state.manufacturing_started

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        j.state.manufacturing_started = True


@rule
class BridgingTherapyStarted(MilestoneRule[RegimenData]):
    """Bridging therapy while the product is made (recorded; changes no deadline)."""

    kind = MilestoneKind.BRIDGING_THERAPY_STARTED
    phases = (Phase.MANUFACTURING,)
    data = RegimenData
    cell_source = AUTO

    def optional(self, j: Journey) -> bool:
        return True


def _unless_started(j: Journey) -> list[str]:
    return [] if j.state.manufacturing_started else [MilestoneKind.MANUFACTURING_STARTED]


def _started(j: Journey, kind: MilestoneKind) -> None:
    if not j.state.manufacturing_started:
        raise Refused(f"expected manufacturing_started before {kind}", RefusalCode.PATHWAY_RULE)


@rule
class ProductReleased(MilestoneRule[ProductData]):
    """The product is released; its coi_id must equal the apheresis'. On to conditioning."""

    kind = MilestoneKind.PRODUCT_RELEASED
    phases = (Phase.MANUFACTURING,)
    data = ProductData
    cell_source = AUTO

    def after(self, j: Journey) -> list[str]:
        return _unless_started(j)

    def check(self, j: Journey, a: Accepted[ProductData]) -> None:
        _started(j, self.kind)
        coi = j.state.apheresis_coi
        if a.data.coi_id != coi:
            raise Refused(
                # Never the expected value: it must be read from the label, not the screen.
                f"chain of identity mismatch: the released product's coi_id "
                f"{a.data.coi_id!r} differs from the coi_id recorded at apheresis; read it "
                "again from the product label",
                RefusalCode.CHAIN_OF_IDENTITY,
            )

    def apply(self, j: Journey, a: Accepted[ProductData], now: datetime) -> None:
        j.state.product = Product(lot=a.data.lot, coi_id=a.data.coi_id, source="released")
        j.enter(Phase.CONDITIONING, a.occurred_at, now)


@rule
class ManufacturingFailed(MilestoneRule[ReasonData]):
    """The run failed: collect again while the protocol allows another attempt, else close."""

    kind = MilestoneKind.MANUFACTURING_FAILED
    phases = (Phase.MANUFACTURING,)
    data = ReasonData
    cell_source = AUTO

    def optional(self, j: Journey) -> bool:
        return True

    def after(self, j: Journey) -> list[str]:
        return _unless_started(j)

    def check(self, j: Journey, a: Accepted[ReasonData]) -> None:
        _started(j, self.kind)

    def apply(self, j: Journey, a: Accepted[ReasonData], now: datetime) -> None:
        s = j.state
        s.manufacturing_failures += 1
        s.manufacturing_started = False
        if s.manufacturing_failures < j.protocol.manufacturing_attempts:
            s.apheresis_coi = None
            j.enter(Phase.COLLECTION, a.occurred_at, now)
        else:
            j.close(Outcome.MANUFACTURING_FAILED)
