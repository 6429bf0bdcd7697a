"""The program's measures (`cellpath.store.measures`): any member of staff reads them — they
are counts and durations over journeys, no patient's details — in the console (charts, each
with its table and a CSV) and from `cellpath report`."""

from __future__ import annotations

import csv
import io
import re

from cellpath.services.authority import authorise
from cellpath.services.base import Session, refusing
from cellpath.store.measures import By, Report, report, rows
from models.errors import RefusalCode
from models.roles import Action

QUARTER = re.compile(r"^(19|20)\d\dQ[1-4]$")


def measures(session: Session, *, by: str = "site", quarter: str | None = None) -> Report:
    """The measures for journeys taken in `quarter` (`2026Q4`; all when empty), by site,
    program or product; refused naming what was expected."""
    authorise(session, Action.READ, case="list")
    if by not in ("site", "program", "product"):
        raise refusing(
            "by: expected site, program or product, got {by}", RefusalCode.INVALID_DATA, by=repr(by)
        )
    quarter = (quarter or "").strip().upper() or None
    if quarter is not None and not QUARTER.match(quarter):
        raise refusing(
            "quarter: expected a year and a quarter like 2026Q4, got {quarter}",
            RefusalCode.INVALID_DATA,
            quarter=repr(quarter),
        )
    grouping: By = by  # type: ignore[assignment]
    return report(session.case_store(), by=grouping, quarter=quarter)


def as_csv(r: Report) -> str:
    """Every figure as CSV: quarter, group, measure, value, n (the tables' numbers)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["quarter", r.by, "measure", "value", "n"])
    writer.writeheader()
    writer.writerows(rows(r))
    return out.getvalue()
