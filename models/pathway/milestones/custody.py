"""Chain of custody and condition (runs under `CUSTODY`; earlier runs refuse these kinds).

- `custody_transferred`: the product changes hands, from its holder only (the first link
  starts the chain). Not while a shipment of it is in transit.
- `shipment_dispatched`: from the holder, with the temperature range it needs; its manifest
  and its invoice must agree line by line (customs hold a shipment whose quantities differ).
  An `expected_at` opens `shipment_<id>`, which escalates a late shipment.
- `shipment_received`: after its dispatch; the temperature log in summary. A log outside the
  range, or minutes outside it, is an excursion: a warning alert to the coordinator, and the
  product waits for QA.
- `qa_disposition`: a physician's accept or reject of a shipment with an excursion.

At `infusion_completed` (`check_infusion`), once custody is tracked for the product (any
record of it, or the protocol's `custody_required`): no shipment in transit, no excursion
without QA's accept, nothing rejected; the refusal names the missing link.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.custody import CustodyLink, Shipment
from models.enums import (
    AlertKind,
    MilestoneKind,
    Phase,
    Severity,
    SignatureMeaning,
    shipment_deadline,
)
from models.errors import RefusalCode, refused
from models.pathway import alerts, gates
from models.pathway.data_custody import (
    CustodyData,
    QaDispositionData,
    ShipmentDispatchedData,
    ShipmentReceivedData,
)
from models.pathway.rules import (
    Accepted,
    D,
    MilestoneRule,
    require_run,
    rule,
)

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
# From collection (or a reserved product's arrival) to the infusion.
CUSTODY_PHASES = (
    Phase.ARRIVAL,
    Phase.COLLECTION,
    Phase.MANUFACTURING,
    Phase.CONDITIONING,
    Phase.INFUSION,
)


def require_custody(j: Journey, what: str) -> None:
    """Refuse what only runs under `CUSTODY` take, as earlier runs always did."""
    require_run(j.custody, what)


def holder(j: Journey) -> str | None:
    """Who holds the product now (None before the chain starts)."""
    return j.state.custody[-1].to_party if j.state.custody else None


def shipment(j: Journey, shipment_id: str) -> Shipment | None:
    """A shipment of the product by its id."""
    return next((s for s in j.state.shipments if s.shipment_id == shipment_id), None)


def in_transit(j: Journey) -> Shipment | None:
    """A shipment dispatched and not received yet."""
    return next((s for s in j.state.shipments if s.received_at is None), None)


def _check_from(j: Journey, party: str) -> None:
    current = holder(j)
    if current is not None and party != current:
        raise refused(
            "{party} does not hold the product; expected custody from its holder, {holder}",
            RefusalCode.PATHWAY_RULE,
            party=repr(party),
            holder=repr(current),
        )
    moving = in_transit(j)
    if moving is not None:
        raise refused(
            "shipment {shipment} is in transit; expected shipment_received first",
            RefusalCode.OUT_OF_ORDER,
            shipment=moving.shipment_id,
        )


def _link(
    j: Journey, a: Accepted[D], kind: MilestoneKind, frm: str, to: str, **extra: str | None
) -> None:
    j.state.custody.append(
        CustodyLink(
            kind=kind.value,
            from_party=frm,
            to_party=to,
            at=a.occurred_at,
            recorded_by=a.raw.actor.strip(),
            **extra,
        )
    )


class CustodyRule(MilestoneRule[D]):
    """A custody milestone: optional, never waited for."""

    phases = CUSTODY_PHASES

    def optional(self, j: Journey) -> bool:
        return True

    def awaited(self, j: Journey) -> bool:
        return False

    def check(self, j: Journey, a: Accepted[D]) -> None:
        require_custody(j, f"milestone kind {self.kind.value!r}")


@rule
class CustodyTransferred(CustodyRule[CustodyData]):
    """The product changed hands."""

    kind = K.CUSTODY_TRANSFERRED
    data = CustodyData

    def check(self, j: Journey, a: Accepted[CustodyData]) -> None:
        super().check(j, a)
        if a.data.received_by is not None and a.data.received_by == a.raw.actor.strip():
            raise refused(
                "{party} gives and receives the product; expected the receiver "
                "to be someone else (both sign the hand-off)",
                RefusalCode.PATHWAY_RULE,
                party=repr(a.data.received_by),
            )
        _check_from(j, a.data.from_party)

    def apply(self, j: Journey, a: Accepted[CustodyData], now: datetime) -> None:
        d = a.data
        _link(
            j,
            a,
            self.kind,
            d.from_party,
            d.to_party,
            location=d.location,
            condition=d.condition,
            received_by=d.received_by,
        )
        if d.received_by is not None:
            # Both sign: the giver handing it on, the receiver taking it (21 CFR 11.50).
            detail = f"{d.from_party} → {d.to_party} at {d.location}"
            for signer in (a.raw.actor.strip(), d.received_by):
                gates.sign(j, self.kind.value, signer, SignatureMeaning.RESPONSIBLE, now, detail)


@rule
class ShipmentDispatched(CustodyRule[ShipmentDispatchedData]):
    """The product left in a shipment."""

    kind = K.SHIPMENT_DISPATCHED
    data = ShipmentDispatchedData

    def check(self, j: Journey, a: Accepted[ShipmentDispatchedData]) -> None:
        super().check(j, a)
        d = a.data
        if shipment(j, d.shipment_id) is not None:
            raise refused(
                "shipment {shipment} was already dispatched; expected a new shipment id",
                RefusalCode.PATHWAY_RULE,
                shipment=d.shipment_id,
            )
        if d.temp_min_c >= d.temp_max_c:
            raise refused(
                "temp_min_c must be below temp_max_c; expected the range the product needs",
                RefusalCode.INVALID_DATA,
            )
        for n, (m, i) in enumerate(zip(d.manifest, d.invoice, strict=False), start=1):
            if (m.item, m.quantity) != (i.item, i.quantity):
                raise refused(
                    "line {line}: the manifest says {manifest}, the invoice {invoice}; expected "
                    "them to agree (customs hold a shipment that does not match)",
                    RefusalCode.INVALID_DATA,
                    line=n,
                    manifest=f"{m.quantity} × {m.item!r}",
                    invoice=f"{i.quantity} × {i.item!r}",
                )
        if len(d.manifest) != len(d.invoice):
            raise refused(
                "the manifest has {manifest} line(s), the invoice {invoice}; "
                "expected the same lines in both",
                RefusalCode.INVALID_DATA,
                manifest=len(d.manifest),
                invoice=len(d.invoice),
            )
        _check_from(j, d.from_party)

    def apply(self, j: Journey, a: Accepted[ShipmentDispatchedData], now: datetime) -> None:
        d = a.data
        j.state.shipments.append(
            Shipment(
                shipment_id=d.shipment_id,
                courier=d.courier,
                waybill=d.waybill,
                temp_min_c=d.temp_min_c,
                temp_max_c=d.temp_max_c,
                dispatched_at=a.occurred_at,
                expected_at=d.expected_at,
            )
        )
        _link(
            j,
            a,
            self.kind,
            d.from_party,
            f"courier {d.courier}",
            shipment_id=d.shipment_id,
            condition=d.container,
        )
        if d.expected_at is not None and d.expected_at > now:
            j.book.open(
                shipment_deadline(d.shipment_id),
                now=now,
                start=a.occurred_at,
                due_at=d.expected_at,
                summary=f"Shipment {d.shipment_id} due to arrive ({d.courier})",
                level2_after=j.level2_after(),
            )


@rule
class ShipmentReceived(CustodyRule[ShipmentReceivedData]):
    """A shipment arrived; an excursion waits for QA."""

    kind = K.SHIPMENT_RECEIVED
    data = ShipmentReceivedData

    def check(self, j: Journey, a: Accepted[ShipmentReceivedData]) -> None:
        super().check(j, a)
        s = shipment(j, a.data.shipment_id)
        if s is None:
            raise refused(
                "shipment {shipment} was not dispatched; expected shipment_dispatched first",
                RefusalCode.OUT_OF_ORDER,
                shipment=a.data.shipment_id,
            )
        if s.received_at is not None:
            raise refused(
                "shipment {shipment} was already received",
                RefusalCode.PATHWAY_RULE,
                shipment=s.shipment_id,
            )
        if a.occurred_at < s.dispatched_at:
            raise refused(
                "shipment {shipment} was dispatched at {at} UTC; expected it received after that",
                RefusalCode.OUT_OF_ORDER,
                shipment=s.shipment_id,
                at=f"{s.dispatched_at:%Y-%m-%d %H:%M}",
            )
        if a.data.log_min_c > a.data.log_max_c:
            raise refused(
                "log_min_c is above log_max_c; expected the log's lowest and highest",
                RefusalCode.INVALID_DATA,
            )

    def apply(self, j: Journey, a: Accepted[ShipmentReceivedData], now: datetime) -> None:
        d = a.data
        s = shipment(j, d.shipment_id)
        assert s is not None  # checked
        s.received_at, s.customs_cleared = a.occurred_at, d.customs_cleared
        outside = []
        if d.log_min_c < s.temp_min_c or d.log_max_c > s.temp_max_c:
            outside.append(
                f"logged {d.log_min_c:g} to {d.log_max_c:g} °C, range {s.temp_min_c:g} to "
                f"{s.temp_max_c:g} °C"
            )
        if d.minutes_outside:
            outside.append(f"{d.minutes_outside} min outside the range")
        if outside:
            s.excursion = "; ".join(outside)
            alerts.raise_alert(
                j,
                AlertKind.TEMPERATURE_EXCURSION,
                Severity.WARNING,
                now,
                f"Temperature excursion on shipment {s.shipment_id} ({s.excursion}): "
                "qa_disposition needed before the infusion",
            )
        _link(j, a, self.kind, f"courier {s.courier}", d.to_party, shipment_id=s.shipment_id)
        j.met(shipment_deadline(s.shipment_id), at=a.occurred_at, now=now)


@rule
class QaDisposition(CustodyRule[QaDispositionData]):
    """QA accepts or rejects a product after a temperature excursion."""

    kind = K.QA_DISPOSITION
    data = QaDispositionData

    def check(self, j: Journey, a: Accepted[QaDispositionData]) -> None:
        super().check(j, a)
        s = shipment(j, a.data.shipment_id)
        if s is None or s.excursion is None:
            raise refused(
                "shipment {shipment} has no temperature excursion to decide on",
                RefusalCode.PATHWAY_RULE,
                shipment=a.data.shipment_id,
            )
        if s.disposition is not None:
            raise refused(
                "QA already decided on shipment {shipment}: {decision}",
                RefusalCode.ALREADY_DONE,
                shipment=s.shipment_id,
                decision=s.disposition,
            )

    def apply(self, j: Journey, a: Accepted[QaDispositionData], now: datetime) -> None:
        s = shipment(j, a.data.shipment_id)
        assert s is not None  # checked
        s.disposition = a.data.decision
        alerts.resolve_where(
            j,
            lambda alert: (
                alert.kind == AlertKind.TEMPERATURE_EXCURSION
                and f"shipment {s.shipment_id} " in alert.text
            ),
            now,
            f"QA: {a.data.decision}",
        )


def check_infusion(j: Journey) -> None:
    """Refuse the infusion while the chain of custody or condition has a missing link."""
    if not j.custody:
        return
    s = j.state
    tracked = bool(s.custody or s.shipments) or j.protocol.custody_required
    if not tracked:
        return
    if not s.custody:
        raise refused(
            "no custody of the product is recorded; expected custody_transferred from "
            "apheresis (or the product's reservation) to the ward",
            RefusalCode.PATHWAY_RULE,
        )
    moving = in_transit(j)
    if moving is not None:
        raise refused(
            "shipment {shipment} is in transit (a gap in custody); expected "
            "shipment_received first",
            RefusalCode.PATHWAY_RULE,
            shipment=moving.shipment_id,
        )
    for shp in s.shipments:
        if shp.disposition == "reject":
            raise refused(
                "QA rejected the product after shipment {shipment}'s excursion; "
                "expected a new product",
                RefusalCode.PATHWAY_RULE,
                shipment=shp.shipment_id,
            )
        if shp.excursion and shp.disposition is None:
            raise refused(
                "shipment {shipment} left its temperature range ({excursion}); "
                "expected qa_disposition accept first",
                RefusalCode.PATHWAY_RULE,
                shipment=shp.shipment_id,
                excursion=shp.excursion,
            )
