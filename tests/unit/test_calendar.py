"""Business days: weekends, Chinese public holidays and makeup working days, local time."""

from datetime import UTC, datetime

import pytest

from models.calendar import BusinessCalendar, load_business_calendar

CN = load_business_calendar("CN", "Asia/Shanghai", [2026, 2027])


def shanghai(y: int, m: int, d: int, h: int = 10) -> datetime:
    """`h` o'clock in Shanghai (UTC+8, no DST) as UTC."""
    return datetime(y, m, d, h - 8, tzinfo=UTC)


def test_friday_plus_one_business_day_is_monday_same_local_time():
    assert CN.add_business_days(shanghai(2026, 11, 20), 1) == shanghai(2026, 11, 23)


def test_five_business_days_skip_a_weekend():
    # Wed 2026-11-18 + 5 → Wed 2026-11-25
    assert CN.add_business_days(shanghai(2026, 11, 18), 5) == shanghai(2026, 11, 25)


def test_golden_week_and_its_makeup_saturday():
    # Oct 1–7 are holidays; Sat Oct 10 is a working day; Sep 30 + 5 → Tue Oct 13.
    assert not CN.is_business_day(datetime(2026, 10, 5).date())
    assert CN.is_business_day(datetime(2026, 10, 10).date())
    assert CN.add_business_days(shanghai(2026, 9, 30), 5) == shanghai(2026, 10, 13)


def test_spring_festival_2027():
    # Spring Festival 2027 is Sat Feb 6; the package's table has Feb 5–10 off, Feb 11 working.
    # (2027's official schedule is not published yet: why the calendar is recorded as data.)
    assert not any(CN.is_business_day(datetime(2027, 2, d).date()) for d in range(5, 11))
    assert CN.is_business_day(datetime(2027, 2, 11).date())


def test_local_date_not_utc_date_decides_the_day():
    # 23:00 UTC Friday is already Saturday 07:00 in Shanghai: + 1 business day → Monday 07:00.
    start = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert CN.add_business_days(start, 1) == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


def test_naive_start_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CN.add_business_days(datetime(2026, 11, 20, 10), 1)


def test_unknown_country_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'XX'"):
        load_business_calendar("XX", "UTC", [2026])


def test_calendar_is_plain_data_that_round_trips():
    assert BusinessCalendar.model_validate_json(CN.model_dump_json()) == CN
