"""What the chain-of-custody milestones carry (runs under `CUSTODY`): hand-offs, shipments
with their manifest and invoice lines and temperature range, arrivals with their temperature
log, and QA's decision."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.pathway.data import MilestoneData

# A party in the chain of custody: a person or an organisation, by id or name.
PARTY = Field(min_length=1, max_length=100, description="who, e.g. apheresis-unit-a")
SHIPMENT = Field(pattern=r"^[A-Za-z0-9._-]{1,40}$", description="the shipment's id, e.g. SH-1042")


class CustodyData(MilestoneData):
    """The product changed hands (runs under `CUSTODY`): from whom, to whom, where, in what
    condition."""

    from_party: str = PARTY
    to_party: str = PARTY
    location: str = Field(min_length=1, max_length=200, description="e.g. cell lab, room 3")
    condition: str | None = Field(default=None, max_length=200, description="e.g. LN2, -160 °C")
    # The member of staff who took the product, signing beside the giver (who records it);
    # the console asks both for their password. Without it the hand-off has one signature.
    received_by: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9._@-]{0,63}$", description="staff id, e.g. nurse-li"
    )


class ShipmentLine(BaseModel):
    """One line of a manifest or an invoice: what, how many."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=100_000)


class ShipmentDispatchedData(MilestoneData):
    """The product left in a shipment: its courier, container, the temperature it needs, and
    the manifest and invoice customs compare, line by line."""

    shipment_id: str = SHIPMENT
    from_party: str = PARTY
    courier: str = Field(min_length=1, max_length=100)
    waybill: str = Field(min_length=1, max_length=64)
    container: str | None = Field(default=None, max_length=100, description="e.g. dry shipper")
    temp_min_c: float = Field(ge=-200, le=40, description="°C, the lowest allowed")
    temp_max_c: float = Field(ge=-200, le=40, description="°C, the highest allowed")
    manifest: list[ShipmentLine] = Field(min_length=1, max_length=50)
    invoice: list[ShipmentLine] = Field(min_length=1, max_length=50)
    expected_at: datetime | None = Field(default=None, description="when it should arrive")


class ShipmentReceivedData(MilestoneData):
    """A shipment arrived: its temperature log in summary, and customs."""

    shipment_id: str = SHIPMENT
    to_party: str = PARTY
    log_min_c: float = Field(ge=-273, le=100, description="°C, the lowest logged")
    log_max_c: float = Field(ge=-273, le=100, description="°C, the highest logged")
    minutes_outside: int = Field(ge=0, le=100_000, description="minutes outside the range")
    customs_cleared: bool


class QaDispositionData(MilestoneData):
    """QA's decision on a shipment whose temperature left its range."""

    shipment_id: str = SHIPMENT
    decision: Literal["accept", "reject"]
