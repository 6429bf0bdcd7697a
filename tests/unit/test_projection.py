"""The projected schedule against what happened: a journey replayed step by step along a
pathway whose dates are known (`past_pathway`), projected after each step, each later step's
real date compared with its projection. The figures are printed (`pytest -s`); the test holds
the range's coverage and the expected dates' error to what the protocol's durations give."""

from __future__ import annotations

from datetime import timedelta
from statistics import mean

from models.pathway.projection import project
from tests.builders import T0, Case, past_pathway

STEPS = past_pathway(T0.date())


def replayed_to(k: int) -> Case:
    """The journey with the pathway's first k + 1 milestones recorded at their times."""
    c = Case()
    for kind, after, data in STEPS[: k + 1]:
        c.now = T0 + after
        c.record(kind, **data)
    return c


def test_the_projection_brackets_what_happened_and_errs_by_days() -> None:
    happened = {kind: T0 + after for kind, after, _ in STEPS}
    errors: list[float] = []
    next_errors: list[float] = []
    inside = total = 0
    for k in range(len(STEPS) - 1):
        c = replayed_to(k)
        ahead = [p for p in project(c.j, c.now) if p.step in happened]
        for n, p in enumerate(ahead):
            real = happened[p.step]
            if real <= c.now:
                continue
            total += 1
            inside += p.earliest - timedelta(hours=12) <= real <= p.latest + timedelta(hours=12)
            error = abs((p.expected - real).total_seconds()) / 86400
            errors.append(error)
            if n == 0:
                next_errors.append(error)
    coverage = inside / total
    print(
        f"projection vs past_pathway: {total} projected dates, {coverage:.0%} inside their "
        f"range; the expected date off by {mean(errors):.1f} days on average "
        f"({max(errors):.1f} at most), the next step's by {mean(next_errors):.1f}"
    )
    assert total > 50
    # Every real date falls inside its projected range (half a day either side: a step
    # recorded in the evening of its last day).
    assert coverage == 1.0
    # The next step is known within days (3.7 on average when written). Further ahead, the
    # error is the distance between the protocol's typical durations and this fast
    # pathway's (PI in 7 days, not 14; manufacturing in 21, not 28): what a site's own
    # history corrects.
    assert mean(next_errors) <= 5
    assert mean(errors) <= 14


def test_nothing_is_projected_in_the_past_and_the_booked_arrival_is_kept() -> None:
    k = next(i for i, (kind, _, _) in enumerate(STEPS) if kind == "travel_booked")
    c = replayed_to(k)
    steps = {p.step: p for p in project(c.j, c.now)}
    arrival = T0 + timedelta(days=24)
    assert steps["patient_arrived"].basis == "planned"
    assert steps["patient_arrived"].expected.date() == arrival.date()
    # Everything after follows from the booked arrival, in pathway order.
    order = list(steps)
    assert order.index("infusion_completed") > order.index("product_released")
    assert all(p.earliest <= p.expected <= p.latest for p in steps.values())
    late = project(c.j, c.now + timedelta(days=60))
    assert all(p.expected >= c.now + timedelta(days=60) for p in late)


def test_a_closed_journey_or_one_in_follow_up_projects_nothing() -> None:
    c = replayed_to(0)
    from models.messages import WithdrawInput

    w = WithdrawInput(actor="coord-1", reason="the family decided")
    c.j.check_withdraw(w)
    c.j.apply_withdraw(w, c.now)
    assert project(c.j, c.now) == []
