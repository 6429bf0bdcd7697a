"""A custody hand-off in the console is signed by both (over HTTP): the giver's and the
receiver's own passwords, entered now; a wrong one refuses it and nothing is recorded."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from cellpath.scenarios import arrive_and_clear, start, to_arrival
from tests.console.conftest import PASSWORD, Stack, signed_in
from tests.support import console_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def test_a_hand_off_needs_both_passwords(stack: Stack) -> None:
    case_id = "CUS-UI-0001"
    handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    await to_arrival(handle, date.today())
    await arrive_and_clear(handle)
    hand_off = {
        "kind": "custody_transferred",
        "tz": "UTC",
        "data.from_party": "apheresis-unit",
        "data.to_party": "cell-lab",
        "data.location": "cell lab, room 3",
        "data.received_by": "nurse-ui",
        "signing_password": PASSWORD,
    }
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "coord-ui")
        page = await http.get(f"/cases/{case_id}")
        assert "The receiver&#39;s password" in page.text or "The receiver's password" in page.text
        wrong = await http.post(
            f"/cases/{case_id}/milestone",
            data=hand_off | {"csrf_token": token, "receiver_password": "not theirs"},
        )
        assert wrong.status_code in (403, 422) and "Refused" in wrong.text
        assert (await handle.query(PatientJourney.status)).custody == []
        done = await http.post(
            f"/cases/{case_id}/milestone",
            data=hand_off | {"csrf_token": token, "receiver_password": PASSWORD},
        )
        assert done.status_code == 200, done.text
        assert "custody transferred recorded" in done.text
    status = await handle.query(PatientJourney.status)
    assert [(link.recorded_by, link.received_by) for link in status.custody] == [
        ("coord-ui", "nurse-ui")
    ]
    assert [(g.decision, g.signer) for g in status.signatures][-2:] == [
        ("custody_transferred", "coord-ui"),
        ("custody_transferred", "nurse-ui"),
    ]
