"""The family and their records, every part real: the Temporal dev server, a worker that
delivers by e-mail (aiosmtpd), the console, Chromium.

- The family walk: a sign-in link from the SMTP server, the page in Chinese on a phone, a
  record uploaded, a symptom reported → the on-call physician's e-mail within seconds; the
  link does not work twice; no serious accessibility finding in Chinese or in English.
- The access walk: with a family session, every staff route of the console sends them to the
  staff sign-in; no family route names a case.
- Records through the services: a record in English is translated for the PI (the PI waits
  for it), the file on disk holds no plaintext, erasure removes the files and says how many.
- Bad input: an executable, a mismatched type, an empty or oversized file, a link used twice
  or late, a symptom flood: refused with the reason, nothing stored, audited.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from argon2 import PasswordHasher
from playwright.async_api import Page, expect
from pydantic import SecretStr
from temporalio.client import Client

from cellpath.config import Settings
from cellpath.console.serve import server
from cellpath.runtime import create_worker
from cellpath.services import family, intake, journeys, notes, records
from cellpath.services.base import Refusal, Session
from cellpath.store import CaseStore
from cellpath.store.directory import Directory
from cellpath.store.records import RecordRows
from cellpath.store.tables import RecordFile
from models.directory import AssignmentInput, ContactInput, SiteInput
from models.examples import ELIGIBLE, intake_document
from models.messages import MilestoneInput
from models.roles import Role
from tests.console.conftest import PASSWORD, Stack, signed_in
from tests.support import axe_violations

pytestmark = pytest.mark.e2e

QUEUE = "patient-journeys-family"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nHistology: DLBCL, CD19+ (Zhang)\n%%EOF"
TRANSLATED = "病理报告：弥漫大B细胞淋巴瘤，CD19阳性\n".encode()
FAMILY_EMAIL = "liu.family@example.org"
DOCTOR_EMAIL = "dr-fam@example.org"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".cellpath" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox(MessageHandler):
    """Every message the SMTP server received; `arrived` is set for each one."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []
        self.arrived = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def handle_message(self, message: Message) -> None:
        self.messages.append(message)
        self.loop.call_soon_threadsafe(self.arrived.set)

    async def wait_for(self, to: str, words: str) -> Message:
        """The first message to `to` whose text holds `words`; waits on arrivals, not time
        (bounded at 30 s: a message that never comes fails the test, saying so)."""
        async with asyncio.timeout(30):
            while True:
                for m in self.messages:
                    if to in str(m["To"]) and words in text(m):
                        return m
                self.arrived.clear()
                await self.arrived.wait()


def text(m: Message) -> str:
    subject = str(make_header(decode_header(m["Subject"] or "")))
    for part in m.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return subject + "\n" + payload.decode(part.get_content_charset() or "utf-8")
    return subject


@dataclass
class Family:
    """The family tests' own stack: its store, worker, console, mailbox and one case."""

    url: str
    client: Client
    store: CaseStore
    settings: Settings
    mailbox: Mailbox

    def session(self, actor: str) -> Session:
        return Session(actor=actor, settings=self.settings, client=self.client, store=self.store)

    async def new_case(self, language: str = "zh") -> str:
        case_id = f"FAM-{uuid.uuid4().hex[:8]}"
        patient = {
            "full_name": "Liu Wen",
            "birth_date": "1970-03-04",
            "nationality": "CN",
            "passport_number": "E12345678",
            "email": FAMILY_EMAIL,
            "phone": "+86 138 0000 0000",
            "preferred_language": language,
        }
        doc = intake_document(patient, case_id=case_id, coordinator="coord-fam", sites=["site-a"])
        await intake.take_in(self.session("coord-fam"), doc)
        return case_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fam(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Family]:
    root = tmp_path_factory.mktemp("family")
    store = CaseStore.from_url(f"sqlite:///{root / 'case.db'}")
    for actor, role in (
        ("coord-fam", Role.COORDINATOR),
        ("coord-two", Role.COORDINATOR),
        ("dr-fam", Role.PHYSICIAN),
    ):
        store.set_role(actor, role, by="family-setup")
    directory = Directory(store)
    directory.set_site(
        SiteInput(
            site="site-a",
            name="Boren Hospital",
            phone="+861055550100",
            address="1 Example Road, Beijing",
        ),
        by="family-setup",
    )
    directory.set_contact(ContactInput(actor="dr-fam", email=DOCTOR_EMAIL), by="family-setup")
    now = datetime.now(UTC)
    directory.assign(
        AssignmentInput(
            role="on_call",
            actor="dr-fam",
            site="site-a",
            valid_from=now - timedelta(hours=1),
            valid_until=now + timedelta(days=1),
        ),
        by="family-setup",
    )
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    settings = Settings(
        console_url=f"http://127.0.0.1:{port}",
        database_url=str(store.engine.url),
        task_queue=QUEUE,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}"),
        mail_from="cellpath@example.org",
        records_url=str(root / "records"),
        records_key_file=root / "records.keys",
        records_max_bytes=200_000,
        family_symptom_reports_per_hour=2,
        # The on-call physician is e-mailed by the worker (the tests turn delivery off elsewhere).
        delivery_enabled=True,
    )
    async with create_worker(stack.client, task_queue=QUEUE, store=store, settings=settings):
        web = server(settings, client=stack.client, store=store)
        serving = asyncio.create_task(web.serve())
        while not web.started:  # noqa: ASYNC110 (uvicorn says so by a flag only)
            await asyncio.sleep(0.05)
        try:
            yield Family(settings.console_url, stack.client, store, settings, mailbox)
        finally:
            web.should_exit = True
            await serving
            controller.stop()


def link_in(m: Message) -> str:
    found = re.search(r"(http://\S+/family/sign-in/\S+)", text(m))
    assert found, text(m)
    return found.group(1)


async def open_link(page: Page, link: str, button: str) -> None:
    await page.goto(link)
    await page.get_by_role("button", name=button).click()


async def test_the_family_signs_in_by_link_reads_their_page_in_chinese_and_reports_a_fever(
    browser: Any, fam: Family
) -> None:
    case = await fam.new_case("zh")
    said = await family.send_link(fam.session("coord-fam"), case)
    assert "e-mailed to the family" in said
    mail = await fam.mailbox.wait_for(FAMILY_EMAIL, "登录")
    link = link_in(mail)
    assert "只能使用一次" in text(mail) and "+861055550100" in text(mail)

    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, locale="zh-CN"
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await open_link(page, link, "打开我的治疗页面")
    await page.wait_for_url(fam.url + "/family/home")
    await expect(page.locator("h1")).to_have_text("您的治疗页面")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    await expect(page.locator(".phases [aria-current=step]")).to_have_text("病历资料")
    needed = page.locator("section[aria-labelledby=needed]")
    await expect(needed).to_contain_text("病理报告")  # the records still missing, in Chinese
    await expect(page.locator("section[aria-labelledby=centre]")).to_contain_text("+861055550100")
    # When to expect the travel, the infusion, leaving hospital and going home: estimates.
    await expect(page.locator("#expect")).to_have_text("预计时间")
    expected = page.locator("ul[aria-labelledby=expect]")
    await expect(expected).to_contain_text("出院")
    await expect(expected).to_contain_text("约")
    assert await axe_violations(page) == []
    if SCREENSHOTS.parent.exists():
        SCREENSHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "family-zh.png"), full_page=True)

    # A record: waiting for the coordinator, nothing recorded in the journey yet.
    await page.get_by_label("资料类型").select_option("pathology")
    await page.get_by_label("文件（PDF、照片或扫描件）").set_input_files(
        files=[{"name": "病理.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await page.get_by_role("button", name="发送资料").click()
    await expect(page.get_by_role("status")).to_contain_text("医疗团队会查看")
    (row,) = records.listing(fam.session("coord-fam"), case)
    assert (row.source, row.status, row.added_by) == (
        "family",
        "pending",
        family.family_actor(case),
    )

    # A fever: the page says what to do now, and the doctor on call has it by e-mail.
    await page.get_by_label("发热（38 °C或以上）").check()
    await page.get_by_label("具体情况（选填）").fill("39.1 度，发冷")
    await page.get_by_role("button", name="发送给值班医生").click()
    await expect(page.get_by_role("status").first).to_contain_text("已通知值班医生")
    await expect(page.locator("section.alert.urgent")).to_contain_text("+861055550100")
    paged = await fam.mailbox.wait_for(DOCTOR_EMAIL, "The family reports fever")
    assert "URGENT" in text(paged).upper() and "39.1" not in text(paged)  # their words stay
    status = await journeys.status(fam.session("coord-fam"), case)
    assert [a.kind for a in status.alerts if a.open] == ["family_symptom"]
    thread = notes.thread(fam.session("coord-fam"), case)
    assert [n.kind for n in thread] == ["symptom"] and "39.1" in thread[0].text

    # The link worked once.
    again = await (await browser.new_context(locale="en-GB")).new_page()
    again.set_default_timeout(15_000)
    await open_link(again, link, "打开我的治疗页面")  # the family's language, not the browser's
    await expect(again.get_by_role("alert")).to_contain_text("already used")
    await again.context.close()

    # The same page in English for an English-speaking family.
    english = await fam.new_case("en")
    await family.send_link(fam.session("coord-fam"), english)
    page_en = await context.new_page()
    await open_link(
        page_en,
        link_in(await fam.mailbox.wait_for(FAMILY_EMAIL, "Open this link")),
        "Open my care page",
    )
    await expect(page_en.locator("h1")).to_have_text("Your care page")
    await expect(page_en.locator("section[aria-labelledby=needed]")).to_contain_text(
        "Pathology report"
    )
    assert await axe_violations(page_en) == []
    if SCREENSHOTS.exists():
        await page_en.screenshot(path=str(SCREENSHOTS / "family-en.png"), full_page=True)
    await context.close()


async def family_cookie(fam: Family, case: str) -> httpx.AsyncClient:
    """An HTTP client signed in as the family of `case` (a link made without e-mail)."""
    token = uuid.uuid4().hex
    RecordRows(fam.store).new_link(case, token, "family", "test", 5)
    http = httpx.AsyncClient(base_url=fam.url, follow_redirects=False)
    page = await http.get(f"/family/sign-in/{token}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    reply = await http.post(f"/family/sign-in/{token}", data={"csrf_token": csrf.group(1)})
    assert reply.status_code == 303 and reply.headers["location"] == "/family/home"
    return http


async def test_a_family_session_reaches_no_staff_page_and_no_other_case(fam: Family) -> None:
    case, other = await fam.new_case(), await fam.new_case()
    http = await family_cookie(fam, case)
    home = await http.get("/family/home")
    assert home.status_code == 200 and other not in home.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf
    from fastapi.routing import APIRoute

    from cellpath.console.app import create_app

    app = create_app(fam.settings, client=fam.client, store=fam.store)
    walked = 0
    # Every staff route but the staff sign-in's own (the sign-in form is no staff page), and
    # the language switch (it only keeps a choice in the session, and is on the sign-in page).
    public = ("/family", "/healthz", "/login", "/logout", "/language")
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith(public):
            continue
        path = route.path
        for name in re.findall(r"{(\w+)}", route.path):
            path = path.replace("{" + name + "}", {"case_id": other}.get(name, "1"))
        for method in route.methods:
            reply = await http.request(method, path, data={"csrf_token": csrf.group(1)})
            walked += 1
            # Staff pages send the family to the staff sign-in (or refuse): never a page.
            assert reply.status_code in (303, 307, 403, 404, 405), (method, path, reply.text)
            if reply.status_code in (303, 307):
                assert reply.headers["location"].startswith("/login"), (method, path)
            assert other not in reply.text and "Liu Wen" not in reply.text
    assert walked > 20
    # The family routes take the case from the session only: none names a case.
    family_paths = [r.path for r in app.routes if getattr(r, "path", "").startswith("/family")]
    assert family_paths and not any("case" in p for p in family_paths)
    await http.aclose()


async def test_records_are_translated_for_the_pi_and_erased_with_the_patient(fam: Family) -> None:
    case = await fam.new_case()
    coord, doctor = fam.session("coord-fam"), fam.session("dr-fam")
    added = await records.add(
        coord, case, PDF, record_type="pathology", filename="path.pdf", language="en", pages=2
    )
    assert added.recorded == ["record_received", "translation_requested"]
    on_disk = Path(fam.settings.records_url) / added.record.blob_key
    assert on_disk.exists() and b"DLBCL" not in on_disk.read_bytes()  # encrypted at rest
    status = await journeys.status(coord, case)
    (t,) = status.translations
    assert t.sha256 == added.record.sha256 and t.state == "requested"
    assert f"translation_{t.short}" in [d.name for d in status.open_deadlines]
    again = await records.add(coord, case, PDF, record_type="pathology", filename="path.pdf")
    assert again.duplicate and again.record.id == added.record.id

    for kind, data in (
        ("records_complete", {"records": ["pathology", "imaging", "treatment_history", "labs"]}),
        ("eligibility_assessed", {"reviewer": "dr-fam", **ELIGIBLE}),
    ):
        await journeys.record_milestone(
            doctor, case, MilestoneInput(kind=kind, actor="dr-fam", data=data)
        )
    with pytest.raises(Refusal, match=f"pathology \\(en, {t.short}: requested\\)"):
        await journeys.record_milestone(
            coord,
            case,
            MilestoneInput(kind="submitted_to_pi", actor="coord-fam", data={"site": "site-a"}),
        )
    rid = added.record.id
    assert rid is not None
    await records.add_translation(coord, case, rid, TRANSLATED, filename="zh.txt")
    with pytest.raises(Refusal, match="four eyes"):
        await records.verify(coord, case, rid)
    await records.verify(doctor, case, rid)
    await journeys.record_milestone(
        coord,
        case,
        MilestoneInput(kind="submitted_to_pi", actor="coord-fam", data={"site": "site-a"}),
    )
    row, data = records.read(doctor, case, rid)
    assert data == PDF and row.translation == "verified"
    trail = [a.action for a in fam.store.audit_trail(case)]
    assert "record_viewed" in trail and "record_added" in trail

    from cellpath.services import staff

    staff.erase(coord, case, "the patient's request")
    assert records.erase(coord, case, "the patient's request") == 2  # the record, its translation
    assert not on_disk.exists() and records.listing(coord, case) == []


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "report.pdf", "program or script"),
        (PDF, "scan.png", "named .png but its content is application/pdf"),
        (b"", "empty.pdf", "empty"),
        (b"%PDF-1.4\n" + b"0" * 300_000, "big.pdf", "expected at most"),
    ],
)
async def test_a_bad_file_is_refused_with_the_reason_and_nothing_is_kept(
    fam: Family, data: bytes, name: str, words: str
) -> None:
    case = await fam.new_case()
    with pytest.raises(Refusal, match=words):
        await records.add(
            fam.session("coord-fam"), case, data, record_type="imaging", filename=name
        )
    assert fam.store.audit_trail(case)[-1].action == "refused:record"
    with fam.store.session() as s:
        from sqlmodel import select

        assert s.exec(select(RecordFile).where(RecordFile.case_id == case)).all() == []


async def test_links_used_twice_or_late_and_a_symptom_flood_are_refused_keeping_the_first(
    fam: Family,
) -> None:
    case = await fam.new_case()
    rows = RecordRows(fam.store)
    rows.new_link(case, "late-token-" + case, "family", "test", minutes=-1)
    with pytest.raises(Refusal, match="expired"):
        family.sign_in(fam.session("family-sign-in"), "late-token-" + case)
    rows.new_link(case, "once-" + case, "family", "test", minutes=5)
    assert family.sign_in(fam.session("family-sign-in"), "once-" + case) == case
    with pytest.raises(Refusal, match="already used"):
        family.sign_in(fam.session("family-sign-in"), "once-" + case)

    f = family.FamilySession(case, fam.session(family.family_actor(case)))
    raised = [
        await family.report_symptom(f, symptom, f"report {n}")
        for n, symptom in enumerate(("breathing", "fever", "bleeding", "confusion"))
    ]
    assert raised == [True, True, False, False]  # the limit is 2 an hour here
    status = await journeys.status(fam.session("coord-fam"), case)
    assert len([a for a in status.alerts if a.kind == "family_symptom"]) == 2
    assert (
        len([n for n in notes.thread(fam.session("coord-fam"), case) if n.kind == "symptom"]) == 4
    )  # every report is kept
    with pytest.raises(Refusal, match="unknown symptom"):
        await family.report_symptom(f, "headache")
    refused = [a.reason for a in fam.store.audit_trail(case) if a.action == "family_refused"]
    # The late link, the link used again, two reports past the limit, the unknown symptom.
    assert len(refused) == 5 and "expired" in refused[0] and "already used" in refused[1]
    # Sign-in links are limited per case per hour.
    for _ in range(fam.settings.family_links_per_hour):
        rows.new_link(case, uuid.uuid4().hex, "family", "test", 5)
    with pytest.raises(Refusal, match="sign-in links were sent"):
        await family.send_link(fam.session("coord-fam"), case)


class TextMessages:
    """A JSON webhook standing in for the SMS gateway (Apprise's json://): what it got."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def test_with_sms_configured_the_link_also_needs_the_code_sent_to_the_phone(
    fam: Family,
) -> None:
    from cellpath.console.app import create_app

    sms = TextMessages()
    settings = fam.settings.model_copy(
        update={"sms_url": SecretStr(f"json://127.0.0.1:{sms.port}/sms/{{phone}}")}
    )
    app = create_app(settings, client=fam.client, store=fam.store)
    case = await fam.new_case("zh")
    token = uuid.uuid4().hex
    RecordRows(fam.store).new_link(case, token, "family", "test", 5)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://family.test") as http:
        page = await http.get(f"/family/sign-in/{token}")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        reply = await http.post(f"/family/sign-in/{token}", data={"csrf_token": csrf.group(1)})
        assert reply.status_code == 303 and reply.headers["location"] == "/family/code"
        assert (await http.get("/family/home")).headers.get("location") == "/family"  # not yet
        form = await http.get("/family/code")
        assert "尾号为 0000" in form.text  # the phone's last digits, in the family's language
        ((path, body),) = sms.received
        assert path == "/sms/+8613800000000"
        code = re.search(r"\b(\d{6})\b", body["message"])
        assert code and "验证码" in body["title"] + body["message"]
        token_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token_csrf
        wrong = f"{(int(code.group(1)) + 1) % 10**6:06d}"
        bad = await http.post(
            "/family/code", data={"csrf_token": token_csrf.group(1), "code": wrong}
        )
        assert bad.status_code == 403 and "not the one sent" in bad.text
        good = await http.post(
            "/family/code", data={"csrf_token": token_csrf.group(1), "code": code.group(1)}
        )
        assert good.status_code == 303 and good.headers["location"] == "/family/home"
        assert "您的治疗页面" in (await http.get("/family/home")).text
    link_id = RecordRows(fam.store).link_id(token)
    assert link_id is not None
    with pytest.raises(Refusal, match="no code was sent"):  # the code worked once
        family.check_code(fam.session("family-sign-in"), link_id, code.group(1))
    sms.server.shutdown()


@pytest.mark.parametrize(
    ("language", "heading", "direction"),
    [
        ("es", "Su página de atención", None),
        ("ru", "Ваша страница лечения", None),
        ("ar", "صفحة رعايتكم", "rtl"),
    ],
)
async def test_the_page_speaks_each_family_language(
    fam: Family, language: str, heading: str, direction: str | None
) -> None:
    http = await family_cookie(fam, await fam.new_case(language))
    page = (await http.get("/family/home")).text
    assert f"<h1>{heading}</h1>" in page
    assert (' dir="rtl"' in page) == (direction == "rtl")
    assert "Report a symptom now" not in page  # nothing left in English
    await http.aclose()


async def test_a_family_asks_for_a_link_by_their_address_and_learns_nothing_of_others(
    fam: Family,
) -> None:
    case = await fam.new_case("en")
    async with httpx.AsyncClient(base_url=fam.url) as http:
        start = await http.get("/family")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', start.text)
        assert csrf
        before = len(fam.mailbox.messages)
        unknown = await http.post(
            "/family/request", data={"csrf_token": csrf.group(1), "email": "nobody@example.org"}
        )
        known = await http.post(
            "/family/request",
            data={"csrf_token": csrf.group(1), "email": FAMILY_EMAIL.upper()},
        )
    # The same answer either way: nothing says whether an address is on a file.
    assert unknown.status_code == known.status_code == 200
    said = "If this address is on your file, a sign-in link is on its way."
    assert said in unknown.text and said in known.text
    await fam.mailbox.wait_for(FAMILY_EMAIL, "Open this link")
    links = [a for a in fam.store.audit_trail(case) if a.action == "family_link_sent"]
    assert len(links) == 1 and links[0].actor == "family-request"
    assert len(fam.mailbox.messages) > before


async def test_the_family_reads_their_share_of_the_estimate_and_what_is_left_to_pay(
    fam: Family,
) -> None:
    from cellpath.scenarios import QUOTE

    case = await fam.new_case("en")
    coord = fam.session("coord-fam")
    for kind, data in (
        ("quote_issued", QUOTE),
        ("deposit_received", {"amount": "14000", "currency": "CNY", "fx_rate": "0.14"}),
    ):
        await journeys.record_milestone(
            coord, case, MilestoneInput(kind=kind, actor="coord-fam", data=data)
        )
    http = await family_cookie(fam, case)
    page = (await http.get("/family/home")).text
    costs = page[page.index('id="costs"') : page.index("</section>", page.index('id="costs"'))]
    # The family's share only (8,000 of 9,500: the trial pays the product), in their locale.
    assert "US$8,000.00" in costs and "US$1,960.00" in costs and "US$6,040.00" in costs
    assert "9,500" not in costs and "trial" not in costs  # nothing of the trial's share
    await http.aclose()

    # The coordinator's case page shows the whole ledger.
    fam.store.set_password_hash("coord-fam", PasswordHasher().hash(PASSWORD), by="test")
    async with httpx.AsyncClient(base_url=fam.url) as staff:
        await signed_in(staff, "coord-fam")
        page = (await staff.get(f"/cases/{case}")).text
    money = page[page.index('id="money-h"') : page.index("</section>", page.index('id="money-h"'))]
    assert "Quote version 1: 9,500.00 USD" in money and "not accepted yet" in money
    assert "14,000.00 CNY at 0.14" in money and "1,960.00 USD" in money
