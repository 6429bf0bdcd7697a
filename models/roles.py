"""Who may do what: the four roles of cellpath and the one check every command goes through.

Pure rules (no I/O): the CLI looks up the actor's role in the case store, then asks
`check_permission`. A refusal names the role held and the role needed, and the CLI writes it
to the audit log like any other refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from models.enums import MilestoneKind
from models.errors import RefusalCode, refused


class Role(StrEnum):
    """A staff member's role (stored in the case store's `staff` table)."""

    COORDINATOR = "coordinator"  # runs journeys: intake, milestones, deadlines, withdrawal
    PHYSICIAN = "physician"  # clinical decisions: eligibility, critical alerts, discharge
    SITE_STAFF = "site_staff"  # bedside: observations, acknowledging non-critical alerts
    VIEWER = "viewer"  # read only: auditors, sponsors' monitors
    # Operates cellpath: who holds which role, stuck journeys and their recovery. Clinical and
    # case work is not theirs (separation of duties).
    ADMINISTRATOR = "administrator"


class Action(StrEnum):
    """What a command does, for the permission check."""

    READ = "read"
    # See a patient's identifying details (name, birth date, contacts): the care team only.
    READ_IDENTITY = "read_identity"
    INTAKE = "intake"
    MILESTONE = "milestone"
    OBSERVE = "observe"
    ACKNOWLEDGE = "acknowledge"
    RESCHEDULE = "reschedule"
    WITHDRAW = "withdraw"
    ERASE = "erase"
    MANAGE_STAFF = "manage_staff"
    OPERATE = "operate"
    # Write in a case's thread (internal notes): everyone who cares for the patient.
    NOTE = "note"


# Clinical decisions only a physician may record.
PHYSICIAN_MILESTONES = frozenset(
    {
        MilestoneKind.ELIGIBILITY_ASSESSED,
        MilestoneKind.DISCHARGED,
        # QA's word on a product after a temperature excursion is a clinical decision.
        MilestoneKind.QA_DISPOSITION,
    }
)

ALLOWED: dict[Action, frozenset[Role]] = {
    Action.READ: frozenset(Role),
    # Auditors, monitors and operators work from the pseudonymous record.
    Action.READ_IDENTITY: frozenset({Role.COORDINATOR, Role.PHYSICIAN, Role.SITE_STAFF}),
    Action.INTAKE: frozenset({Role.COORDINATOR, Role.PHYSICIAN}),
    Action.MILESTONE: frozenset({Role.COORDINATOR, Role.PHYSICIAN}),
    Action.OBSERVE: frozenset({Role.SITE_STAFF, Role.PHYSICIAN}),
    Action.ACKNOWLEDGE: frozenset({Role.SITE_STAFF, Role.COORDINATOR, Role.PHYSICIAN}),
    Action.RESCHEDULE: frozenset({Role.COORDINATOR, Role.PHYSICIAN}),
    Action.WITHDRAW: frozenset({Role.COORDINATOR, Role.PHYSICIAN}),
    # Erasing identifying details is a data-protection act, done by the case's coordinator.
    Action.ERASE: frozenset({Role.COORDINATOR}),
    # Changing who may do what is itself guarded: otherwise anyone could grant themselves
    # any role.
    Action.MANAGE_STAFF: frozenset({Role.ADMINISTRATOR}),
    Action.OPERATE: frozenset({Role.ADMINISTRATOR}),
    Action.NOTE: frozenset({Role.COORDINATOR, Role.PHYSICIAN, Role.SITE_STAFF}),
}


def _names(roles: frozenset[Role]) -> str:
    return " or ".join(sorted(roles))


def check_permission(
    actor: str,
    role: Role | None,
    action: Action,
    *,
    milestone: str | None = None,
    critical_alert: bool = False,
    transcribed: bool = False,
) -> None:
    """Refuse unless `role` may perform `action` (on this milestone / alert). A PI's decision
    is signed by a physician (the PI); anyone who may record milestones may record one
    `transcribed` from the signed document.

    Raises:
        Refused: naming the actor, the role held and the role needed.
    """
    if role is None:
        raise refused(
            "{actor} has no role in cellpath; expected a registered staff member (an "
            "administrator adds one with `cellpath staff add`)",
            RefusalCode.PERMISSION,
            actor=repr(actor),
        )
    needed = ALLOWED[action]
    what = action.value
    if action is Action.MILESTONE and milestone in PHYSICIAN_MILESTONES:
        needed, what = frozenset({Role.PHYSICIAN}), f"milestone '{milestone}'"
    elif action is Action.MILESTONE and milestone == MilestoneKind.PI_DECISION and not transcribed:
        if role is not Role.PHYSICIAN and role in ALLOWED[action]:
            raise refused(
                "{actor} is {role}; signing milestone 'pi_decision' needs a physician (the PI). "
                "A decision received in writing is recorded as transcribed: give "
                "principal_investigator (the PI's staff id) and transcribed_from_sha256 (the "
                "signed document's SHA-256)",
                RefusalCode.PERMISSION,
                actor=repr(actor),
                role=role.value,
            )
    elif action is Action.ACKNOWLEDGE and critical_alert:
        needed, what = frozenset({Role.PHYSICIAN}), "acknowledging a critical alert"
    if role not in needed:
        names = _names(needed)
        article = "an" if names[0] in "aeiou" else "a"
        raise refused(
            "{actor} is {role}; {what} needs {article} {names}",
            RefusalCode.PERMISSION,
            actor=repr(actor),
            role=role.value,
            what=what,
            article=article,
            names=names,
        )


# Roles whose case work follows the care team; viewers (read-only, pseudonymous) and
# administrators (no case work) are limited by their role alone.
CARE_TEAM_ROLES = frozenset({Role.COORDINATOR, Role.PHYSICIAN, Role.SITE_STAFF})


@dataclass(frozen=True)
class CaseFacts:
    """What the care-team rule needs to know about a case (from the case store)."""

    case_id: str
    coordinator: str
    site: str | None = None
    program: str | None = None


@dataclass(frozen=True)
class CareTeamFacts:
    """What ties one person to one case: the sites they work at (empty: every site), cover
    added for them, a recipient role this case's notifications reach (they are paged about
    it), and an open break-the-glass grant."""

    sites: list[str] = field(default_factory=list)
    covering: bool = False
    paged: bool = False
    glass_until: datetime | None = None


def check_care_team(actor: str, role: Role, case: CaseFacts, facts: CareTeamFacts) -> None:
    """Refuse unless `actor` is in the care team of `case` (or broke the glass).

    The team: the case's coordinator; those added to cover it; physicians and site staff of
    its site (the site it was submitted to or accepted at; staff with no sites set work at
    every site); whoever holds a recipient role its notifications reach. Anyone else with a
    clinical role may break the glass: a reason, a confirmation, a few hours, audited.

    Raises:
        Refused: (`CARE_TEAM`) naming the case, who is in its team, and the way in.
    """
    if role not in CARE_TEAM_ROLES or facts.glass_until is not None:
        return
    if actor == case.coordinator or facts.covering or facts.paged:
        return
    if role in (Role.PHYSICIAN, Role.SITE_STAFF) and (
        not facts.sites or (case.site is not None and case.site in facts.sites)
    ):
        return
    site = f"staff of {case.site}" if case.site else "no site yet"
    raise refused(
        "{actor} is not in the care team of case {case} (its coordinator {coordinator}, staff "
        "covering it, {site}); expected a member of its care team, or, in an emergency, "
        "breaking the glass: `cellpath break-glass {case} --reason …` (audited, its "
        "coordinator is told)",
        RefusalCode.CARE_TEAM,
        actor=repr(actor),
        case=case.case_id,
        coordinator=repr(case.coordinator),
        site=site,
    )
