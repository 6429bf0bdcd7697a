"""Staff and patients' details: who holds which role, on which sites, with which console
password; and the erasure of a patient's details.

Only an administrator changes roles; the first one is registered by `bootstrap`. Erasure
(GDPR art. 17, PIPL art. 47) is the case coordinator's. Every change and every refused attempt
is audited (`cellpath audit staff`, `cellpath audit CASE`).
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cellpath.services.authority import authorise, record_event, record_refusal
from cellpath.services.base import Refusal, Session, refusing
from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.tables import StaffMember
from models import bounds
from models.enums import AuditAction
from models.errors import CaseStoreError, RefusalCode, Refused
from models.roles import Action, Role


def change_role(session: Session, member: str, role: Role | None) -> None:
    """Register `member` with `role`, change it, or (None) remove them; administrators only."""
    request = {"staff": member, "to": role.value if role else None}
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    if role is not None:
        _check_name(session, member, request)
    try:
        session.case_store().set_role(member, role, by=session.actor)
    except CaseStoreError as e:
        record_refusal(session, STAFF_AUDIT, "staff", None, str(e), detail=request)
        raise Refusal(str(e), RefusalCode.PATHWAY_RULE) from None


def _check_name(session: Session, member: str, request: dict[str, str | None]) -> None:
    """A staff member's actor id is an identifier: what a journey takes as who sent it."""
    try:
        bounds.check_actor_id(member, "the staff member")
    except Refused as e:
        record_refusal(session, STAFF_AUDIT, "staff", None, str(e), detail=request)
        raise Refusal.of(e) from None


def bootstrap(session: Session, member: str) -> None:
    """Register the first administrator; refused (audited) once one exists."""
    _check_name(session, member, {"staff": member, "to": "administrator"})
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


# --- console sign-in -------------------------------------------------------------------------

# Argon2id with the library's defaults (RFC 9106's second recommended option).
_HASHER = PasswordHasher()


@functools.cache
def _decoy() -> str:
    """A hash of nothing in particular, verified against when the person has no password, so a
    wrong name takes as long to refuse as a wrong password (no guessing who exists by timing).
    Made at the first sign-in, not at import: every CLI command imports this module, and an
    Argon2 hash costs a tenth of a second or more."""
    return _HASHER.hash("cellpath: not anyone's password")


MIN_PASSWORD = 12
MAX_PASSWORD = 1024


def _password_length(password: str) -> Refusal | None:
    """Why a password is too short or too long, or None."""
    if len(password) < MIN_PASSWORD:
        return refusing(
            "a password needs at least {least} characters, got {count}",
            RefusalCode.INVALID_DATA,
            least=MIN_PASSWORD,
            count=len(password),
        )
    if len(password) > MAX_PASSWORD:
        return refusing(
            "a password has at most {most} characters", RefusalCode.INVALID_DATA, most=MAX_PASSWORD
        )
    return None


def set_password(session: Session, member: str, password: str) -> None:
    """Set a staff member's console password (administrators only); the store keeps only its
    Argon2 hash, and the audit says who set whose password, never the password.

    Refused (audited) when the password is shorter than 12 characters or the member is not
    registered.
    """
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    reason = _password_length(password)
    if reason is not None:
        record_refusal(
            session, STAFF_AUDIT, "password", None, str(reason), detail={"staff": member}
        )
        raise reason
    try:
        session.case_store().set_password_hash(member, _HASHER.hash(password), by=session.actor)
    except CaseStoreError as e:
        record_refusal(session, STAFF_AUDIT, "password", None, str(e), detail={"staff": member})
        raise Refusal(str(e), RefusalCode.PATHWAY_RULE) from None


def change_own_password(session: Session, current: str, new: str) -> None:
    """A staff member changes their own console password: the current one first (someone at
    an unlocked screen cannot take the account over), then the new one as `set_password`
    takes it. Audited either way; a new hash ends their other console sessions."""
    if check_password(session.case_store(), session.actor, current, rehash=False) is None:
        reason = refusing(
            "the current password did not match; nothing was changed", RefusalCode.PERMISSION
        )
        record_refusal(
            session, STAFF_AUDIT, "password", None, str(reason), detail={"staff": session.actor}
        )
        raise reason
    reason = _password_length(new)
    if reason is None and new == current:
        reason = refusing(
            "the new password is the current one; expected a different password",
            RefusalCode.INVALID_DATA,
        )
    if reason is not None:
        record_refusal(
            session, STAFF_AUDIT, "password", None, str(reason), detail={"staff": session.actor}
        )
        raise reason
    session.case_store().set_password_hash(session.actor, _HASHER.hash(new), by=session.actor)


def set_sites(session: Session, member: str, sites: list[str]) -> None:
    """The sites whose cases a physician or site nurse works on (administrators only; empty:
    every site). The console's worklist shows them their sites' cases."""
    authorise(session, Action.MANAGE_STAFF, case=STAFF_AUDIT)
    try:
        session.case_store().set_sites(member, sites, by=session.actor)
    except CaseStoreError as e:
        record_refusal(session, STAFF_AUDIT, "sites", None, str(e), detail={"staff": member})
        raise Refusal(str(e), RefusalCode.PATHWAY_RULE) from None


def check_password(
    store: CaseStore, member: str, password: str, *, rehash: bool = True
) -> StaffMember | None:
    """The staff member when `password` is theirs, else None (also for an unknown name, in
    the same time). A hash made with older parameters is replaced on a successful sign-in
    (`rehash`; not at signing, since a new hash ends the person's console sessions)."""
    stored = store.password_hash(member) if len(password) <= MAX_PASSWORD else None
    try:
        _HASHER.verify(stored or _decoy(), password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if rehash and _HASHER.check_needs_rehash(stored):
        store.set_password_hash(member, _HASHER.hash(password), by=member)
    return store.member(member)


def reauthenticate(session: Session, case: str, decision: str, password: str) -> None:
    """Re-authentication at signing (21 CFR 11.200): the signer's own password, entered again
    for this signature. Audited either way (`signing_reauthenticated`, or a refusal).

    Raises:
        Refusal: the password is not theirs (PERMISSION); nothing is recorded.
    """
    if check_password(session.case_store(), session.actor, password, rehash=False) is None:
        refusal = refusing(
            "signing needs your own password again (21 CFR 11.200) and it did not match: nothing "
            "was recorded. Staff who sign in with single sign-on set one with `cellpath staff "
            "password`",
            RefusalCode.PERMISSION,
        )
        record_refusal(session, case, "sign", None, str(refusal), detail={"decision": decision})
        raise refusal
    record_event(session, case, AuditAction.SIGNING_REAUTHENTICATED, {"decision": decision})
