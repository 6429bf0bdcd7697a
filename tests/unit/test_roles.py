"""The permission table: every role against every action, and the physician-only decisions."""

from __future__ import annotations

import pytest

from models.errors import Refused
from models.roles import PHYSICIAN_MILESTONES, Action, Role, check_permission

# The matrix, written out by hand (not derived from `ALLOWED`): a change to who may do what
# must change this table too, in the same review. Columns: coordinator, physician, site staff,
# viewer, administrator.
ROLES = (Role.COORDINATOR, Role.PHYSICIAN, Role.SITE_STAFF, Role.VIEWER, Role.ADMINISTRATOR)
MATRIX = {
    #                     coord  phys   site   viewer admin
    Action.READ:         (True,  True,  True,  True,  True),
    Action.READ_IDENTITY:(True,  True,  True,  False, False),
    Action.INTAKE:       (True,  True,  False, False, False),
    Action.MILESTONE:    (True,  True,  False, False, False),
    Action.OBSERVE:      (False, True,  True,  False, False),
    Action.ACKNOWLEDGE:  (True,  True,  True,  False, False),
    Action.RESCHEDULE:   (True,  True,  False, False, False),
    Action.WITHDRAW:     (True,  True,  False, False, False),
    Action.ERASE:        (True,  False, False, False, False),
    Action.MANAGE_STAFF: (False, False, False, False, True),
    Action.OPERATE:      (False, False, False, False, True),
    Action.NOTE:         (True,  True,  True,  False, False),
}  # fmt: skip


def test_the_matrix_covers_every_role_and_action() -> None:
    assert set(ROLES) == set(Role) and set(MATRIX) == set(Action)


@pytest.mark.parametrize(
    ("action", "role", "allowed"),
    [(a, r, row[i]) for a, row in MATRIX.items() for i, r in enumerate(ROLES)],
)
def test_each_role_gets_exactly_its_actions(action: Action, role: Role, allowed: bool) -> None:
    if allowed:
        check_permission("someone", role, action)
    else:
        with pytest.raises(Refused, match=f"'someone' is {role.value}; {action.value} needs a"):
            check_permission("someone", role, action)


@pytest.mark.parametrize("kind", sorted(PHYSICIAN_MILESTONES))
def test_clinical_decisions_need_a_physician(kind: str) -> None:
    check_permission("dr", Role.PHYSICIAN, Action.MILESTONE, milestone=kind)
    with pytest.raises(Refused, match=f"milestone '{kind}' needs a physician"):
        check_permission("c", Role.COORDINATOR, Action.MILESTONE, milestone=kind)


def test_a_pi_decision_is_signed_by_a_physician_or_transcribed_from_its_document() -> None:
    check_permission("pi", Role.PHYSICIAN, Action.MILESTONE, milestone="pi_decision")
    with pytest.raises(Refused, match="recorded as transcribed: give principal_investigator"):
        check_permission("c", Role.COORDINATOR, Action.MILESTONE, milestone="pi_decision")
    check_permission(
        "c", Role.COORDINATOR, Action.MILESTONE, milestone="pi_decision", transcribed=True
    )
    with pytest.raises(Refused, match="milestone needs a"):  # site staff record no milestones
        check_permission(
            "n", Role.SITE_STAFF, Action.MILESTONE, milestone="pi_decision", transcribed=True
        )


def test_only_a_physician_acknowledges_a_critical_alert() -> None:
    for role in (Role.COORDINATOR, Role.SITE_STAFF):
        check_permission("x", role, Action.ACKNOWLEDGE)  # urgent: the team may
        with pytest.raises(Refused, match="acknowledging a critical alert needs a physician"):
            check_permission("x", role, Action.ACKNOWLEDGE, critical_alert=True)
    check_permission("dr", Role.PHYSICIAN, Action.ACKNOWLEDGE, critical_alert=True)


def test_an_unregistered_actor_can_do_nothing() -> None:
    with pytest.raises(Refused, match="'ghost' has no role in cellpath"):
        check_permission("ghost", None, Action.READ)
