"""The project's own docs say what the code does: the phase diagram is the graph, and the
clinical rules name every milestone kind."""

from __future__ import annotations

import re
from pathlib import Path

from models.enums import MilestoneKind
from models.pathway.phases import mermaid

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_architecture_diagram_is_the_phase_graph():
    text = (DOCS / "architecture.md").read_text()
    diagrams = re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.S)
    assert diagrams == [mermaid()], "paste models.pathway.phases.mermaid() into the doc"


def test_the_clinical_rules_name_every_milestone_kind():
    text = (DOCS / "clinical-rules.md").read_text()
    missing = [k.value for k in MilestoneKind if f"`{k.value}`" not in text]
    assert missing == []


def test_code_points_to_the_projects_own_docs_only():
    root = DOCS.parent
    sources = [
        p
        for d in ("models", "workflows", "activities", "cellpath")
        for p in (root / d).rglob("*.py")
    ]
    stale = [
        str(p.relative_to(root))
        for p in sources
        if re.search(r"DESIGN(\.md)?\b|DOMAIN\.md", p.read_text())
    ]
    assert stale == []
