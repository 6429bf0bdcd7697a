"""How the console shows values to people: times in the reader's zone, countdowns, data
values and identifiers (the templates' filters; the routes use them for messages too)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from babel.dates import format_date, format_skeleton

from cellpath.console import i18n
from cellpath.console.forms import zone
from cellpath.console.i18n import N_
from models.enums import Severity
from models.messages import Alert
from models.money import fmt

_LOUDEST_FIRST = list(reversed(Severity))


def when(value: datetime | None, tz: str = "UTC") -> str:
    """A time in the reader's zone, with the zone's abbreviation (`2026-12-08 09:00 CET`;
    the same digits in Chinese, `2026-12-08 09:00 CST`: ISO order reads in both)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone(tz))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or tz}"


def day(value: datetime | None, tz: str = "UTC") -> str:
    """A date in the reader's zone and language (`Tue 8 Dec 2026`; `2026年12月8日 周二`)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone(tz))
    if i18n.current() != "en":
        return format_date(local.date(), "full", locale=i18n.locale_of(i18n.current()))
    return f"{local:%a} {local.day} {local:%b %Y}"


def on(value: date, skeleton: str) -> str:
    """A date in the reader's language by a CLDR skeleton: `yMMMM` (December 2026, 2026年12月),
    `EEE` (Mon, 周一), `dMMM` (7 Dec, 12月7日), `yMMMd` (7 Dec 2026, 2026年12月7日)."""
    return format_skeleton(skeleton, value, locale=i18n.locale_of(i18n.current()))


def countdown(value: datetime | None, now: datetime | None = None) -> str:
    """How long until `value` (`in 2 d 4 h`), or how long ago it passed (`overdue 3 h`)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - (now or datetime.now(UTC))
    seconds = abs(delta.total_seconds())
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = math.ceil(rest / 60) if not days and not hours else rest // 60
    parts = [i18n.gettext("%(n)s d") % {"n": days}] if days else []
    parts += [i18n.gettext("%(n)s h") % {"n": hours}] if hours else []
    if not days and (minutes or not parts):
        parts += [i18n.gettext("%(n)s min") % {"n": minutes}]
    text = " ".join(parts[:2])
    if delta >= timedelta(0):
        return i18n.gettext("in %(time)s") % {"time": text}
    return i18n.gettext("overdue %(time)s") % {"time": text}


def shown(value: object, tz: str = "UTC") -> str:
    """A data value for people, never Python's spelling of it: yes/no, numbers with
    thousands separators and no trailing `.0`, lists joined, objects as `name: value`,
    identifiers with spaces, ISO times in the reader's zone."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return f"{int(value):,}"
    if isinstance(value, list):
        return ", ".join(shown(v, tz) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {shown(v, tz)}" for k, v in value.items())
    if isinstance(value, str) and len(value) > 16 and value[4:5] == "-" and "T" in value:
        try:
            return when(datetime.fromisoformat(value), tz)
        except ValueError:
            return value
    if isinstance(value, str) and re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", value):
        return label(value)  # an enumerated value: `treatment_history` → `treatment history`
    return str(value)


# Names people write their own way, not as the identifier's words.
NAMES = {
    "car_t": "CAR-T",
    "car_nk": "CAR-NK",
    # Laboratory findings (their units are shown beside their values).
    "anc_per_ul": "ANC",
    "platelets_per_ul": "platelets",
    "hemoglobin_g_dl": "haemoglobin",
    "igg_mg_dl": "IgG",
    "creatinine_mg_dl": "creatinine",
    "potassium_mmol_l": "potassium",
    "phosphate_mg_dl": "phosphate",
    "uric_acid_mg_dl": "uric acid",
    "calcium_mg_dl": "calcium",
    "ldh_u_l": "LDH",
    "low_igg": "low IgG",
    "sae_reported": "SAE reported",
    "sae_report": "SAE report",
}


def label(value: object) -> str:
    """An identifier for people, in their language: `pi_review` → `pi review` (`PI 审核`),
    `car_t` → `CAR-T` (the words are in `terms.TERMS`, for the catalogues)."""
    text = str(value)
    return i18n.gettext(NAMES.get(text, text.replace("_", " ")))


# How the worklist describes whose cases it shows (`caseload.scope`'s English words).
_SCOPES = (
    (re.compile(r"your cases"), N_("your cases")),
    (re.compile(r"every case"), N_("every case")),
    (re.compile(r"nobody's cases"), N_("nobody's cases")),
    (re.compile(r"cases at (?P<sites>.+)"), N_("cases at %(sites)s")),
    (
        re.compile(r"(?P<who>\S+)'s cases \(you cover them\)"),
        N_("%(who)s's cases (you cover them)"),
    ),
)


def scope(text: str) -> str:
    """The worklist's scope in the reader's language."""
    for pattern, words in _SCOPES:
        if found := pattern.fullmatch(text):
            return i18n.gettext(words) % found.groupdict()
    return text


def by_severity(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts as a case page lists them: those still waiting first, critical before urgent
    before the rest, newest first within a severity; acknowledged or resolved ones last."""

    def key(a: Alert) -> tuple[bool, int, float]:
        raised = a.raised_at if a.raised_at.tzinfo else a.raised_at.replace(tzinfo=UTC)
        return (not a.open, _LOUDEST_FIRST.index(a.severity), -raised.timestamp())

    return sorted(alerts, key=key)


def money(amount: Decimal | int | str, currency: str) -> str:
    """An amount with its currency's minor units, e.g. 9,500.00 USD (never a float)."""
    return fmt(Decimal(str(amount)), currency)


# The templates' filters (the console's Jinja2 environment).
FILTERS = {
    "when": when,
    "day": day,
    "countdown": countdown,
    "on": on,
    "label": label,
    "scope": scope,
    "shown": shown,
    "by_severity": by_severity,
    "money": money,
}
