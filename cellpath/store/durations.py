"""A site's own durations of each pathway step, from its closed journeys' audit log: what the
projected schedule uses once a site has enough history (`models.pathway.projection`).

For each step, the days from the step before it (in that journey's own order of steps, by its
product) to it: their median and 80th percentile, over the site's closed journeys that
recorded both. A step needs `SITE_MINIMUM` journeys before it is used.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from statistics import median, quantiles

from sqlmodel import col, select

from cellpath.store import CaseStore
from cellpath.store.tables import AuditRow, JourneyRow
from models.enums import CellSource, Phase, milestone_action
from models.pathway.projection import SITE_MINIMUM, SiteDurations, steps_for


def site_durations(store: CaseStore, site: str, cell_source: CellSource) -> SiteDurations:
    """The site's median and 80th percentile of each step (days after the one before), from
    its closed journeys with this kind of product; steps with too few journeys are left out."""
    kinds = [s.kind for s in steps_for(cell_source)]
    actions = {milestone_action(k): k for k in kinds}
    with store.session() as s:
        closed = select(JourneyRow.case_id).where(
            JourneyRow.site == site,
            JourneyRow.phase == Phase.CLOSED.value,
            JourneyRow.cell_source == cell_source.value,
        )
        rows = s.exec(
            select(AuditRow.case_id, AuditRow.action, AuditRow.occurred_at).where(
                col(AuditRow.case_id).in_(closed), col(AuditRow.action).in_(list(actions))
            )
        ).all()
    when: dict[str, dict[str, object]] = defaultdict(dict)
    for case_id, action, at in rows:
        when[case_id].setdefault(actions[action], at)  # the first time each was recorded
    spans: dict[str, list[float]] = defaultdict(list)
    for steps in when.values():
        for before, kind in pairwise(kinds):
            a, b = steps.get(before), steps.get(kind)
            if a is not None and b is not None:
                spans[kind].append((b - a).total_seconds() / 86400)  # type: ignore[operator]
    out: SiteDurations = {}
    for kind, days in spans.items():
        if len(days) >= SITE_MINIMUM:
            p80 = quantiles(days, n=5, method="inclusive")[3]
            out[kind] = (round(median(days), 2), round(p80, 2))
    return out
