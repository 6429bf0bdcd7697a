"""The family page in the family's language: gettext catalogues read with Babel.

Catalogues are `locale/<language>/LC_MESSAGES/<domain>.po` (the `family` domain: the family's
pages, in the family messages' five languages). Each is compiled in memory on first use
(Babel's `write_mo`) and cached; a language without a catalogue reads English, the source
text. Templates call `_("…")`; `make messages` extracts them (Babel's Jinja2 extractor,
`babel.cfg`) and merges them into the catalogues, and tests/console/test_catalogues.py fails
when a catalogue misses one, leaves one untranslated or holds a fuzzy one. Dates and times are
Babel's, in the reader's locale and time zone.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
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
def translations(language: str, domain: str = "family") -> gettext.NullTranslations:
    """The language's translations (English, the source, when it has no catalogue)."""
    path = catalogue_path(language, domain)
    if not path.exists():
        return gettext.NullTranslations()
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
