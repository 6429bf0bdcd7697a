"""What staff and families read: messages people can act on (a link to the case, the real
alert id, the event's own time)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from cellpath.delivery import messages
from models.enums import NotificationKind, Recipient, Severity
from models.messages import Notification

RAISED = datetime(2026, 12, 7, 13, 23, tzinfo=UTC)
REPEATED = datetime(2026, 12, 7, 13, 53, tzinfo=UTC)


def repeat_of_a_critical_alert() -> Notification:
    return Notification(
        idempotency_key="C-1:alert:a1b2c3d4:2",
        case_id="C-1",
        kind=NotificationKind.ALERT,
        recipient=Recipient.ON_CALL_PHYSICIAN,
        level=2,
        severity=Severity.CRITICAL,
        scheduled_for=REPEATED,
        text="Not yet acknowledged (repeat 2): CRS grade 3",
        alert_id="a1b2c3d4-0000",
        event_at=RAISED,
    )


def test_a_staff_message_links_to_the_case_and_names_the_alert_and_when_it_was_raised():
    m = messages.render(
        repeat_of_a_critical_alert(),
        audience="staff",
        language="en",
        timezone="UTC",
        console_url="https://console.example.org/",
    )
    assert "Raised: 7 Dec 2026 13:23 (UTC)" in m.body  # not the repeat's 13:53
    assert "https://console.example.org/cases/C-1#alert-a1b2c3d4-0000" in m.body
    assert "`cellpath acknowledge C-1 a1b2c3d4-0000`" in m.body
    assert "ALERT-ID" not in m.body


def test_every_staff_message_links_to_its_case():
    for kind in NotificationKind:
        n = repeat_of_a_critical_alert().model_copy(
            update={"kind": kind, "alert_id": None, "deadline": "records"}
        )
        body = messages.render(
            n, audience="staff", language="en", timezone="UTC", console_url="https://c.example"
        ).body
        assert "https://c.example/cases/C-1" in body, kind


def _stay_near_centre() -> Notification:
    return Notification(
        idempotency_key="C-1:stay_near_centre:opened",
        case_id="C-1",
        kind=NotificationKind.REMINDER,
        recipient=Recipient.PATIENT_FAMILY,
        deadline="stay_near_centre",
        scheduled_for=RAISED,
        due_at=RAISED,
        text="Stay near the centre",
    )


CENTRE = SimpleNamespace(
    name="Beijing Boren Hospital", phone="+861055550100", address="6 Fengtai Rd, Beijing"
)


@pytest.mark.parametrize("language", ["en", "zh-CN", "ar", "ru", "es"])
def test_a_family_message_says_how_to_reach_the_centre_in_the_familys_language(language: str):
    m = messages.render(
        _stay_near_centre(), audience="family", language=language, timezone="UTC", centre=CENTRE
    )
    assert m.language == messages.language_of(language) != "" and m.language.startswith(
        language[:2]
    )
    # The urgent sentence carries the number, and the centre closes every message.
    assert m.body.count("+861055550100") == 2 and "6 Fengtai Rd, Beijing" in m.body


def test_every_family_language_has_every_family_message():
    english = {p.name for p in (messages.TEMPLATES / "en" / "family").glob("*.j2")}
    for language in set(messages.LANGUAGES.values()):
        have = {p.name for p in (messages.TEMPLATES / language / "family").glob("*.j2")}
        assert have == english, language


def test_a_language_without_templates_is_said_to_have_none():
    assert messages.family_language("fr") is None  # intake tells the coordinator
    assert messages.family_language("ar-EG") == "ar" and messages.family_language(None) == "en"
    m = messages.render(_stay_near_centre(), audience="family", language="fr", timezone="UTC")
    assert m.language == "en"


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_staff_message_reads_in_english_and_in_chinese(kind: NotificationKind):
    """A nurse whose language is zh-Hans reads every staff message in Chinese (the journey's
    own text stays as it was written); the same message in English for the coordinator."""
    n = repeat_of_a_critical_alert().model_copy(update={"kind": kind, "deadline": "records"})
    en = messages.render(n, audience="staff", language="en", timezone="Asia/Shanghai")
    zh = messages.render(n, audience="staff", language="zh-Hans", timezone="Asia/Shanghai")
    assert (en.language, zh.language) == ("en", "zh_Hans")
    assert "病例 C-1" in zh.subject and "case C-1" in en.subject
    assert n.text in zh.body and n.text in en.body
    if kind in ("alert", "access", "family"):  # those that say when it happened
        assert "2026年12月7日" in zh.body and "7 Dec 2026" in en.body
    if kind in ("reminder", "escalation"):  # the deadline by the staff catalogue's name
        assert "病历" in zh.subject and "病历" in zh.body.splitlines()[0]
    if kind == "alert":
        assert "危急警报" in zh.subject and "医生确认" in zh.body
