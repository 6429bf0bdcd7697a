"""A message's subject and body from its Jinja2 template, in the recipient's language.

Templates live in `templates/<language>/`: `staff/<kind>.j2` for staff (chat, pager, SMS and
e-mail alike: the case id, the deadline and the journey's PHI-free text, nothing identifying),
`family/<deadline>.j2` for the patient's family (falling back to `family/default.j2`). A
template's first line is the subject, the rest (after a blank line) the body. A language
without the template falls back to English.

Dates and times are formatted by Babel in the recipient's locale and time zone. The family's
name (e-mail to the family only) is read from the case store when the message is sent and
passed in here; it never comes from Temporal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from models.messages import Notification

TEMPLATES = Path(__file__).parent / "templates"
# The staff catalogue (the console's `console` domain, compiled): a deadline's name in the
# reader's words, as the console shows it (`pi_review` → "PI 审核").
STAFF_CATALOGUES = Path(__file__).parents[1] / "console" / "locale"
# Languages with templates, by the codes people give (`zh`, `zh-CN`, `zh_Hans` → zh_Hans).
LANGUAGES = {
    "en": "en",
    "zh": "zh_Hans",
    "zh_hans": "zh_Hans",
    "zh_cn": "zh_Hans",
    "ar": "ar",
    "ru": "ru",
    "es": "es",
}
LOCALES = {"en": "en_GB", "zh_Hans": "zh_Hans_CN", "ar": "ar", "ru": "ru_RU", "es": "es_ES"}


@dataclass(frozen=True)
class Message:
    """A rendered message: what the subject line and the body say, and in which language."""

    subject: str
    body: str
    language: str


def language_of(code: str | None) -> str:
    """The template language for a preferred-language code (English when there is none)."""
    return family_language(code) or "en"


def family_language(code: str | None) -> str | None:
    """The family templates' language for a preferred-language code; None when there are no
    templates in that language (the family then gets English, and the coordinator is told at
    intake: never a silent fallback)."""
    if not code:
        return "en"
    key = code.replace("-", "_").lower()
    return LANGUAGES.get(key) or LANGUAGES.get(key.split("_")[0])


@functools.cache
def _environment() -> Environment:
    # Plain text, not HTML: nothing to escape, and a missing variable is an error (a template
    # bug shows in tests, not as a blank in a patient's message).
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


@functools.cache
def _staff_words(language: str) -> NullTranslations:
    compiled = STAFF_CATALOGUES / language / "LC_MESSAGES" / "console.mo"
    if not compiled.exists():
        return NullTranslations()
    with compiled.open("rb") as f:
        return Translations(fp=f, domain="console")


def deadline_words(deadline: str | None, language: str) -> str:
    """A deadline's name in the staff catalogue's words for `language` (spaced English when
    the catalogue has none)."""
    if not deadline:
        return ""
    words = deadline.replace("_", " ")
    catalogue = _staff_words(language)
    found = catalogue.gettext(words)
    if found == words:  # an acronym first, as the console writes it ("SAE report")
        first, _, rest = words.partition(" ")
        acronym = f"{first.upper()} {rest}".strip()
        if (translated := catalogue.gettext(acronym)) != acronym:
            return translated
    return found


def _locale(language: str) -> Locale:
    try:
        return Locale.parse(LOCALES.get(language, language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_GB")


def render(
    n: Notification,
    *,
    audience: str,
    language: str | None,
    timezone: str,
    family_name: str | None = None,
    console_url: str | None = None,
    centre: Any = None,
) -> Message:
    """The message for `n` to one recipient: `audience` is "staff" or "family".

    Staff messages link to the case page in the console (`console_url`), at the alert when
    there is one, and name the real alert id to acknowledge; times are the event's own (a
    critical alert's repeat says when it was raised). A family message ends with the treatment
    centre's name, day-and-night phone and address (`centre`, from the site directory)."""
    lang = language_of(language)
    zone = ZoneInfo(timezone)
    locale = _locale(lang)

    def when(value: datetime | None) -> str:
        if value is None:
            return ""
        local = value.astimezone(zone)
        return (
            f"{format_date(local.date(), 'medium', locale=locale)} "
            f"{format_time(local.timetz(), 'short', locale=locale)}"
        )

    names = [f"{audience}/{n.kind}.j2"] if audience == "staff" else []
    if audience == "family":
        names = [f"family/{n.deadline}.j2", "family/default.j2"]
    template = None
    chosen = lang
    for candidate in (lang, "en"):
        for name in names:
            try:
                template = _environment().get_template(f"{candidate}/{name}")
                chosen = candidate
                break
            except TemplateNotFound:
                continue
        if template is not None:
            break
    if template is None:
        raise LookupError(f"no template for {audience} {n.kind} ({names})")
    link = ""
    if console_url:
        link = f"{console_url.rstrip('/')}/cases/{n.case_id}"
        link += f"#alert-{n.alert_id}" if n.alert_id else ""
    text = template.render(
        n=n,
        link=link,
        alert_id=n.alert_id or "",
        raised=when(n.event_at or n.scheduled_for),
        kind=str(n.kind),
        case_id=n.case_id,
        deadline=n.deadline or "",
        deadline_words=deadline_words(n.deadline, chosen),
        level=n.level,
        severity=str(n.severity),
        due=when(n.due_at),
        sent=when(n.scheduled_for),
        family_name=family_name,
        timezone=timezone,
        centre=centre,
    ).strip()
    subject, _, body = text.partition("\n")
    return Message(subject=subject.strip(), body=body.strip(), language=chosen)


def render_family(name: str, language: str | None, **values: Any) -> Message:
    """A family message that is not a journey's notification (a sign-in link, a message from
    the team) from `family/<name>.j2`, in the family's language, English when it has none."""
    lang = language_of(language)
    for candidate in (lang, "en"):
        try:
            template = _environment().get_template(f"{candidate}/family/{name}.j2")
        except TemplateNotFound:
            continue
        values.setdefault("centre", None)
        values.setdefault("family_name", None)
        text = template.render(**values).strip()
        subject, _, body = text.partition("\n")
        return Message(subject=subject.strip(), body=body.strip(), language=candidate)
    raise LookupError(f"no template family/{name}.j2")
