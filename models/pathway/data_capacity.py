"""What the capacity milestones carry (runs under `CAPACITY`): the bookings the case store
granted, and the ones given back."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.capacity import BOOKING_ID, RESOURCE_ID, ResourceKind, check_span
from models.pathway.data import MilestoneData

BOOKING = Field(pattern=BOOKING_ID, description="the booking's id, as the case store gave it")
BookingId = Annotated[str, Field(pattern=BOOKING_ID)]


class SlotData(BaseModel):
    """One booking: on which site's resource, from which day to which (both included)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    booking_id: str = BOOKING
    site: str = Field(pattern=RESOURCE_ID)
    resource: str = Field(pattern=RESOURCE_ID)
    kind: ResourceKind
    start: date
    end: date
    chain: str | None = Field(default=None, pattern=RESOURCE_ID, description="its chain step")

    @model_validator(mode="after")
    def _span(self) -> SlotData:
        check_span(self.start, self.end)
        return self


class SlotBookedData(MilestoneData):
    """Bookings the case store granted to this journey, together (a chain, or one); those in
    `replaces` are given back in the same step (a chain moved)."""

    slots: list[SlotData] = Field(min_length=1, max_length=8)
    replaces: list[BookingId] = Field(default_factory=list, max_length=8)

    @model_validator(mode="after")
    def _distinct(self) -> SlotBookedData:
        ids = [s.booking_id for s in self.slots]
        if len(set(ids)) != len(ids):
            raise ValueError("each slot needs its own booking_id")
        return self


class SlotReleasedData(MilestoneData):
    """Bookings given back, and why."""

    booking_ids: list[BookingId] = Field(min_length=1, max_length=8)
    reason: str | None = Field(default=None, max_length=200)
