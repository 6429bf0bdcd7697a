"""A colleague takes a case over (`coordinator_changed`, runs under `REASSIGNED`): the journey's
facts, projection and status name the new coordinator; a stale or pointless change is refused
and changes nothing; earlier runs refuse the kind."""

from __future__ import annotations

from tests.builders import Case


def reassignable() -> Case:
    c = Case()
    c.j.reassigned = True
    return c


def test_the_new_coordinator_is_the_journeys_from_then_on() -> None:
    c = reassignable()
    before = c.j.facts.coordinator
    c.record("coordinator_changed", coordinator="coord-9", previous=before, reason="leave")
    assert c.j.facts.coordinator == "coord-9"
    assert c.j.projection(c.now).coordinator == "coord-9"
    assert c.j.status().coordinator == "coord-9"
    entry = c.j.state.timeline[-1]
    assert entry.kind == "coordinator_changed" and entry.data["previous"] == before
    # Whom the role "coordinator" means for the case's notifications follows too.
    c.to_logistics()
    assert c.j.facts.coordinator == "coord-9"


def test_a_stale_previous_or_the_same_coordinator_is_refused_and_changes_nothing() -> None:
    c = reassignable()
    current = c.j.facts.coordinator
    c.refused(
        "coordinator_changed",
        "coordinates this case, not coord-7",
        coordinator="coord-9",
        previous="coord-7",
        reason="leave",
    )
    c.refused(
        "coordinator_changed",
        "already coordinates this case",
        coordinator=current,
        previous=current,
        reason="leave",
    )
    c.refused("coordinator_changed", "coordinator", coordinator="Not An Id!", previous=current)
    assert c.j.facts.coordinator == current


def test_runs_before_the_patch_refuse_it_as_unknown() -> None:
    c = Case()
    current = c.j.facts.coordinator
    c.refused(
        "coordinator_changed",
        "unknown milestone kind 'coordinator_changed'",
        coordinator="coord-9",
        previous=current,
        reason="leave",
    )
    assert c.j.facts.coordinator == current
