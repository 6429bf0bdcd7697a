"""Records for the PI and the family's reports (runs under `RECORDS`): a record's file hash
and language, its translation requested, uploaded and verified by someone else, the PI
submission that waits for it, and a symptom the family reports.

Journeys are driven by hand through `Journey` (no Temporal); earlier runs refuse it all."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from models.enums import AlertKind, Severity
from tests.builders import Case

IMAGING = hashlib.sha256(b"imaging report, in English").hexdigest()
TRANSLATED = hashlib.sha256(b"imaging report, in Chinese").hexdigest()


def translating() -> Case:
    """A journey whose imaging report is in English, its translation requested."""
    c = Case(records=True)
    c.record("record_received", record_type="imaging", sha256=IMAGING, language="en", pages=3)
    c.record("translation_requested", sha256=IMAGING, record_type="imaging", language="en")
    return c


def test_a_translation_is_due_in_business_days_and_the_pi_waits_for_it() -> None:
    c = translating()
    deadline = c.deadline(f"translation_{IMAGING[:12]}")
    assert deadline is not None and "imaging" in deadline.summary
    assert deadline.due_at == c.j.business(c.now, 5)
    c.to_pi_review()
    message = c.refused("submitted_to_pi", "no verified translation", site="site-a")
    assert f"imaging (en, {IMAGING[:12]}: requested)" in message

    c.at(hours=2)
    c.record("record_translated", sha256=IMAGING, translation_sha256=TRANSLATED, actor="tr-1")
    c.refused("submitted_to_pi", "translated", site="site-a")
    c.refused("translation_verified", "four eyes", sha256=IMAGING, actor="tr-1")
    c.record("translation_verified", sha256=IMAGING, actor="coord-2")
    assert c.deadline(f"translation_{IMAGING[:12]}") is None
    (t,) = c.j.status().translations
    assert (t.state, t.translated_by, t.verified_by) == ("verified", "tr-1", "coord-2")
    c.record("submitted_to_pi", site="site-a")


def test_translations_out_of_order_or_twice_are_refused() -> None:
    c = Case(records=True)
    c.refused(
        "record_translated",
        "translation_requested first",
        sha256=IMAGING,
        translation_sha256=TRANSLATED,
    )
    c.refused(
        "translation_requested",
        "working language",
        sha256=IMAGING,
        record_type="imaging",
        language="zh",
    )
    c.record("translation_requested", sha256=IMAGING, record_type="imaging", language="ru")
    c.refused(
        "translation_requested",
        "already requested",
        sha256=IMAGING,
        record_type="imaging",
        language="ru",
    )
    c.refused("translation_verified", "record_translated first", sha256=IMAGING)
    c.refused("record_translated", "the record itself", sha256=IMAGING, translation_sha256=IMAGING)
    c.refused("translation_requested", "64 hex", sha256="abc", record_type="imaging", language="ru")


def test_a_translation_of_a_record_the_protocol_does_not_require_does_not_hold_the_pi() -> None:
    c = Case(records=True)
    c.record("translation_requested", sha256=IMAGING, record_type="molecular", language="en")
    c.to_pi_review()
    c.record("submitted_to_pi", site="site-a")


def test_a_late_translation_escalates_like_any_deadline() -> None:
    c = translating()
    name = f"translation_{IMAGING[:12]}"
    due = c.deadline(name).due_at
    reminded = [e for e in c.j.fire_deadlines(due - timedelta(hours=1)) if e.deadline == name]
    assert [e.kind for e in reminded] == ["reminder"]  # a business day before it is due
    escalated = [e for e in c.j.fire_deadlines(due) if e.deadline == name]
    assert [(e.kind, e.level) for e in escalated] == [("escalation", 1)]


def test_a_symptom_the_family_reports_alerts_the_on_call_physician_at_once() -> None:
    c = Case(records=True)
    c.record("symptom_reported", symptom="fever", actor="family-cn-2026-0001")
    (alert,) = [a for a in c.j.state.alerts if a.open]
    assert (alert.kind, alert.severity) == (AlertKind.FAMILY_SYMPTOM, Severity.URGENT)
    assert "fever" in alert.text
    (sent,) = [n for n in c.j.notifications if n.kind == "alert"]
    assert (sent.recipient, sent.scheduled_for) == ("on_call_physician", c.now)
    c.refused("symptom_reported", "symptom", symptom="headache")


def test_runs_before_the_patch_refuse_it_all_as_they_always_did() -> None:
    c = Case()
    c.refused("record_received", "field 'sha256'", record_type="imaging", sha256=IMAGING)
    c.refused(
        "translation_requested",
        "unknown milestone kind",
        sha256=IMAGING,
        record_type="imaging",
        language="en",
    )
    c.refused("symptom_reported", "unknown milestone kind", symptom="fever")
    c.to_pi_review()
    c.record("submitted_to_pi", site="site-a")
