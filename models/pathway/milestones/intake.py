"""Records intake and the eligibility pre-assessment (docs/clinical-rules.md)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import MilestoneKind, Outcome, Phase
from models.errors import RefusalCode, refused
from models.pathway import gates
from models.pathway.data import EligibilityAssessedData, RecordReceivedData, RecordsCompleteData
from models.pathway.milestones.records import require_records
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


@rule
class RecordReceived(MilestoneRule[RecordReceivedData]):
    """One medical record arrived; it counts towards the protocol's required records."""

    kind = MilestoneKind.RECORD_RECEIVED
    phases = (Phase.INTAKE,)
    data = RecordReceivedData

    def optional(self, j: Journey) -> bool:
        # Once every required record is on file, more may still arrive; none is awaited.
        on_file = set(j.state.records_on_file)
        return all(r in on_file for r in j.protocol.required_records)

    def check(self, j: Journey, a: Accepted[RecordReceivedData]) -> None:
        for name in ("sha256", "language", "pages"):
            if getattr(a.data, name) is not None:
                require_records(j, f"field {name!r} of record_received")

    def apply(self, j: Journey, a: Accepted[RecordReceivedData], now: datetime) -> None:
        if a.data.record_type not in j.state.records_on_file:
            j.state.records_on_file.append(a.data.record_type)


@rule
class RecordsComplete(MilestoneRule[RecordsCompleteData]):
    """Every record the protocol requires is on file: the pre-assessment starts."""

    kind = MilestoneKind.RECORDS_COMPLETE
    phases = (Phase.INTAKE,)
    data = RecordsCompleteData

    def check(self, j: Journey, a: Accepted[RecordsCompleteData]) -> None:
        on_file = set(j.state.records_on_file) | set(a.data.records)
        missing = [r.value for r in j.protocol.required_records if r not in on_file]
        if missing:
            raise refused(
                "records are not complete: the protocol requires {missing} (not on file); "
                "record them with record_received or list them in data.records",
                RefusalCode.PATHWAY_RULE,
                missing=", ".join(missing),
            )

    def apply(self, j: Journey, a: Accepted[RecordsCompleteData], now: datetime) -> None:
        for r in a.data.records:
            if r not in j.state.records_on_file:
                j.state.records_on_file.append(r)
        j.enter(Phase.PRE_ASSESSMENT, a.occurred_at, now)


@rule
class EligibilityAssessed(MilestoneRule[EligibilityAssessedData]):
    """The pre-assessment's outcome: on to PI review, back to intake, or closed ineligible."""

    kind = MilestoneKind.ELIGIBILITY_ASSESSED
    phases = (Phase.PRE_ASSESSMENT,)
    data = EligibilityAssessedData

    def check(self, j: Journey, a: Accepted[EligibilityAssessedData]) -> None:
        if not j.v5:
            return
        gates.check_signature(
            a.data.signature_meaning,
            gates.fitting_meanings(self.kind, a.data),
            f"eligibility_assessed outcome={a.data.outcome}",
        )
        gates.check_eligibility(j, a.data)

    def apply(self, j: Journey, a: Accepted[EligibilityAssessedData], now: datetime) -> None:
        if j.v5:
            j.state.eligibility_failing = gates.check_eligibility(j, a.data)
            assert a.data.signature_meaning is not None  # checked
            gates.sign(
                j,
                self.kind.value,
                a.raw.actor.strip(),
                a.data.signature_meaning,
                now,
                f"outcome={a.data.outcome}",
            )
        if a.data.outcome == "eligible":
            j.enter(Phase.PI_REVIEW, a.occurred_at, now)
        elif a.data.outcome == "ineligible":
            j.close(Outcome.INELIGIBLE)
        else:
            j.enter(Phase.INTAKE, a.occurred_at, now)
