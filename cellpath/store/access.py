"""Who is in a case's care team, in the case store: what the rule needs to know about a case
and a person, who covers a case, and break-the-glass grants.

The rule itself is pure (`models.roles.check_care_team`); the services ask it on every case
action (`cellpath.services.authority`). Every change here is audited on the case.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from cellpath.store import CaseStore
from cellpath.store.rows import _audit_row
from cellpath.store.tables import BreakGlass, CaseCover, JourneyRow, RoleAssignment
from models.enums import AuditAction
from models.errors import CaseStoreError
from models.roles import CareTeamFacts, CaseFacts


def _now() -> datetime:
    return datetime.now(UTC)


class CareTeams:
    """Care-team facts and changes for the services (one store, short sessions)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def case(self, case_id: str) -> CaseFacts | None:
        """The case's coordinator, site and program (from its projection); None when the
        store does not know the case."""
        with self.store.session() as s:
            row = s.get(JourneyRow, case_id)
        if row is None:
            return None
        return CaseFacts(
            case_id=case_id, coordinator=row.coordinator, site=row.site, program=row.program
        )

    def facts(self, case: CaseFacts, actor: str, now: datetime | None = None) -> CareTeamFacts:
        """What ties `actor` to `case`: their sites, cover, an open break-glass grant, and the
        recipient roles they hold that this case's notifications reach."""
        now = now or _now()
        with self.store.session() as s:
            member = self.store.member(actor)
            covering = (
                s.exec(
                    select(CaseCover).where(
                        CaseCover.case_id == case.case_id, CaseCover.actor == actor
                    )
                ).first()
                is not None
            )
            glass = s.exec(
                select(BreakGlass).where(
                    BreakGlass.case_id == case.case_id,
                    BreakGlass.actor == actor,
                    BreakGlass.expires_at > now,
                )
            ).first()
            assignments = s.exec(select(RoleAssignment).where(RoleAssignment.actor == actor)).all()
        paged = any(
            (a.site is None or a.site == case.site)
            and (a.program is None or a.program == case.program)
            and (a.valid_until is None or a.valid_until > now)
            for a in assignments
        )
        return CareTeamFacts(
            sites=list(member.sites) if member is not None else [],
            covering=covering,
            paged=paged,
            glass_until=glass.expires_at if glass is not None else None,
        )

    def covering(self, case_id: str) -> list[CaseCover]:
        """Who covers the case, in the order they were added."""
        with self.store.session() as s:
            rows = s.exec(select(CaseCover).where(CaseCover.case_id == case_id)).all()
        return sorted(rows, key=lambda r: (r.added_at, r.actor))

    def add(self, case_id: str, actor: str, *, by: str) -> bool:
        """Add `actor` to the case's care team; False when they were in it already. Audited."""
        now = _now()
        try:
            with self.store.session() as s:
                s.add(CaseCover(case_id=case_id, actor=actor, added_by=by, added_at=now))
                s.flush()
                detail = {"added": actor}
                s.add(_audit_row(case_id, AuditAction.CARE_TEAM_CHANGED, by, now, detail))
        except IntegrityError:
            return False
        return True

    def remove(self, case_id: str, actor: str, *, by: str) -> None:
        """Take `actor` off the case's care team (their cover only). Audited.

        Raises:
            CaseStoreError: they do not cover the case.
        """
        now = _now()
        with self.store.session() as s:
            row = s.exec(
                select(CaseCover).where(CaseCover.case_id == case_id, CaseCover.actor == actor)
            ).first()
            if row is None:
                raise CaseStoreError(f"{actor!r} does not cover case {case_id}; nothing to remove")
            s.delete(row)
            detail = {"removed": actor}
            s.add(_audit_row(case_id, AuditAction.CARE_TEAM_CHANGED, by, now, detail))

    def break_glass(self, case_id: str, actor: str, reason: str, hours: float) -> BreakGlass:
        """Grant `actor` emergency access to the case for `hours`; audited `break_glass`."""
        now = _now()
        grant = BreakGlass(
            case_id=case_id,
            actor=actor,
            reason=reason,
            granted_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        with self.store.session() as s:
            s.add(grant)
            detail = {"until": grant.expires_at.isoformat(), "hours": hours}
            s.add(_audit_row(case_id, AuditAction.BREAK_GLASS, actor, now, detail, reason))
        return grant
