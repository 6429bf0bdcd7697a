"""Roles through the real CLI: each refusal, and each refusal in the audit log; erasure.

Coordinator, physician, site staff and viewer (registered in `tests/e2e/conftest.py`). Only a
physician records `eligibility_assessed` or `discharged` or acknowledges a critical alert; a
viewer only reads; site staff record observations; an unregistered actor can do nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from cellpath.scenarios import record, start, to_infusion
from tests.builders import PATIENT
from tests.support import ELIGIBLE_DATA, QUEUE, e2e_intake_file, e2e_journey

pytestmark = pytest.mark.e2e


def said(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


async def test_each_role_is_held_to_its_permissions_and_refusals_are_audited(
    cli, tmp_path, dev_server, db_url
):
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)))
    assert code == 0, err
    case = out.strip()

    # Independent attempts, side by side (each is a process start).
    viewer_read, viewer_write, stranger, nurse = await asyncio.gather(
        cli("status", case, actor="viewer-e2e"),
        cli("milestone", case, "record_received", "--data", "record_type=imaging",
            actor="viewer-e2e"),
        cli("status", case, actor="stranger"),
        cli("milestone", case, "record_received", "--data", "record_type=imaging",
            actor="nurse-e2e"),
    )  # fmt: skip
    assert viewer_read[0] == 0  # viewers read
    code, _, err = viewer_write
    assert code == 1 and "'viewer-e2e' is viewer; milestone needs a coordinator or physician" in (
        said(err)
    )
    code, _, err = stranger
    assert code == 1 and "'stranger' has no role in cellpath" in said(err)
    code, _, err = nurse
    assert code == 1 and "is site_staff" in said(err)

    records = "records=imaging,treatment_history,labs,pathology"
    assert (await cli("milestone", case, "records_complete", "--data", records))[0] == 0
    eligible = ("milestone", case, "eligibility_assessed", *ELIGIBLE_DATA,
                "--data", "reviewer=dr-e2e")  # fmt: skip
    code, _, err = await cli(*eligible)
    assert code == 1 and "milestone 'eligibility_assessed' needs a physician" in said(err)
    code, out, err = await cli(*eligible, "--json", actor="dr-e2e")
    assert code == 0 and json.loads(out)["phase"] == "pi_review", err

    # Monitoring (another case): a critical alert and the discharge are the physician's.
    first_case, case = case, f"E2E-{uuid.uuid4().hex[:8]}"
    handle = await start(dev_server.client, e2e_journey(case), QUEUE)
    await to_infusion(handle, date.today())
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")
    code, _, err = await cli("observe", case, "--temperature", "39.4", "--systolic", "120")
    assert code == 1 and "'coord-e2e' is coordinator; observe needs a" in said(err)
    code, out, err = await cli(
        "observe", case, "--temperature", "39.4", "--systolic", "80", "--vasopressors", "2",
        "--json", actor="nurse-e2e",
    )  # fmt: skip
    assert code == 0, err
    (alert,) = [a for a in json.loads(out)["alerts"] if a["severity"] == "critical"]
    *refused_acks, (code, _, err) = await asyncio.gather(
        *(cli("acknowledge", case, alert["id"], actor=a) for a in ("coord-e2e", "nurse-e2e")),
        cli("milestone", case, "discharged"),
    )
    for ack_code, _, ack_err in refused_acks:
        assert ack_code == 1 and "acknowledging a critical alert needs a physician" in said(ack_err)
    assert code == 1 and "milestone 'discharged' needs a physician" in said(err)
    code, _, err = await cli("acknowledge", case, alert["id"], actor="dr-e2e")
    assert code == 1 and "expected --meaning (one of: responsible, reviewed)" in said(err)
    assert (await cli("acknowledge", case, alert["id"], "--meaning", "responsible",
                      actor="dr-e2e"))[0] == 0  # fmt: skip
    code, _, err = await cli("milestone", case, "discharged", actor="dr-e2e")
    assert code == 1 and "discharge is allowed from day 28" in said(err)  # the journey refuses

    refusals = set()
    trails = await asyncio.gather(*(cli("audit", c, "--json") for c in (first_case, case)))
    for code, out, err in trails:
        assert code == 0, err
        refusals |= {(x["what"], x["actor"]) for x in json.loads(out) if "refused" in x["what"]}
    assert {
        ("refused:milestone (case store)", "viewer-e2e"),
        ("refused:read (case store)", "stranger"),
        ("refused:milestone (case store)", "nurse-e2e"),
        ("refused:milestone (case store)", "coord-e2e"),
        ("refused:observe (case store)", "coord-e2e"),
        ("refused:acknowledge (case store)", "coord-e2e"),
        ("refused:acknowledge (case store)", "nurse-e2e"),
        ("refused:record_milestone (case store)", "dr-e2e"),
    } <= refusals
    code, out, _ = await cli("audit", first_case, "--json")
    reasons = [line["reason"] for line in json.loads(out) if line["actor"] == "viewer-e2e"]
    assert reasons == ["'viewer-e2e' is viewer; milestone needs a coordinator or physician"]


async def test_erasure_clears_identifying_details_and_keeps_the_journey(
    cli, tmp_path, dev_server, db_url
):
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)))
    assert code == 0, err
    case = out.strip()
    assert (await cli("milestone", case, "record_received", "--data", "record_type=imaging"))[
        0
    ] == 0

    code, _, err = await cli("erase", case, "--reason", "GDPR request", "--yes", actor="dr-e2e")
    assert code == 1 and "erase needs a coordinator" in said(err)
    code, out, err = await cli("erase", case, "--reason", "GDPR art. 17 request R-1", "--yes")
    assert code == 0 and "the journey is intact" in out, err
    code, _, err = await cli("erase", case, "--reason", "again", "--yes")
    assert code == 1 and "already erased" in said(err)

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(
                    "select p.* from patients p join cases c on c.patient_ref = p.patient_ref "
                    "where c.case_id = :case"
                ),
                {"case": case},
            )
            .mappings()
            .one()
        )
    assert row["erased_by"] == "coord-e2e" and row["erased_at"] is not None
    for field in ("full_name", "birth_date", "nationality", "passport_number", "email", "phone"):
        assert row[field] is None, field
    assert PATIENT["full_name"] not in str(dict(row))

    # The pseudonymous journey and its audit trail are whole; the erasure is in it.
    code, out, _ = await cli("timeline", case, "--json")
    assert code == 0 and [e["kind"] for e in json.loads(out)] == ["record_received"]
    code, out, _ = await cli("audit", case, "--json")
    erased = [line for line in json.loads(out) if line["what"].startswith("patient_erased")]
    assert len(erased) == 1
    assert erased[0]["actor"] == "coord-e2e" and erased[0]["reason"] == "GDPR art. 17 request R-1"
    assert (await cli("status", case))[0] == 0


async def test_only_an_administrator_changes_roles_and_every_change_is_audited(cli):
    """Anyone could grant themselves any role before: a nurse made herself a physician."""
    code, _, err = await cli("staff", "add", "nurse-e2e", "--role", "physician", actor="nurse-e2e")
    assert code == 1 and "'nurse-e2e' is site_staff; manage_staff needs an administrator" in (
        said(err)
    )
    code, _, err = await cli("staff", "add", "new-e2e", "--role", "viewer", actor="admin-e2e")
    assert code == 0, err
    # A name is an identifier, as journeys take it: no markup, nothing invisible.
    for name in ("<img src=x onerror=alert(1)>", "coord-a\u200b", "Coord-A"):
        code, _, err = await cli("staff", "add", name, "--role", "viewer", actor="admin-e2e")
        assert code == 1 and "is not an identifier" in said(err), (name, err)
    code, _, err = await cli("staff", "remove", "never-e2e", actor="admin-e2e")
    assert code == 1 and "'never-e2e' is not registered" in said(err)
    code, _, err = await cli("staff", "remove", "admin-e2e", actor="admin-e2e")
    assert code == 1 and "the last administrator" in said(err)
    code, _, err = await cli("staff", "bootstrap", "someone-e2e", actor="stranger")
    assert code == 1 and "an administrator exists already (admin-e2e)" in said(err)
    assert (await cli("staff", "remove", "new-e2e", actor="admin-e2e"))[0] == 0

    code, out, err = await cli("audit", "staff", "--json", actor="viewer-e2e")
    assert code == 0, err
    lines = [(x["what"], x["actor"], x["detail"]) for x in json.loads(out)]
    assert ("role_changed (case store)", "admin-e2e", "staff=new-e2e, from=None, to=viewer") in (
        lines
    )
    assert ("role_changed (case store)", "admin-e2e", "staff=new-e2e, from=viewer, to=None") in (
        lines
    )
    refused = {(what, actor) for what, actor, _ in lines if what.startswith("refused")}
    assert {
        ("refused:manage_staff (case store)", "nurse-e2e"),
        ("refused:staff (case store)", "admin-e2e"),
        ("refused:staff_bootstrap (case store)", "stranger"),
    } <= refused
