"""A site's scarce resources and the bookings journeys hold on them (issue 29, item 2).

Pure: what a resource is (its capacity per day or per week, its opening days), which units of
use a booking takes, and the chain of bookings a protocol's lead times lay out from one date.
Who wins the last slot is decided by the case store (`cellpath.store.capacity`, one
transaction under the resource's row lock); the journey records what was booked
(`slot_booked`, `slot_released`, runs under `CAPACITY`) and releases it when it closes.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.enums import CellSource
from models.protocol import ProtocolConfig

RESOURCE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
BOOKING_ID = r"^[A-Za-z0-9._-]{1,64}$"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead the next free slot is looked for, and a booking may reach.
HORIZON_DAYS = 400
# The longest booking (a bed through monitoring is the long one).
MAX_BOOKING_DAYS = 120


class ResourceKind(StrEnum):
    """What a site has few of."""

    APHERESIS = "apheresis"  # chairs, per day
    MANUFACTURING = "manufacturing"  # manufacturing starts, per week (per product)
    BED = "bed"  # ward beds, per night
    ICU_BED = "icu_bed"  # ICU beds, per night


Per = Literal["day", "week"]
# The usual unit of each kind (a resource may say otherwise).
DEFAULT_PER: dict[ResourceKind, Per] = {
    ResourceKind.APHERESIS: "day",
    ResourceKind.MANUFACTURING: "week",
    ResourceKind.BED: "day",
    ResourceKind.ICU_BED: "day",
}


def parse_days(text: str) -> tuple[str, ...]:
    """Opening days from `mon-fri`, `mon,wed,fri`, `all` or `mon-sun`; refuses what is not."""
    text = text.strip().lower()
    if text in ("all", "every day", ""):
        return DAYS
    out: list[str] = []
    for part in re.split(r"[,\s]+", text):
        if "-" in part:
            a, _, b = part.partition("-")
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day range {part!r}; expected e.g. mon-fri")
            i, k = DAYS.index(a), DAYS.index(b)
            if k < i:
                raise ValueError(f"day range {part!r} runs backwards; expected e.g. mon-fri")
            out.extend(DAYS[i : k + 1])
        elif part in DAYS:
            out.append(part)
        else:
            raise ValueError(f"unknown day {part!r}; expected one of {', '.join(DAYS)}")
    return tuple(d for d in DAYS if d in out)


class ResourceSpec(BaseModel):
    """A site's resource: how many can be in use per unit (day or week) and when it is open.

    `holidays` is a country whose public holidays close it (the `holidays` package, read by
    the service); `closed` are further closed dates (a ward's maintenance, a chair's repair).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(pattern=RESOURCE_ID)
    resource: str = Field(pattern=RESOURCE_ID, description="e.g. apheresis, beds-ward-7")
    kind: ResourceKind
    capacity: int = Field(ge=1, le=1000, description="how many per day (or per week)")
    per: Per | None = None
    open_days: tuple[str, ...] = DAYS
    holidays: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="e.g. CN")
    closed: list[date] = Field(default_factory=list, max_length=366)
    # Manufacturing slots are per product (e.g. car-t-cd19); empty: any product.
    product: str | None = Field(default=None, pattern=RESOURCE_ID)

    @field_validator("open_days", mode="before")
    @classmethod
    def _days(cls, v: object) -> object:
        return parse_days(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _settle(self) -> ResourceSpec:
        if self.per is None:
            self.per = DEFAULT_PER[self.kind]
        if not self.open_days or any(d not in DAYS for d in self.open_days):
            raise ValueError(f"open_days must name days among {', '.join(DAYS)}")
        return self

    @property
    def unit(self) -> Per:
        """Day or week."""
        return self.per or DEFAULT_PER[self.kind]

    def closed_on(self, day: date, holidays: frozenset[date] = frozenset()) -> bool:
        """Whether the resource is closed that day (not an opening day, a holiday, closed)."""
        return DAYS[day.weekday()] not in self.open_days or day in holidays or day in self.closed

    def units(self, start: date, end: date) -> list[date]:
        """The units a booking from `start` to `end` (both included) takes: each day, or for a
        weekly resource the Monday of the week it starts in (a manufacturing start)."""
        if self.unit == "week":
            return [start - timedelta(days=start.weekday())]
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]

    def check_open(self, start: date, end: date, holidays: frozenset[date]) -> None:
        """Raise ValueError naming the first closed day a booking falls on."""
        days = [start] if self.unit == "week" else self.units(start, end)
        for day in days:
            if self.closed_on(day, holidays):
                why = (
                    "a public holiday"
                    if day in holidays
                    else "closed"
                    if day in self.closed
                    else f"not an opening day ({'-'.join((self.open_days[0], self.open_days[-1]))})"
                )
                raise ValueError(f"{self.resource} is closed on {day:%a %Y-%m-%d}: {why}")


def check_span(start: date, end: date) -> None:
    """Raise ValueError unless `end` is on or after `start` and the span is bounded."""
    if end < start:
        raise ValueError(f"the booking ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > MAX_BOOKING_DAYS:
        raise ValueError(f"a booking lasts at most {MAX_BOOKING_DAYS} days")


class Booking(BaseModel):
    """A booking a journey holds (or held) on a site's resource (runs under `CAPACITY`)."""

    booking_id: str
    site: str
    resource: str
    kind: ResourceKind
    start: date
    end: date
    chain: str | None = None  # the chain step it was booked for (bed_at_arrival, apheresis…)
    booked_by: str
    booked_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        """Whether the booking still holds its slot."""
        return self.released_at is None


class ChainStep(BaseModel):
    """One booking of a chain: which kind of resource, how many days after the chain's first
    day it starts, and for how many days."""

    model_config = ConfigDict(frozen=True)

    step: str
    kind: ResourceKind
    offset_days: int
    days: int


def chain_for(protocol: ProtocolConfig, cell_source: CellSource) -> list[ChainStep]:
    """The chain a journey books together, from its protocol's lead times.

    Autologous: a bed at arrival for the pre-treatment assessment, the apheresis chair the day
    it is cleared, a manufacturing start that week, and the bed from the day before
    conditioning (timed so the product is released as it ends) through the daily monitoring.
    Off the shelf: the bed at arrival, then the bed for conditioning through monitoring.
    """
    cleared = protocol.pretreatment_clearance_days
    stay = protocol.conditioning_days + 1 + protocol.daily_monitoring_days + 1
    if cell_source is CellSource.ALLOGENEIC:
        return [
            ChainStep(step="bed_at_arrival", kind=ResourceKind.BED, offset_days=0, days=cleared),
            ChainStep(step="conditioning", kind=ResourceKind.BED, offset_days=cleared, days=stay),
        ]
    made = cleared + protocol.manufacturing_expected_days
    return [
        ChainStep(step="bed_at_arrival", kind=ResourceKind.BED, offset_days=0, days=cleared),
        ChainStep(step="apheresis", kind=ResourceKind.APHERESIS, offset_days=cleared, days=1),
        ChainStep(
            step="manufacturing",
            kind=ResourceKind.MANUFACTURING,
            offset_days=cleared,
            days=protocol.manufacturing_expected_days,
        ),
        ChainStep(
            step="conditioning",
            kind=ResourceKind.BED,
            offset_days=made - protocol.conditioning_days - 1,
            days=stay,
        ),
    ]


def chain_dates(steps: list[ChainStep], first: date) -> list[tuple[ChainStep, date, date]]:
    """Each step's first and last day when the chain starts on `first`."""
    out = []
    for s in steps:
        start = first + timedelta(days=s.offset_days)
        out.append((s, start, start + timedelta(days=s.days - 1)))
    return out
