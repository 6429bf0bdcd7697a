"""Who may open a case: its care team, over every case route of the console.

The matrix is literal: each route (with a request that changes nothing even when allowed: a
milestone the phase does not expect, a withdrawal without a reason …) against each person.
Outside the care team every route answers 403, names the care team, shows nothing of the
patient and is audited; inside it the care team is never the reason for a refusal. Breaking
the glass then opens the case, audited and told to its coordinator.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import httpx
import pytest

from cellpath.scenarios import start, to_logistics
from cellpath.store.access import CareTeams
from cellpath.store.tables import JourneyRow, Patient
from tests.console.conftest import Stack, signed_in
from tests.support import console_journey

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every route of the console that names a case: (method, path, form).
ROUTES = [
    ("GET", "/cases/{case}", {}),
    ("GET", "/cases/{case}/handover.fhir.json", {}),
    ("GET", "/cases/{case}/calendar.ics", {}),
    ("POST", "/cases/{case}/milestone", {"kind": "record_received", "record_type": "labs"}),
    ("POST", "/cases/{case}/observe", {"temperature_c": "37.0"}),
    ("POST", "/cases/{case}/acknowledge", {"alert_id": "no-such-alert"}),
    ("POST", "/cases/{case}/reschedule", {"deadline": "no_such", "due_at": "", "reason": "x"}),
    ("POST", "/cases/{case}/withdraw", {"reason": ""}),
    ("POST", "/cases/{case}/handover", {}),
]
# Who is in the care team of a case coordinated by coord-ui, accepted at site-a, covered by
# cover-ui: its coordinator, cover, site-a's physician and nurse. Viewers and administrators
# are held by their roles alone (read-only without identity; no case work).
IN_TEAM = {
    "coord-ui": True,
    "cover-ui": True,
    "dr-ui": True,
    "nurse-ui": True,
    "coord-other": False,
    "nurse-z": False,
}
NAME = "Ophelia Careteam"


async def case_at_site_a(stack: Stack) -> str:
    case = f"ACC-{datetime.now(UTC):%H%M%S%f}"
    inp = console_journey(case).model_copy(update={"patient_ref": f"pt-{case.lower()}"})
    with stack.store.session() as s:
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=inp.patient_ref,
                full_name=NAME,
                nationality="GB",
                created_at=datetime.now(UTC),
            ),
            case,
        )
    handle = await start(stack.client, inp, stack.settings.task_queue)
    await to_logistics(handle, site="site-a")
    for _ in range(100):  # the journey's write of its new site
        with stack.store.session() as s:
            row = s.get(JourneyRow, case)
        if row is not None and row.site == "site-a":
            break
        await asyncio.sleep(0.1)
    assert CareTeams(stack.store).add(case, "cover-ui", by="coord-ui")
    return case


async def call(
    http: httpx.AsyncClient, csrf: str, method: str, path: str, form: dict
) -> httpx.Response:
    if method == "GET":
        return await http.get(path)
    return await http.post(path, data=form | {"csrf_token": csrf, "tz": "UTC"})


async def test_every_case_route_is_for_the_care_team_only(stack: Stack) -> None:
    case = await case_at_site_a(stack)
    for actor, in_team in IN_TEAM.items():
        async with httpx.AsyncClient(base_url=stack.url) as http:
            csrf = await signed_in(http, actor)
            for method, path, form in ROUTES:
                reply = await call(http, csrf, method, path.format(case=case), form)
                where = f"{actor} {method} {path}"
                if in_team:
                    assert "not in the care team" not in reply.text, where
                else:
                    assert reply.status_code == 403, (where, reply.status_code)
                    assert "not in the care team" in reply.text, where
                    assert NAME not in reply.text, where
    refused = [
        r
        for r in stack.store.audit_trail(case)
        if r.action.startswith("refused") and r.actor in ("coord-other", "nurse-z")
    ]
    # Each refused and audited: by the care team, or first by the role where it was not
    # theirs anyway (a coordinator's observation).
    assert all("care team" in r.reason or " needs a" in r.reason for r in refused), refused
    assert sum("care team" in r.reason for r in refused) >= len(ROUTES)
    # The care team's coordinator sees who the patient is (and each look is audited).
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "coord-ui")
        assert NAME in (await http.get(f"/cases/{case}")).text


async def test_breaking_the_glass_opens_the_case_audited_and_told(stack: Stack) -> None:
    case = await case_at_site_a(stack)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        csrf = await signed_in(http, "coord-other")
        refused = await http.get(f"/cases/{case}")
        assert refused.status_code == 403 and "Break the glass" in refused.text
        target = f"/cases/{case}/break-glass"
        # Without the confirmation, or without a reason: still closed, nothing granted.
        for form in ({"reason": "patient deteriorating on ward"}, {"confirm": "yes"}):
            reply = await http.post(target, data=form | {"csrf_token": csrf})
            assert reply.status_code in (403, 422) and NAME not in reply.text
        assert (await http.get(f"/cases/{case}")).status_code == 403
        reply = await http.post(
            target,
            data={
                "reason": "covering the night shift, patient febrile",
                "confirm": "yes",
                "csrf_token": csrf,
            },
        )
        assert reply.status_code == 303
        opened = await http.get(f"/cases/{case}")
        assert opened.status_code == 200 and NAME in opened.text
    trail = stack.store.audit_trail(case)
    (glass,) = [r for r in trail if r.action == "break_glass"]
    assert glass.actor == "coord-other" and "febrile" in glass.reason
    told = [n for n in stack.store.notifications(case) if n.kind == "access"]
    assert len(told) == 1 and told[0].recipient == "coordinator"
    assert date.today() <= datetime.fromisoformat(glass.detail["until"]).date()
