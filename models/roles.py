"""Who may do what: the four roles of cellpath and the one check every command goes through.

Pure rules (no I/O): the CLI looks up the actor's role in the case store, then asks
`check_permission`. A refusal names the role held and the role needed, and the CLI writes it
to the audit log like any other refusal.
"""

from __future__ import annotations

from enum import StrEnum

from models.enums import MilestoneKind
from models.errors import RefusalCode, Refused


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


# Clinical decisions only a physician may record.
PHYSICIAN_MILESTONES = frozenset({MilestoneKind.ELIGIBILITY_ASSESSED, MilestoneKind.DISCHARGED})

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
) -> None:
    """Refuse unless `role` may perform `action` (on this milestone / alert).

    Raises:
        Refused: naming the actor, the role held and the role needed.
    """
    if role is None:
        raise Refused(
            f"{actor!r} has no role in cellpath; expected a registered staff member "
            "(an administrator adds one with `cellpath staff add`)",
            RefusalCode.PERMISSION,
        )
    needed = ALLOWED[action]
    what = action.value
    if action is Action.MILESTONE and milestone in PHYSICIAN_MILESTONES:
        needed, what = frozenset({Role.PHYSICIAN}), f"milestone '{milestone}'"
    elif action is Action.ACKNOWLEDGE and critical_alert:
        needed, what = frozenset({Role.PHYSICIAN}), "acknowledging a critical alert"
    if role not in needed:
        names = _names(needed)
        article = "an" if names[0] in "aeiou" else "a"
        raise Refused(
            f"{actor!r} is {role.value}; {what} needs {article} {names}", RefusalCode.PERMISSION
        )
