"""Open alerts as worklists read them, from the journeys' projections: counted by severity,
and the cases a critical or urgent alert puts on top (visibility has no attribute for them)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import select

from cellpath.store import CaseStore
from cellpath.store.tables import JourneyRow


class AlertCounts(BaseModel):
    """A case's open (unacknowledged, unresolved) alerts by severity: the worklist's badges.
    `other`: warnings and information."""

    critical: int = 0
    urgent: int = 0
    other: int = 0


class OpenAlerts:
    """The case store's open alerts, for worklists."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def open_alerts(self, case_ids: Sequence[str]) -> dict[str, AlertCounts]:
        """Open alerts of these cases by severity, from their projections (cases with none
        are left out)."""
        if not case_ids:
            return {}
        with self.store.session() as s:
            rows = s.exec(
                select(
                    JourneyRow.case_id,
                    JourneyRow.open_alerts,
                    JourneyRow.critical_alerts,
                    JourneyRow.urgent_alerts,
                ).where(
                    sa.and_(
                        JourneyRow.case_id.in_(list(case_ids)),  # type: ignore[attr-defined]
                        JourneyRow.open_alerts > 0,
                    )
                )
            ).all()
        return {
            case: AlertCounts(critical=c, urgent=u, other=max(total - c - u, 0))
            for case, total, c, u in rows
        }

    def alerting(
        self,
        *,
        coordinator: str | None = None,
        sites: Sequence[str] = (),
        phase: str | None = None,
        site: str | None = None,
        program: str | None = None,
        limit: int = 100,
    ) -> list[JourneyRow]:
        """Open journeys with an unacknowledged critical or urgent alert, in a worklist's scope
        (its coordinator, its sites) and filters: most critical first, then most urgent."""
        terms = [
            sa.or_(JourneyRow.critical_alerts > 0, JourneyRow.urgent_alerts > 0),
            JourneyRow.phase != "closed",
        ]
        if coordinator:
            terms.append(JourneyRow.coordinator == coordinator)
        if sites:
            terms.append(JourneyRow.site.in_(list(sites)))  # type: ignore[union-attr]
        if site:
            terms.append(JourneyRow.site == site)
        if phase:
            terms.append(JourneyRow.phase == phase)
        if program:
            terms.append(JourneyRow.program == program)
        with self.store.session() as s:
            rows = s.exec(
                select(JourneyRow)
                .where(sa.and_(*terms))
                .order_by(
                    JourneyRow.critical_alerts.desc(),  # type: ignore[attr-defined]
                    JourneyRow.urgent_alerts.desc(),  # type: ignore[attr-defined]
                    JourneyRow.case_id,
                )
                .limit(limit)
            ).all()
            return list(rows)
