"""Remote follow-up after discharge: the return home, monthly telemedicine, the response
assessment, registry windows, yearly long-term check-ins (CAR-T, years 2–15), and closing the
journey once every scheduled follow-up is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from models.enums import (
    AlertKind,
    DeadlineName,
    MilestoneKind,
    Outcome,
    Phase,
    Severity,
    registry_deadline,
    response_deadline,
)
from models.errors import RefusalCode, Words, refused, words
from models.pathway import deadlines, gates, registry
from models.pathway.data import (
    CheckInData,
    HandoverData,
    NoData,
    RegistryData,
    ResponseData,
    TelemedicineData,
)
from models.pathway.milestones import events
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey

N = DeadlineName
FOLLOW_UP = (Phase.FOLLOW_UP,)


def first_missing(expected: range, recorded: list[int]) -> int | None:
    """The first of `expected` (months, years) not yet recorded, or None when all are."""
    return next((n for n in expected if n not in recorded), None)


def ranges(numbers: list[int]) -> str:
    """`[2, 3, 4, 7]` as "2–4, 7"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(out)


def missing(j: Journey) -> list[Words]:
    """Every scheduled follow-up not yet recorded, each as a phrase naming it."""
    s, p = j.state, j.protocol
    out: list[Words] = []
    months = [m for m in range(1, p.telemedicine_months + 1) if m not in s.telemedicine_months]
    if months:
        out.append(words("telemedicine month(s) {months}", months=ranges(months)))
    if j.tracked:
        months = [m for m in p.response_months if m not in s.response_months_done]
        if months:
            out.append(words("response assessment month(s) {months}", months=ranges(months)))
        windows = [w.name for w in registry.left(j)]
        if windows:
            out.append(words("registry window(s) {windows}", windows=", ".join(windows)))
    else:
        if not s.responses:
            out.append(words("the response assessment"))
        windows = [w.name for w in p.registry_windows if w.name not in s.registry_reported]
        if windows and j.v2 and gates.registry_consented(j):
            out.append(words("registry window(s) {windows}", windows=", ".join(windows)))
    if j.v2 and j.facts.therapy in p.long_term_follow_up_therapies:
        years = [y for y in range(2, p.long_term_follow_up_years + 1) if y not in s.check_in_years]
        if years:
            out.append(words("long-term check-in year(s) {years}", years=ranges(years)))
    return out


def maybe_done(j: Journey, now: datetime) -> None:
    """Once every scheduled follow-up is recorded, ask the coordinator to close the journey."""
    if not j.v2 or j.state.phase is not Phase.FOLLOW_UP:
        return
    if not missing(j) and j.book.get(N.FOLLOW_UP_COMPLETION) is None:
        deadlines.open_follow_up_completion(j, now)


@rule
class ReturnedHome(MilestoneRule[NoData]):
    """The patient is home; leaving before the stay-near-centre window ends is a deviation."""

    kind = MilestoneKind.RETURNED_HOME
    phases = FOLLOW_UP

    def awaited(self, j: Journey) -> bool:
        return not j.state.returned_home

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        s, at = j.state, a.occurred_at
        s.returned_home = True
        j.met(N.VISA_EXTENSION, at=a.occurred_at, now=now)
        window = j.book.get(N.STAY_NEAR_CENTRE)
        if j.v2 and window is not None and at < window.due_at:
            assert s.infused_at is not None
            day = (at - s.infused_at) // timedelta(hours=24)
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.WARNING,
                now,
                f"Returned home on day {day}, before the end of the "
                f"{j.protocol.stay_near_centre_days}-day stay near the centre "
                f"({window.due_at:%Y-%m-%d %H:%M} UTC)",
            )
        j.met(N.STAY_NEAR_CENTRE, at=a.occurred_at, now=now)
        if j.v5 and s.handover_sent_at is None:
            j.raise_alert(
                AlertKind.PROTOCOL_DEVIATION,
                Severity.WARNING,
                now,
                "Returned home before the hand-over summary was sent to the home oncologist",
            )


@rule
class TelemedicineCompleted(MilestoneRule[TelemedicineData]):
    """A monthly telemedicine visit; the next month's opens."""

    kind = MilestoneKind.TELEMEDICINE_COMPLETED
    phases = FOLLOW_UP
    data = TelemedicineData

    def awaited(self, j: Journey) -> bool:
        return j.next_telemedicine_month() is not None

    def check(self, j: Journey, a: Accepted[TelemedicineData]) -> None:
        if a.data.month in j.state.telemedicine_months:
            following = j.next_telemedicine_month()
            raise refused(
                "telemedicine for month {month} is already recorded; expected month {next}",
                RefusalCode.ALREADY_DONE,
                month=a.data.month,
                next=following or words("none (all done)"),
            )

    def apply(self, j: Journey, a: Accepted[TelemedicineData], now: datetime) -> None:
        j.state.telemedicine_months.append(a.data.month)
        j.met(N.TELEMEDICINE, at=a.occurred_at, now=now)
        deadlines.open_telemedicine(j, now)
        maybe_done(j, now)


@rule
class ResponseAssessed(MilestoneRule[ResponseData]):
    """The disease response (CR, PR, SD, PD). Runs under `WATCHED`: from monitoring on, with
    MRD, for a protocol month (`response_month_N`; the earliest open one by default); a PD
    is a progression: the physician is alerted and the way back is to be decided."""

    kind = MilestoneKind.RESPONSE_ASSESSED
    phases = (Phase.MONITORING, Phase.FOLLOW_UP)
    data = ResponseData

    def awaited(self, j: Journey) -> bool:
        if j.state.phase is Phase.MONITORING:
            return j.tracked
        return True

    def optional(self, j: Journey) -> bool:
        if j.tracked:
            return not _open_months(j)
        return bool(j.state.responses)  # a later assessment may follow the first

    def check(self, j: Journey, a: Accepted[ResponseData]) -> None:
        d = a.data
        if not j.tracked and j.state.phase is Phase.MONITORING:
            raise refused(
                "milestone 'response_assessed' is not expected in phase 'monitoring'; "
                "expected it in follow-up",
                RefusalCode.WRONG_PHASE,
            )
        later = ("mrd", "mrd_method", "mrd_sensitivity", "month") if not j.watched else ()
        later = later or (("month",) if not j.tracked else ())
        extra = [n for n in later if getattr(d, n)]
        if extra:
            raise refused(
                "data for 'response_assessed' is invalid: {fields} taken by journeys "
                "that reach monitoring under this release; expected: {expected}",
                RefusalCode.INVALID_DATA,
                fields=", ".join(extra),
                expected="response, method?"
                + (", mrd?, mrd_method?, mrd_sensitivity?" if j.watched else ""),
            )
        if not j.watched:
            return
        if d.mrd in (None, "not_done") and (d.mrd_method or d.mrd_sensitivity):
            raise refused(
                "mrd_method and mrd_sensitivity describe an MRD result; expected mrd negative "
                "or positive with them",
                RefusalCode.INVALID_DATA,
            )
        if d.mrd in ("negative", "positive") and d.mrd_method is None:
            raise refused(
                "an MRD result needs its method; expected mrd_method flow, ngs or pcr",
                RefusalCode.MISSING_FIELD,
            )
        months = j.protocol.response_months
        if d.month is not None and d.month not in months:
            raise refused(
                "month {month} is not a response month of the protocol; expected one of: {months}",
                RefusalCode.INVALID_DATA,
                month=d.month,
                months=", ".join(str(m) for m in months),
            )
        if d.month is not None and d.month in j.state.response_months_done:
            still_open = ", ".join(str(m) for m in _open_months(j))
            raise refused(
                "the month-{month} response is already recorded; expected one of: {months}",
                RefusalCode.ALREADY_DONE,
                month=d.month,
                months=still_open or words("none (all recorded)"),
            )

    def apply(self, j: Journey, a: Accepted[ResponseData], now: datetime) -> None:
        j.state.responses.append(a.data.response)
        if j.tracked:
            left = _open_months(j)
            month = a.data.month or (left[0] if left else None)
            if month is not None:
                j.state.response_months_done.append(month)
                j.met(response_deadline(month), at=a.occurred_at, now=now)
        else:
            j.met(N.RESPONSE_ASSESSMENT, at=a.occurred_at, now=now)
        if j.watched and a.data.response == "PD":
            events.relapsed(j, "Progression (PD)", None, a.occurred_at, now)
        maybe_done(j, now)


def _open_months(j: Journey) -> list[int]:
    """The protocol's response months not yet recorded."""
    return [m for m in j.protocol.response_months if m not in j.state.response_months_done]


@rule
class RegistryReported(MilestoneRule[RegistryData]):
    """A registry window's report, once the window has opened (journeys on the registry's
    track by consent, `Journey.tracked`: from conditioning, naming the form sent)."""

    kind = MilestoneKind.REGISTRY_REPORTED
    phases = (Phase.CONDITIONING, Phase.INFUSION, Phase.MONITORING, Phase.FOLLOW_UP)
    data = RegistryData

    def awaited(self, j: Journey) -> bool:
        if not j.tracked:
            reported = j.state.registry_reported
            return j.state.phase is Phase.FOLLOW_UP and any(
                w.name not in reported for w in j.protocol.registry_windows
            )
        return any(j.book.get(registry_deadline(w.name)) for w in registry.left(j))

    def check(self, j: Journey, a: Accepted[RegistryData]) -> None:
        if not j.tracked and j.state.phase is not Phase.FOLLOW_UP:
            raise refused(
                "milestone 'registry_reported' is not expected in phase '{phase}'"
                "; expected it in follow-up",
                RefusalCode.WRONG_PHASE,
                phase=j.state.phase,
            )
        if not j.watched and a.data.form is not None:
            raise refused(
                "data for 'registry_reported' is invalid: form is taken from this "
                "journey's next run; expected: window",
                RefusalCode.INVALID_DATA,
            )
        windows = {w.name: w for w in (registry.due(j) if j.tracked else [])}
        if not windows and not gates.registry_consented(j):
            raise refused(
                "registry reporting needs the patient's registry consent; expected "
                "consent_signed consent_type=registry first",
                RefusalCode.PATHWAY_RULE,
            )
        if not j.tracked:
            windows = {w.name: w for w in j.protocol.registry_windows}
        name = a.data.window
        if name not in windows:
            raise refused(
                "unknown registry window {name}; expected one of: {windows}",
                RefusalCode.UNKNOWN_NAME,
                name=repr(name),
                windows=", ".join(windows),
            )
        if name in j.state.registry_reported:
            raise refused(
                "registry window {name} is already reported",
                RefusalCode.ALREADY_DONE,
                name=repr(name),
            )
        window = windows[name]
        if name == registry.PRE_INFUSION:
            return
        if j.state.infused_at is None:
            raise refused(
                "the {window} registry window opens after the infusion; expected "
                "the pre-infusion form now",
                RefusalCode.PATHWAY_RULE,
                window=window.label,
            )
        opens = j.day(window.opens_day)
        if a.occurred_at < opens:
            raise refused(
                "the {window} registry window opens {opens} (day {day}); expected a "
                "report on or after that day",
                RefusalCode.PATHWAY_RULE,
                window=window.label,
                opens=f"{opens:%Y-%m-%d}",
                day=window.opens_day,
            )

    def apply(self, j: Journey, a: Accepted[RegistryData], now: datetime) -> None:
        j.state.registry_reported.append(a.data.window)
        j.met(registry_deadline(a.data.window), at=a.occurred_at, now=now)
        if j.tracked and j.state.phase is Phase.FOLLOW_UP:
            registry.open_follow_up(j, now)  # the next yearly form
        maybe_done(j, now)


@rule
class LongTermCheckIn(MilestoneRule[CheckInData]):
    """A yearly long-term check-in, once its year has come."""

    kind = MilestoneKind.LONG_TERM_CHECK_IN
    phases = FOLLOW_UP
    data = CheckInData

    def awaited(self, j: Journey) -> bool:
        return j.next_check_in_year() is not None

    def check(self, j: Journey, a: Accepted[CheckInData]) -> None:
        p, year = j.protocol, a.data.year
        if j.facts.therapy not in p.long_term_follow_up_therapies:
            raise refused(
                "long-term check-ins apply to {therapies} journeys; this one is {therapy}",
                RefusalCode.WRONG_PRODUCT,
                therapies=", ".join(t.value for t in p.long_term_follow_up_therapies),
                therapy=j.facts.therapy,
            )
        if year > p.long_term_follow_up_years:
            raise refused(
                "long-term follow-up runs to year {last}; got year {year}",
                RefusalCode.INVALID_DATA,
                last=p.long_term_follow_up_years,
                year=year,
            )
        if year in j.state.check_in_years:
            raise refused(
                "the year-{year} check-in is already recorded", RefusalCode.ALREADY_DONE, year=year
            )
        opens = j.day(365 * year)
        if a.occurred_at < opens:
            raise refused(
                "the year-{year} check-in window opens {opens}; expected "
                "a check-in on or after that day",
                RefusalCode.PATHWAY_RULE,
                year=year,
                opens=f"{opens:%Y-%m-%d}",
            )

    def apply(self, j: Journey, a: Accepted[CheckInData], now: datetime) -> None:
        j.state.check_in_years.append(a.data.year)
        j.met(N.LONG_TERM_CHECK_IN, at=a.occurred_at, now=now)
        deadlines.open_long_term(j, now)
        maybe_done(j, now)


@rule
class FollowUpCompleted(MilestoneRule[NoData]):
    """Follow-up is over: the journey closes completed (v3: only once all is recorded)."""

    kind = MilestoneKind.FOLLOW_UP_COMPLETED
    phases = FOLLOW_UP

    def awaited(self, j: Journey) -> bool:
        return not j.v3 or not missing(j)

    def check(self, j: Journey, a: Accepted[NoData]) -> None:
        if not j.v3:
            return
        still = missing(j)
        if still:
            raise refused(
                "follow-up is not complete: {missing}; expected each "
                "recorded before follow_up_completed (or withdraw the journey, with "
                "the reason, when follow-up ends early)",
                RefusalCode.FOLLOW_UP_INCOMPLETE,
                missing=still,
            )

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        j.close(Outcome.COMPLETED)


@rule
class HandoverSent(MilestoneRule[HandoverData]):
    """Rules v5: the hand-over summary (a FHIR bundle) reached the home oncologist; recorded by
    the service that built, validated and sent it (`cellpath handover`), with its hash."""

    kind = MilestoneKind.HANDOVER_SENT
    phases = FOLLOW_UP
    data = HandoverData

    def awaited(self, j: Journey) -> bool:
        return j.v5 and j.state.handover_sent_at is None

    def optional(self, j: Journey) -> bool:
        return not j.v5

    def apply(self, j: Journey, a: Accepted[HandoverData], now: datetime) -> None:
        j.state.handover_sent_at = a.occurred_at
        j.met(N.HANDOVER_SUMMARY, at=a.occurred_at, now=now)
