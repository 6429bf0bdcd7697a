"""Records for the PI and the family's own reports (runs under `RECORDS`; earlier runs refuse
these kinds as unknown).

- `translation_requested`: a record written in another language than the site's working
  language (`ProtocolConfig.working_language`) is translated for the PI within
  `translation_business_days` (`translation_<record>`, by its short hash).
- `record_translated`: the translation arrived (its own SHA-256; the file is in the records
  store, never here).
- `translation_verified`: someone other than its translator checked it; the deadline closes.
  `submitted_to_pi` is refused while a record of a type the protocol requires has no verified
  translation (`check_translations`).
- `symptom_reported`: the family reported a symptom from their page; the on-call physician
  gets an urgent alert at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from models.enums import AlertKind, MilestoneKind, Severity, translation_deadline
from models.errors import RefusalCode, refused
from models.messages import Translation
from models.pathway import alerts
from models.pathway.data_records import (
    RecordTranslatedData,
    SymptomReportedData,
    TranslationRequestedData,
    TranslationVerifiedData,
)
from models.pathway.rules import (
    OPEN_PHASES,
    Accepted,
    D,
    MilestoneRule,
    require_run,
    rule,
)

if TYPE_CHECKING:
    from models.pathway.journey import Journey

K = MilestoneKind
# Records are translated for the PI: from intake until the PI has decided (a record sent later
# for the treating team is translated the same way).
RECORD_PHASES = OPEN_PHASES
SYMPTOM_WORDS = {
    "fever": "fever",
    "breathing": "difficulty breathing",
    "confusion": "confusion or drowsiness",
    "bleeding": "bleeding",
    "other": "another symptom",
}


def require_records(j: Journey, what: str) -> None:
    """Refuse what only runs under `RECORDS` take, as earlier runs always did."""
    require_run(j.records, what)


def find(j: Journey, sha256: str) -> Translation | None:
    """The translation of the record with this SHA-256, if one was requested."""
    return next((t for t in j.state.translations if t.sha256 == sha256), None)


def check_translations(j: Journey) -> None:
    """Refuse a submission to the PI while a required record's translation is not verified."""
    if not j.records:
        return
    required = {r.value for r in j.protocol.required_records}
    waiting = [
        f"{t.record_type} ({t.language}, {t.short}: {t.state})"
        for t in j.state.translations
        if t.record_type in required and t.state != "verified"
    ]
    if waiting:
        raise refused(
            "a required record has no verified translation for the PI: {waiting}; expected "
            "translation_verified for each first",
            RefusalCode.PATHWAY_RULE,
            waiting="; ".join(waiting),
        )


class RecordsRule(MilestoneRule[D]):
    """A milestone only runs under `RECORDS` know: optional, never waited for."""

    phases = RECORD_PHASES

    def optional(self, j: Journey) -> bool:
        return True

    def awaited(self, j: Journey) -> bool:
        return False

    def check(self, j: Journey, a: Accepted[D]) -> None:
        require_records(j, f"milestone kind {self.kind.value!r}")


@rule
class TranslationRequested(RecordsRule[TranslationRequestedData]):
    """A record's translation for the PI is asked for; it is due in business days."""

    kind = K.TRANSLATION_REQUESTED
    data = TranslationRequestedData

    def check(self, j: Journey, a: Accepted[TranslationRequestedData]) -> None:
        super().check(j, a)
        if a.data.language == j.protocol.working_language:
            raise refused(
                "the record is in {language}, the site's working language; expected "
                "a record in another language",
                RefusalCode.PATHWAY_RULE,
                language=a.data.language,
            )
        if find(j, a.data.sha256) is not None:
            raise refused(
                "a translation of record {record} was already requested; expected "
                "record_translated or translation_verified for it",
                RefusalCode.PATHWAY_RULE,
                record=a.data.sha256[:12],
            )

    def apply(self, j: Journey, a: Accepted[TranslationRequestedData], now: datetime) -> None:
        t = Translation(
            sha256=a.data.sha256,
            record_type=a.data.record_type.value,
            language=a.data.language,
            state="requested",
            requested_by=a.raw.actor.strip(),
            requested_at=a.occurred_at,
        )
        j.state.translations.append(t)
        p = j.protocol
        due = j.business(a.occurred_at, p.translation_business_days)
        j.book.open(
            translation_deadline(t.short),
            now=now,
            start=a.occurred_at,
            due_at=due,
            summary=f"Translation of a {t.record_type} record ({t.language} → "
            f"{p.working_language}), {p.translation_business_days} business days",
            before=[due - j.business(a.occurred_at, max(p.translation_business_days - 1, 1))],
            level2_after=j.level2_after(),
        )


@rule
class RecordTranslated(RecordsRule[RecordTranslatedData]):
    """The translation of a requested record arrived; it waits to be verified."""

    kind = K.RECORD_TRANSLATED
    data = RecordTranslatedData

    def check(self, j: Journey, a: Accepted[RecordTranslatedData]) -> None:
        super().check(j, a)
        t = find(j, a.data.sha256)
        if t is None:
            raise refused(
                "no translation of record {record} was requested; expected "
                "translation_requested first",
                RefusalCode.OUT_OF_ORDER,
                record=a.data.sha256[:12],
            )
        if t.state == "verified":
            raise refused(
                "the translation of record {record} is already verified",
                RefusalCode.PATHWAY_RULE,
                record=t.short,
            )
        if a.data.translation_sha256 == a.data.sha256:
            raise refused(
                "the translation is the record itself; expected the translated file's SHA-256",
                RefusalCode.PATHWAY_RULE,
            )

    def apply(self, j: Journey, a: Accepted[RecordTranslatedData], now: datetime) -> None:
        t = find(j, a.data.sha256)
        assert t is not None  # checked
        t.state = "translated"
        t.translation_sha256 = a.data.translation_sha256
        t.translated_by = a.raw.actor.strip()
        t.translated_at = a.occurred_at


@rule
class TranslationVerified(RecordsRule[TranslationVerifiedData]):
    """A translation checked against its record by someone other than its translator."""

    kind = K.TRANSLATION_VERIFIED
    data = TranslationVerifiedData

    def check(self, j: Journey, a: Accepted[TranslationVerifiedData]) -> None:
        super().check(j, a)
        t = find(j, a.data.sha256)
        if t is None or t.state == "requested":
            raise refused(
                "record {record} has no translation to verify; expected record_translated first",
                RefusalCode.OUT_OF_ORDER,
                record=a.data.sha256[:12],
            )
        if t.state == "verified":
            raise refused(
                "the translation of record {record} is already verified",
                RefusalCode.PATHWAY_RULE,
                record=t.short,
            )
        if a.raw.actor.strip() == t.translated_by:
            raise refused(
                "{person} uploaded this translation; expected someone else to verify it "
                "(four eyes)",
                RefusalCode.PATHWAY_RULE,
                person=t.translated_by,
            )

    def apply(self, j: Journey, a: Accepted[TranslationVerifiedData], now: datetime) -> None:
        t = find(j, a.data.sha256)
        assert t is not None  # checked
        t.state = "verified"
        t.verified_by = a.raw.actor.strip()
        t.verified_at = a.occurred_at
        j.met(translation_deadline(t.short), at=a.occurred_at, now=now)


@rule
class SymptomReported(RecordsRule[SymptomReportedData]):
    """A symptom the family reported: the on-call physician is alerted at once."""

    kind = K.SYMPTOM_REPORTED
    data = SymptomReportedData

    def apply(self, j: Journey, a: Accepted[SymptomReportedData], now: datetime) -> None:
        words = SYMPTOM_WORDS[a.data.symptom]
        s = j.state
        alerts.raise_alert(
            j,
            AlertKind.FAMILY_SYMPTOM,
            Severity.URGENT,
            now,
            f"The family reports {words} ({a.occurred_at:%Y-%m-%d %H:%M} UTC): call them back now",
            # Before any site has the case (at home, in intake), the first of its sites'
            # on-call physician answers: someone must, at any phase.
            site=s.current_site or s.submitted_site or j.facts.sites[0],
        )
