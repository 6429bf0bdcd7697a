"""`cellpath export CASE --fhir`, `cellpath calendar CASE`, `cellpath handover CASE` as
subprocesses against the dev server: the bundle names the patient only for the care team, the
calendar parses, every export is audited, and a hand-over without a home oncologist is refused
(the rest of the hand-over, on a journey driven to follow-up, is in tests/delivery)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from icalendar import Calendar

from cellpath.store import CaseStore
from tests.builders import PATIENT
from tests.support import e2e_intake_file


async def test_export_calendar_and_a_refused_handover(
    cli: Any, tmp_path: Path, db_url: str
) -> None:
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)), "--json")
    assert code == 0, err
    case = json.loads(out)["journey"]["case_id"]

    bundle_file = tmp_path / "bundle.json"
    (
        (code, out, err),
        (viewer_code, viewer_out, viewer_err),
        (cal_code, cal_out, _),
        (ho_code, _, ho_err),
        (usage_code, _, usage_err),
    ) = await asyncio.gather(
        cli("export", case, "--fhir", "--output", str(bundle_file)),
        cli("export", case, "--fhir", actor="viewer-e2e"),
        cli("calendar", case),
        cli("handover", case),
        cli("export", case),
    )
    assert code == 0, err
    bundle = Bundle.model_validate_json(bundle_file.read_bytes())
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry or [])
    assert kinds == ["CarePlan", "Patient", "Task"]  # intake: one open deadline, no care yet
    assert PATIENT["full_name"] in bundle_file.read_text()
    assert "bundle sha256" in err and "1 CarePlan, 1 Patient, 1 Task" in err

    # A viewer gets the pseudonymous bundle, and is told so.
    assert viewer_code == 0, viewer_err
    assert PATIENT["full_name"] not in viewer_out and "(pseudonymous)" in viewer_err
    Bundle.model_validate_json(viewer_out)

    # The family's calendar: nothing the family attends yet (records are the team's).
    assert cal_code == 0
    assert Calendar.from_ical(cal_out.encode()).get("X-WR-TIMEZONE") is not None

    assert ho_code == 1 and "names no home oncologist" in ho_err
    assert usage_code == 2 and "expected --fhir" in usage_err

    trail = CaseStore.from_url(db_url).audit_trail(case)
    exported = [r.detail for r in trail if r.action == "exported"]
    assert {d["form"] for d in exported} == {"fhir", "ical"}
    assert sorted(d.get("identified", False) for d in exported if d["form"] == "fhir") == [
        False,
        True,
    ]
    assert "refused:handover" in [r.action for r in trail]
