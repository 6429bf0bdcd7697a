"""Adverse events, their reports to a trial's sponsor, death, relapse and the way back (runs
under `WATCHED`; earlier runs refuse these kinds as unknown).

- `adverse_event`: CTCAE term and grade, serious or not, related or not; a serious one is
  reported to a trial's sponsor within 24 h of awareness (`models.pathway.sae`).
- `sae_reported`: the sponsor's reference for the oldest pending report (or the one named).
- `death`: closes the journey `died`; in a trial once its report is made (until then only
  `sae_reported` is taken). Every other deadline closes and open alerts are resolved: no one
  is reminded of a patient who died.
- `relapse_detected` (and a `PD` response): an urgent alert to the physician and 14 days to
  decide the way back (`re_referral`), which the options aid informs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import AlertKind, DeadlineName, MilestoneKind, Outcome, Phase, Severity
from models.errors import RefusalCode, refused
from models.pathway import sae, times
from models.pathway.data import (
    AdverseEventData,
    DeathData,
    RelapseData,
    ReReferralData,
    SaeReportedData,
)
from models.pathway.rules import (
    OPEN_PHASES,
    Accepted,
    D,
    MilestoneRule,
    require_run,
    rule,
)
from models.state import AdverseEventRecord, Relapse

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
N = DeadlineName
# From arrival the patient is in the centre's care (and, in a trial, consented).
CARE_PHASES = (
    Phase.ARRIVAL,
    Phase.COLLECTION,
    Phase.MANUFACTURING,
    Phase.CONDITIONING,
    Phase.INFUSION,
    Phase.MONITORING,
    Phase.FOLLOW_UP,
)
AFTER_INFUSION = (Phase.MONITORING, Phase.FOLLOW_UP)


def require_watched(j: Journey, what: str) -> None:
    """Refuse what only runs under `WATCHED` take, as earlier runs always did."""
    require_run(j.watched, what)


class WatchedRule(MilestoneRule[D]):
    """A milestone only runs under `WATCHED` know: optional, never waited for."""

    def awaited(self, j: Journey) -> bool:
        return j.watched and j.state.died_at is None

    def optional(self, j: Journey) -> bool:
        return True

    def check(self, j: Journey, a: Accepted[D]) -> None:
        require_watched(j, f"milestone kind {self.kind.value!r}")


@rule
class AdverseEvent(WatchedRule[AdverseEventData]):
    """An adverse event (CTCAE); a serious one in a trial is reported within 24 h."""

    kind = K.ADVERSE_EVENT
    phases = CARE_PHASES
    data = AdverseEventData

    def check(self, j: Journey, a: Accepted[AdverseEventData]) -> None:
        super().check(j, a)
        aware = a.data.aware_at
        if aware is not None:
            aware = times.check_instant(j, aware, "aware_at", "expected a time near now")
            if aware < a.occurred_at:
                raise refused(
                    "aware_at {aware} UTC is before the event ({at} UTC); expected the time the "
                    "team learnt of it, at or after it",
                    RefusalCode.OUT_OF_ORDER,
                    aware=aware.strftime("%Y-%m-%d %H:%M"),
                    at=a.occurred_at.strftime("%Y-%m-%d %H:%M"),
                )

    def apply(self, j: Journey, a: Accepted[AdverseEventData], now: datetime) -> None:
        d = a.data
        aware = (
            times.check_instant(j, d.aware_at, "aware_at", "")
            if d.aware_at is not None
            else a.occurred_at
        )
        j.state.adverse_events.append(
            AdverseEventRecord(
                term=d.term,
                grade=d.grade,
                serious=d.serious,
                related_to_product=d.related_to_product,
                occurred_at=a.occurred_at,
                aware_at=aware,
                recorded_by=a.raw.actor.strip(),
            )
        )
        if d.serious:
            j.raise_alert(
                AlertKind.SERIOUS_ADVERSE_EVENT,
                Severity.URGENT,
                now,
                f"Serious adverse event: {d.term}, grade {d.grade} (CTCAE)"
                f"{', related to the product' if d.related_to_product else ''}",
            )
            sae.serious(j, f"{d.term} grade {d.grade}", aware, now)


@rule
class SaeReported(WatchedRule[SaeReportedData]):
    """A serious adverse event reported to the sponsor (its reference)."""

    kind = K.SAE_REPORTED
    phases = OPEN_PHASES
    data = SaeReportedData

    def awaited(self, j: Journey) -> bool:
        return bool(sae.pending(j))

    def optional(self, j: Journey) -> bool:
        return False

    def check(self, j: Journey, a: Accepted[SaeReportedData]) -> None:
        super().check(j, a)
        waiting = sae.pending(j)
        if not waiting:
            raise refused(
                "no serious adverse event is waiting for a report to the sponsor (sae_report "
                "is not open)",
                RefusalCode.PATHWAY_RULE,
            )
        wanted = a.data.report_id
        if wanted is not None and all(r.id != wanted for r in waiting):
            raise refused(
                "no pending report {wanted}; expected one of: {reports}",
                RefusalCode.UNKNOWN_NAME,
                wanted=repr(wanted),
                reports=", ".join(f"{r.id} ({r.what})" for r in waiting),
            )

    def apply(self, j: Journey, a: Accepted[SaeReportedData], now: datetime) -> None:
        waiting = sae.pending(j)
        report = next((r for r in waiting if r.id == a.data.report_id), waiting[0])
        sae.reported(j, report, a.data.sponsor_reference, a.occurred_at, now)


@rule
class Death(WatchedRule[DeathData]):
    """The patient died: the journey closes `died` (in a trial, once the death is reported)."""

    kind = K.DEATH
    phases = OPEN_PHASES
    data = DeathData

    def check(self, j: Journey, a: Accepted[DeathData]) -> None:
        super().check(j, a)
        if j.state.died_at is not None:
            raise refused(
                "death is already recorded ({at} UTC)",
                RefusalCode.ALREADY_DONE,
                at=j.state.died_at.strftime("%Y-%m-%d %H:%M"),
            )

    def apply(self, j: Journey, a: Accepted[DeathData], now: datetime) -> None:
        s = j.state
        s.died_at, s.death_cause = a.occurred_at, a.data.cause
        # No reminder, escalation or alert about a patient who died.
        j.book.close_all()
        for alert in s.alerts:
            if alert.open:
                alert.resolved_at, alert.resolution = now, "the patient died"
        sae.serious(j, f"death: {a.data.cause}", a.occurred_at, now)
        if not sae.pending(j):
            j.close(Outcome.DIED)


def relapsed(
    j: Journey, source: str, antigen_status: str | None, at: datetime, now: datetime
) -> None:
    """A relapse or progression: an urgent alert to the physician and `re_referral` opened."""
    s, p = j.state, j.protocol
    s.relapses.append(Relapse(detected_at=at, source=source, antigen_status=antigen_status))
    assert s.infused_at is not None
    day = (at - s.infused_at) // timedelta(hours=24)
    j.raise_alert(
        AlertKind.RELAPSE,
        Severity.URGENT,
        now,
        f"{source} on day {day}"
        + (f" ({antigen_status})" if antigen_status else "")
        + f": decide the way back within {p.re_referral_days} days",
    )
    s.re_referral_decision = None
    j.book.open(
        N.RE_REFERRAL,
        now=now,
        start=at,
        due_at=at + timedelta(days=p.re_referral_days),
        summary=f"Decide the way back after {source.lower()} (re-referral), "
        f"{p.re_referral_days} days",
        before=[timedelta(days=3)],
        level2_after=j.level2_after(),
    )


@rule
class RelapseDetected(WatchedRule[RelapseData]):
    """A relapse after infusion (its antigen status): the physician is alerted."""

    kind = K.RELAPSE_DETECTED
    phases = AFTER_INFUSION
    data = RelapseData

    def check(self, j: Journey, a: Accepted[RelapseData]) -> None:
        super().check(j, a)
        infused = j.state.infused_at
        if infused is None or a.occurred_at < infused:
            raise refused(
                "a relapse is recorded after the infusion; expected a time after {after}",
                RefusalCode.OUT_OF_ORDER,
                after=infused.strftime("%Y-%m-%d %H:%M UTC") if infused else "the infusion",
            )

    def apply(self, j: Journey, a: Accepted[RelapseData], now: datetime) -> None:
        relapsed(j, "Relapse", a.data.antigen_status, a.occurred_at, now)


@rule
class ReReferralDecided(WatchedRule[ReReferralData]):
    """The way back after a relapse: referred (to which therapy, target) or not."""

    kind = K.RE_REFERRAL_DECIDED
    phases = AFTER_INFUSION
    data = ReReferralData

    def awaited(self, j: Journey) -> bool:
        return j.book.get(N.RE_REFERRAL) is not None

    def optional(self, j: Journey) -> bool:
        return False

    def check(self, j: Journey, a: Accepted[ReReferralData]) -> None:
        super().check(j, a)
        if j.book.get(N.RE_REFERRAL) is None:
            raise refused(
                "no relapse or progression waits for a decision; expected relapse_detected "
                "(or a PD response) first",
                RefusalCode.PATHWAY_RULE,
            )

    def apply(self, j: Journey, a: Accepted[ReReferralData], now: datetime) -> None:
        d = a.data
        j.state.re_referral_decision = d.decision + (f": {d.therapy}" if d.therapy else "")
        j.met(N.RE_REFERRAL, at=a.occurred_at, now=now)
