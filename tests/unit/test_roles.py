"""The permission table: every role against every action, and the physician-only decisions."""

from __future__ import annotations

import pytest

from models.errors import Refused
from models.roles import ALLOWED, PHYSICIAN_MILESTONES, Action, Role, check_permission


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_role_gets_exactly_its_actions(role: Role, action: Action) -> None:
    if role in ALLOWED[action]:
        check_permission("someone", role, action)
    else:
        with pytest.raises(Refused, match=f"'someone' is {role.value}; {action.value} needs a"):
            check_permission("someone", role, action)


def test_viewer_is_read_only() -> None:
    assert [a for a in Action if Role.VIEWER in ALLOWED[a]] == [Action.READ]


@pytest.mark.parametrize("kind", sorted(PHYSICIAN_MILESTONES))
def test_clinical_decisions_need_a_physician(kind: str) -> None:
    check_permission("dr", Role.PHYSICIAN, Action.MILESTONE, milestone=kind)
    with pytest.raises(Refused, match=f"milestone '{kind}' needs a physician"):
        check_permission("c", Role.COORDINATOR, Action.MILESTONE, milestone=kind)


def test_only_a_physician_acknowledges_a_critical_alert() -> None:
    for role in (Role.COORDINATOR, Role.SITE_STAFF):
        check_permission("x", role, Action.ACKNOWLEDGE)  # urgent: the team may
        with pytest.raises(Refused, match="acknowledging a critical alert needs a physician"):
            check_permission("x", role, Action.ACKNOWLEDGE, critical_alert=True)
    check_permission("dr", Role.PHYSICIAN, Action.ACKNOWLEDGE, critical_alert=True)


def test_an_unregistered_actor_can_do_nothing() -> None:
    with pytest.raises(Refused, match="'ghost' has no role in cellpath"):
        check_permission("ghost", None, Action.READ)
