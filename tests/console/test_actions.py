"""Reschedule, withdraw and acknowledge from the console's forms (over HTTP): each needs its
reason, a refusal changes nothing, and what is done is the journey's."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from cellpath.scenarios import observe, start
from cellpath.store.records import RecordRows
from tests.console.conftest import PASSWORD, Stack, signed_in
from tests.support import ROOT, console_journey, drive_to_monitoring
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def test_reschedule_and_withdraw_need_a_reason_and_are_the_journeys(stack: Stack) -> None:
    case_id = "ACT-2026-0001"
    handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "coord-ui")
        moved = await http.post(
            f"/cases/{case_id}/reschedule",
            data={
                "csrf_token": token,
                "tz": "Asia/Shanghai",
                "deadline": "records",
                "due_at": "2030-01-02T09:00",
                "reason": "translation pending",
            },
        )
        assert moved.status_code == 200
        assert "records now due 2030-01-02 09:00 CST" in moved.text
        bare = await http.post(
            f"/cases/{case_id}/withdraw", data={"csrf_token": token, "reason": "", "confirm": "yes"}
        )
        assert bare.status_code == 422 and "Refused" in bare.text
        unconfirmed = await http.post(
            f"/cases/{case_id}/withdraw", data={"csrf_token": token, "reason": "family decision"}
        )
        assert unconfirmed.status_code == 422 and "tick the confirmation" in unconfirmed.text
        assert (await handle.query(PatientJourney.status)).outcome is None
        done = await http.post(
            f"/cases/{case_id}/withdraw",
            data={"csrf_token": token, "reason": "family decision", "confirm": "yes"},
        )
        assert done.status_code == 200 and "the journey is closed (withdrawn)" in done.text
        # A closed case asks for nothing any more, and the worklist finds it under "closed".
        assert 'id="next-h"' not in done.text and "Consent needed" not in done.text
        for _ in range(100):  # visibility lists the closed run a moment after it completes
            if case_id in (await http.get("/?phase=closed")).text:
                break
            await asyncio.sleep(0.05)
        assert case_id in (await http.get("/?phase=closed")).text
    status = await handle.query(PatientJourney.status)
    assert status.outcome == "withdrawn"
    timeline = await handle.query(PatientJourney.timeline)
    assert [(e.kind, e.actor) for e in timeline] == [
        ("reschedule", "coord-ui"),
        ("withdraw", "coord-ui"),
    ]


async def test_a_nurse_acknowledges_an_urgent_alert_but_only_a_physician_a_critical_one(
    stack: Stack,
) -> None:
    case_id = "ACT-2026-0002"
    handle = await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    urgent = (await observe(handle, temperature_c=38.6, systolic_bp=84)).alerts[0]
    critical = (await observe(handle, temperature_c=39.2, systolic_bp=80, vasopressors=2)).alerts
    assert critical and critical[0].severity == "critical", critical
    async with httpx.AsyncClient(base_url=stack.url) as nurse:
        token = await signed_in(nurse, "nurse-ui")
        page = (await nurse.get(f"/cases/{case_id}")).text
        # The form is offered for the urgent alert only.
        assert f'value="{urgent.id}"' in page and f'value="{critical[0].id}"' not in page
        done = await nurse.post(
            f"/cases/{case_id}/acknowledge",
            data={"csrf_token": token, "alert_id": urgent.id, "note": "paracetamol given"},
        )
        assert done.status_code == 200 and "acknowledged" in done.text
        refused = await nurse.post(
            f"/cases/{case_id}/acknowledge",
            data={"csrf_token": token, "alert_id": critical[0].id, "note": "seen"},
        )
        assert refused.status_code == 403
        assert "acknowledging a critical alert needs a physician" in refused.text
    async with httpx.AsyncClient(base_url=stack.url) as physician:
        token = await signed_in(physician, "dr-ui")
        page = (await physician.get(f"/cases/{case_id}")).text
        assert f'id="ack-meaning-{critical[0].id}"' in page  # a signed acknowledgement
        assert f'id="ack-password-{critical[0].id}"' in page  # re-authenticated at signing
        signed = {
            "csrf_token": token,
            "alert_id": critical[0].id,
            "note": "tocilizumab",
            "signature_meaning": "responsible",
        }
        wrong = await physician.post(
            f"/cases/{case_id}/acknowledge", data=signed | {"signing_password": "not mine"}
        )
        assert wrong.status_code == 403 and "signing needs your own password again" in wrong.text
        alerts = {a.id: a for a in (await handle.query(PatientJourney.status)).alerts}
        assert not alerts[critical[0].id].acknowledged, "a refused signature records nothing"
        done = await physician.post(
            f"/cases/{case_id}/acknowledge", data=signed | {"signing_password": PASSWORD}
        )
        assert done.status_code == 200
    audit = [e.action for e in stack.store.audit_trail(case_id)]
    assert "signing_reauthenticated" in audit
    alerts = {a.id: a for a in (await handle.query(PatientJourney.status)).alerts}
    assert alerts[urgent.id].acknowledged_by == "nurse-ui"
    assert alerts[critical[0].id].acknowledged_by == "dr-ui"


async def test_a_critical_alert_puts_its_case_on_top_of_the_worklist_and_the_case_page(
    stack: Stack,
) -> None:
    """A case whose critical alert waits is neither overdue nor escalated, yet it heads the
    worklist's "Needs attention" (it once stayed among the ordinary rows), with its alerts
    counted by severity; on its case page the critical alert comes first, above the rest."""
    from cellpath.store.tables import JourneyRow as Projection

    case_id = "ACT-2026-0011"
    handle = await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    urgent = (await observe(handle, temperature_c=38.6, systolic_bp=84)).alerts[0]
    (critical,) = (await observe(handle, temperature_c=39.2, systolic_bp=80, vasopressors=2)).alerts
    assert (urgent.severity, critical.severity) == ("urgent", "critical")

    def projected() -> bool:
        with stack.store.session() as s:
            row = s.get(Projection, case_id)
            return row is not None and row.critical_alerts == 1 and row.urgent_alerts == 1

    # The journey writes its projection after answering: the store is asked until it has.
    for _ in range(400):
        if projected():
            break
        await asyncio.sleep(0.05)
    assert projected(), "the journey's projection never counted its alerts"
    async with httpx.AsyncClient(base_url=stack.url) as nurse:
        await signed_in(nurse, "nurse-ui")
        page = (await nurse.get("/")).text
        # The ordinary rows follow, when there are any (run alone, this case may be the only one).
        end = page.find("<caption>Cases")
        attention = page[page.index("Needs attention") : end if end != -1 else None]
        rows = re.findall(
            r"<tr class=\"([a-z]*)\">.*?>([A-Z]+-\d{4}-\d{4})</a>(.*?)</tr>", attention, re.S
        )
        ours = next(r for r in rows if r[1] == case_id)
        assert ours[0] == "critical"
        assert '<span class="badge critical">1 critical</span>' in ours[2]
        assert '<span class="badge urgent">1 urgent</span>' in ours[2]
        # Every case with a critical alert waiting comes before every case without one.
        flags = [cls == "critical" for cls, _, _ in rows]
        assert flags == sorted(flags, reverse=True), rows
        page = (await nurse.get(f"/cases/{case_id}")).text
    first, second = page.index(f'id="alert-{critical.id}"'), page.index(f'id="alert-{urgent.id}"')
    assert first < second < page.index('class="phases"')


async def test_signatures_are_the_signers_own_and_re_authenticated(stack: Stack) -> None:
    """A physician signs eligibility with their password again (only the meanings that fit
    offered, the reviewer filled in); a coordinator cannot sign a PI's decision, only record
    it as transcribed from the signed letter (the console hashes the file, keeps nothing)."""
    import hashlib
    from datetime import UTC, datetime

    from cellpath.scenarios import record as record_update
    from cellpath.store.access import CareTeams
    from tests.support import path_to_infusion

    case_id = "ACT-2026-0012"
    handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    records = ["pathology", "imaging", "treatment_history", "labs"]
    await record_update(handle, "records_complete", records=records)
    eligible = {f"data.{k}": v for k, v in path_to_infusion(datetime.now(UTC).date())[1][1].items()}
    # The case has no site before PI review: its coordinator adds the reviewing physician.
    CareTeams(stack.store).add(case_id, "dr-ui", by="coord-ui")
    async with httpx.AsyncClient(base_url=stack.url) as physician:
        token = await signed_in(physician, "dr-ui")
        page = (await physician.get(f"/cases/{case_id}")).text
        form = page[page.index('id="milestone-eligibility_assessed"') :]
        form = form[: form.index("</form>")]
        assert 'name="data.reviewer" type="text" value="dr-ui"' in form
        assert 'value="responsible"' not in form and 'value="approved"' in form
        assert 'name="signing_password"' in form
        data = {"csrf_token": token, "kind": "eligibility_assessed"} | eligible
        unsigned = await physician.post(f"/cases/{case_id}/milestone", data=data)
        assert unsigned.status_code == 403 and "password again" in unsigned.text
        assert (await handle.query(PatientJourney.status)).phase == "pre_assessment"
        signed = await physician.post(
            f"/cases/{case_id}/milestone", data=data | {"signing_password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
    await record_update(handle, "submitted_to_pi", site="site-a")
    letter = b"%PDF-1.7 the PI's signed decision (synthetic)"
    async with httpx.AsyncClient(base_url=stack.url) as coordinator:
        token = await signed_in(coordinator, "coord-ui")
        page = (await coordinator.get(f"/cases/{case_id}")).text
        form = page[page.index('id="milestone-pi_decision"') :]
        form = form[: form.index("</form>")]
        assert "Only the principal investigator signs" in form
        assert 'name="file.transcribed_from_sha256"' in form
        assert 'name="signing_password"' not in form
        decision = {
            "csrf_token": token,
            "kind": "pi_decision",
            "data.site": "site-a",
            "data.decision": "accepted",
            "data.signature_meaning": "approved",
        }
        own = await coordinator.post(f"/cases/{case_id}/milestone", data=decision)
        assert own.status_code == 403
        assert "signing milestone &#39;pi_decision&#39; needs a physician" in own.text
        transcribed = await coordinator.post(
            f"/cases/{case_id}/milestone",
            data=decision | {"data.principal_investigator": "pi-zhang"},
            files={"file.transcribed_from_sha256": ("decision.pdf", letter, "application/pdf")},
        )
        assert transcribed.status_code == 200, transcribed.text
        # The letter itself is kept in the records store, its SHA-256 the one transcribed.
        kept = [
            r for r in RecordRows(stack.store).of_case(case_id) if r.record_type == "pi_decision"
        ]
        assert [r.sha256 for r in kept] == [hashlib.sha256(letter).hexdigest()]
        # A currency typed in lower case is the same currency (it was once refused with a
        # regular expression for an answer).
        # The items, a row each, must add up to the total.
        estimate = {
            "csrf_token": token,
            "kind": "cost_estimate_accepted",
            "data.currency": "usd",
            "data.total": "9500",
            "item.0.name": "ward, 28 days",
            "item.0.amount": "7000",
            "item.0.payer": "family",
            "item.1.name": "manufacturing",
            "item.1.amount": "5500",
            "item.1.payer": "trial",
        }
        wrong = await coordinator.post(f"/cases/{case_id}/milestone", data=estimate)
        assert wrong.status_code == 422
        assert "the items add up to 12,500.00 USD, not the total 9,500.00 USD" in wrong.text
        right = await coordinator.post(
            f"/cases/{case_id}/milestone", data=estimate | {"item.1.amount": "2500"}
        )
        assert right.status_code == 200, re.findall(r"Refused:.{0,200}", right.text)
    signatures = (await handle.query(PatientJourney.status)).signatures
    assert [(g.decision, g.signer, g.transcribed_by) for g in signatures] == [
        ("eligibility_assessed", "dr-ui", None),
        ("pi_decision", "pi-zhang", "coord-ui"),
    ]
    assert signatures[1].document_sha256 == hashlib.sha256(letter).hexdigest()


async def test_the_worklist_pages_through_visibility_in_the_readers_time_zone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cellpath.services import caseload
    from cellpath.store.directory import Directory
    from models.directory import ContactInput

    for n in range(5):
        inp = console_journey(f"PAGE-2026-{n:04d}").model_copy(update={"coordinator": "coord-pg"})
        await start(stack.client, inp, stack.settings.task_queue)
    # The viewer's own zone (the browser tests type times as coord-ui, in UTC).
    directory = Directory(stack.store)
    directory.set_contact(ContactInput(actor="viewer-ui", timezone="Asia/Shanghai"), by="test")
    monkeypatch.setattr(caseload, "PAGE_SIZE", 2)
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "coord-ui")
        target: str | None = "/?coordinator=coord-pg"
        pages = 0
        # A coordinator's filter for another coordinator shows nothing (their own scope).
        assert "PAGE-2026" not in (await http.get(target)).text
        await signed_in(http, "viewer-ui")
        while target and pages < 10:
            page = (await http.get(target)).text
            seen += re.findall(r">(PAGE-2026-\d{4})</a>", page)
            pages += 1
            found = re.search(r'href="([^"]+)">Next page</a>', page)
            target = found[1].replace("&amp;", "&") if found else None
    assert sorted(seen) == [f"PAGE-2026-{n:04d}" for n in range(5)] and pages == 3
    # Each reads times in their own zone.
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "viewer-ui")
        assert "times in Asia/Shanghai" in (await http.get("/")).text
        await signed_in(http, "coord-ui")
        assert "times in UTC" in (await http.get("/")).text


async def test_the_bedside_form_takes_every_finding_the_grading_reads(stack: Stack) -> None:
    """A pressor-dependent patient without fever after tocilizumab is CRS grade 3: the form
    must be able to say what was given (it once could not, and saved grade 0 with no alert).
    Every finding of `ObservationInput` has an input, on the bedside form or the laboratory
    results form below it (an infection's by its parts); GvHD's only for allogeneic products."""
    from models.messages import ObservationInput

    case_id = "ACT-2026-0009"
    await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=stack.url) as nurse:
        token = await signed_in(nurse, "nurse-ui")
        page = (await nurse.get(f"/cases/{case_id}")).text
        form = page[page.index('id="observe-h"') :]
        gvhd = {"gvhd_skin_bsa_pct", "bilirubin_mg_dl", "stool_ml_day"}
        findings = set(ObservationInput.model_fields) - {"actor", "observation_id"}
        missing = {
            f for f in findings - gvhd if f'name="{f}"' not in form and f'name="{f}.' not in form
        }
        assert missing == set(), f"the bedside form has no input for {missing}"
        assert not any(f'name="{f}"' in form for f in gvhd)  # an autologous product
        findings = {
            "csrf_token": token,
            "tz": "UTC",
            "temperature_c": "37.1",
            "systolic_bp": "82",
            "vasopressors": "1",
            "spo2": "95",
        }
        # Unanswered, the question that decides the grade is asked; nothing is saved and
        # what was typed stays in the form.
        asked = await nurse.post(f"/cases/{case_id}/observe", data=findings)
        assert asked.status_code == 422, asked.text
        assert "Was anything given for fever or CRS" in asked.text
        assert 'name="systolic_bp" type="number" inputmode="numeric" value="82"' in asked.text
        handle = stack.client.get_workflow_handle_for(PatientJourney.run, f"journey-{case_id}")
        assert (await handle.query(PatientJourney.status)).observation_count == 0
        # The form carries its own id: the same form sent twice (a double click) is one
        # observation.
        form_id = re.search(r'name="observation_id" value="([^"]+)"', asked.text)
        assert form_id is not None
        answered = findings | {
            "anticytokine_or_antipyretic_given": "true",
            "observation_id": form_id[1],
        }
        saved = await nurse.post(f"/cases/{case_id}/observe", data=answered)
        again = await nurse.post(f"/cases/{case_id}/observe", data=answered)
        assert again.status_code == 200
        assert (await handle.query(PatientJourney.status)).observation_count == 1
    assert saved.status_code == 200, saved.text
    assert re.search(r'CRS grade <strong class="grade">3</strong>', saved.text), saved.text[-2000:]
    template = (ROOT / "cellpath/console/templates/case_body.html").read_text()
    block = template[template.index("{% if s.cell_source == 'allogeneic' %}") :]
    assert all(f'name="{f}"' in block for f in gvhd)

    # The home team's counts have a form of their own, without vital signs: an IgG in g/L is
    # refused naming the unit expected, what was typed stays and nothing is saved; in mg/dL
    # it is graded.
    async with httpx.AsyncClient(base_url=stack.url) as nurse:
        token = await signed_in(nurse, "nurse-ui")
        assert f'action="/cases/{case_id}/labs"' in (await nurse.get(f"/cases/{case_id}")).text
        typed = {"csrf_token": token, "tz": "UTC", "anc_per_ul": "300", "igg_mg_dl": "4.2"}
        refused = await nurse.post(f"/cases/{case_id}/labs", data=typed)
        assert refused.status_code == 422, refused.text
        assert "igg_mg_dl: looks like g/L; expected mg/dL" in refused.text
        assert re.search(r'name="igg_mg_dl"[^>]*value="4.2"', refused.text)
        assert (await handle.query(PatientJourney.status)).observation_count == 1
        labs = await nurse.post(f"/cases/{case_id}/labs", data=typed | {"igg_mg_dl": "420"})
    assert labs.status_code == 200, labs.text[-2000:]
    assert "Results saved" in labs.text
    assert re.search(r'neutrophils CTCAE grade <strong class="grade">4</strong>', labs.text)
    status = await handle.query(PatientJourney.status)
    assert [(lab.name, lab.value) for lab in status.labs] == [
        ("anc_per_ul", 300.0),
        ("igg_mg_dl", 420.0),
    ]
    assert status.toxicity.crs_current == 3  # a laboratory result is not a bedside observation
