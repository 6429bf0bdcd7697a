"""Who may do what, checked before anything is sent; and the audit of every refusal.

Roles live in the case store's `staff` table and the rules in `models.roles`. A refusal —
by role here, or by a journey's validation (which keeps it out of Temporal history) — is
written to the case store's audit log, so an auditor finds every attempt, allowed or not.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cellpath.services.base import Refusal, Session, Unreachable
from cellpath.store import STAFF_AUDIT
from cellpath.store.access import CareTeams
from models.enums import refused_action
from models.errors import RefusalCode, Refused
from models.messages import AuditEntry
from models.roles import CARE_TEAM_ROLES, Action, Role, check_care_team, check_permission


def authorise(
    session: Session,
    action: Action,
    *,
    case: str = STAFF_AUDIT,
    request: Any = None,
    milestone: str | None = None,
    critical_alert: bool = False,
    actor: str | None = None,
    transcribed: bool = False,
) -> None:
    """Refuse (audited) unless the session's actor — or `actor` — may perform `action`
    (`transcribed`: a signed decision recorded from its document, see `check_permission`).

    Identity is what the interface vouches for (see README, "Roles").
    """
    who = actor or session.actor
    try:
        role = session.case_store().role_of(who)
    except Unreachable:
        raise
    except Exception as e:
        raise Unreachable(f"cannot read roles from the case store: {e}") from None
    try:
        check_permission(
            who,
            role,
            action,
            milestone=milestone,
            critical_alert=critical_alert,
            transcribed=transcribed,
        )
        if role is not None and case not in NOT_CASES:
            in_care_team(session, who, role, case)
    except Refused as e:
        record_refusal(session, case, action.value, request, str(e), actor=who)
        raise Refusal.of(e) from None


# What `authorise` is told as its `case` when the action is on no case in particular.
NOT_CASES = frozenset({STAFF_AUDIT, "intake", "doctor", "list"})


def in_care_team(session: Session, actor: str, role: Role, case: str) -> None:
    """Refuse (`Refused`, CARE_TEAM) unless `actor` is in the case's care team (or broke the
    glass). A case the store does not know has nothing of a patient's to protect yet: the
    journey's own answer (no such journey) follows."""
    if role not in CARE_TEAM_ROLES:
        return
    teams = CareTeams(session.case_store())
    facts = teams.case(case)
    if facts is not None:
        check_care_team(actor, role, facts, teams.facts(facts, actor))


def record_refusal(
    session: Session,
    case: str,
    what: str,
    request: Any,
    reason: str,
    *,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write a refusal to the case store's audit log: who tried what, and why not.

    PHI-free: the kind, ids and the reason (which never echoes identifying values).
    """
    detail = (detail or {}) | {
        key: str(getattr(request, key))
        for key in ("kind", "deadline", "alert_id", "milestone_id", "observation_id")
        if getattr(request, key, None) is not None
    }
    now = datetime.now(UTC)
    entry = AuditEntry(
        event_id=f"{case}:refused:{uuid.uuid4()}",
        case_id=case,
        action=refused_action(what),
        actor=actor or getattr(request, "actor", "") or session.actor,
        occurred_at=now,
        recorded_at=now,
        detail=detail,
        reason=reason,
    )
    try:
        session.case_store().append_audit([entry])
    except Exception as e:  # the refusal stands; failing to audit it must be visible
        session.warn(f"the refusal could not be written to the audit log: {e}")


def record_event(
    session: Session,
    case: str,
    action: str,
    detail: dict[str, Any],
    *,
    reason: str = "",
) -> None:
    """Write something a person did outside a journey (a sign-in, a look at a patient's
    details, a reset) to the case store's audit log, as the session's actor, now."""
    now = datetime.now(UTC)
    entry = AuditEntry(
        event_id=f"{case}:{action}:{uuid.uuid4()}",
        case_id=case,
        action=action,
        actor=session.actor,
        occurred_at=now,
        recorded_at=now,
        detail=detail,
        reason=reason,
    )
    session.case_store().append_audit([entry])


def refused(session: Session, case: str, what: str, request: Any, error: Exception) -> Refusal:
    """A journey's (or the store's) refusal, audited, as the `Refusal` to raise."""
    code = getattr(error, "code", RefusalCode.PATHWAY_RULE)
    record_refusal(session, case, what, request, str(error))
    if isinstance(error, Refused):
        return Refusal.of(error)
    return Refusal(str(error), code)
