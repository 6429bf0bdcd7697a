"""The console in its reader's language: gettext catalogues read with Babel.

Catalogues are `locale/<language>/LC_MESSAGES/<domain>.po`: the `family` domain (the family's
pages, in the family messages' five languages) and the `console` domain (what staff read: the
console's pages, staff messages, refusals; English, the source, and Simplified Chinese for the
treating sites). A compiled `.mo` beside a catalogue is read when present (`make messages`
compiles them and the wheel ships them; tests/console/test_catalogues.py fails when one is
stale); otherwise the `.po` is compiled in memory on first use (Babel's `write_mo`). A
language without a catalogue reads English, the source text.

Staff read in the language of the request (`reading`): the one they chose in the console's
header, else their directory contact's, else the browser's `Accept-Language`, else English.
Templates call `_("…")` (Jinja2's i18n extension, installed with this module's `gettext`);
Python code calls `gettext` too; `N_` only marks a text for extraction. `make messages`
extracts them (Babel's extractors, `babel.cfg` and `babel-console.cfg`) and merges them into
the catalogues, and tests/console/test_catalogues.py fails when a catalogue misses one, leaves
one untranslated or holds a fuzzy one. Dates and times are Babel's, in the reader's locale and
time zone.
"""

from __future__ import annotations

import functools
import gettext as gettext_module
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = {"en": "en_GB", "zh_Hans": "zh_Hans_CN", "ar": "ar", "ru": "ru_RU", "es": "es_ES"}


def catalogue_path(language: str, domain: str = "family") -> Path:
    """Where a language's catalogue of `domain` is."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@functools.cache
def translations(language: str, domain: str = "family") -> gettext_module.NullTranslations:
    """The language's translations (English, the source, when it has no catalogue)."""
    path = catalogue_path(language, domain)
    compiled_file = path.with_suffix(".mo")
    if compiled_file.exists():
        with compiled_file.open("rb") as f:
            return Translations(fp=f, domain=domain)
    if not path.exists():
        return gettext_module.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=LOCALES.get(language, language))
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled, domain=domain)


def gettext_for(language: str, domain: str = "family") -> Callable[..., str]:
    """`_` for templates: `_("Hello %(name)s", name=…)` translated, then filled in."""
    t = translations(language, domain)

    def _(message: str, **values: object) -> str:
        text = t.gettext(message)
        return text % values if values else text

    return _


def locale_of(language: str) -> Locale:
    """The Babel locale of a template language."""
    try:
        return Locale.parse(LOCALES.get(language, language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


def money_for(language: str) -> Callable[[Decimal | None, str], str]:
    """An amount in the reader's locale with its currency (Babel), e.g. US$9,500.00."""
    locale = locale_of(language)

    def money(amount: Decimal | None, currency: str) -> str:
        return "" if amount is None else format_currency(amount, currency, locale=locale)

    return money


def day_for(language: str, timezone: str) -> Callable[[datetime | None], str]:
    """A date formatter in the reader's locale and time zone (`8 Dec 2026`, `2026年12月8日`)."""
    locale, zone = locale_of(language), ZoneInfo(timezone)

    def day(value: datetime | None) -> str:
        if value is None:
            return ""
        return format_date(value.astimezone(zone).date(), "medium", locale=locale)

    return day


def when_for(language: str, timezone: str) -> Callable[[datetime | None], str]:
    """A date-and-time formatter in the reader's locale and time zone."""
    locale, zone = locale_of(language), ZoneInfo(timezone)

    def when(value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value.astimezone(zone), "medium", tzinfo=zone, locale=locale)

    return when


# --- staff: the console's own domain --------------------------------------------------------

STAFF_DOMAIN = "console"
# The staff languages: English (the source) and Simplified Chinese (the treating sites).
STAFF_LANGUAGES = ("en", "zh_Hans")
HTML_LANG = {"en": "en", "zh_Hans": "zh-Hans"}
_language: ContextVar[str] = ContextVar("cellpath_staff_language", default="en")


def staff_language(tag: str | None) -> str | None:
    """A language tag (`zh-CN`, `zh-Hans`, `zh`, `en-GB`, `zh_Hans`) as a staff language, or
    None when it is none of them (Traditional Chinese is not Simplified: `zh-TW`, `zh-Hant`)."""
    if not tag:
        return None
    t = tag.strip().replace("_", "-").lower()
    if t in ("zh", "zh-hans", "zh-cn", "zh-sg", "zh-hans-cn") or t.startswith("zh-hans-"):
        return "zh_Hans"
    if t == "en" or t.startswith("en-"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first staff language the browser asks for (`Accept-Language`, by its q-values)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate(header.split(",")[:20]):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, n, tag))
    for weight, _, tag in sorted(ranked):
        if weight < 0 and (language := staff_language(tag)):
            return language
    return None


def choose(chosen: str | None, directory: str | None, accept: str | None) -> str:
    """The reader's language: chosen in the header, else the directory's, else the
    browser's, else English."""
    return (
        staff_language(chosen) or staff_language(directory) or from_accept_language(accept) or "en"
    )


@contextmanager
def reading(language: str) -> Iterator[str]:
    """Within the block, `gettext` and the templates speak `language`."""
    token = _language.set(language if language in STAFF_LANGUAGES else "en")
    try:
        yield _language.get()
    finally:
        _language.reset(token)


def current() -> str:
    """The language being read now."""
    return _language.get()


def gettext(message: str) -> str:
    """`message` in the current reader's language."""
    return translations(_language.get(), STAFF_DOMAIN).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural of a message, in the current reader's language."""
    return translations(_language.get(), STAFF_DOMAIN).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a text for extraction only; it is translated where it is shown."""
    return message


def said(e: Exception) -> str:
    """A refusal (`Refusal`, `Refused`) in the reader's language, by its template and data;
    any other error as its English message."""
    template = getattr(e, "template", None)
    params = getattr(e, "params", None) or {}
    nested = getattr(e, "nested", None) or {}
    return refusal_text(str(e), template if isinstance(template, str) else None, params, nested)


def refusal_text(
    message: str,
    template: str | None,
    params: dict[str, str],
    nested: dict[str, list[Any]] | None = None,
) -> str:
    """A refusal in the reader's language: its template from the catalogue, with its data
    (sentences of their own, `nested`, each translated too); the English message when it has
    no template (or the template does not fit its data)."""
    if template is None:
        return message
    try:
        values = dict(params)
        for name, parts in (nested or {}).items():
            values[name] = gettext("; ").join(gettext(str(t)).format(**dict(p)) for t, p in parts)
        return gettext(template).format(**values)
    except (KeyError, IndexError, ValueError, TypeError):
        return message
