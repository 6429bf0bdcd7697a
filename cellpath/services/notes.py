"""A case's thread: staff notes, messages to the family and messages from them.

Notes live in the case store only (they may name the patient), never in Temporal. A message
to the family is rendered in their language (`family/message.j2`) and e-mailed to the patient
and the caregiver on the intake file at once; its delivery state (`sent`, `failed`,
`no_address`) is kept on the entry, so a coordinator sees what reached them. Sent here, not
through a `DeliverNotification` workflow: the message's words may name the patient, and a
workflow's input is in Temporal's history.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cellpath.delivery import channels
from cellpath.delivery.messages import family_language, render_family
from cellpath.services.authority import authorise
from cellpath.services.base import Session, refusing
from cellpath.store.directory import Directory
from cellpath.store.records import RecordRows
from cellpath.store.tables import CaseNote, Patient
from models.errors import RefusalCode
from models.roles import Action

__all__ = ["CaseNote", "add_note", "message_family", "thread"]

KINDS = ("note", "to_family", "from_family", "symptom")
MAX_TEXT = 4000


def checked_text(text: str) -> str:
    """A note's or message's text, stripped; refused when empty or over `MAX_TEXT`."""
    text = text.strip()
    if not text:
        raise refusing("the note is empty; expected some text", RefusalCode.MISSING_FIELD)
    if len(text) > MAX_TEXT:
        raise refusing(
            "the note has {count} characters; expected at most {most}",
            RefusalCode.INVALID_DATA,
            count=len(text),
            most=MAX_TEXT,
        )
    return text


def add_note(session: Session, case: str, text: str) -> CaseNote:
    """An internal note by a member of the care team (never shown to the family)."""
    authorise(session, Action.NOTE, case=case)
    return RecordRows(session.case_store()).add_note(
        CaseNote(
            case_id=case,
            kind="note",
            author=session.actor,
            text=checked_text(text),
            created_at=datetime.now(UTC),
        )
    )


def thread(session: Session, case: str, search: str = "") -> list[CaseNote]:
    """The case's thread, oldest first (the care team; `search` filters by words)."""
    authorise(session, Action.READ_IDENTITY, case=case)
    return RecordRows(session.case_store()).notes(case, search.strip())


def family_addresses(patient: Patient | None) -> list[str]:
    """Where e-mail to the family goes: the patient and the caregiver on the intake file."""
    if patient is None or patient.erased_at is not None:
        return []
    return [a for a in (patient.email, patient.caregiver_email) if a]


async def message_family(session: Session, case: str, text: str) -> CaseNote:
    """A message to the family in their language, sent now; kept with its delivery state."""
    authorise(session, Action.MILESTONE, case=case)
    text = checked_text(text)
    store = session.case_store()
    patient = store.patient_of_case(case)
    language = family_language(patient.preferred_language if patient else None) or "en"
    rows = RecordRows(store)
    note = rows.add_note(
        CaseNote(
            case_id=case,
            kind="to_family",
            author=session.actor,
            text=text,
            language=language,
            created_at=datetime.now(UTC),
        )
    )
    assert note.id is not None
    message = render_family(
        "message",
        language,
        text=text,
        author=session.actor,
        family_name=patient.full_name if patient else None,
        centre=Directory(store).site_of_case(case),
    )
    state, error = await send_to_family(
        session, patient, message.subject, message.body, f"{case}:message:{note.id}"
    )
    rows.set_delivery(note.id, state, error)
    note.delivery, note.delivery_error = state, error
    return note


async def send_to_family(
    session: Session, patient: Patient | None, subject: str, body: str, key: str
) -> tuple[str, str]:
    """E-mail the family now: (`sent` | `failed` | `no_address`, why not)."""
    smtp = session.settings.smtp_url
    addresses = family_addresses(patient)
    if smtp is None or not addresses:
        why = "no mail server configured" if smtp is None else "no e-mail on the intake file"
        return "no_address", why
    errors = []
    for n, to in enumerate(addresses):
        url = channels.email_url(smtp.get_secret_value(), session.settings.mail_from, to)
        try:
            await asyncio.to_thread(
                channels.send,
                url,
                subject=subject,
                body=body,
                msg_id=channels.message_id(key, f"family-{n}", "email"),
            )
        except channels.ChannelError as e:
            errors.append(str(e))
    if len(errors) == len(addresses):
        return "failed", "; ".join(errors)
    return "sent", "; ".join(errors)
