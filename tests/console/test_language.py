"""The console in its reader's language: a nurse whose directory language is Chinese reads and
fills the bedside form in Chinese; a browser asking for Chinese gets it before anyone signs
in; the header's switch wins over both; a refusal reads in each language with the same code."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from cellpath.console import i18n
from cellpath.store.directory import Directory
from cellpath.store.tables import StaffContact, StaffMember
from models.directory import ContactInput
from models.roles import Role
from tests.console.conftest import PASSWORD, SignIn, Stack, csrf_of, signed_in
from tests.support import ROOT, drive_to_monitoring

pytestmark = pytest.mark.e2e

NURSE_ZH = "nurse-zh"
SCREENSHOTS = ROOT / ".cellpath" / "screenshots"


def test_the_readers_language_is_chosen_then_directory_then_browser_then_english() -> None:
    assert i18n.choose(None, None, None) == "en"
    assert i18n.choose(None, None, "fr-FR,zh-CN;q=0.8,en;q=0.5") == "zh_Hans"
    assert i18n.choose(None, None, "zh-TW,en;q=0.9") == "en", "Traditional is not Simplified"
    assert i18n.choose(None, "zh-Hans", "en") == "zh_Hans"
    assert i18n.choose("en", "zh-Hans", "zh-CN") == "en"
    assert i18n.from_accept_language("en;q=0.2, zh;q=0.9") == "zh_Hans"
    assert i18n.from_accept_language("q=;;,,") is None


@pytest.fixture
def nurse_zh(stack: Stack) -> Iterator[str]:
    """A site-a nurse whose directory contact reads Chinese."""
    from argon2 import PasswordHasher

    stack.store.set_role(NURSE_ZH, Role.SITE_STAFF, by="console-setup")
    stack.store.set_sites(NURSE_ZH, ["site-a"], by="console-setup")
    stack.store.set_password_hash(NURSE_ZH, PasswordHasher().hash(PASSWORD), by="console-setup")
    Directory(stack.store).set_contact(
        ContactInput(actor=NURSE_ZH, email="hushi@example.org", language="zh-Hans"), by="setup"
    )
    yield NURSE_ZH
    with stack.store.session() as s:
        s.execute(sa.delete(StaffContact).where(StaffContact.actor == NURSE_ZH))  # type: ignore[arg-type]
        s.execute(sa.delete(StaffMember).where(StaffMember.actor == NURSE_ZH))  # type: ignore[arg-type]


async def test_each_reader_in_their_language_and_a_refusal_with_one_code(
    stack: Stack, nurse_zh: str
) -> None:
    case_id = "LANG-2026-0001"
    await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    fahrenheit = {"temperature_c": "101", "systolic_bp": "120"}
    async with (
        httpx.AsyncClient(base_url=stack.url) as zh,
        httpx.AsyncClient(base_url=stack.url) as en,
    ):
        token_zh = await signed_in(zh, nurse_zh)
        token_en = await signed_in(en, "nurse-ui")
        page = await zh.get("/")
        assert '<html lang="zh-Hans">' in page.text and "工作列表" in page.text
        assert page.headers["content-language"] == "zh-Hans"
        case = await zh.get(f"/cases/{case_id}")
        assert (
            "记录观察" in case.text and "体温（°C）" in case.text and "Record an" not in case.text
        )
        refused_zh = await zh.post(
            f"/cases/{case_id}/observe", data={"csrf_token": token_zh} | fahrenheit
        )
        refused_en = await en.post(
            f"/cases/{case_id}/observe", data={"csrf_token": token_en} | fahrenheit
        )
        assert refused_zh.status_code == refused_en.status_code == 422
        assert "体温 101.0 像是华氏度；应填写摄氏度（30–45），例如 38.3" in refused_zh.text
        assert (
            "temperature_c 101.0 looks like °F; expected °C (30–45), e.g. 38.3" in refused_en.text
        )
        assert 'data-code="invalid_data"' in refused_zh.text
        assert 'data-code="invalid_data"' in refused_en.text
        # The console's own question, asked before anything is sent, in Chinese too.
        shock = {"temperature_c": "37.1", "systolic_bp": "82", "vasopressors": "1"}
        asked = await zh.post(f"/cases/{case_id}/observe", data={"csrf_token": token_zh} | shock)
        assert asked.status_code == 422 and "是否因发热或细胞因子释放综合征" in asked.text
        # The header's switch wins over the directory's language, for this session.
        switched = await zh.post(
            "/language", data={"csrf_token": token_zh, "language": "en", "back": "/board"}
        )
        assert switched.status_code == 303 and switched.headers["location"] == "/board"
        assert '<html lang="en">' in (await zh.get("/")).text
    # A nurse of another site, whose browser asks for Chinese: refused in Chinese, with the
    # way in for an emergency.
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Accept-Language": "zh-CN"}
    ) as outsider:
        await signed_in(outsider, "nurse-z")
        refused = await outsider.get(f"/cases/{case_id}")
        assert refused.status_code == 403
        assert f"'nurse-z' 不在病例 {case_id} 的医疗团队中" in unescape(refused.text)
        assert "紧急访问" in refused.text
    # A physician reading Chinese: a discharge on the day of the infusion is refused in
    # Chinese, condition by condition.
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Accept-Language": "zh-CN"}
    ) as physician:
        token = await signed_in(physician, "dr-ui")
        early = await physician.post(
            f"/cases/{case_id}/milestone",
            data={
                "csrf_token": token,
                "kind": "discharged",
                "data.signature_meaning": "responsible",
                "signing_password": PASSWORD,
            },
        )
        assert early.status_code == 422, early.text
        assert 'data-code="discharge_conditions"' in early.text
        assert "不能出院：回输后第" in early.text and "详细原因暂为英文" not in early.text
        icu = await physician.post(
            f"/cases/{case_id}/milestone",
            data={"csrf_token": token, "kind": "icu_discharged"},
        )
        assert icu.status_code == 422 and "患者不在 ICU" in icu.text, icu.text
        report = await physician.post(
            f"/cases/{case_id}/milestone",
            data={"csrf_token": token, "kind": "sae_reported", "data.sponsor_reference": "SP-1"},
        )
        assert report.status_code == 422, report.text
        assert 'data-code="pathway_rule"' in report.text
        assert "没有等待向申办方报告的严重不良事件" in report.text
        assert "详细原因暂为英文" not in report.text
    # Before anyone signs in, the browser's language decides.
    async with httpx.AsyncClient(base_url=stack.url) as anonymous:
        login = await anonymous.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert "登录" in login.text and '<html lang="zh-Hans">' in login.text
        token = csrf_of(login.text)
        english = await anonymous.get("/login", headers={"Accept-Language": "en-GB"})
        assert "Sign in" in english.text and token


async def test_a_chinese_nurse_records_an_observation_through_the_chinese_form(
    sign_in: SignIn, stack: Stack, nurse_zh: str
) -> None:
    case_id = "LANG-2026-0002"
    await drive_to_monitoring(stack.client, case_id, stack.settings.task_queue)
    nurse = await sign_in(nurse_zh, width=800)
    await nurse.goto(f"{stack.url}/cases/{case_id}")
    await expect(nurse.locator("html")).to_have_attribute("lang", "zh-Hans")
    await nurse.get_by_label("体温（°C）").fill("38.6")
    await nurse.get_by_label("收缩压（mmHg）").fill("84")
    if SCREENSHOTS.parent.exists():  # the closing note's picture, from the running product
        SCREENSHOTS.mkdir(exist_ok=True)
        await nurse.locator(".bedside").screenshot(path=str(SCREENSHOTS / "bedside-zh.png"))
    await nurse.get_by_role("button", name="保存观察记录").click()
    grades = nurse.locator(".grades")
    await expect(grades).to_contain_text("细胞因子释放综合征（CRS）分级 2")
    await expect(grades).to_contain_text("免疫效应细胞相关神经毒性综合征（ICANS）分级 0")
    await expect(grades.locator(".badge.urgent")).to_have_text("紧急")
    if SCREENSHOTS.parent.exists():
        await nurse.screenshot(path=str(SCREENSHOTS / "bedside-zh-saved.png"), full_page=True)
