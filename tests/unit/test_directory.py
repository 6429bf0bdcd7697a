"""The directory's rules, pure: contact checks, the most specific assignment, rota gaps, quiet
hours in the recipient's own zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from models.directory import (
    AssignedRole,
    Assignment,
    AssignmentInput,
    ContactInput,
    held_for_quiet_hours,
    most_specific,
    quiet_until,
    rota_gaps,
)
from models.enums import Severity

T = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("email", "nobody", "email: not an e-mail address"),
        ("phone", "0123", "phone: expected an international number"),
        ("timezone", "Mars/Olympus", "timezone: unknown time zone"),
        ("quiet_hours", "22-07", "quiet_hours: expected HH:MM-HH:MM"),
        ("quiet_hours", "25:00-07:00", "quiet_hours"),
        ("language", "English", "language: expected a language code"),
        ("urls", ["not a url"], "url: expected an Apprise URL"),
    ],
)
def test_a_contact_is_refused_naming_the_field(field: str, value: object, says: str):
    with pytest.raises(ValidationError, match=says):
        ContactInput.model_validate({"actor": "dr-1", field: value})


def test_a_phone_is_kept_in_international_form():
    assert ContactInput(actor="a", phone="+44 7700 900-123").phone == "+447700900123"


def test_an_assignment_needs_a_range_with_offsets_and_on_call_a_site():
    with pytest.raises(ValidationError, match="site"):
        AssignmentInput(role=AssignedRole.ON_CALL, actor="dr")
    with pytest.raises(ValidationError, match="valid_until: must be after"):
        AssignmentInput(role="medical_director", actor="dr", valid_from=T, valid_until=T)
    with pytest.raises(ValidationError, match="UTC offset"):
        AssignmentInput(role="medical_director", actor="dr", valid_from=datetime(2026, 1, 1))


def a(role: str, actor: str, **kw: object) -> Assignment:
    return Assignment(role=AssignedRole(role), actor=actor, **kw)


def test_the_most_specific_assignment_wins():
    rows = [
        a("lead_coordinator", "everywhere"),
        a("lead_coordinator", "trials", program="trial"),
        a("lead_coordinator", "site-a", site="site-a"),
        a("lead_coordinator", "site-a-trials", site="site-a", program="trial"),
        a("lead_coordinator", "expired", site="site-a", program="trial", valid_until=T),
    ]
    role = AssignedRole.LEAD_COORDINATOR
    assert most_specific(rows, role, site="site-a", program="trial", at=T) == ["site-a-trials"]
    assert most_specific(rows, role, site="site-a", program="hospital", at=T) == ["site-a"]
    assert most_specific(rows, role, site="site-b", program="trial", at=T) == ["trials"]
    assert most_specific(rows, role, site="site-b", program="hospital", at=T) == ["everywhere"]
    assert most_specific(rows, AssignedRole.MEDICAL_DIRECTOR, site=None, program=None, at=T) == []


def test_rota_gaps_and_overlaps():
    h = timedelta(hours=1)
    day = [
        a("on_call", "dr-1", site="s", valid_from=T, valid_until=T + 8 * h),
        a("on_call", "dr-2", site="s", valid_from=T + 10 * h, valid_until=T + 20 * h),
    ]
    assert rota_gaps(day, T, T + 24 * h) == [(T + 8 * h, T + 10 * h), (T + 20 * h, T + 24 * h)]
    assert rota_gaps([], T, T + h) == [(T, T + h)]
    assert day[0].overlaps(a("on_call", "x", site="s", valid_from=T + 7 * h))
    assert not day[0].overlaps(a("on_call", "x", site="s", valid_from=T + 8 * h))
    # By instant, not wall time: 16:00 at -05:00 is 21:00 UTC, after dr-1's entry ends (20:00
    # UTC); read as a wall time it would fall inside it.
    later = (T + 9 * h).astimezone(timezone(timedelta(hours=-5)))
    assert f"{later:%H:%M}" == "16:00"
    assert not day[0].overlaps(a("on_call", "x", site="s", valid_from=later))
    assert day[0].overlaps(a("on_call", "x", site="s", valid_until=later - 2 * h))


def test_quiet_hours_end_in_the_recipients_morning_and_never_hold_an_urgent_alert():
    # 23:00 in Shanghai (15:00 UTC): held until 07:00 Shanghai the next day (23:00 UTC).
    late = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    until = quiet_until("22:00-07:00", "Asia/Shanghai", late)
    assert until is not None and until.astimezone(UTC) == datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    # 06:00 Shanghai: held until 07:00 the same day.
    early = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    assert quiet_until("22:00-07:00", "Asia/Shanghai", early).astimezone(UTC) == early + timedelta(
        hours=1
    )
    assert quiet_until("22:00-07:00", "Asia/Shanghai", T) is None  # 20:00 in Shanghai
    assert quiet_until(None, "UTC", late) is None
    assert held_for_quiet_hours(Severity.INFO) and held_for_quiet_hours(Severity.WARNING)
    assert not held_for_quiet_hours(Severity.URGENT)
    assert not held_for_quiet_hours(Severity.CRITICAL)
