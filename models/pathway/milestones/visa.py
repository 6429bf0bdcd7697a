"""The visa while the patient is in the country: does it cover the expected stay, and its
extension (asked for `visa_extension_days_before` the end, recorded as `visa_extended`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import AlertKind, DeadlineName, MilestoneKind, Phase, Severity
from models.errors import RefusalCode, refused
from models.pathway import alerts, deadlines
from models.pathway.data import ValidUntilData
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey

ONE_DAY = timedelta(days=1)

IN_COUNTRY = (
    Phase.ARRIVAL,
    Phase.COLLECTION,
    Phase.MANUFACTURING,
    Phase.CONDITIONING,
    Phase.INFUSION,
    Phase.MONITORING,
    Phase.FOLLOW_UP,
)


def stay_needs_visa_until(j: Journey, at: datetime) -> tuple[date, int, date]:
    """When the stay starts, how many days it lasts, and until when a visa must be valid."""
    start = j.state.arrival_date or at.date()
    days = j.protocol.expected_stay_days(j.facts.cell_source)
    return start, days, start + timedelta(days=days)


def check_covers_stay(j: Journey, at: datetime, now: datetime) -> None:
    """Warn the coordinator once when the visa ends before the expected stay does."""
    s = j.state
    if s.visa_valid_until is None:
        return
    start, days, needed = stay_needs_visa_until(j, at)
    already = any(a.kind == AlertKind.VISA_VALIDITY_SHORT and a.open for a in s.alerts)
    if s.visa_valid_until < needed and not already:
        j.raise_alert(
            AlertKind.VISA_VALIDITY_SHORT,
            Severity.WARNING,
            now,
            f"Visa valid until {s.visa_valid_until} is shorter than the expected stay: "
            f"{days} days from {start} need validity until {needed}",
        )


def resolve_warning(j: Journey, now: datetime) -> None:
    """A visa extension that covers the expected stay resolves the short-validity warning."""
    valid = j.state.visa_valid_until
    _, _, needed = stay_needs_visa_until(j, j.state.arrived_at or now)
    if valid is None or valid < needed:
        return
    alerts.resolve(
        j,
        AlertKind.VISA_VALIDITY_SHORT,
        now,
        f"visa extended until {valid}, which covers the expected stay (until {needed})",
    )


@rule
class VisaExtended(MilestoneRule[ValidUntilData]):
    """The visa is extended (between arrival and the return home) to a later date."""

    kind = MilestoneKind.VISA_EXTENDED
    phases = IN_COUNTRY
    data = ValidUntilData

    def awaited(self, j: Journey) -> bool:
        return j.state.arrived_at is not None and not j.state.returned_home

    def optional(self, j: Journey) -> bool:
        return True

    def check(self, j: Journey, a: Accepted[ValidUntilData]) -> None:
        s = j.state
        if s.arrived_at is None or s.returned_home:
            raise refused(
                "a visa extension applies between arrival and return home",
                RefusalCode.PATHWAY_RULE,
            )
        if s.visa_valid_until is not None and a.data.valid_until <= s.visa_valid_until:
            raise refused(
                "valid_until {day} is not later than the current visa's {current}; expected a "
                "later date",
                RefusalCode.INVALID_DATA,
                day=a.data.valid_until,
                current=s.visa_valid_until,
            )

    def apply(self, j: Journey, a: Accepted[ValidUntilData], now: datetime) -> None:
        j.state.visa_valid_until = a.data.valid_until
        j.met(DeadlineName.VISA_EXTENSION, at=a.occurred_at, now=now)
        deadlines.open_visa_extension(j, now)
        if j.v3:
            resolve_warning(j, now)
