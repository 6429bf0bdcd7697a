"""The family's calendar: an iCalendar file (`icalendar`) of their appointments and follow-up
deadlines, in their time zone (at the centre during treatment, at home once returned).

Each open deadline the family takes part in is an event at its due time with a reminder the
day before; times carry the zone's TZID and a VTIMEZONE that calendar programs read alike
(yearly rules, not comma-separated date lists), so a calendar shows the right wall time on
either side of a daylight-saving change, for as long as follow-up lasts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone

from models.messages import JourneyStatus

# Deadlines that are the family's (appointments, visits, restrictions); the others are the
# team's own work (PI review, registry reports, the hand-over itself).
FAMILY_DEADLINES: dict[str, str] = {
    "arrival": "Arrive at the treatment centre",
    "pretreatment_clearance": "Pre-treatment assessment at the centre",
    "apheresis": "Cell collection (apheresis)",
    "conditioning": "Conditioning chemotherapy",
    "infusion_window": "Cell infusion",
    "thaw_to_infusion": "Cell infusion",
    "observation": "Monitoring visit (observations)",
    "stay_near_centre": "Last day of the stay near the centre",
    "no_driving": "End of the no-driving period",
    "visa_extension": "Ask for the visa extension",
    "telemedicine": "Telemedicine visit with the home oncologist",
    "response_assessment": "Response assessment (CT/PET-CT, bone marrow)",
    "long_term_check_in": "Yearly long-term follow-up check-in",
}


# Where each event happens: at home (the home team's visits, the yearly check-in) or at the
# centre (the rest); each is written in its own place's zone, as the family will live it.
AT_HOME = frozenset({"telemedicine", "response_assessment", "long_term_check_in"})


def calendar(status: JourneyStatus, timezone: str, generated_at: datetime) -> bytes:
    """The family's calendar for one journey, as `.ics` bytes.

    `timezone` is the family's zone now (the calendar's default). Each event is written in
    the zone where it happens (`AT_HOME` at home, the rest at the centre), at whole minutes,
    with a UID per deadline (a rescheduled deadline moves its event, it does not add one), and
    each zone's VTIMEZONE spans every event (`vtimezone`).
    """
    cal = Calendar()
    cal.add("prodid", "-//cellpath//family calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Treatment calendar {status.case_id}")
    cal.add("x-wr-timezone", timezone)
    used: dict[str, list[datetime]] = {}
    for d in status.open_deadlines:
        title = FAMILY_DEADLINES.get(d.name)
        if title is None:
            continue
        where = status.home_timezone if d.name in AT_HOME else status.centre_timezone
        start = d.due_at.astimezone(ZoneInfo(where)).replace(second=0, microsecond=0)
        used.setdefault(where, []).append(start)
        event = Event()
        event.add("uid", f"{status.case_id}-{d.name}@cellpath")
        event.add("summary", title)
        event.add("dtstamp", generated_at)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(hours=1))
        event.add("description", f"Case {status.case_id}: {d.name.replace('_', ' ')}")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", title)
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
        cal.add_component(event)
    for tzid, starts in sorted(used.items()):
        first = min(starts).date() - timedelta(days=366)
        last = max(starts).date() + timedelta(days=366)
        cal.add_component(vtimezone(tzid, first, last))
    return cal.to_ical()


def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for `tzid` from `first` to `last`, written as calendar programs read it.

    `icalendar` lists each kind of transition as one RDATE with every date, comma-separated;
    vobject, ical.js and `ics` read only the first value, and then put winter in summer time.
    A transition that recurs on a rule (the last Sunday of March, the second Sunday of March)
    is written as that yearly RRULE instead, as calendar servers write them; one that does not
    is written as one RDATE per date.
    """
    tz = Timezone.from_tzid(tzid, first_date=first, last_date=last)
    for sub in tz.subcomponents:
        rdates = sub.get("RDATE")
        if rdates is None:
            continue
        lists = rdates if isinstance(rdates, list) else [rdates]
        times = sorted([sub.get("DTSTART").dt, *(d.dt for dl in lists for d in dl.dts)])
        del sub["RDATE"]
        rule = _yearly_rule(times)
        if rule is not None:
            sub.add("rrule", rule)
        else:
            for t in times[1:]:
                sub.add("rdate", t)
    return tz


def _yearly_rule(times: list[datetime]) -> dict[str, object] | None:
    """The yearly rule every one of `times` follows (same month, weekday, time of day and
    n-th or last such weekday of the month, one a year), or None."""
    if len(times) < 2:
        return None
    first = times[0]
    if any(
        (t.month, t.weekday(), t.time()) != (first.month, first.weekday(), first.time())
        or t.year != first.year + i
        for i, t in enumerate(times)
    ):
        return None
    day = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[first.weekday()]
    if all((t + timedelta(days=7)).month != t.month for t in times):
        return {"freq": "yearly", "bymonth": first.month, "byday": f"-1{day}"}
    nth = {(t.day - 1) // 7 + 1 for t in times}
    if len(nth) == 1:
        return {"freq": "yearly", "bymonth": first.month, "byday": f"{nth.pop()}{day}"}
    return None
