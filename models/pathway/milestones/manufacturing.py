"""Collection and manufacturing of an autologous product: apheresis, the manufacturing run
(with bridging therapy meanwhile), the release checked against the apheresis' chain of
identity, and a failed run (another collection while attempts remain).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import CellSource, DeadlineName, MilestoneKind, Outcome, Phase
from models.errors import RefusalCode, refused
from models.pathway.data import CoiData, NoData, ProductData, ReasonData, RegimenData
from models.pathway.milestones import money
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

    def check(self, j: Journey, a: Accepted[CoiData]) -> None:
        money.check_gate(j, self.kind)

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
    """Bridging therapy while the product is made. Runs under `WATCHED`: from apheresis until
    conditioning starts, its regimen's duration (the protocol's, or `days`) moves the
    conditioning deadline on; earlier runs record it during manufacturing and change nothing."""

    kind = MilestoneKind.BRIDGING_THERAPY_STARTED
    phases = (Phase.MANUFACTURING, Phase.CONDITIONING)
    data = RegimenData
    cell_source = AUTO

    def awaited(self, j: Journey) -> bool:
        s = j.state
        return s.phase is Phase.MANUFACTURING or (j.watched and s.conditioning_started_at is None)

    def optional(self, j: Journey) -> bool:
        return True

    def check(self, j: Journey, a: Accepted[RegimenData]) -> None:
        s, d = j.state, a.data
        if not j.watched:
            if s.phase is not Phase.MANUFACTURING:
                raise refused(
                    "milestone 'bridging_therapy_started' is not expected in phase '{phase}'; "
                    "expected it during manufacturing",
                    RefusalCode.WRONG_PHASE,
                    phase=s.phase,
                )
            if d.days is not None:
                raise refused(
                    "data for 'bridging_therapy_started' is invalid: days is taken from this "
                    "journey's next run; expected: regimen?",
                    RefusalCode.INVALID_DATA,
                )
            return
        if s.conditioning_started_at is not None:
            raise refused(
                "conditioning has started; bridging therapy is given before it",
                RefusalCode.ALREADY_DONE,
            )
        if d.days is None and bridging_days(j, d.regimen) is None:
            known = ", ".join(r.name for r in j.protocol.bridging_regimens) or "(none)"
            raise refused(
                "bridging regimen {regimen} is not one of the protocol's ({known}); expected "
                "one of them, or its duration in days",
                RefusalCode.INVALID_DATA,
                regimen=repr(d.regimen),
                known=known,
            )

    def apply(self, j: Journey, a: Accepted[RegimenData], now: datetime) -> None:
        if not j.watched:
            return
        s = j.state
        days = a.data.days if a.data.days is not None else bridging_days(j, a.data.regimen)
        assert days is not None
        until = a.occurred_at + timedelta(days=days)
        s.bridging_until = max(until, s.bridging_until) if s.bridging_until else until
        current = j.book.get(DeadlineName.CONDITIONING)
        if current is not None:
            due = s.bridging_until + timedelta(days=j.protocol.conditioning_escalate_days)
            if due > current.due_at:
                j.book.reschedule(DeadlineName.CONDITIONING, now=now, due_at=due)


def bridging_days(j: Journey, regimen: str | None) -> int | None:
    """How long the protocol's bridging regimen delays conditioning (None: not its own)."""
    name = (regimen or "").strip().lower()
    return next((r.days for r in j.protocol.bridging_regimens if r.name == name), None)


def _unless_started(j: Journey) -> list[str]:
    return [] if j.state.manufacturing_started else [MilestoneKind.MANUFACTURING_STARTED]


def _started(j: Journey, kind: MilestoneKind) -> None:
    if not j.state.manufacturing_started:
        raise refused(
            "expected manufacturing_started before {kind}", RefusalCode.PATHWAY_RULE, kind=kind
        )


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
            raise refused(
                # Never the expected value: it must be read from the label, not the screen.
                "chain of identity mismatch: the released product's coi_id {coi} differs from "
                "the coi_id recorded at apheresis; read it again from the product label",
                RefusalCode.CHAIN_OF_IDENTITY,
                coi=repr(a.data.coi_id),
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
