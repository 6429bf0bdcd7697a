"""Intensive care: where the patient is. An admission and a discharge from the ICU, from
conditioning until follow-up; a patient in the ICU is not discharged home.

Runs started before `AFTER_INFUSION` did not know these kinds and refuse them as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import MilestoneKind, Phase
from models.errors import RefusalCode, refused
from models.pathway import sae
from models.pathway.data import IcuAdmittedData, NoData
from models.pathway.rules import Accepted, D, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
# From the first dose of conditioning chemotherapy on, a patient can need intensive care.
ICU_PHASES = (Phase.CONDITIONING, Phase.INFUSION, Phase.MONITORING, Phase.FOLLOW_UP)


class IcuRule(MilestoneRule[D]):
    """An ICU milestone: never waited for, refused by runs that do not know it."""

    phases = ICU_PHASES

    def awaited(self, j: Journey) -> bool:
        return False

    def optional(self, j: Journey) -> bool:
        return True

    def known(self, j: Journey) -> None:
        if not j.after_infusion:
            raise refused(
                "unknown milestone kind {kind} for this journey's run (it takes "
                "ICU milestones from its next run)",
                RefusalCode.UNKNOWN_NAME,
                kind=repr(self.kind.value),
            )


@rule
class IcuAdmitted(IcuRule[IcuAdmittedData]):
    """The patient was admitted to intensive care (the reason, in clinical words)."""

    kind = K.ICU_ADMITTED
    data = IcuAdmittedData

    def check(self, j: Journey, a: Accepted[IcuAdmittedData]) -> None:
        self.known(j)
        if j.state.icu_since is not None:
            raise refused(
                "the patient is in the ICU since {since} UTC; expected icu_discharged first",
                RefusalCode.PATHWAY_RULE,
                since=j.state.icu_since.strftime("%Y-%m-%d %H:%M"),
            )

    def apply(self, j: Journey, a: Accepted[IcuAdmittedData], now: datetime) -> None:
        s = j.state
        s.icu_since, s.icu_reason = a.occurred_at, a.data.reason
        s.icu_stays += 1
        # An ICU admission is serious by definition (a trial's sponsor hears within 24 h).
        sae.serious(j, f"ICU admission: {a.data.reason}", a.occurred_at, now)


@rule
class IcuDischarged(IcuRule[NoData]):
    """The patient left intensive care (back to the ward)."""

    kind = K.ICU_DISCHARGED

    def check(self, j: Journey, a: Accepted[NoData]) -> None:
        self.known(j)
        since = j.state.icu_since
        if since is None:
            raise refused(
                "the patient is not in the ICU; expected icu_admitted first",
                RefusalCode.PATHWAY_RULE,
            )
        if a.occurred_at < since:
            raise refused(
                "the ICU discharge is before the admission ({since} UTC)",
                RefusalCode.INVALID_TIME,
                since=since.strftime("%Y-%m-%d %H:%M"),
            )

    def apply(self, j: Journey, a: Accepted[NoData], now: datetime) -> None:
        j.state.icu_since, j.state.icu_reason = None, None
