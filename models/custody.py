"""The product's chain of custody and condition as the journey keeps and shows it (runs under
`CUSTODY`; the rules are `models/pathway/milestones/custody.py`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class CustodyLink(BaseModel):
    """One link of the product's chain of custody (runs under `CUSTODY`)."""

    kind: str  # custody_transferred, shipment_dispatched, shipment_received
    from_party: str
    to_party: str
    at: datetime
    location: str | None = None
    condition: str | None = None
    shipment_id: str | None = None
    recorded_by: str
    # Who took it, signing beside `recorded_by` (the giver), when both signed.
    received_by: str | None = None


class Shipment(BaseModel):
    """A shipment of the product: its range, and what its arrival showed."""

    shipment_id: str
    courier: str
    waybill: str
    temp_min_c: float
    temp_max_c: float
    dispatched_at: datetime
    expected_at: datetime | None = None
    received_at: datetime | None = None
    excursion: str | None = None  # what left the range, in words
    disposition: str | None = None  # accept or reject (QA)
    customs_cleared: bool | None = None
