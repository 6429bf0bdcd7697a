"""What the records and family milestones carry (runs under `RECORDS`): a record's translation
for the PI, by the record's SHA-256 (the files stay in the records store), and a symptom the
family reports."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from models.enums import RecordType
from models.pathway.data import LANGUAGE, SHA256, MilestoneData

# The symptoms a family reports from their page: each raises an urgent alert.
Symptom = Literal["fever", "breathing", "confusion", "bleeding", "other"]
SYMPTOMS: tuple[str, ...] = get_args(Symptom)
RECORD = Field(pattern=SHA256, description="64 hex characters: the record's SHA-256")


class TranslationRequestedData(MilestoneData):
    """A record in another language than the site's: its translation for the PI is asked for."""

    sha256: str = RECORD
    record_type: RecordType
    language: str = Field(pattern=LANGUAGE, description="the record's language tag, e.g. en")


class RecordTranslatedData(MilestoneData):
    """The translation of a requested record arrived (a second file in the records store)."""

    sha256: str = RECORD
    translation_sha256: str = Field(
        pattern=SHA256, description="64 hex characters: the translation's SHA-256"
    )


class TranslationVerifiedData(MilestoneData):
    """Someone other than its translator checked a translation against its record."""

    sha256: str = RECORD


class SymptomReportedData(MilestoneData):
    """A symptom the family reported from their page (the words they wrote stay in the case
    store's notes; the journey keeps only what it was)."""

    symptom: Symptom
