"""Who is in a case's care team, in the case store: what the rule needs to know about a case
and a person, who covers a case, and break-the-glass grants.

The rule itself is pure (`models.roles.check_care_team`); the services ask it on every case
action (`cellpath.services.authority`). Every change here is audited on the case.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.rows import _audit_row
from cellpath.store.search import fold
from cellpath.store.tables import (
    AuditRow,
    BreakGlass,
    Case,
    CaseCover,
    JourneyRow,
    Patient,
    RoleAssignment,
    ScheduleRow,
    StaffCover,
)
from models.enums import AuditAction
from models.errors import CaseStoreError, Refused
from models.roles import CareTeamFacts, CaseFacts, Role, check_care_team


def _now() -> datetime:
    return datetime.now(UTC)


def _colleagues_covered(s: Session, actor: str, now: datetime) -> set[str]:
    """The coordinators whose cases `actor` covers at `now` (`staff_cover`)."""
    return set(
        s.exec(
            select(StaffCover.absent).where(
                StaffCover.covering == actor,
                StaffCover.starts_at <= now,
                StaffCover.ends_at > now,
            )
        ).all()
    )


class Covers:
    """Coordinators covering colleagues for a period: in the care team of every case the
    colleague coordinates while it lasts, and their worklist may show the colleague's cases.
    Every change is audited with the staff's changes (`cellpath audit staff`)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def add(
        self, absent: str, covering: str, starts: datetime, ends: datetime, reason: str, *, by: str
    ) -> StaffCover:
        """`covering` covers `absent`'s cases from `starts` until `ends`."""
        now = _now()
        row = StaffCover(
            absent=absent,
            covering=covering,
            starts_at=starts,
            ends_at=ends,
            reason=reason,
            added_by=by,
            added_at=now,
        )
        with self.store.session() as s:
            s.add(row)
            s.flush()
            s.refresh(row)
            detail = {
                "cover": row.id,
                "absent": absent,
                "covering": covering,
                "from": starts.isoformat(),
                "until": ends.isoformat(),
            }
            s.add(_audit_row(STAFF_AUDIT, AuditAction.COVER_SET, by, now, detail, reason))
        return row

    def end(self, cover_id: int, *, by: str) -> StaffCover:
        """End a cover now (the colleague is back early).

        Raises:
            CaseStoreError: no such cover, or it has ended already.
        """
        now = _now()
        with self.store.session() as s:
            row = s.get(StaffCover, cover_id)
            if row is None or row.ends_at <= now:
                raise CaseStoreError(f"no cover {cover_id} in force; nothing to end")
            row.ends_at = max(now, row.starts_at)
            s.add(row)
            detail = {"cover": cover_id, "ended": row.ends_at.isoformat()}
            s.add(_audit_row(STAFF_AUDIT, AuditAction.COVER_SET, by, now, detail))
            s.flush()
            s.refresh(row)
            s.expunge(row)
        return row

    def current(self, now: datetime | None = None) -> list[StaffCover]:
        """Covers in force or ahead, soonest first."""
        now = now or _now()
        with self.store.session() as s:
            q = select(StaffCover).where(StaffCover.ends_at > now)
            rows = s.exec(q.order_by(col(StaffCover.starts_at))).all()
            for r in rows:
                s.expunge(r)
        return list(rows)

    def colleagues(self, actor: str, now: datetime | None = None) -> set[str]:
        """The coordinators whose cases `actor` covers now."""
        with self.store.session() as s:
            return _colleagues_covered(s, actor, now or _now())


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
            ) or case.coordinator in _colleagues_covered(s, actor, now)
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


class Identities:
    """Who the patients of many cases are, for the care team: one query for a page of them,
    and search by name, passport number or case id (`cellpath.store.search`)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def names(self, case_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """Each case's patient's name and nationality (erased: None), in one query."""
        if not case_ids:
            return {}
        with self.store.session() as s:
            rows = s.exec(
                select(Case.case_id, Patient.full_name, Patient.nationality)
                .join(Patient, col(Patient.patient_ref) == col(Case.patient_ref))
                .where(col(Case.case_id).in_(case_ids))
            ).all()
        return {case_id: (name, country) for case_id, name, country in rows}

    def search(self, text: str, limit: int = 50) -> list[JourneyRow]:
        """Journeys whose case id, patient's name or passport number matches `text` (folded:
        accents, case, spaces and script do not matter), newest first."""
        folded = fold(text)
        if not folded:
            return []
        with self.store.session() as s:
            rows = s.exec(
                select(JourneyRow)
                .join(Case, col(Case.case_id) == col(JourneyRow.case_id))
                .join(Patient, col(Patient.patient_ref) == col(Case.patient_ref))
                .where(
                    or_(
                        sa.func.lower(JourneyRow.case_id).contains(text.strip().lower()),
                        col(Patient.search_key).contains(folded),
                    )
                )
                .order_by(col(JourneyRow.updated_at).desc())
                .limit(limit)
            ).all()
        return list(rows)

    def viewed_since(self, actor: str, case_ids: list[str], since: datetime) -> set[str]:
        """Which of these cases' patients `actor` looked at since `since` (audited looks)."""
        if not case_ids:
            return set()
        with self.store.session() as s:
            return set(
                s.exec(
                    select(AuditRow.case_id).where(
                        AuditRow.actor == actor,
                        AuditRow.action == AuditAction.PATIENT_VIEWED.value,
                        col(AuditRow.case_id).in_(case_ids),
                        AuditRow.occurred_at >= since,
                    )
                ).all()
            )

    def in_care_team(
        self, actor: str, role: Role, rows: list[JourneyRow] | list[CaseFacts]
    ) -> set[str]:
        """Which of these cases `actor` is in the care team of (the rule of
        `models.roles.check_care_team`, from four queries whatever the number of cases)."""
        ids = [r.case_id for r in rows]
        if not ids:
            return set()
        now = _now()
        with self.store.session() as s:
            member = self.store.member(actor)
            covered = set(
                s.exec(
                    select(CaseCover.case_id).where(
                        CaseCover.actor == actor, col(CaseCover.case_id).in_(ids)
                    )
                ).all()
            )
            colleagues = _colleagues_covered(s, actor, now)
            covered |= {r.case_id for r in rows if r.coordinator in colleagues}
            glass = set(
                s.exec(
                    select(BreakGlass.case_id).where(
                        BreakGlass.actor == actor,
                        col(BreakGlass.case_id).in_(ids),
                        BreakGlass.expires_at > now,
                    )
                ).all()
            )
            assignments = s.exec(select(RoleAssignment).where(RoleAssignment.actor == actor)).all()
        sites = list(member.sites) if member is not None else []
        out = set()
        for r in rows:
            case = CaseFacts(
                case_id=r.case_id, coordinator=r.coordinator, site=r.site, program=r.program
            )
            paged = any(
                (a.site is None or a.site == r.site)
                and (a.program is None or a.program == r.program)
                and (a.valid_until is None or a.valid_until > now)
                for a in assignments
            )
            facts = CareTeamFacts(
                sites=sites,
                covering=r.case_id in covered,
                paged=paged,
                glass_until=now if r.case_id in glass else None,
            )
            try:
                check_care_team(actor, role, case, facts)
            except Refused:
                continue
            out.add(r.case_id)
        return out


class Board:
    """What happens when across journeys (`journey_schedule`, with each journey's row): the
    steps done or expected in a span of days, for a scope of cases."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    def between(
        self,
        first: datetime,
        last: datetime,
        *,
        steps: Sequence[str],
        coordinator: str | None = None,
        sites: list[str] | None = None,
        site: str | None = None,
        limit: int = 2000,
    ) -> list[tuple[ScheduleRow, JourneyRow]]:
        """These steps, done or expected (not yet done), from `first` up to `last`, soonest
        first, for the coordinator's cases, cases at these sites, or every case; at most
        `limit` (the caller says when a board is cut short)."""
        q = (
            select(ScheduleRow, JourneyRow)
            .join(JourneyRow, col(JourneyRow.case_id) == col(ScheduleRow.case_id))
            .where(col(ScheduleRow.step).in_(steps), ScheduleRow.at >= first, ScheduleRow.at < last)
        )
        # On the schedule's own copies of site and coordinator (indexed with `at`).
        if coordinator:
            q = q.where(ScheduleRow.coordinator == coordinator)
        if sites:
            q = q.where(col(ScheduleRow.site).in_(sites))
        if site:
            q = q.where(ScheduleRow.site == site)
        with self.store.session() as s:
            return [(a, b) for a, b in s.exec(q.order_by(col(ScheduleRow.at)).limit(limit)).all()]
