"""Discharge from monitoring: allowed from the protocol's earliest day after infusion, with
every critical alert acknowledged and no CRS or ICANS above the limit in the last hours.
(Observations themselves are in `models/pathway/observations.py`.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import MilestoneKind, Phase, Severity
from models.errors import RefusalCode, Words, refused, words
from models.pathway import deadlines, gates
from models.pathway.data import DischargeData
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def discharge_problems(j: Journey, at: datetime) -> list[Words]:
    """Every discharge condition that fails at `at`, each as a sentence."""
    s, p = j.state, j.protocol
    problems: list[Words] = []
    earliest = j.day(p.earliest_discharge_day)
    if at < earliest:
        assert s.infused_at is not None
        day = (at - s.infused_at) // timedelta(hours=24)
        problems.append(
            words(
                "discharge is allowed from day {first} after infusion ({earliest} UTC); it is "
                "day {day}",
                first=p.earliest_discharge_day,
                earliest=earliest.strftime("%Y-%m-%d %H:%M"),
                day=day,
            )
        )
    if s.icu_since is not None:
        problems.append(
            words(
                "the patient is in the ICU since {since} UTC ({reason}); expected "
                "icu_discharged first",
                since=s.icu_since.strftime("%Y-%m-%d %H:%M"),
                reason=s.icu_reason,
            )
        )
    if not j.v2:
        return problems
    critical = [a for a in s.alerts if a.severity is Severity.CRITICAL and a.open]
    if critical:
        problems.append(
            words(
                "{n} critical alert(s) not acknowledged by a physician ({alerts})",
                n=len(critical),
                alerts="; ".join(f"{a.id}: {a.text}" for a in critical),
            )
        )
    since = at - timedelta(hours=p.discharge_clear_hours)
    limit = p.discharge_max_recent_grade
    for r in s.observations:
        if not since <= r.observed_at <= at:
            continue
        for name, grade in (("CRS", r.crs_grade), ("ICANS", r.icans_grade)):
            if grade is not None and grade > limit:
                problems.append(
                    words(
                        "{name} grade {grade} observed {at} UTC, within the last {hours} h (at "
                        "most grade {limit} expected)",
                        name=name,
                        grade=grade,
                        at=r.observed_at.strftime("%Y-%m-%d %H:%M"),
                        hours=p.discharge_clear_hours,
                        limit=limit,
                    )
                )
    return problems


@rule
class Discharged(MilestoneRule[DischargeData]):
    """Discharged from the centre's monitoring: remote follow-up starts (v5: a signed
    decision, and the hand-over summary to the home oncologist falls due)."""

    kind = MilestoneKind.DISCHARGED
    phases = (Phase.MONITORING,)
    data = DischargeData

    def check(self, j: Journey, a: Accepted[DischargeData]) -> None:
        problems = discharge_problems(j, a.occurred_at)
        if problems:
            raise refused(
                "discharge refused: {problems}", RefusalCode.DISCHARGE_CONDITIONS, problems=problems
            )
        if j.v5:
            gates.check_signature(
                a.data.signature_meaning, gates.fitting_meanings(self.kind, a.data), "discharged"
            )

    def apply(self, j: Journey, a: Accepted[DischargeData], now: datetime) -> None:
        j.state.discharged_at = a.occurred_at
        if j.v5 and a.data.signature_meaning is not None:
            gates.sign(j, self.kind.value, a.raw.actor.strip(), a.data.signature_meaning, now, "")
        j.enter(Phase.FOLLOW_UP, a.occurred_at, now)
        deadlines.open_handover(j, a.occurred_at, now)
