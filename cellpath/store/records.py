"""Records, notes and the family's links in the case store (revision 0009).

Rows only: the files' sealed bytes are in the records store (`cellpath.records`). Every change
is audited on the case in the same transaction.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from cellpath.store import CaseStore
from cellpath.store.rows import _audit_row
from cellpath.store.tables import CaseNote, FamilyLink, RecordFile
from models.enums import AuditAction


def _now() -> datetime:
    return datetime.now(UTC)


def _code_digest(link_id: int, code: str) -> str:
    return hashlib.sha256(f"{link_id}:{code}".encode()).hexdigest()


class RecordRows:
    """The case store's side of records, notes and family links."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store

    # --- records -------------------------------------------------------------------------

    def add(self, row: RecordFile, actor: str, detail: dict[str, Any]) -> RecordFile:
        """Keep a record's row (audited `record_added`); returns it with its id."""
        with self.store.session() as s:
            s.add(row)
            s.flush()  # its id, for the audit entry
            detail = detail | {"record": row.id}
            s.add(_audit_row(row.case_id, AuditAction.RECORD_ADDED, actor, row.added_at, detail))
        return row

    def find(self, case_id: str, sha256: str) -> RecordFile | None:
        """The live (not erased) record of a case with this SHA-256."""
        with self.store.session() as s:
            return s.exec(
                select(RecordFile).where(
                    RecordFile.case_id == case_id,
                    RecordFile.sha256 == sha256,
                    col(RecordFile.erased_at).is_(None),
                )
            ).first()

    def get(self, case_id: str, record_id: int) -> RecordFile | None:
        """A case's record by its id (None for another case's, or an erased one)."""
        with self.store.session() as s:
            row = s.get(RecordFile, record_id)
        if row is None or row.case_id != case_id or row.erased_at is not None:
            return None
        return row

    def of_case(self, case_id: str) -> list[RecordFile]:
        """A case's live records, oldest first."""
        with self.store.session() as s:
            return list(
                s.exec(
                    select(RecordFile)
                    .where(RecordFile.case_id == case_id, col(RecordFile.erased_at).is_(None))
                    .order_by(col(RecordFile.id))
                )
            )

    def update(self, case_id: str, record_id: int, actor: str, action: str, **changes: Any) -> None:
        """Change a record's status or translation state (audited as `action`)."""
        with self.store.session() as s:
            row = s.get(RecordFile, record_id)
            if row is None or row.case_id != case_id:
                raise KeyError(record_id)
            for name, value in changes.items():
                setattr(row, name, value)
            s.add(row)
            detail = {"record": record_id} | {k: str(v) for k, v in changes.items()}
            s.add(_audit_row(case_id, action, actor, _now(), detail))

    def audit(
        self, case_id: str, action: str, actor: str, detail: dict[str, Any], reason: str = ""
    ) -> None:
        """Audit something done with a case's records or family (a download, a refusal)."""
        with self.store.session() as s:
            s.add(_audit_row(case_id, action, actor, _now(), detail, reason))

    def erase(self, case_id: str, actor: str, reason: str) -> list[RecordFile]:
        """Mark every live record of a case erased (audited); returns them, for their files
        to be deleted."""
        now = _now()
        with self.store.session() as s:
            rows = list(
                s.exec(
                    select(RecordFile).where(
                        RecordFile.case_id == case_id, col(RecordFile.erased_at).is_(None)
                    )
                )
            )
            for row in rows:
                row.erased_at = now
                s.add(row)
            detail = {"files": len(rows)}
            s.add(_audit_row(case_id, AuditAction.RECORDS_ERASED, actor, now, detail, reason))
        return rows

    # --- the case's thread ---------------------------------------------------------------

    def add_note(self, note: CaseNote) -> CaseNote:
        """Add to the case's thread (audited `note_added`, without its text)."""
        with self.store.session() as s:
            s.add(note)
            s.flush()  # its id, for the audit entry
            detail = {"note": note.id, "kind": note.kind}
            at = note.created_at
            s.add(_audit_row(note.case_id, AuditAction.NOTE_ADDED, note.author, at, detail))
        return note

    def set_delivery(self, note_id: int, state: str, error: str = "") -> None:
        """Record how a message to the family went."""
        with self.store.session() as s:
            note = s.get(CaseNote, note_id)
            if note is not None:
                note.delivery, note.delivery_error = state, error[:500]
                s.add(note)

    def notes(self, case_id: str, search: str = "") -> list[CaseNote]:
        """The case's thread, oldest first; `search`: only entries containing it (any case)."""
        with self.store.session() as s:
            q = select(CaseNote).where(CaseNote.case_id == case_id)
            if search:
                q = q.where(func.lower(CaseNote.text).contains(search.lower()))
            return list(s.exec(q.order_by(col(CaseNote.id))))

    def count_since(self, case_id: str, kind: str, since: datetime) -> int:
        """How many entries of `kind` the case's thread got since `since`."""
        with self.store.session() as s:
            q = select(func.count()).where(
                CaseNote.case_id == case_id, CaseNote.kind == kind, CaseNote.created_at >= since
            )
            return int(s.exec(q).one())

    # --- the family's sign-in links ------------------------------------------------------

    def new_link(
        self, case_id: str, token: str, sent_to: str, requested_by: str, minutes: float
    ) -> FamilyLink:
        """Keep a sign-in link (its token's SHA-256 only), valid for `minutes`."""
        now = _now()
        link = FamilyLink(
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            case_id=case_id,
            sent_to=sent_to,
            requested_by=requested_by,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        with self.store.session() as s:
            s.add(link)
            detail = {"sent_to": sent_to, "expires_at": link.expires_at.isoformat()}
            s.add(_audit_row(case_id, AuditAction.FAMILY_LINK_SENT, requested_by, now, detail))
        return link

    def links_since(self, case_id: str, since: datetime) -> int:
        """How many links were made for a case since `since`."""
        with self.store.session() as s:
            q = select(func.count()).where(
                FamilyLink.case_id == case_id, FamilyLink.created_at >= since
            )
            return int(s.exec(q).one())

    def link_case(self, token: str) -> str | None:
        """The case a sign-in link is for, without spending it (None: not known)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.store.session() as s:
            link = s.exec(select(FamilyLink).where(FamilyLink.token_sha256 == digest)).first()
        return link.case_id if link is not None else None

    def set_code(self, link_id: int, code: str, minutes: float) -> None:
        """Keep a second-factor code for a spent link (its salted SHA-256 only)."""
        with self.store.session() as s:
            link = s.get(FamilyLink, link_id)
            if link is not None:
                link.code_sha256 = _code_digest(link_id, code)
                link.code_expires_at = _now() + timedelta(minutes=minutes)
                link.code_tries = 0
                s.add(link)

    def check_code(self, link_id: int, code: str, tries: int) -> tuple[str | None, str]:
        """(the case, "") for the right code in time, else (the case or None, why); each
        wrong try counts, and past `tries` the code is spent."""
        with self.store.session() as s:
            link = s.get(FamilyLink, link_id)
            if link is None or link.code_sha256 is None:
                return None, "no code was sent for this sign-in; ask for a new link"
            if link.code_tries >= tries:
                return link.case_id, "too many wrong codes; ask for a new link"
            if link.code_expires_at is None or link.code_expires_at <= _now():
                return link.case_id, "the code has expired; ask for a new link"
            if link.code_sha256 != _code_digest(link_id, code.strip()):
                link.code_tries += 1
                s.add(link)
                return link.case_id, "the code is not the one sent; check the text message"
            link.code_sha256 = None  # once
            s.add(link)
            return link.case_id, ""

    def link_id(self, token: str) -> int | None:
        """A spent or unspent link's id by its token."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.store.session() as s:
            link = s.exec(select(FamilyLink).where(FamilyLink.token_sha256 == digest)).first()
        return link.id if link is not None else None

    def use_link(self, token: str) -> tuple[str | None, str]:
        """Spend a sign-in link: (its case, "") the first time within its time, else (its
        case or None, why). Spending is one conditional UPDATE: two clicks cannot both sign
        in."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = _now()
        with self.store.session() as s:
            link = s.exec(select(FamilyLink).where(FamilyLink.token_sha256 == digest)).first()
            if link is None:
                return None, "this sign-in link is not known"
            if link.used_at is not None:
                return link.case_id, "this sign-in link was already used; ask for a new one"
            if link.expires_at <= now:
                return link.case_id, "this sign-in link has expired; ask for a new one"
            spent = s.connection().execute(
                update(FamilyLink)
                .where(col(FamilyLink.id) == link.id, col(FamilyLink.used_at).is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:
                return link.case_id, "this sign-in link was already used; ask for a new one"
            return link.case_id, ""
