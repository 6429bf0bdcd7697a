"""The message boundary: every message is bounded before it is decoded into journey state.

A journey lives for years and must treat every input as hostile: an oversized, deeply nested or
undecodable message must be refused (an update) or kept as a bounded summary (a signal), never
fail a workflow task or grow the state past Temporal's payload limits. The checks here are pure
and run inside the workflow on the raw payload, before pydantic builds a model from it:

1. size: the encoded payload is at most `MAX_MESSAGE_BYTES`;
2. encoding: plain JSON (an encrypted payload that arrives still encrypted was sealed with a key
   this worker does not have; the codec passes it through instead of failing the task);
3. shape: nesting depth, list lengths and object sizes are bounded;
4. fields: free text has a length and no control or bidirectional-override characters; ids and
   actors have a pattern; numbers are finite; times are within a sane range.

Every refusal names the field and what was expected.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.errors import RefusalCode, Refused, Words, refused, words

MAX_MESSAGE_BYTES = 64 * 1024
# A patient's imported history (hundreds of milestones and observations) is one message.
MAX_HISTORY_BYTES = 512 * 1024
MAX_DEPTH = 6
MAX_ITEMS = 200
MAX_KEYS = 64

ACTOR_MAX_CHARS = 64
ID_MAX_CHARS = 64
DATA_TEXT_MAX_CHARS = 500

# Ids travel into audit event ids (`case_id:milestone_id`, a 255-character column) and logs.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# Times outside this range are typos or attacks; keeping well away from datetime's limits (year
# 1 to 9999) means no arithmetic on them — offsets, decades of follow-up windows, clock skew —
# can overflow. (A milestone is also never in the future: that check is relative to now.)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Journeys started before the bounded-floods patch took times up to 9000 and answer the same;
# the others take one documented range, 1970–2200 (`check_instant(…, strict=True)`).
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
LATEST_STRICT = datetime(2200, 1, 1, tzinfo=UTC)
# Who sent a message (journeys under the bounded-floods patch, and `cellpath staff add`): an
# identifier after NFKC normalisation — no invisible, look-alike or markup characters.
ACTOR_ID = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
# A time written as a number (epoch seconds) is not taken for one.
_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?([eE][+-]?\d+)?\s*")

# Unicode bidirectional controls can make an audit line read differently from what it holds.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

M = TypeVar("M", bound=BaseModel)


def refuse(
    template: str, code: RefusalCode = RefusalCode.INVALID_DATA, **params: object
) -> Refused:
    """A refusal for a malformed message (the default code is `invalid_data`), its words
    apart from its data as `refused` keeps them."""
    return refused(template, code, **params)


def decode_payload(
    data: bytes,
    encoding: bytes | None,
    what: str,
    undecodable: bytes | None = None,
    limit: int = MAX_MESSAGE_BYTES,
) -> Any:
    """The JSON value of a raw message payload, or `Refused` naming what was wrong.

    Args:
        data: the payload's bytes, as the codec left them.
        encoding: its `encoding` metadata.
        what: the message's name for refusals, e.g. "milestone".
        undecodable: why a lenient codec could not open it, if it could not.
        limit: its largest size in bytes.
    """
    if len(data) > limit:
        raise refuse(
            "the {what} message is {size} bytes; expected at most {limit} bytes",
            RefusalCode.TOO_LARGE,
            what=what,
            size=f"{len(data):,}",
            limit=f"{limit:,}",
        )
    if encoding == b"binary/encrypted":
        if undecodable == b"integrity":
            raise refuse(
                "the {what} message failed its integrity check (altered, or sealed with "
                "another key of the same id); expected a message sealed by cellpath",
                RefusalCode.UNDECODABLE,
                what=what,
            )
        raise refuse(
            "the {what} message is encrypted with a key this worker does not have; expected "
            "a message sealed with a key in the workers' key ring (see README, key rotation)",
            RefusalCode.UNDECODABLE,
            what=what,
        )
    if encoding not in (b"json/plain", None):
        shown = encoding.decode("utf-8", "replace")[:40] if encoding else "none"
        raise refuse(
            "the {what} message has encoding {encoding}; expected a JSON object",
            RefusalCode.UNDECODABLE,
            what=what,
            encoding=repr(shown),
        )
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except RecursionError:
        raise refuse(
            "the {what} message is nested too deeply; expected at most {most} levels",
            what=what,
            most=MAX_DEPTH,
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise refuse(
            "the {what} message is not valid JSON ({error}); expected a JSON object",
            RefusalCode.UNDECODABLE,
            what=what,
            error=str(e)[:80],
        ) from None
    if not isinstance(value, dict):
        raise refuse(
            "the {what} message is {kind}; expected a JSON object",
            what=what,
            kind=_json_kind(value),
        )
    check_shape(value, what)
    return value


def _json_kind(value: Any) -> Words:
    if isinstance(value, list):
        return words("a JSON array")
    if isinstance(value, str):
        return words("a JSON string")
    if isinstance(value, bool):
        return words("JSON {value}", value=str(value).lower())
    if isinstance(value, int | float):
        return words("a JSON number")
    return words("JSON null")


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def check_shape(value: Any, path: str, depth: int = 0) -> None:
    """Refuse values nested deeper than `MAX_DEPTH` or with too many items or keys."""
    if depth > MAX_DEPTH:
        raise refuse(
            "{path} is nested too deeply; expected at most {most} levels", path=path, most=MAX_DEPTH
        )
    if isinstance(value, dict):
        if len(value) > MAX_KEYS:
            raise refuse(
                "{path} has {count} keys; expected at most {most}",
                path=path,
                count=len(value),
                most=MAX_KEYS,
            )
        for key, item in value.items():
            check_shape(item, f"{path}.{_short(str(key), 40)}", depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise refuse(
                "{path} has {count} items; expected at most {most}",
                path=path,
                count=len(value),
                most=MAX_ITEMS,
            )
        for n, item in enumerate(value):
            check_shape(item, f"{path}[{n}]", depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise refuse("{path} is {value}; expected a finite number", path=path, value=value)


def build(model: type[M], value: Any, what: str) -> M:
    """`model` from a decoded value; a validation error names each field and what it expects."""
    try:
        return model.model_validate(value)
    except ValidationError as e:
        fields = [n if f.is_required() else f"{n}?" for n, f in model.model_fields.items()]
        raise refuse(
            "the {what} message is invalid: {problems}; expected a JSON object with {fields}",
            what=what,
            problems=describe(e),
            fields=", ".join(fields),
        ) from None


def describe(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """A pydantic error as one readable sentence: `field: problem (got …)`, values shortened.

    Words only: a pattern is never shown (the field's own description says what it takes,
    from `model`), nor pydantic's names for the branches of a union (`list[dict[…]]`).
    """
    parts = []
    for item in error.errors():
        got = "" if item["type"] == "missing" else f" (got {_short(repr(item.get('input')), 60)})"
        parts.append(problem(item, model) + got)
    return "; ".join(parts)


def problem(item: Any, model: type[BaseModel] | None = None) -> str:
    """One pydantic error as `field: what is wrong`, in words, without the value."""
    where = ".".join(str(p) for p in item["loc"] if not _type_name(p)) or "value"
    return f"{where}: {in_words(item, model)}"


def _type_name(part: object) -> bool:
    """Whether a location part names a type pydantic tried (a union's branch), not a field."""
    return isinstance(part, str) and (
        "[" in part or part.startswith(("function-", "constrained-")) or part in _TYPE_NAMES
    )


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "date", "datetime"})


def in_words(item: Any, model: type[BaseModel] | None = None) -> str:
    """What went wrong (one pydantic error), as a person reads it: never a pattern."""
    message = str(item["msg"])
    if item["type"] == "string_pattern_mismatch":
        field = item["loc"][0] if item["loc"] else None
        info = model.model_fields.get(str(field)) if model is not None and field else None
        if info is not None and info.description:
            return f"expected {info.description}"
        return "is not written in the form this field takes"
    if item["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        return "is not a field of this form"
    return message[:1].lower() + message[1:]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_text(value: str, field: str, *, limit: int, multiline: bool = False) -> str:
    """Free text: at most `limit` characters, no control or bidi-override characters.

    Newlines and tabs are allowed where `multiline` (notes, reasons).
    """
    if len(value) > limit:
        raise refuse(
            "{field} is {count} characters; expected at most {limit}",
            field=field,
            count=len(value),
            limit=limit,
        )
    for ch in value:
        if ch in BIDI_CONTROLS:
            raise refuse(
                "{field} contains a bidirectional control character ({char}); expected plain text",
                field=field,
                char=f"U+{ord(ch):04X}",
            )
        if unicodedata.category(ch) in ("Cc", "Cs") and not (multiline and ch in "\n\t\r"):
            raise refuse(
                "{field} contains a control character ({char}); expected plain text",
                field=field,
                char=f"U+{ord(ch):04X}",
            )
    return value


def check_actor(actor: str, who: str) -> str:
    """Who sent a message: required, short, plain text."""
    if not actor.strip():
        raise refuse("actor is required: {who}", RefusalCode.MISSING_FIELD, who=who)
    return check_text(actor.strip(), "actor", limit=ACTOR_MAX_CHARS)


def check_id(value: str | None, field: str) -> str | None:
    """An idempotency key or other id: letters, digits and `._:-`, at most 64 characters."""
    if value is None:
        return None
    if not ID_PATTERN.fullmatch(value):
        raise refuse(
            "{field} {value} is not an id; expected 1–{most} "
            "letters, digits or . _ : - (starting with a letter or digit)",
            field=field,
            value=_short(repr(value), 40),
            most=ID_MAX_CHARS,
        )
    return value


def check_instant(at: datetime, field: str, *, strict: bool = False) -> datetime:
    """A time with a UTC offset, within 1970–2200 (`strict`; 9000 before it), in UTC."""
    if at.tzinfo is None:
        raise refuse(
            "{field} must include a UTC offset, e.g. 2026-11-21T10:00:00+08:00",
            RefusalCode.INVALID_TIME,
            field=field,
        )
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        utc = None
    latest = LATEST_STRICT if strict else LATEST
    if utc is None or not EARLIEST <= utc < latest:
        raise refuse(
            "{field} {at} is out of range; expected a time between {earliest} and {latest}",
            RefusalCode.INVALID_TIME,
            field=field,
            at=at.isoformat(),
            earliest=f"{EARLIEST:%Y}",
            latest=f"{latest:%Y}",
        )
    return utc


def actor_id(actor: str) -> str | None:
    """`actor` as an identifier (NFKC-normalised), or None when it is not one."""
    normal = unicodedata.normalize("NFKC", actor)
    return normal if ACTOR_ID.fullmatch(normal) else None


def check_actor_id(actor: str, who: str) -> str:
    """Who sent a message, as a registered identifier would be written (see `ACTOR_ID`)."""
    if actor_id(actor) is None:
        raise refuse(
            "actor {actor} is not an identifier ({who}); expected 1–64 "
            "lower-case letters, digits or . _ @ - (starting with a letter or digit), as "
            "registered with `cellpath staff add`",
            RefusalCode.INVALID_DATA,
            actor=_short(repr(actor), 40),
            who=who,
        )
    return actor


def check_times_are_text(value: Any, what: str) -> None:
    """A message's times (`…_at` fields) are ISO text: a number is not taken for seconds."""
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if not str(key).endswith("_at") or item is None:
            continue
        if isinstance(item, bool | int | float) or (
            isinstance(item, str) and _NUMBER.fullmatch(item)
        ):
            raise refuse(
                "{key} in the {what} message is a number; expected an ISO 8601 time with a "
                "UTC offset, e.g. 2026-11-21T10:00:00+08:00",
                RefusalCode.INVALID_TIME,
                key=key,
                what=what,
            )


def check_data_values(value: Any, path: str) -> None:
    """Strings inside a milestone's data: bounded and plain (numbers are checked by shape)."""
    if isinstance(value, str):
        check_text(value, path, limit=DATA_TEXT_MAX_CHARS)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), f"{path} key", limit=64)
            check_data_values(item, f"{path}.{_short(str(key), 40)}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            check_data_values(item, f"{path}[{n}]")
