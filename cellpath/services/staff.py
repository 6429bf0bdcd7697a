"""Staff and patients' details: who holds which role, and the erasure of a patient's details.

Only an administrator changes roles; the first one is registered by `bootstrap`. Erasure
(GDPR art. 17, PIPL art. 47) is the case coordinator's. Every change and every refused attempt
is audited (`cellpath audit staff`, `cellpath audit CASE`).
"""

from __future__ import annotations

from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session
from cellpath.store import STAFF_AUDIT
from cellpath.store.tables import StaffMember
from models.errors import CaseStoreError, RefusalCode
from models.roles import Action, Role


def change_role(session: Session, member: str, role: Role | None) -> None:
    """Register `member` with `role`, change it, or (None) remove them; administrators only."""
    request = {"staff": member, "to": role.value if role else None}
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    try:
        session.case_store().set_role(member, role, by=session.actor)
    except CaseStoreError as e:
        record_refusal(session, STAFF_AUDIT, "staff", None, str(e), detail=request)
        raise Refusal(str(e), RefusalCode.PATHWAY_RULE) from None


def bootstrap(session: Session, member: str) -> None:
    """Register the first administrator; refused (audited) once one exists."""
    try:
        session.case_store().bootstrap_administrator(member, by=session.actor)
    except CaseStoreError as e:
        record_refusal(session, STAFF_AUDIT, "staff_bootstrap", None, str(e))
        raise Refusal(str(e), RefusalCode.ALREADY_DONE) from None


def members(session: Session) -> list[StaffMember]:
    """Everyone registered and their role (any role may read)."""
    authorise(session, Action.READ, case=STAFF_AUDIT)
    return session.case_store().staff()


def erase(session: Session, case: str, reason: str) -> str:
    """Erase the identifying details of a case's patient; returns the `patient_ref`.

    The journey, its history and the audit trail stay whole: they hold only the pseudonymous
    reference. Refused (audited) for anyone but a coordinator, without a reason, for an
    unknown case or a patient already erased.
    """
    authorise(session, Action.ERASE, case=case)
    try:
        return session.case_store().erase_patient(case, actor=session.actor, reason=reason)
    except CaseStoreError as e:
        record_refusal(session, case, "erase", None, str(e))
        raise Refusal(str(e), RefusalCode.PATHWAY_RULE) from None
