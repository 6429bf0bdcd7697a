"""Business-day arithmetic for SLAs counted in working days (docs/clinical-rules.md).

Why the calendar is *data*: public-holiday tables change when the `holidays` package is upgraded
(China publishes each year's schedule, with weekend "makeup" working days, only months ahead).
Computing them inside a workflow would make a replay after an upgrade disagree with history.
So an activity loads the table once per run (`load_business_calendar`) and the workflow keeps
it in its state; the arithmetic below is pure and deterministic given that table.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


class BusinessCalendar(BaseModel):
    """Working days of one country for a span of years, in one team's time zone.

    `holidays` are non-working weekdays; `workdays` are weekend days that are working days
    (China's adjusted "makeup" days). Outside `years` only weekends are known: a computation
    there treats every weekday as a working day and says so through `covers`.
    """

    model_config = ConfigDict(frozen=True)

    country: str
    timezone: str
    years: list[int]
    holidays: list[date] = []
    workdays: list[date] = []

    def covers(self, day: date) -> bool:
        """Whether the holiday table covers `day`'s year."""
        return day.year in self.years

    def is_business_day(self, day: date) -> bool:
        """A weekday that is not a public holiday, or a weekend day declared a working day."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The instant `days` business days after `start`, at the same local time of day.

        Counting starts on the next business day: Friday 10:00 + 1 business day is Monday 10:00
        (or later, across holidays). The result is in UTC.
        """
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        tz = ZoneInfo(self.timezone)
        local = start.astimezone(tz)
        day = local.date()
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        result = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
        return result.astimezone(ZoneInfo("UTC"))


def load_business_calendar(country: str, timezone: str, years: list[int]) -> BusinessCalendar:
    """Read the `holidays` package's table for `country` and `years` (called from an activity).

    Raises:
        ValueError: the country or time zone is unknown.
    """
    import holidays  # imported here: only activities and tests load holiday tables

    ZoneInfo(timezone)  # raises for an unknown zone, before anything is stored
    try:
        table = holidays.country_holidays(country, years=years)
    except NotImplementedError:
        raise ValueError(f"no holiday calendar for country {country!r}") from None
    non_working = sorted(d for d in table if d.weekday() < 5 and not table.is_working_day(d))
    weekend_workdays = sorted(
        d for d in getattr(table, "weekend_workdays", set()) if d.year in years
    )
    return BusinessCalendar(
        country=country,
        timezone=timezone,
        years=sorted(years),
        holidays=non_working,
        workdays=weekend_workdays,
    )
