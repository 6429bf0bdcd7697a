"""The family page's message catalogues: every text the templates show is in each catalogue,
translated, none fuzzy, none left over; and the page's `_` reads each translation."""

from __future__ import annotations

import functools
import re
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


# --- the console's own domain (staff): English source, Simplified Chinese -------------------

REPO = Path(__file__).resolve().parents[2]


def extra_keywords() -> list[str]:
    """The keywords `make messages` gives the extractor (`-k name:1`), read from the Makefile
    so the test and the build cannot disagree about what is a message."""
    line = next(
        ln for ln in (REPO / "Makefile").read_text().splitlines() if "babel-console.cfg" in ln
    )
    return re.findall(r"-k (\w+):1", line)


@functools.cache
def extracted_console() -> frozenset[str]:
    """Every message of the `console` domain, as `make messages` extracts it (the files
    `babel-console.cfg` names, each read once: not a walk of the whole checkout)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
    from babel.messages.frontend import parse_mapping_cfg

    with (REPO / "babel-console.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = DEFAULT_KEYWORDS | {name: (1,) for name in extra_keywords()}
    found = set()
    for pattern, method in method_map:
        extractor = jinja2.ext.babel_extract if method == "jinja2" else "python"
        # Babel's `dir/**.py` is any depth under dir; pathlib spells it `dir/**/*.py`.
        for path in sorted(REPO.glob(pattern.replace("**.", "**/*."))):
            for _line, message, _comments, _context in extract_from_file(
                extractor, str(path), keywords=keywords, options=options_map.get(pattern, {})
            ):
                found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


def test_the_console_catalogue_is_complete_and_compiled() -> None:
    from babel.messages.mofile import read_mo

    messages_ = extracted_console()
    assert len(messages_) > 250
    path = catalogue_path("zh_Hans", "console")
    with path.open("rb") as f:
        catalog = read_po(f)
    held = {m.id: m for m in catalog if m.id}
    missing = sorted(messages_ - set(held))
    untranslated = sorted(i for i, m in held.items() if not m.string)
    fuzzy = sorted(i for i, m in held.items() if m.fuzzy)
    obsolete = sorted(set(held) - messages_)
    assert (missing, untranslated, fuzzy, obsolete) == ([], [], [], []), "make messages"
    # The compiled catalogue the wheel ships says what the catalogue says (not a stale one).
    with path.with_suffix(".mo").open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == {i: m.string for i, m in held.items()}, "make messages (compile)"


def test_each_translation_takes_the_same_data_as_its_english() -> None:
    """A refusal's words are filled in with its data by name (`{case}`, `%(day)s`): a
    translation that drops, adds or misspells a name would show the English instead, or
    lose a value the reader needs."""
    path = catalogue_path("zh_Hans", "console")
    with path.open("rb") as f:
        catalog = read_po(f)
    names = re.compile(r"\{(\w+)\}|%\((\w+)\)s")
    # English grammar carried as data ("a"/"an", "differs"/"differ"): Chinese has none.
    grammar = {("article", ""), ("differ", "")}
    differ = []
    for m in catalog:
        if not isinstance(m.id, str) or not m.id:
            continue
        english, chinese = set(names.findall(m.id)), set(names.findall(str(m.string)))
        if not chinese <= english or (english - chinese) - grammar:
            differ.append(m.id)
    assert differ == []


def test_every_identifier_the_console_labels_has_its_words_in_the_catalogue() -> None:
    from cellpath.console.filters import label
    from cellpath.console.terms import TERMS
    from models.enums import (
        AlertKind,
        CellSource,
        DeadlineName,
        MilestoneKind,
        Outcome,
        Phase,
        Program,
        Severity,
    )
    from models.grading import CerebralEdema, Consciousness, OxygenDevice, Seizure

    enums = (Phase, Outcome, Severity, AlertKind, CellSource, Program, MilestoneKind)
    enums += (DeadlineName,)
    enums += (OxygenDevice, Consciousness, Seizure, CerebralEdema)
    words = {label(v.value) for e in enums for v in e}
    assert words <= set(TERMS), "add the new words to cellpath/console/terms.py"


def test_the_clinical_terms_are_the_standard_chinese_ones() -> None:
    """CRS and ICANS by the Chinese consensus's terms (docs/clinical-rules.md, with sources)."""
    from cellpath.console import i18n

    with i18n.reading("zh_Hans"):
        assert i18n.gettext("CRS grade") == "细胞因子释放综合征（CRS）分级"
        assert i18n.gettext("ICANS grade") == "免疫效应细胞相关神经毒性综合征（ICANS）分级"
        assert "移植物抗宿主病" in i18n.gettext("GvHD grade")
        assert "免疫效应细胞相关脑病" in i18n.gettext("ICE score (0–10)")
    with i18n.reading("en"):
        assert i18n.gettext("CRS grade") == "CRS grade"


def test_every_milestone_forms_words_are_marked_for_the_catalogue() -> None:
    """Labels, hints and choices of every milestone's form (built from its data model)."""
    from cellpath.console.filters import label
    from cellpath.console.form_terms import FORM_TERMS
    from cellpath.console.forms import input_of
    from cellpath.console.terms import TERMS
    from models.pathway import RULES
    from models.pathway.data import field_hints

    words = set()
    for rule in RULES.values():
        for hint in field_hints(rule.data):
            i = input_of(hint)
            words |= {i.label, i.hint} | {label(c) for c in i.choices}
    words.discard("")
    assert sorted(words - set(FORM_TERMS) - set(TERMS)) == [], "cellpath/console/form_terms.py"


def _literal_refusals(path: Path) -> list[str]:
    """`Refused("…")` / `Refusal(f"…")` built from literal words in `path`: words a catalogue
    cannot translate, because they are not kept apart from their data."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name in ("Refused", "Refusal", "ContentRefused") and isinstance(
            node.args[0], ast.Constant | ast.JoinedStr
        ):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_refusal_staff_read_keeps_its_words_apart_from_its_data() -> None:
    """The journey's, the boundary's and the services' refusals are built with `refused`,
    `refuse`, `words` or `refusing` (each extracted into the catalogue), never from literal
    English: a Chinese reader would otherwise get English at the bedside. The family's page
    has its own catalogue, the CLI keeps English, and so does `doctor` (the operators')."""
    own = ("family_page.py", "family.py", "doctor.py")
    places = [
        *REPO.glob("models/**/*.py"),
        *REPO.glob("workflows/*.py"),
        *REPO.glob("cellpath/services/*.py"),
        *REPO.glob("cellpath/records/*.py"),
        *REPO.glob("cellpath/console/*.py"),
    ]
    places = [p for p in places if p.name not in own]
    literal = [hit for path in places for hit in _literal_refusals(path)]
    assert literal == [], "refusals in literal English: " + ", ".join(literal)
