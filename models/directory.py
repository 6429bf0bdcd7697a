"""The directory, pure: how staff are reached, who holds each recipient role, and the people a
notification resolves to — and the checks a contact or an assignment must pass.

The case store keeps these (`cellpath.store.directory`); the rules about them live here so
they can be tested without a database: the most specific assignment wins, a rota's gaps are
reported, quiet hours are read in the recipient's own time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from models.enums import Recipient, Severity
from models.messages import Notification

EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
QUIET = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")


class AssignedRole(StrEnum):
    """Recipient roles held by named staff (`cellpath assign`)."""

    LEAD_COORDINATOR = "lead_coordinator"
    MEDICAL_DIRECTOR = "medical_director"
    ON_CALL = "on_call"


def check_email(value: str | None, field: str = "email") -> str | None:
    """An e-mail address, or `ValueError` naming the field."""
    if value is None or value == "":
        return None
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError(f"{field}: not an e-mail address; expected e.g. name@example.org")
    return value


def check_phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number in E.164 form, or `ValueError` naming the field."""
    if value is None or value == "":
        return None
    compact = re.sub(r"[\s().-]", "", value)
    if not PHONE.match(compact):
        raise ValueError(f"{field}: expected an international number, e.g. +447700900123")
    return compact


def check_timezone(value: str) -> str:
    """An IANA time zone name, or `ValueError`."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone: unknown time zone {value[:64]!r}; expected e.g. Asia/Shanghai"
        ) from None
    return value


class ContactInput(BaseModel):
    """How to reach a member of staff (`cellpath contacts set`)."""

    actor: str = Field(min_length=1, max_length=64)
    email: str | None = None
    phone: str | None = None
    urls: list[str] = Field(default_factory=list, max_length=10)
    language: str = "en"
    timezone: str = "UTC"
    quiet_hours: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return check_email(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return check_phone(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if not LANGUAGE.match(v):
            raise ValueError("language: expected a language code, e.g. en, zh, zh_Hans")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not QUIET.match(v):
            raise ValueError("quiet_hours: expected HH:MM-HH:MM, e.g. 22:00-07:00")
        return v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if "://" not in url or len(url) > 500 or any(c.isspace() for c in url):
                raise ValueError(
                    "url: expected an Apprise URL, e.g. slack://T/B/C or json://host/path"
                )
        return v


class AssignmentInput(BaseModel):
    """Who holds a recipient role, where and when (`cellpath assign`)."""

    role: AssignedRole
    actor: str = Field(min_length=1, max_length=64)
    site: str | None = None
    program: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    @model_validator(mode="after")
    def _range(self) -> AssignmentInput:
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: the time needs a UTC offset")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until: must be after valid_from")
        if self.role is AssignedRole.ON_CALL and not self.site:
            raise ValueError("site: an on-call rota entry is for one site; give --site")
        return self


class Assignment(BaseModel):
    """An assignment as stored."""

    role: AssignedRole
    actor: str
    site: str | None = None
    program: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def covers(self, at: datetime) -> bool:
        """Whether the assignment holds at `at`."""
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_until is None or at < self.valid_until
        )

    def overlaps(self, other: Assignment) -> bool:
        """Whether two entries share some time (open ends reach forever)."""
        # Aware bounds: an entry given at +08:00 is compared with one stored in UTC by instant.
        far_past, far_future = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        a0, a1 = self.valid_from or far_past, self.valid_until or far_future
        b0, b1 = other.valid_from or far_past, other.valid_until or far_future
        return a0 < b1 and b0 < a1


def most_specific(
    assignments: list[Assignment],
    role: AssignedRole,
    *,
    site: str | None,
    program: str | None,
    at: datetime,
) -> list[str]:
    """The actors holding `role` for a case at `site` in `program` at `at`.

    An assignment for the site and program beats one for the site, which beats one for the
    program, which beats one for everywhere; all those of the best rank are returned.
    """
    ranked: dict[int, list[str]] = {}
    for a in assignments:
        if a.role is not role or not a.covers(at):
            continue
        if a.site is not None and a.site != site:
            continue
        if a.program is not None and a.program != program:
            continue
        rank = (2 if a.site else 0) + (1 if a.program else 0)
        ranked.setdefault(rank, []).append(a.actor)
    return sorted(set(ranked[max(ranked)])) if ranked else []


def rota_gaps(
    entries: list[Assignment], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The spans of [start, end) that no on-call entry covers."""
    gaps: list[tuple[datetime, datetime]] = []
    at = start
    spans = sorted(
        (e.valid_from or start, e.valid_until or end)
        for e in entries
        if e.valid_until is None or e.valid_until > start
    )
    for lo, hi in spans:
        if lo > at:
            gaps.append((at, min(lo, end)))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        gaps.append((at, end))
    return [(a, b) for a, b in gaps if b > a]


def quiet_until(quiet_hours: str | None, timezone: str, now: datetime) -> datetime | None:
    """When a message held for quiet hours may go (the end of the quiet span, the recipient's
    morning), or None when `now` is outside them."""
    if not quiet_hours:
        return None
    m = QUIET.match(quiet_hours)
    if m is None:
        return None
    start = time(int(m.group(1)), int(m.group(2)))
    end = time(int(m.group(3)), int(m.group(4)))
    local = now.astimezone(ZoneInfo(timezone))
    t = local.time()
    if start == end:
        return None
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo)


# --- what a notification resolves to ---------------------------------------------------------


class Channel(BaseModel):
    """One way to reach a person: `email` (an address), `sms` (a phone), or an Apprise URL.

    `name` identifies the channel without its secret (`email`, `sms`, `url:slack#1`); the
    address itself never goes into Temporal (it is read from the directory at send time).
    """

    name: str
    kind: str  # "email" | "sms" | "url"


class Target(BaseModel):
    """A person a notification is delivered to, and the channels to use."""

    person: str  # an actor id, or "family:<patient_ref>"
    role: Recipient
    channels: list[Channel] = Field(default_factory=list)
    language: str = "en"
    timezone: str = "UTC"
    hold_until: datetime | None = None


class Resolution(BaseModel):
    """The people a notification resolves to; `unreachable` says why nobody could be."""

    targets: list[Target] = Field(default_factory=list)
    unreachable: str = ""


# When nobody is reachable at a role (or a critical alert is not delivered in time), the
# notification goes one level up at once.
NEXT_LEVEL: dict[Recipient, Recipient | None] = {
    Recipient.PATIENT_FAMILY: Recipient.COORDINATOR,
    Recipient.COORDINATOR: Recipient.LEAD_COORDINATOR,
    Recipient.SITE_COORDINATOR: Recipient.LEAD_COORDINATOR,
    Recipient.ON_CALL_PHYSICIAN: Recipient.MEDICAL_DIRECTOR,
    Recipient.LEAD_COORDINATOR: Recipient.MEDICAL_DIRECTOR,
    Recipient.MEDICAL_DIRECTOR: None,
}


def held_for_quiet_hours(severity: Severity) -> bool:
    """Quiet hours hold what is not clinically urgent (a clinical escalation is urgent, a
    reminder is not); urgent and critical alerts go at once."""
    return severity not in (Severity.URGENT, Severity.CRITICAL)


# --- the delivery workflow's messages ----------------------------------------------------------


class DeliveryTuning(BaseModel):
    """How a delivery retries and when a critical alert goes up (from the worker's settings,
    carried in the request: a workflow reads no settings)."""

    retry_seconds: float = 5.0
    max_interval_seconds: float = 300.0
    critical_minutes: float = 5.0
    # How long one send may take before Temporal gives it to another worker (a worker that
    # died mid-send is noticed this long after).
    send_timeout_seconds: float = 120.0


class DeliveryRequest(BaseModel):
    """Deliver one outbox notification (the input of `DeliverNotification`)."""

    notification: Notification
    tuning: DeliveryTuning = Field(default_factory=DeliveryTuning)


class ResolveRequest(BaseModel):
    """Whom `role` means for this notification now (it may be the notification's own
    recipient, or the level above it after an escalation)."""

    notification: Notification
    role: Recipient
    # The instant to resolve at (the workflow's now): rotas and quiet hours are read for it.
    at: datetime | None = None


class SendRequest(BaseModel):
    """One message to one person on one channel."""

    notification: Notification
    target: Target
    channel: Channel


class SendResult(BaseModel):
    """A delivery done (now, or already before: `already`)."""

    delivered_at: datetime
    already: bool = False


class DeliveryEvent(BaseModel):
    """Something about a delivery to audit: an escalation, nobody reachable, a hold."""

    notification: Notification
    action: str
    reason: str
    detail: dict[str, str | int | None] = Field(default_factory=dict)


class DeliveryOutcome(BaseModel):
    """What became of a notification: who got it, and the roles it went up to."""

    delivered_to: list[str] = Field(default_factory=list)
    escalated_to: list[Recipient] = Field(default_factory=list)
    undeliverable: bool = False


class SiteInput(BaseModel):
    """A treatment site as families and staff are told of it (`cellpath sites set`): its name,
    the phone that answers day and night, its address. Sites are the centre's, not patients':
    nothing here identifies anyone."""

    site: str = Field(min_length=1, max_length=64, description="the site's id, e.g. site-a")
    name: str = Field(min_length=1, max_length=200, description="e.g. Beijing Boren Hospital")
    phone: str = Field(description="an international number that answers day and night")
    address: str = Field(min_length=1, max_length=500)
    timezone: str = "Asia/Shanghai"

    @field_validator("site")
    @classmethod
    def _site(cls, v: str) -> str:
        v = v.strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", v):
            raise ValueError("expected a site id: lower-case letters, digits, . _ - (e.g. site-a)")
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        checked = check_phone(v)
        if checked is None:
            raise ValueError("phone: expected an international number, e.g. +8610 5555 0100")
        return checked

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        return check_timezone(v)
