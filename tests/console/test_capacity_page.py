"""Capacity in the console (over HTTP): an administrator declares the site's resources on its
week grid, a coordinator books a case's chain on the case page, the grid shows the chair
full, another case is refused the same chair naming the booking and the next free day, and
only administrators may change a resource."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
import sqlalchemy as sa

from cellpath.scenarios import start, to_logistics
from cellpath.store.directory import Directory
from cellpath.store.tables import SiteResource, SiteRow, SlotBooking, SlotSeat
from models.directory import SiteInput
from tests.console.conftest import Stack, signed_in
from tests.support import console_journey

pytestmark = pytest.mark.e2e

SITE = "site-a"


def resource(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "open_days": "mon"} | fields


@pytest.fixture
def site_a(stack: Stack) -> Iterator[None]:
    """site-a in the directory for this test only: once the directory holds a site, intake
    takes only known sites, and the other console tests take in cases for site-a and site-b."""
    Directory(stack.store).set_site(
        SiteInput(site=SITE, name="Site A hospital", phone="+861012345678", address="1 Road"),
        by="console-setup",
    )
    yield
    with stack.store.session() as s:
        for table in (SlotSeat, SlotBooking, SiteResource):
            s.execute(sa.delete(table))
        s.execute(sa.delete(SiteRow).where(SiteRow.site == SITE))


async def test_resources_a_chain_and_the_week_grid(stack: Stack, site_a: None) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as admin:
        token = await signed_in(admin, "admin-ui")
        for data in (
            {"resource": "apheresis", "kind": "apheresis", "capacity": "1"},
            {"resource": "beds", "kind": "bed", "capacity": "3"},
            {"resource": "gmp", "kind": "manufacturing", "capacity": "2"},
        ):
            days = ["mon", "tue", "wed", "thu", "fri"]
            if data["kind"] != "apheresis":
                days += ["sat", "sun"]
            form = {"csrf_token": token, "open_days": days} | data
            saved = await admin.post(f"/sites/{SITE}/resources", data=form)
            assert saved.status_code == 200, saved.text
        bad = await admin.post(
            f"/sites/{SITE}/resources",
            data=resource(token, resource="icu", kind="icu_bed", capacity="0"),
        )
        assert bad.status_code == 422 and "capacity" in bad.text

    handles = []
    for n in (1, 2):
        case_id = f"CAP-UI-000{n}"
        handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
        await to_logistics(handle, SITE)
        handles.append(case_id)
    first, second = handles
    arrival = date.today() + timedelta(days=70 - date.today().weekday())  # a Monday
    chair_day = arrival + timedelta(days=7)
    async with httpx.AsyncClient(base_url=stack.url) as coord:
        token = await signed_in(coord, "coord-ui")
        page = await coord.get(f"/cases/{first}")
        assert 'id="bookings-h"' in page.text and "Book the chain" in page.text
        # The schedule ahead, from the PI's acceptance: arrival first, home last.
        assert 'id="ahead-h"' in page.text and "returned home" in page.text
        booked = await coord.post(
            f"/cases/{first}/bookings",
            data={"csrf_token": token, "tz": "UTC", "action": "chain", "start": str(arrival)},
        )
        assert booked.status_code == 200, booked.text
        assert f"apheresis {chair_day}" in booked.text and "Move the chain" in booked.text
        chair = re.search(r"<th scope=\"row\">(BK-[0-9a-f]+)</th><td>apheresis", booked.text)
        assert chair is not None

        grid = await coord.get(f"/sites/{SITE}/slots", params={"week": str(chair_day)})
        assert grid.status_code == 200
        assert '1/1</strong> <span class="badge warning">full' in grid.text
        assert "Declare or change a resource" not in grid.text  # administrators only

        refused = await coord.post(
            f"/cases/{second}/bookings",
            data={
                "csrf_token": token,
                "tz": "UTC",
                "action": "one",
                "resource": "apheresis",
                "start": str(chair_day),
            },
        )
        assert refused.status_code == 422
        assert chair.group(1) in refused.text
        assert f"next free: {chair_day + timedelta(days=1)}" in refused.text

        denied = await coord.post(
            f"/sites/{SITE}/resources",
            data=resource(token, resource="beds", kind="bed", capacity="9"),
        )
        assert denied.status_code == 403 and "administrator" in denied.text
