"""The console's guards, over HTTP: CSRF, sign-in throttling, session expiry, who sees whose
identifying details, and that refusals are audited like the CLI's."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from cellpath.config import Settings
from cellpath.console import create_app
from cellpath.scenarios import record as record_update
from cellpath.scenarios import start
from cellpath.store import STAFF_AUDIT, CaseStore
from cellpath.store.tables import Patient
from models.examples import ELIGIBLE
from models.journey import workflow_id
from tests.console.conftest import PASSWORD, Stack, csrf_of, signed_in
from tests.support import console_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(stack: Stack) -> None:
    case_id = "SEC-2026-0001"
    handle = await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "coord-ui")
        form = {"kind": "record_received", "data.record_type": "labs"}
        missing = await http.post(f"/cases/{case_id}/milestone", data=form)
        wrong = await http.post(
            f"/cases/{case_id}/milestone", data=form | {"csrf_token": "x" * len(token)}
        )
        assert (missing.status_code, wrong.status_code) == (403, 403)
        assert await handle.query(PatientJourney.timeline) == []  # nothing recorded
        # With the token, the same form is recorded.
        done = await http.post(f"/cases/{case_id}/milestone", data=form | {"csrf_token": token})
        assert done.status_code == 200 and "record received recorded" in done.text
    assert [e.kind for e in await handle.query(PatientJourney.timeline)] == ["record_received"]


async def test_a_forbidden_action_is_refused_and_audited_as_in_the_cli(stack: Stack) -> None:
    case_id = "SEC-2026-0002"
    await start(stack.client, console_journey(case_id), stack.settings.task_queue)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "viewer-ui")
        reply = await http.post(
            f"/cases/{case_id}/withdraw", data={"reason": "testing", "csrf_token": token}
        )
    assert reply.status_code == 403
    assert "viewer-ui" in reply.text and "withdraw needs a coordinator or physician" in reply.text
    refusals = [r for r in stack.store.audit_trail(case_id) if r.action == "refused:withdraw"]
    assert [r.actor for r in refusals] == ["viewer-ui"]
    status = await stack.client.get_workflow_handle(workflow_id(case_id)).query(
        PatientJourney.status
    )
    assert status.outcome is None


async def test_identifying_details_only_for_the_care_team_and_each_look_audited(
    stack: Stack,
) -> None:
    case_id = "SEC-2026-0003"
    inp = console_journey(case_id).model_copy(update={"patient_ref": "pt-sec-0003"})
    with stack.store.session() as s:
        stack.store.add_patient(
            s,
            Patient(
                patient_ref=inp.patient_ref,
                full_name="Grace Hidden",
                nationality="GB",
                created_at=datetime.now(UTC),
            ),
            case_id,
        )
    await start(stack.client, inp, stack.settings.task_queue)
    pages, codes = {}, {}
    for actor in ("coord-ui", "viewer-ui", "nurse-ui"):
        async with httpx.AsyncClient(base_url=stack.url) as http:
            await signed_in(http, actor)
            reply = await http.get(f"/cases/{case_id}")
            pages[actor], codes[actor] = reply.text, reply.status_code
    # Its coordinator sees who the patient is; a viewer the case without; a nurse of another
    # site (the case has none yet) is not in its care team at all.
    assert "Grace Hidden" in pages["coord-ui"] and "Grace Hidden" not in pages["viewer-ui"]
    assert codes["nurse-ui"] == 403 and "Grace Hidden" not in pages["nurse-ui"]
    assert "not in the care team" in pages["nurse-ui"]
    title = re.search(r"<title>(.*?)</title>", pages["coord-ui"], re.S)
    assert title and "Grace" not in title.group(1)
    views = [r for r in stack.store.audit_trail(case_id) if r.action == "patient_viewed"]
    assert [(v.actor, v.detail["patient_ref"]) for v in views] == [("coord-ui", "pt-sec-0003")]


@pytest.fixture
def offline(console_store: CaseStore) -> Settings:
    """Settings for a console app that signs people in but never reaches Temporal."""
    return Settings(
        console_url="http://testserver",
        database_url=str(console_store.engine.url),
        console_sign_in_attempts=3,
    )


def _client(settings: Settings, store: CaseStore) -> httpx.AsyncClient:
    app = create_app(settings, store=store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")


async def test_sign_in_is_throttled_after_repeated_failures(
    offline: Settings, console_store: CaseStore
) -> None:
    async with _client(offline, console_store) as http:
        token = csrf_of((await http.get("/login")).text)
        codes = []
        for password in ["wrong-1", "wrong-2", "wrong-3", PASSWORD]:
            reply = await http.post(
                "/login",
                data={"username": "coord-ui", "password": password, "csrf_token": token},
            )
            codes.append(reply.status_code)
    # Three failures, then even the right password waits out the window.
    assert codes == [401, 401, 401, 429]
    assert "Too many failed sign-ins" in reply.text
    refused = [r for r in console_store.audit_trail(STAFF_AUDIT) if r.action == "refused:sign_in"]
    assert [r.reason for r in refused[-4:]] == [
        "wrong name or password",
        "wrong name or password",
        "wrong name or password",
        "too many failed sign-ins",
    ]


async def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(
    offline: Settings, console_store: CaseStore
) -> None:
    async with _client(offline, console_store) as http:
        token = csrf_of((await http.get("/login")).text)
        replies = [
            await http.post(
                "/login", data={"username": name, "password": "nope", "csrf_token": token}
            )
            for name in ("nobody-here", "dr-ui")
        ]
    assert [r.status_code for r in replies] == [401, 401]
    assert all("Wrong name or password." in r.text for r in replies)


async def test_a_session_ends_after_its_hours(
    offline: Settings, console_store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _client(offline, console_store) as http:
        await signed_in(http, "viewer-ui")
        assert (await http.get("/intake")).status_code == 403  # a viewer takes in nothing
        later = time.time() + offline.console_session_hours * 3600 + 1
        monkeypatch.setattr("cellpath.console.auth.time.time", lambda: later)
        reply = await http.get("/intake")
    assert reply.status_code == 303 and reply.headers["location"] == "/login?next=/intake"


async def test_the_session_cookie_is_http_only_and_same_site(
    offline: Settings, console_store: CaseStore
) -> None:
    async with _client(offline, console_store) as http:
        reply = await http.get("/login")
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]


async def test_after_sign_in_only_a_path_of_this_site_is_followed(
    offline: Settings, console_store: CaseStore
) -> None:
    async with _client(offline, console_store) as http:
        token = csrf_of((await http.get("/login")).text)
        reply = await http.post(
            "/login",
            data={
                "username": "viewer-ui",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "//evil.example/phish",
            },
        )
    assert reply.status_code == 303 and reply.headers["location"] == "/"


async def test_an_intake_with_problems_lists_each_by_field_and_starts_nothing(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = await signed_in(http, "coord-ui")
        reply = await http.post(
            "/intake",
            data={
                "csrf_token": token,
                "case_id": "SEC-2026-0009",
                "patient.full_name": "Zed Secret-Name",
                "patient.birth_date": "1961-04-02",
                "patient.nationality": "Britain",
                "patient.email": "zed-at-example",
                "indication": "DLBCL",
                "target_antigens": "CD19",
                "sites": "site-a",
                "coordinator": "coord-ui",
            },
        )
    assert reply.status_code == 422
    problems = re.search(r'<div class="refusal" role="alert">(.*?)</div>', reply.text, re.S)
    assert problems is not None
    text = problems.group(1)
    assert "patient.nationality" in text and "patient.email" in text
    assert "Britain" not in text and "zed-at-example" not in text and "Zed" not in text
    assert not stack.store.case_exists("SEC-2026-0009")


async def test_a_nurses_worklist_holds_the_cases_of_their_sites(stack: Stack) -> None:
    here = await start(stack.client, console_journey("SEC-2026-0011"), stack.settings.task_queue)
    away = await start(
        stack.client, console_journey("SEC-2026-0012", sites=["site-b"]), stack.settings.task_queue
    )
    for handle, site in ((here, "site-a"), (away, "site-b")):
        await record_update(
            handle,
            "records_complete",
            records=["pathology", "imaging", "treatment_history", "labs"],
        )
        await record_update(handle, "eligibility_assessed", reviewer="dr", **ELIGIBLE)
        await record_update(handle, "submitted_to_pi", site=site)
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "nurse-ui")
        for _ in range(50):  # visibility follows the journeys' own updates within moments
            page = (await http.get("/?phase=pi_review")).text
            if "SEC-2026-0011" in page:
                break
            await asyncio.sleep(0.1)
        missing = await http.get("/cases/SEC-2026-9999")
    assert "Cases at site-a" in page
    assert "SEC-2026-0011" in page and "SEC-2026-0012" not in page
    assert missing.status_code == 404 and "no journey for case SEC-2026-9999" in missing.text


async def test_a_name_that_does_not_exist_locks_out_that_name_not_the_ward(
    offline: Settings, console_store: CaseStore
) -> None:
    """Failures count per name, per address and name, and per address (ten times as many):
    one mistyped name on a shared workstation does not lock every nurse out."""
    async with _client(offline, console_store) as http:
        token = csrf_of((await http.get("/login")).text)

        async def attempt(name: str, password: str) -> int:
            data = {"username": name, "password": password, "csrf_token": token}
            return (await http.post("/login", data=data)).status_code

        assert [await attempt("no-such-nurse", "x") for _ in range(4)] == [401, 401, 401, 429]
        # Another name at the same address still signs in.
        assert await attempt("nurse-ui", PASSWORD) == 303


async def test_a_spoofed_forwarded_address_is_not_believed(stack: Stack) -> None:
    """X-Forwarded-For counts only from configured proxies (none here): the audit and the
    throttle see the real address."""
    async with httpx.AsyncClient(base_url=stack.url) as http:
        token = csrf_of((await http.get("/login")).text)
        reply = await http.post(
            "/login",
            data={"username": "viewer-ui", "password": "wrong", "csrf_token": token},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        assert reply.status_code == 401
        assert "server" not in reply.headers  # nothing says what serves the console
    (last,) = [r for r in stack.store.audit_trail(STAFF_AUDIT) if r.action == "refused:sign_in"][
        -1:
    ]
    assert "203.0.113.9" not in str(last.detail) and "127.0.0.1" in str(last.detail)


async def test_signing_out_ends_a_copied_session(stack: Stack) -> None:
    """The cookie names a server-side session: after sign-out (or a new password) the same
    cookie, copied before, opens nothing."""
    async with httpx.AsyncClient(base_url=stack.url) as http:
        csrf = await signed_in(http, "viewer-ui")
        copied = dict(http.cookies)
        assert (await http.get("/")).status_code == 200
        await http.post("/logout", data={"csrf_token": csrf})
    async with httpx.AsyncClient(base_url=stack.url, cookies=copied) as thief:
        reply = await thief.get("/")
        assert reply.status_code == 303 and "/login" in reply.headers["location"]
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "viewer-ui")
        copied = dict(http.cookies)
        hashed = stack.store.password_hash("viewer-ui")
        assert hashed is not None
        stack.store.set_password_hash("viewer-ui", hashed, by="tests")  # a password change
        assert (await http.get("/")).status_code == 303
    async with httpx.AsyncClient(base_url=stack.url, cookies=copied) as thief:
        assert (await thief.get("/")).status_code == 303


async def test_a_page_link_temporal_cannot_read_is_a_refusal_not_an_outage(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        await signed_in(http, "viewer-ui")
        reply = await http.get("/", params={"page_token": "AAAA"})
    assert reply.status_code != 503 and "page link is not valid" in reply.text
