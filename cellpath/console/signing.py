"""Signing in the console: the signer's own password again, for this signature (21 CFR
11.200), throttled per person as sign-in is — a form that signs must not be a way to guess a
password. A custody hand-off is signed by both the giver and the receiver."""

from __future__ import annotations

from typing import Any

from cellpath.services import staff
from cellpath.services.base import Refusal, Session, refusing
from models.errors import RefusalCode


async def sign(console: Any, s: Session, case_id: str, decision: str, password: str) -> None:
    """Re-authenticate `s.actor` for `decision`, or refuse (audited either way)."""
    key = f"signing:{s.actor}"
    if console.throttle.wait(key) > 0:
        raise refusing(
            "too many wrong passwords at signing; try again in a few minutes (nothing was "
            "recorded)",
            RefusalCode.PERMISSION,
        )
    try:
        staff.reauthenticate(s, case_id, decision, password)
    except Refusal:
        console.throttle.failed(key)
        raise
    console.throttle.succeeded(key)


async def both_sign(
    console: Any, s: Session, case_id: str, kind: str, fields: dict[str, str], form: Any
) -> None:
    """A hand-off: the giver (the signed-in reader) and the receiver they name each enter
    their own password now; either wrong refuses it, nothing recorded."""
    receiver = fields.get("received_by", "").strip()
    if not receiver:
        raise refusing(
            "received_by: expected the receiver's staff id (both sign a hand-off)",
            RefusalCode.MISSING_FIELD,
        )
    await sign(console, s, case_id, kind, str(form.get("signing_password", "")))
    taker = console.session(receiver)
    try:
        await sign(console, taker, case_id, kind, str(form.get("receiver_password", "")))
    finally:
        console.keep(taker)
