"""The records services: a case's files kept outside Temporal, their translations for the PI.

- `add`: a file from staff (the console, `cellpath records add`) or the family (their page,
  waiting until a coordinator `accept`s it). Checked before anything is kept: size, content
  (by its bytes, against its name and declared type), record type, language. Sealed into the
  records store, its row kept, then `record_received` recorded with its SHA-256, language and
  pages — the journey never sees the file. A record in another language than the site's
  working language has its translation requested at once (`translation_requested`).
- `add_translation` / `verify`: the translation is a second file (`record_translated`), then
  checked by someone else (`translation_verified`).
- `read`: a download, audited (`record_viewed`); `erase`: every file of a case removed.

The care-team rules apply to every file: the same `authorise` as every other case action.
A refusal keeps nothing and is audited with its reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cellpath.records import content
from cellpath.records.blobs import BlobError
from cellpath.records.vault import Vault, VaultError
from cellpath.services import journeys
from cellpath.services.authority import authorise, record_refusal
from cellpath.services.base import Refusal, Session, Unreachable
from cellpath.store.records import RecordRows
from cellpath.store.tables import RecordFile

__all__ = ["Added", "RecordFile", "accept", "add", "add_translation", "erase", "listing", "read"]
from models.enums import AuditAction, MilestoneKind, Phase, RecordType
from models.errors import RefusalCode, Refused, refused
from models.messages import JourneyStatus, MilestoneInput
from models.pathway.data import LANGUAGE as LANGUAGE_TAG
from models.roles import Action

# The language tags `record_received` takes (the journey checks them the same way).
LANGUAGE = re.compile(LANGUAGE_TAG)


@dataclass(frozen=True)
class Added:
    """What adding a file did: its row, whether it was already on file, what the journey
    recorded (or why it did not)."""

    record: RecordFile
    duplicate: bool
    recorded: list[str]
    note: str = ""


def vault(session: Session) -> Vault:
    """The records store this session's settings describe."""
    try:
        return Vault.from_settings(session.settings)
    except (ValueError, OSError) as e:
        raise Unreachable(f"the records store is not usable: {e}") from None


def rows(session: Session) -> RecordRows:
    """The records' rows in the case store."""
    return RecordRows(session.case_store())


def _refuse(session: Session, case: str, what: str, refusal: Refused) -> Refusal:
    """The refusal (audited), its words apart from its data."""
    record_refusal(session, case, what, None, str(refusal))
    return Refusal.of(refusal)


def check_file(
    session: Session,
    case: str,
    data: bytes,
    *,
    filename: str = "",
    declared: str | None = None,
) -> content.Content:
    """Size and content, or a refusal (audited) naming what was expected."""
    limit = session.settings.records_max_bytes
    if len(data) > limit:
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "the file is {size} MB; expected at most {limit} MB",
                RefusalCode.INVALID_DATA,
                size=f"{len(data) / 1e6:.1f}",
                limit=f"{limit / 1e6:.0f}",
            ),
        )
    try:
        return content.check(data, filename or None, declared)
    except content.ContentRefused as e:
        raise _refuse(session, case, "record", e) from None


def _record_type(session: Session, case: str, value: str) -> RecordType:
    try:
        return RecordType(value.strip().lower())
    except ValueError:
        names = ", ".join(t.value for t in RecordType)
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "unknown record type {value}; expected one of: {names}",
                RefusalCode.UNKNOWN_NAME,
                value=repr(value),
                names=names,
            ),
        ) from None


def _language(session: Session, case: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    v = value.strip()
    if not LANGUAGE.match(v):
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "language {value}: expected a language tag such as en, zh, ru",
                RefusalCode.INVALID_DATA,
                value=repr(v),
            ),
        )
    return v


async def add(
    session: Session,
    case: str,
    data: bytes,
    *,
    record_type: str,
    filename: str = "",
    declared: str | None = None,
    language: str | None = None,
    pages: int | None = None,
    source: str = "staff",
) -> Added:
    """Keep a record file of `case` and tell the journey (see the module's docstring).

    From the family (`source="family"`), the session's actor is the family's; the file waits
    for a coordinator and the journey is told nothing yet.
    """
    if source == "staff":
        authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.RECORD_RECEIVED)
    kind = _record_type(session, case, record_type)
    lang = _language(session, case, language)
    found = check_file(session, case, data, filename=filename, declared=declared)
    if pages is not None and not 1 <= pages <= 10_000:
        raise _refuse(
            session,
            case,
            "record",
            refused("pages: expected a whole number from 1 to 10000", RefusalCode.INVALID_DATA),
        )
    store = rows(session)
    existing = store.find(case, hashlib.sha256(data).hexdigest())
    if existing is not None:
        return Added(existing, duplicate=True, recorded=[], note="this file is already on file")
    row = _keep(
        session,
        case,
        data,
        found,
        filename,
        record_type=kind.value,
        language=lang,
        pages=pages,
        source=source,
        status="accepted" if source == "staff" else "pending",
    )
    if source != "staff":
        return Added(row, duplicate=False, recorded=[], note="waiting for the coordinator")
    try:
        recorded, note = await _tell_journey(session, case, row)
    except Refusal:
        _forget(session, case, row)
        raise
    return Added(row, duplicate=False, recorded=recorded, note=note)


def keep_document(
    session: Session,
    case: str,
    data: bytes,
    *,
    kind: str,
    filename: str = "",
    declared: str | None = None,
) -> RecordFile:
    """Keep a signed document whose SHA-256 a milestone (`kind`: a consent, a PI's letter)
    already carries: sealed like any record, its type the milestone's kind."""
    # Whoever may record milestones on the case keeps the document (the milestone's own
    # rule, such as who signs a PI's decision, was the journey's to check).
    authorise(session, Action.MILESTONE, case=case)
    found = check_file(session, case, data, filename=filename, declared=declared)
    store = rows(session)
    existing = store.find(case, hashlib.sha256(data).hexdigest())
    if existing is not None:
        return existing
    return _keep(session, case, data, found, filename, record_type=kind[:32])


def _keep(
    session: Session,
    case: str,
    data: bytes,
    found: content.Content,
    filename: str,
    **fields: Any,
) -> RecordFile:
    """Seal `data` into the records store and keep its row (audited `record_added`)."""
    try:
        sealed = vault(session).put(case, data)
    except BlobError as e:
        raise Unreachable(str(e)) from None
    row = RecordFile(
        case_id=case,
        sha256=sealed.sha256,
        media_type=found.media_type,
        size_bytes=sealed.size,
        filename=filename[-255:],
        key_id=sealed.key_id,
        blob_key=sealed.blob_key,
        added_by=session.actor,
        added_at=_now(),
        **fields,
    )
    detail = {"sha256": sealed.sha256, "bytes": sealed.size} | {
        k: fields[k] for k in ("record_type", "source", "translation_of") if k in fields
    }
    return rows(session).add(row, session.actor, detail)


def _forget(session: Session, case: str, row: RecordFile) -> None:
    """The journey refused what a kept file was for: nothing of it stays (row and file)."""
    rows(session).update(
        case, _id(row), session.actor, AuditAction.RECORDS_ERASED, erased_at=_now()
    )
    vault(session).delete(row.blob_key)


def _id(row: RecordFile) -> int:
    assert row.id is not None  # rows come from the store
    return row.id


def _now() -> datetime:
    return datetime.now(UTC)


async def _tell_journey(session: Session, case: str, row: RecordFile) -> tuple[list[str], str]:
    """Record `record_received` (at intake) and, for a record in another language than the
    site's, `translation_requested`; returns what was recorded and a note on what was not."""
    status = await journeys.status(session, case)
    recorded: list[str] = []
    note = ""
    if status.phase == Phase.INTAKE:
        data: dict[str, Any] = {"record_type": row.record_type}
        if status.records:
            data |= {"sha256": row.sha256, "language": row.language, "pages": row.pages}
        await _milestone(session, case, "record_received", {k: v for k, v in data.items() if v})
        recorded.append("record_received")
    else:
        note = f"the journey is in {status.phase}; the file is kept with the case's records"
    if _needs_translation(status, row):
        await _milestone(
            session,
            case,
            "translation_requested",
            {"sha256": row.sha256, "record_type": row.record_type, "language": row.language},
        )
        rows(session).update(
            case, _id(row), session.actor, AuditAction.RECORD_ADDED, translation="requested"
        )
        row.translation = "requested"
        recorded.append("translation_requested")
    return recorded, note


def _needs_translation(status: JourneyStatus, row: RecordFile) -> bool:
    if not status.records or row.language is None or status.phase == Phase.CLOSED:
        return False
    return row.language.split("-")[0] != status.working_language.split("-")[0]


async def _milestone(session: Session, case: str, kind: str, data: dict[str, Any]) -> None:
    await journeys.record_milestone(
        session, case, MilestoneInput(kind=kind, actor=session.actor, data=data)
    )


def listing(session: Session, case: str) -> list[RecordFile]:
    """A case's files (the care team; the rows say what, not what the files hold)."""
    authorise(session, Action.READ_IDENTITY, case=case)
    return rows(session).of_case(case)


def _row(session: Session, case: str, record_id: int) -> RecordFile:
    row = rows(session).get(case, record_id)
    if row is None:
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "case {case} has no record {record}",
                RefusalCode.UNKNOWN_NAME,
                case=case,
                record=record_id,
            ),
        )
    return row


def read(session: Session, case: str, record_id: int) -> tuple[RecordFile, bytes]:
    """A record's file, for the care team; every download is audited (`record_viewed`)."""
    authorise(session, Action.READ_IDENTITY, case=case)
    row = _row(session, case, record_id)
    try:
        data = vault(session).get(case, row.sha256, row.key_id, row.blob_key)
    except (KeyError, VaultError, BlobError) as e:
        raise Unreachable(f"record {record_id} cannot be read: {e}") from None
    rows(session).audit(case, AuditAction.RECORD_VIEWED, session.actor, {"record": record_id})
    return row, data


async def accept(session: Session, case: str, record_id: int, *, accepted: bool = True) -> Added:
    """A coordinator accepts a file the family sent (the journey is told, as for staff's
    own) or declines it (kept, marked declined)."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.RECORD_RECEIVED)
    row = _row(session, case, record_id)
    if row.status != "pending":
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "record {record} is {status}; expected one the family sent, waiting",
                RefusalCode.ALREADY_DONE,
                record=record_id,
                status=row.status,
            ),
        )
    if not accepted:
        rows(session).update(
            case, record_id, session.actor, AuditAction.RECORD_ACCEPTED, status="declined"
        )
        row.status = "declined"
        return Added(row, duplicate=False, recorded=[], note="declined")
    recorded, note = await _tell_journey(session, case, row)
    rows(session).update(
        case, record_id, session.actor, AuditAction.RECORD_ACCEPTED, status="accepted"
    )
    row.status = "accepted"
    return Added(row, duplicate=False, recorded=recorded, note=note)


async def add_translation(
    session: Session,
    case: str,
    record_id: int,
    data: bytes,
    *,
    filename: str = "",
    declared: str | None = None,
) -> Added:
    """The translation of a record, as a second file: `record_translated` in the journey."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.RECORD_TRANSLATED)
    row = _row(session, case, record_id)
    if row.translation not in ("requested", "translated"):
        raise _refuse(
            session,
            case,
            "record",
            refused(
                "record {record} has no translation requested; "
                "expected a record in another language than the site's",
                RefusalCode.OUT_OF_ORDER,
                record=record_id,
            ),
        )
    found = check_file(session, case, data, filename=filename, declared=declared)
    status = await journeys.status(session, case)
    translation = _keep(
        session,
        case,
        data,
        found,
        filename,
        record_type=row.record_type,
        language=status.working_language,
        translation_of=record_id,
    )
    try:
        await _milestone(
            session,
            case,
            "record_translated",
            {"sha256": row.sha256, "translation_sha256": translation.sha256},
        )
    except Refusal:
        _forget(session, case, translation)
        raise
    rows(session).update(
        case, record_id, session.actor, AuditAction.RECORD_ADDED, translation="translated"
    )
    return Added(translation, duplicate=False, recorded=["record_translated"])


async def verify(session: Session, case: str, record_id: int) -> None:
    """Someone other than its translator checked the translation (`translation_verified`)."""
    authorise(session, Action.MILESTONE, case=case, milestone=MilestoneKind.TRANSLATION_VERIFIED)
    row = _row(session, case, record_id)
    await _milestone(session, case, "translation_verified", {"sha256": row.sha256})
    rows(session).update(
        case, record_id, session.actor, AuditAction.RECORD_ADDED, translation="verified"
    )


def erase(session: Session, case: str, reason: str) -> int:
    """Remove every file of a case from the records store (with the patient's erasure);
    returns how many files were removed."""
    authorise(session, Action.ERASE, case=case)
    if not reason.strip():
        raise _refuse(
            session,
            case,
            "erase",
            refused(
                "erasure needs a reason (the legal basis or the request)", RefusalCode.MISSING_FIELD
            ),
        )
    v = vault(session)
    removed = 0
    for row in rows(session).erase(case, session.actor, reason):
        try:
            removed += v.delete(row.blob_key)
        except BlobError as e:
            session.warn(f"record {row.id}: its file could not be removed yet: {e}")
    return removed
