"""Principal-investigator review: one site at a time, in turn until one accepts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import DeadlineName, MilestoneKind, Outcome, Phase
from models.errors import RefusalCode, refused
from models.pathway import deadlines, gates
from models.pathway.data import PiDecisionData, SiteData
from models.pathway.milestones.records import check_translations
from models.pathway.rules import Accepted, MilestoneRule, rule

if TYPE_CHECKING:
    from models.pathway.journey import Journey


@rule
class SubmittedToPi(MilestoneRule[SiteData]):
    """The case went to one of its sites' PI; the decision clock starts."""

    kind = MilestoneKind.SUBMITTED_TO_PI
    phases = (Phase.PI_REVIEW,)
    data = SiteData

    def awaited(self, j: Journey) -> bool:
        return j.state.submitted_site is None

    def check(self, j: Journey, a: Accepted[SiteData]) -> None:
        s, site = j.state, a.data.site
        if site not in j.facts.sites:
            raise refused(
                "site {site} is not one of this case's sites; expected one of: {sites}",
                RefusalCode.UNKNOWN_NAME,
                site=repr(site),
                sites=", ".join(j.remaining_sites()),
            )
        if site in s.declined_sites:
            raise refused(
                "site {site} already declined this case; expected one of: {sites}",
                RefusalCode.PATHWAY_RULE,
                site=repr(site),
                sites=", ".join(j.remaining_sites()),
            )
        if s.submitted_site is not None:
            raise refused(
                "the case is awaiting the PI decision of {site}; expected pi_decision for that "
                "site first",
                RefusalCode.PATHWAY_RULE,
                site=repr(s.submitted_site),
            )
        check_translations(j)

    def apply(self, j: Journey, a: Accepted[SiteData], now: datetime) -> None:
        j.state.submitted_site = a.data.site
        j.met(DeadlineName.PI_SUBMISSION, at=a.occurred_at, now=now)
        deadlines.open_pi_decision(j, a.occurred_at, now)


@rule
class PiDecision(MilestoneRule[PiDecisionData]):
    """The PI's decision: accepted (logistics), declined (next site, or closed), more info."""

    kind = MilestoneKind.PI_DECISION
    phases = (Phase.PI_REVIEW,)
    data = PiDecisionData

    def awaited(self, j: Journey) -> bool:
        return j.state.submitted_site is not None

    def after(self, j: Journey) -> list[str]:
        return [] if j.state.submitted_site is not None else [MilestoneKind.SUBMITTED_TO_PI]

    def check(self, j: Journey, a: Accepted[PiDecisionData]) -> None:
        submitted = j.state.submitted_site
        if submitted is None:
            raise refused(
                "no submission awaits a decision; expected submitted_to_pi first",
                RefusalCode.PATHWAY_RULE,
            )
        if a.data.site != submitted:
            raise refused(
                "the case was submitted to {submitted}, not {site}; expected site={expected}",
                RefusalCode.PATHWAY_RULE,
                submitted=repr(submitted),
                site=repr(a.data.site),
                expected=submitted,
            )
        d = a.data
        if not j.signers and (d.principal_investigator or d.transcribed_from_sha256):
            # As before `SIGNERS`: these fields were unknown (and replay must refuse them).
            raise refused(
                "principal_investigator, transcribed_from_sha256: not taken by this journey "
                "until its next run; expected site, decision, signature_meaning",
                RefusalCode.INVALID_DATA,
            )
        if j.v5:
            gates.check_signature(
                d.signature_meaning,
                gates.fitting_meanings(self.kind, d),
                f"pi_decision decision={d.decision}",
            )
        if d.transcribed_from_sha256 and not d.principal_investigator:
            raise refused(
                "a transcribed decision names the PI who signed it; expected "
                "principal_investigator (their staff id) with transcribed_from_sha256",
                RefusalCode.MISSING_FIELD,
            )
        actor = a.raw.actor.strip()
        if (
            not d.transcribed_from_sha256
            and d.principal_investigator
            and d.principal_investigator != actor
        ):
            raise refused(
                "only {pi} signs their decision; a decision received in writing is recorded as "
                "transcribed: expected transcribed_from_sha256 (the signed document's SHA-256)",
                RefusalCode.PERMISSION,
                pi=d.principal_investigator,
            )

    def apply(self, j: Journey, a: Accepted[PiDecisionData], now: datetime) -> None:
        s, d, at = j.state, a.data, a.occurred_at
        if j.v5 and d.signature_meaning is not None:
            actor = a.raw.actor.strip()
            transcribed = d.transcribed_from_sha256 is not None
            gates.sign(
                j,
                self.kind.value,
                (d.principal_investigator or actor) if transcribed else actor,
                d.signature_meaning,
                now,
                f"site={d.site} decision={d.decision}",
                transcribed_by=actor if transcribed else None,
                document_sha256=d.transcribed_from_sha256,
            )
        if d.decision == "accepted":
            s.current_site, s.submitted_site = d.site, None
            j.enter(Phase.LOGISTICS, at, now)
        elif d.decision == "declined":
            s.declined_sites.append(d.site)
            s.submitted_site = None
            j.met(DeadlineName.PI_DECISION, at=a.occurred_at, now=now)
            if j.remaining_sites():
                deadlines.open_pi_submission(j, at, now)
            else:
                j.close(Outcome.DECLINED)
        else:
            deadlines.open_pi_decision(j, at, now)
