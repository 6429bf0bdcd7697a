"""Journeys under the bounded-floods patch take only what can be read one way: who sent a
message is an identifier, times are ISO text within 1970–2200. Earlier journeys answer as
they did (their histories replay the same)."""

from __future__ import annotations

from datetime import datetime

import pytest

from models import bounds
from models.errors import RefusalCode, Refused
from tests.builders import Case

HOSTILE_ACTORS = [
    "coord-a\u200b",  # invisible
    "\u200d",
    "coord\u202eb",  # bidirectional override
    "<img src=x onerror=alert(1)>",
    "Coord-A",  # not as registered
    "dr li",
    "🩺",
    "a" * 65,
]


@pytest.mark.parametrize("actor", HOSTILE_ACTORS)
def test_a_strict_journey_refuses_an_actor_that_is_not_an_identifier(actor: str) -> None:
    c = Case()
    c.j.strict_ids = True
    msg = c.refused("record_received", "actor", record_type="labs", actor=actor)
    assert "identifier" in msg or "control" in msg or "characters" in msg


def test_nfkc_makes_look_alike_digits_plain_and_earlier_journeys_answer_as_before() -> None:
    assert bounds.actor_id("coord-\uff11") == "coord-1"  # a full-width digit one
    c = Case()
    c.record("record_received", record_type="labs", actor="Coord-A")  # not strict: as before
    c.j.strict_ids = True
    c.record("record_received", record_type="imaging", actor="coord-a")


def test_one_time_range_for_strict_journeys() -> None:
    c = Case()
    c.j.strict_ids = True
    with pytest.raises(Refused, match="between 1970 and 2200") as e:
        bounds.check_instant(datetime.fromisoformat("2300-01-01T00:00+00:00"), "at", strict=True)
    assert e.value.code is RefusalCode.INVALID_TIME
    bounds.check_instant(datetime.fromisoformat("2300-01-01T00:00+00:00"), "at")  # not strict


@pytest.mark.parametrize("value", [1798761600, "1798761600", " 1798761600.5 ", 1.7e9, True])
def test_a_number_is_not_taken_for_a_time(value: object) -> None:
    with pytest.raises(Refused, match="is a number; expected an ISO 8601 time"):
        bounds.check_times_are_text({"occurred_at": value}, "milestone")
    bounds.check_times_are_text({"occurred_at": "2026-12-01T10:00+08:00", "note": "42"}, "m")
