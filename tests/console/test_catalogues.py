"""The family page's message catalogues: every text the templates show is in each catalogue,
translated, none fuzzy, none left over; and the page's `_` reads each translation."""

from __future__ import annotations

from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from cellpath.console.i18n import LOCALE_DIR, catalogue_path, gettext_for

TEMPLATES = Path(__file__).resolve().parents[2] / "cellpath" / "console" / "templates"
FAMILY_TEMPLATES = sorted(TEMPLATES.glob("family_*.html"))
LANGUAGES = sorted(p.name for p in LOCALE_DIR.iterdir() if catalogue_path(p.name).exists())


def extracted() -> set[str]:
    """Every message the family templates pass to `_()`, as Babel's extractor finds them."""
    found = set()
    for path in FAMILY_TEMPLATES:
        for _line, message, _comments, _context in extract_from_file(
            jinja2.ext.babel_extract, str(path)
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_there_are_templates_and_a_chinese_catalogue() -> None:
    assert len(FAMILY_TEMPLATES) >= 4 and "zh_Hans" in LANGUAGES
    assert len(extracted()) > 80


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_translates_every_message_and_holds_no_fuzzy_one(language: str) -> None:
    with catalogue_path(language).open("rb") as f:
        catalog = read_po(f)
    messages = {m.id: m for m in catalog if m.id}
    missing = sorted(extracted() - set(messages))
    untranslated = sorted(i for i, m in messages.items() if not m.string)
    fuzzy = sorted(i for i, m in messages.items() if m.fuzzy)
    obsolete = sorted(set(messages) - extracted())
    assert (missing, untranslated, fuzzy, obsolete) == ([], [], [], [])
    # And the page reads them: compiled in memory, every message comes back translated.
    _ = gettext_for(language)
    assert [m for m in extracted() if _(m) == m] == []
