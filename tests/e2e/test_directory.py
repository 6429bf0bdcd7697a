"""The directory through the CLI: contacts, assignments, the on-call rota and its gaps, the
outbox — refusals name the field, store nothing, and are audited."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from cellpath.scenarios import reschedule_soon, start
from cellpath.store import CaseStore
from cellpath.store.tables import SiteRow
from tests.support import QUEUE, e2e_journey

pytestmark = pytest.mark.e2e


def iso(t: datetime) -> str:
    return t.isoformat(timespec="minutes")


async def test_contacts_rotas_and_the_outbox(cli, dev_server, db_url):
    admin = functools.partial(cli, actor="admin-e2e")
    # Refused, naming the field; nothing stored.
    refusals = (
        (("--email", "not-an-address"), "email"),
        (("--timezone", "Mars/Olympus"), "timezone"),
        (("--url", "nosuchservice://x/y"), "url[1]"),
    )
    results = await asyncio.gather(
        *(admin("contacts", "set", "dr-e2e", *args) for args, _ in refusals)
    )
    for (args, field), (code, _, err) in zip(refusals, results, strict=True):
        assert code == 1 and field in err, (args, err)
    code, out, _ = await admin("contacts", "list", "--json")
    assert "dr-e2e" not in [c["actor"] for c in json.loads(out)]
    # Set, by an administrator, and by the person themselves; not someone else's.
    code, out, err = await admin(
        "contacts",
        "set",
        "dr-e2e",
        "--email",
        "dr@example.org",
        "--url",
        "json://127.0.0.1:9/pager",
        "--timezone",
        "Asia/Shanghai",
        "--quiet-hours",
        "22:00-07:00",
    )
    assert code == 0 and "email, 1 URL(s)" in out, err
    (own, _, own_err), (other, _, other_err) = await asyncio.gather(
        cli("contacts", "set", "coord-e2e", "--email", "me@example.org"),
        cli("contacts", "set", "dr-e2e", "--email", "x@example.org"),
    )
    assert own == 0, own_err
    assert other == 1 and "administrator" in other_err
    code, out, _ = await admin("contacts", "list")
    assert "dr@example.org" in out and "json" in out and "127.0.0.1" not in out

    # A rota with a gap, and an overlapping entry refused.
    site = f"site-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    code, out, err = await admin(
        "assign",
        "on_call",
        "dr-e2e",
        "--site",
        site,
        "--from",
        iso(now - timedelta(hours=1)),
        "--until",
        iso(now + timedelta(hours=8)),
    )
    assert code == 0 and f"dr-e2e is on_call ({site})" in out, err
    (code, _, err), (no_site, _, no_site_err), (code_json, out, _) = await asyncio.gather(
        admin(
            "assign",
            "on_call",
            "dr-e2e",
            "--site",
            site,
            "--from",
            iso(now + timedelta(hours=7)),
            "--until",
            iso(now + timedelta(hours=12)),
        ),
        admin("assign", "on_call", "dr-e2e"),
        cli("oncall", site, "--json"),
    )
    assert code == 1 and "overlaps" in err and "nothing was stored" in err
    assert no_site == 1 and "site" in no_site_err
    code = code_json
    rota = json.loads(out)
    assert code == 1, "a gap exits 1"
    assert [e["actor"] for e in rota["entries"]] == ["dr-e2e"]
    assert len(rota["gaps"]) == 1 and rota["gaps"][0][0].startswith(
        iso(now + timedelta(hours=8))[:13]
    )
    code, _, _ = await admin(
        "assign",
        "on_call",
        "dr-e2e",
        "--site",
        site,
        "--from",
        iso(now + timedelta(hours=8)),
    )
    assert code == 0
    (code, out, _), (lead, lead_out, _), (md, _, md_err) = await asyncio.gather(
        cli("oncall", site),
        admin("assign", "lead_coordinator", "lead-1", "--program", "trial"),
        cli("assign", "medical_director", "dr-e2e"),
    )
    assert code == 0 and "gap" not in out
    assert lead == 0 and "lead-1 is lead_coordinator (trial)" in lead_out
    assert md == 1 and "administrator" in md_err
    # One field set changes that field only (a time zone once erased the e-mail); the last
    # channels of someone on call cannot be removed: the role would be unreachable.
    code, out, err = await admin("contacts", "set", "dr-e2e", "--timezone", "Europe/London")
    assert code == 0 and "email, 1 URL(s) · en · Europe/London" in out, err
    code, _, err = await admin("contacts", "set", "dr-e2e", "--remove", "email", "--remove", "urls")
    assert code == 1 and f"dr-e2e holds on_call at {site}" in err, err
    code, out, err = await admin("contacts", "set", "dr-e2e", "--remove", "urls")
    assert code == 0 and "email · en" in out and "URL" not in out, err
    code, out, _ = await admin("contacts", "list", "--json")
    (dr,) = [c for c in json.loads(out) if c["actor"] == "dr-e2e"]
    # The site directory: what every family message says of the centre.
    site_id = f"site-{uuid.uuid4().hex[:6]}"
    site = ("--name", "Hospital Q", "--phone", "+86 10 5555 0100", "--address", "1 Q Road")
    (code, out, err), (bad, _, bad_err), (nurse, _, nurse_err) = await asyncio.gather(
        admin("sites", "set", site_id, *site),
        admin("sites", "set", "site-bad", "--name", "X", "--phone", "12", "--address", "A"),
        cli("sites", "set", "site-y", *site, actor="nurse-e2e"),
    )
    try:
        assert code == 0 and "+861055550100" in out, err
        assert bad == 1 and "phone: expected an international number" in bad_err
        assert nurse == 1 and "administrator" in nurse_err
        code, out, _ = await cli("sites", "list", "--json")
        assert [s["phone"] for s in json.loads(out) if s["site"] == site_id] == ["+861055550100"]
    finally:
        with CaseStore.from_url(db_url).session() as session:  # other tests' intakes use theirs
            for row in session.exec(select(SiteRow)).all():
                session.delete(row)
    assert (dr["email"], dr["urls"], dr["quiet_hours"]) == ("dr@example.org", 0, "22:00-07:00")
    code, out, _ = await cli("audit", "staff", "--json")
    actions = [line["what"] for line in json.loads(out)]
    assert "contact_set" in " ".join(actions) and "role_assigned" in " ".join(actions)
    assert "dr@example.org" not in out, "the audit says which fields changed, not the address"

    # The outbox: a journey's escalation, listed with its (absent) deliveries.
    case = f"E2E-{uuid.uuid4().hex[:8]}"
    handle = await start(dev_server.client, e2e_journey(case), QUEUE)
    await reschedule_soon(handle, "records", 2, "test")
    store = CaseStore.from_url(db_url)
    # The store, not the CLI (a CLI call per poll costs a second); the journey's own timer
    # escalates `AHEAD_GRACE` (30 s) after the instant when no dispatcher runs.
    for _ in range(600):
        if any(n.kind == "escalation" for n in store.notifications(case)):
            break
        await asyncio.sleep(0.1)
    code, out, _ = await cli("outbox", case, "--undelivered", "--json")
    lines = json.loads(out)
    assert [n["recipient"] for n in lines if n["kind"] == "escalation"] == ["lead_coordinator"]
    code, out, _ = await cli("outbox", case)
    assert code == 0 and "escalation 1 records" in out
