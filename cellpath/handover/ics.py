"""The family's calendar: an iCalendar file (`icalendar`) of their appointments and follow-up
deadlines, in their time zone (at the centre during treatment, at home once returned).

Each open deadline the family takes part in is an event at its due time with a reminder the
day before; times carry the zone's TZID and a VTIMEZONE, so a calendar shows the right wall
time on either side of a daylight-saving change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event

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


def calendar(status: JourneyStatus, timezone: str, generated_at: datetime) -> bytes:
    """The family's calendar for one journey, as `.ics` bytes."""
    zone = ZoneInfo(timezone)
    cal = Calendar()
    cal.add("prodid", "-//cellpath//family calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Treatment calendar {status.case_id}")
    cal.add("x-wr-timezone", timezone)
    for d in status.open_deadlines:
        title = FAMILY_DEADLINES.get(d.name)
        if title is None:
            continue
        start = d.due_at.astimezone(zone)
        event = Event()
        event.add("uid", f"{status.case_id}-{d.name}-{d.due_at:%Y%m%dT%H%M%SZ}@cellpath")
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
    cal.add_missing_timezones()
    return cal.to_ical()
