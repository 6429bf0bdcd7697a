"""The board across patients: what happens when — arrivals, apheresis, the product's release,
conditioning, infusions, discharges, telemedicine — a week or a month at a time, per site and
per coordinator, from the case store's schedule (each journey's steps done and expected,
written with its every write; `models.pathway.projection.schedule`). Never from Temporal.

The scope is the worklist's: a coordinator's own cases, a physician's or nurse's sites', or
every case. Patients' names only for their care team, each look audited (`caseload.name_rows`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from cellpath.services import caseload
from cellpath.services.authority import authorise
from cellpath.services.base import Session
from cellpath.services.casefile import JourneyRow
from cellpath.store.access import Board
from models.roles import Action

# The steps a board shows (what a centre plans its days around).
ON_THE_BOARD = (
    "patient_arrived",
    "apheresis_completed",
    "product_released",
    "conditioning_started",
    "infusion_completed",
    "discharged",
    "returned_home",
    "telemedicine_completed",
    "response_assessed",
)

# The most items one board shows (a month of a large network's every case is more than a page
# can hold, or a person read; the view says where it stops).
LIMIT = 2000


class BoardItem(BaseModel):
    """One step of one case on one day."""

    day: date
    step: str
    done: bool
    basis: str
    latest: datetime
    case: JourneyRow


class BoardView(BaseModel):
    """A span of days and what happens on each."""

    first: date
    days: list[date]
    view: Literal["week", "month"]
    scope: str
    items: dict[date, list[BoardItem]] = Field(default_factory=dict)
    timezone: str = "UTC"
    # Set when more than `LIMIT` items fell in the span: the day after which the board shows
    # nothing more (a site or coordinator filter narrows it).
    cut_short: date | None = None


def span(anchor: date, view: Literal["week", "month"]) -> list[date]:
    """The days a view shows: the week (Monday first) of `anchor`, or the whole weeks that
    cover its month."""
    if view == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return [monday + timedelta(days=i) for i in range(7)]
    first = anchor.replace(day=1)
    start = first - timedelta(days=first.weekday())
    nxt = (first + timedelta(days=32)).replace(day=1)
    end = nxt + timedelta(days=(7 - nxt.weekday()) % 7)
    return [start + timedelta(days=i) for i in range((end - start).days)]


def board(
    session: Session,
    anchor: date,
    view: Literal["week", "month"] = "week",
    *,
    site: str | None = None,
    coordinator: str | None = None,
) -> BoardView:
    """What happens on each day of the week (or month) of `anchor`, in the reader's scope."""
    authorise(session, Action.READ, case="list")
    scope, own, sites = caseload.scope(session, coordinator)
    if own and coordinator and coordinator != own:
        coordinator = "\x00"  # another coordinator's filter on one's own board shows nothing
    days = span(anchor, view)
    tz = caseload.viewer_timezone(session)
    first = datetime.combine(days[0], time(), UTC) - timedelta(hours=14)
    last = datetime.combine(days[-1], time(), UTC) + timedelta(days=1, hours=14)
    rows = Board(session.case_store()).between(
        first,
        last,
        steps=ON_THE_BOARD,
        coordinator=coordinator or own,
        sites=sites or None,
        site=site,
        limit=LIMIT + 1,
    )
    if len(rows) > LIMIT:
        rows = rows[:LIMIT]
        cut = rows[-1][0].at.astimezone(UTC).date()
    else:
        cut = None
    view_ = BoardView(first=days[0], days=days, view=view, scope=scope, timezone=tz, cut_short=cut)
    cases: dict[str, JourneyRow] = {}
    try:
        here = ZoneInfo(tz)  # the reader's zone decides the day
    except (ZoneInfoNotFoundError, ValueError):
        here = ZoneInfo("UTC")
    for step, journey in rows:
        day = step.at.astimezone(here).date()
        if day < days[0] or day > days[-1]:
            continue
        case = cases.setdefault(journey.case_id, caseload.row_of_projection(journey))
        view_.items.setdefault(day, []).append(
            BoardItem(
                day=day,
                step=step.step,
                done=step.done_at is not None,
                basis=step.basis,
                latest=step.latest,
                case=case,
            )
        )
    caseload.name_rows(session, list(cases.values()), via="board")
    return view_
