"""Discharge from monitoring: allowed from the protocol's earliest day after infusion, with
every critical alert acknowledged and no CRS or ICANS above the limit in the last hours.
(Observations themselves are in `models/pathway/observations.py`.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import MilestoneKind, Phase, Severity
from models.errors import RefusalCode, Refused
from models.pathway import deadlines, gates
from models.pathway.data import DischargeData
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


def discharge_problems(j: Journey, at: datetime) -> list[str]:
    """Every discharge condition that fails at `at`, each as a sentence."""
    s, p = j.state, j.protocol
    problems = []
    earliest = j.day(p.earliest_discharge_day)
    if at < earliest:
        assert s.infused_at is not None
        day = (at - s.infused_at) // timedelta(hours=24)
        problems.append(
            f"discharge is allowed from day {p.earliest_discharge_day}"
            f" after infusion ({earliest:%Y-%m-%d %H:%M} UTC); it is day {day}"
        )
    if s.icu_since is not None:
        problems.append(
            f"the patient is in the ICU since {s.icu_since:%Y-%m-%d %H:%M} UTC "
            f"({s.icu_reason}); expected icu_discharged first"
        )
    if not j.v2:
        return problems
    critical = [a for a in s.alerts if a.severity is Severity.CRITICAL and a.open]
    if critical:
        problems.append(
            f"{len(critical)} critical alert(s) not acknowledged by a physician ("
            + "; ".join(f"{a.id}: {a.text}" for a in critical)
            + ")"
        )
    since = at - timedelta(hours=p.discharge_clear_hours)
    limit = p.discharge_max_recent_grade
    for r in s.observations:
        if not since <= r.observed_at <= at:
            continue
        for name, grade in (("CRS", r.crs_grade), ("ICANS", r.icans_grade)):
            if grade is not None and grade > limit:
                problems.append(
                    f"{name} grade {grade} observed {r.observed_at:%Y-%m-%d %H:%M} UTC, "
                    f"within the last {p.discharge_clear_hours} h (at most grade {limit} "
                    "expected)"
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
            raise Refused(
                "discharge refused: " + "; ".join(problems), RefusalCode.DISCHARGE_CONDITIONS
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
