"""The console's part of rules version 5 (over HTTP): the intake form takes the home oncologist
and the options aid's facts, the case page shows the considerations, the consents and the
signatures, and after discharge offers the hand-over: the bundle and the family's calendar
download (audited), and sending it without a mail server is refused with nothing recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from icalendar import Calendar

from cellpath.scenarios import record
from models.examples import DISCHARGE
from models.journey import workflow_id
from tests.console.conftest import Stack, signed_in
from tests.support import path_to_infusion
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def test_intake_options_and_the_handover_after_discharge(stack: Stack) -> None:
    case_id = "HOP-2026-0001"
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "coord-ui")
        taken = await http.post(
            "/intake",
            data={
                "csrf_token": token,
                "patient.full_name": "Olwen Handover-Patient",
                "patient.birth_date": "1955-02-03",
                "patient.nationality": "GB",
                "home_oncologist.name": "Dr Ffion Homeward",
                "home_oncologist.institution": "Velindre",
                "home_oncologist.email": "ffion.homeward@example.org",
                "prior_car_t": "true",
                "antigen_negative_relapse": "CD19",
                "case_id": case_id,
                "therapy": "car_t",
                "cell_source": "autologous",
                "program": "trial",
                "indication": "DLBCL",
                "target_antigens": "CD19",
                "sites": "site-a, site-b",
                "coordinator": "coord-ui",
                "protocol": "default",
                "home_timezone": "Europe/London",
            },
        )
        assert taken.status_code in (200, 303), taken.text
        page = (await http.get(f"/cases/{case_id}")).text
        # Born 1955: over 65; a CD19-negative relapse after CAR-T. Suggestions, with sources.
        assert "To consider" in page and "consider a different target" in page
        assert "age over 65" in page and "seed 001" in page
        assert "Hand-over to the home team" not in page  # not before discharge

        # The pathway recorded in the past: infused 30 days ago, so discharge is allowed now.
        handle = stack.client.get_workflow_handle(workflow_id(case_id))
        now = datetime.now(UTC)
        steps = path_to_infusion(now.date() - timedelta(days=40))
        start = now - timedelta(days=40)
        times = [start + timedelta(hours=i) for i in range(len(steps) - 2)]
        times += [now - timedelta(days=31, hours=6), now - timedelta(days=30)]
        for (kind, data), at in zip(steps, times, strict=True):
            if kind == "records_complete":
                data = {"records": [r.strip() for r in data["records"].split(",")]}
            actor = "dr-ui" if kind == "eligibility_assessed" else "coord-ui"
            await record(handle, kind, at=at, actor=actor, **data)
        await record(handle, "discharged", actor="dr-ui", **DISCHARGE)

        page = (await http.get(f"/cases/{case_id}")).text
        assert "Signed decisions" in page and "as <strong>responsible</strong>" in page
        assert "Treatment consent v1" in page or "treatment consent v1" in page.lower()
        assert "Send the hand-over summary to the home oncologist" in page
        assert 'id="milestone-handover_sent"' not in page  # recorded by the service only

        bundle = await http.get(f"/cases/{case_id}/handover.fhir.json")
        assert bundle.status_code == 200
        assert "attachment" in bundle.headers["content-disposition"]
        parsed = Bundle.model_validate_json(bundle.content)
        kinds = {e.resource.get_resource_type() for e in parsed.entry or []}
        assert {"CarePlan", "Procedure", "Consent", "DocumentReference", "Practitioner"} <= kinds
        assert "Olwen Handover-Patient" in bundle.text  # the coordinator may see who it is
        calendar = await http.get(f"/cases/{case_id}/calendar.ics")
        assert calendar.status_code == 200
        Calendar.from_ical(calendar.content)

        # No mail server in this stack: refused, said next to the button, nothing recorded.
        sent = await http.post(f"/cases/{case_id}/handover", data={"csrf_token": token})
        assert sent.status_code == 422 and "CELLPATH_SMTP_URL is not set" in sent.text
    status = await handle.query(PatientJourney.status)
    assert status.handover_sent_at is None
    assert "handover_summary" in [d.name for d in status.open_deadlines]
    exported = [r for r in stack.store.audit_trail(case_id) if r.action == "exported"]
    assert [json.dumps(r.detail["form"]) for r in exported] == ['"fhir"', '"ical"']

    async with httpx.AsyncClient(base_url=stack.url) as viewer:
        await signed_in(viewer, "viewer-ui")
        blind = await viewer.get(f"/cases/{case_id}/handover.fhir.json")
        assert blind.status_code == 200 and "Olwen" not in blind.text
