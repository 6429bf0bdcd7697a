"""Around the desk (over HTTP): one's own contact details and password, covering a colleague
for a period (their cases on one's worklist while it lasts), the administrators' page of staff,
sites and the on-call rota with its gaps, and a case given to a colleague from its page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from cellpath.scenarios import start
from cellpath.store.directory import Directory
from cellpath.store.tables import JourneyRow, RoleAssignment, SiteRow, StaffCover
from models.roles import Role
from tests.console.conftest import PASSWORD, Stack, csrf_of, signed_in
from tests.support import console_journey

pytestmark = pytest.mark.e2e

DESK = "desk-ui"  # a coordinator of this test's own: their password changes here
NEW_PASSWORD = "a longer passphrase of my own"
SITE = "site-desk"


@pytest.fixture
def desk(stack: Stack) -> Iterator[None]:
    stack.store.set_role(DESK, Role.COORDINATOR, by="console-setup")
    stack.store.set_password_hash(DESK, PasswordHasher().hash(PASSWORD), by="console-setup")
    yield
    with stack.store.session() as s:  # intake takes only known sites once one is registered
        s.execute(sa.delete(SiteRow).where(SiteRow.site == SITE))  # type: ignore[arg-type]
        s.execute(sa.delete(RoleAssignment).where(RoleAssignment.site == SITE))  # type: ignore[arg-type]
        s.execute(sa.delete(StaffCover))


async def test_ones_own_details_and_password(stack: Stack, desk: None) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as me:
        token = await signed_in(me, DESK)
        page = await me.get("/me")
        assert page.status_code == 200 and "Your details, desk-ui" in page.text
        bad = await me.post("/me/contact", data={"csrf_token": token, "timezone": "Mars/Base"})
        assert bad.status_code == 422 and "timezone" in bad.text
        assert Directory(stack.store).contact(DESK) is None, "a refusal keeps nothing"
        form = {"csrf_token": token, "email": "desk@example.org", "timezone": "Asia/Shanghai"}
        saved = await me.post("/me/contact", data=form | {"quiet_hours": "22:00-07:00"})
        assert saved.status_code == 200 and "saved" in saved.text
        contact = Directory(stack.store).contact(DESK)
        assert contact is not None and (contact.email, contact.timezone) == (
            "desk@example.org",
            "Asia/Shanghai",
        )

        wrong = {"csrf_token": token, "current": "not it at all", "new": NEW_PASSWORD}
        refused = await me.post("/me/password", data=wrong | {"again": NEW_PASSWORD})
        assert refused.status_code == 403 and "did not match" in refused.text
        differ = {"csrf_token": token, "current": PASSWORD, "new": NEW_PASSWORD}
        refused = await me.post("/me/password", data=differ | {"again": "something else!!"})
        assert refused.status_code == 422 and "differ" in refused.text
        changed = await me.post("/me/password", data=differ | {"again": NEW_PASSWORD})
        assert changed.status_code == 303 and changed.headers["location"].startswith("/login")
        # Signed out here, as everywhere: the old password no longer opens the console.
        assert (await me.get("/me")).status_code in (303, 307, 401)
    async with httpx.AsyncClient(base_url=stack.url) as again:
        token = csrf_of((await again.get("/login")).text)
        old = await again.post(
            "/login", data={"username": DESK, "password": PASSWORD, "csrf_token": token}
        )
        assert old.status_code == 401
        await signed_in(again, DESK, NEW_PASSWORD)


async def test_a_colleague_covers_and_a_case_is_given_away(stack: Stack, desk: None) -> None:
    case_id = "DESK-UI-0001"
    await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=stack.url) as coord:
        token = await signed_in(coord, "coord-ui")
        # coord-ui's cases are covered by desk-ui until tomorrow; a stranger may not set that.
        cover = {"csrf_token": token, "covering": DESK, "until": tomorrow, "reason": "leave"}
        set_ = await coord.post("/covers", data=cover)
        assert set_.status_code == 200 and "desk-ui covers coord-ui's cases" in unescape(set_.text)
    async with httpx.AsyncClient(base_url=stack.url) as other:
        token = await signed_in(other, "coord-other")
        stranger = {"csrf_token": token, "absent": "coord-ui", "covering": "coord-other"}
        refused = await other.post("/covers", data=stranger | {"until": tomorrow, "reason": "x y"})
        assert refused.status_code == 403 and "may not set who covers" in refused.text
    async with httpx.AsyncClient(base_url=stack.url) as covering:
        await signed_in(covering, DESK)
        listed = await covering.get("/", params={"coordinator": "coord-ui"})
        assert (
            "Coord-ui's cases (you cover them)" in unescape(listed.text) and case_id in listed.text
        )
        assert (await covering.get(f"/cases/{case_id}")).status_code == 200
        me = await covering.get("/me")
        assert "coord-ui" in me.text and "Their cases" in me.text

    # Its coordinator gives the case to desk-ui from the case page; the projection follows.
    for _ in range(200):
        with stack.store.session() as s:
            if s.get(JourneyRow, case_id) is not None:
                break
        await asyncio.sleep(0.05)
    async with httpx.AsyncClient(base_url=stack.url) as coord:
        token = await signed_in(coord, "coord-ui")
        page = await coord.get(f"/cases/{case_id}")
        assert 'id="team-h"' in page.text
        gave = await coord.post(
            f"/cases/{case_id}/reassign",
            data={"csrf_token": token, "to": "viewer-ui", "reason": "x"},
        )
        assert gave.status_code == 422 and "not a coordinator" in gave.text
        gave = await coord.post(
            f"/cases/{case_id}/reassign",
            data={"csrf_token": token, "to": DESK, "reason": "leaving the team"},
        )
        assert gave.status_code == 303 and gave.headers["location"] == f"/?given={case_id}"
    row = None
    for _ in range(200):
        with stack.store.session() as s:
            row = s.get(JourneyRow, case_id)
        if row is not None and row.coordinator == DESK:
            break
        await asyncio.sleep(0.05)
    assert row is not None and row.coordinator == DESK


async def test_staff_sites_and_the_rota_for_administrators_only(stack: Stack, desk: None) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as viewer:
        await signed_in(viewer, "viewer-ui")
        assert (await viewer.get("/staff")).status_code == 403
    async with httpx.AsyncClient(base_url=stack.url) as admin:
        token = await signed_in(admin, "admin-ui")
        page = await admin.get("/staff")
        assert page.status_code == 200 and "desk-ui" in page.text and 'href="/staff"' in page.text
        site = {
            "csrf_token": token,
            "site": SITE,
            "name": "Desk hospital",
            "phone": "+861012345678",
            "address": "1 Road",
        }
        saved = await admin.post("/staff/site", data=site)
        assert saved.status_code == 200 and f"site {SITE} saved" in saved.text
        assert "Nobody on call" in saved.text, "a site with nobody on call shows the gap"
        oncall = {"csrf_token": token, "role": "on_call", "member": "dr-ui", "site": SITE}
        assigned = await admin.post("/staff/assign", data=oncall)
        assert assigned.status_code == 200 and "dr-ui is on_call" in assigned.text
        assert "Someone is on call at every moment" in assigned.text
        role = {"csrf_token": token, "action": "role", "member": "desk-new", "role": "bogus"}
        refused = await admin.post("/staff/member", data=role)
        assert refused.status_code == 422
        assert stack.store.role_of("desk-new") is None
        done = await admin.post("/staff/member", data=role | {"role": "physician"})
        assert done.status_code == 200 and stack.store.role_of("desk-new") is Role.PHYSICIAN
        short = {"csrf_token": token, "action": "password", "member": "desk-new", "password": "x"}
        refused = await admin.post("/staff/member", data=short)
        assert refused.status_code == 422 and "at least 12 characters" in refused.text
        stack.store.set_role("desk-new", None, by="test")
