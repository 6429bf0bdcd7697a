"""A coordinator's day through the CLI, on the real dev server: what's next for a case, the
past recorded without paging anyone, a patient imported mid-treatment, one row per journey,
and the CLI's edges (flags named in refusals, a closed pipe, --help, --json everywhere).

Few test functions, many checks each: every CLI call is a process start (~1 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cellpath.devstack import banner
from cellpath.scenarios import record, start, to_arrival, to_logistics
from models.examples import ELIGIBLE
from tests.builders import past_pathway
from tests.support import QUEUE, ROOT, e2e_intake_file, e2e_journey
from workflows import PatientJourney

pytestmark = pytest.mark.e2e


def one_line(text: str) -> str:
    """Rich wraps long lines at the terminal width: compare text, not layout."""
    return " ".join(text.split())


async def test_status_says_what_is_next_and_the_cli_speaks_in_flags(
    cli, dev_server, db_url, tmp_path
):
    client = dev_server.client
    today = date.today()

    def new_case() -> str:
        return f"E2E-{uuid.uuid4().hex[:8]}"

    # An autologous case in logistics with the cost estimate accepted; an allogeneic one that
    # has done everything but reserve its product; one accepted by site-a; one under review.
    case, allo, pi, review = new_case(), new_case(), new_case(), new_case()
    handle = await start(client, e2e_journey(case), QUEUE)
    await to_logistics(handle)
    await record(handle, "cost_estimate_accepted", currency="USD", total=9500)
    h2 = await start(client, e2e_journey(allo, cell_source="allogeneic"), QUEUE)
    await to_arrival(h2, today, allogeneic=False)  # travel booked, no product reserved
    await to_logistics(await start(client, e2e_journey(pi), QUEUE))
    h4 = await start(client, e2e_journey(review), QUEUE)
    await record(
        h4, "records_complete", records=["pathology", "imaging", "treatment_history", "labs"]
    )
    await record(h4, "eligibility_assessed", reviewer="dr-li", **ELIGIBLE)
    await record(h4, "submitted_to_pi", site="site-b")
    bad = e2e_intake_file(
        tmp_path, patient={"full_name": "A B", "birth_date": "1960-01-01", "nationality": "G8"}
    )

    # Independent commands, run side by side (each is a process start).
    (
        status_text,
        status_json,
        wrong,
        allo_text,
        pi_text,
        review_text,
        help_text,
        past_due,
        future_at,
        bogus,
        bad_intake,
    ) = await asyncio.gather(
        cli("status", case),
        cli("status", case, "--json"),
        cli("milestone", case, "patient_arrived"),
        cli("status", allo),
        cli("status", pi),
        cli("status", review),
        cli("milestone", "--help"),
        cli("reschedule", case, "logistics", "--due", "2020-01-01T08:00+08:00", "--reason", "r"),
        cli(
            "milestone",
            case,
            "invitation_letter_issued",
            "--data",
            "site=site-a",
            "--at",
            "2099-01-01T00:00Z",
        ),
        cli("list", "--phase", "bogus"),
        cli("intake", str(bad)),
    )

    code, out, err = status_text
    assert code == 0, err
    said = one_line(out)
    assert "waiting for" in said
    assert "invitation_letter_issued │ site: site-a │ now" in said
    assert (
        "visa_issued │ visa_type: text, e.g. S2; valid_until: date │ after invitation_letter_issued"
        in said
    )
    assert "interpreter_arranged │ language (optional): text │ optional" in said
    assert "cost_estimate_accepted" not in said
    expected = {e["kind"]: e for e in json.loads(status_json[1])["expected"]}
    assert "cost_estimate_accepted" not in expected
    assert expected["travel_booked"]["fields"] == [
        {"name": "arrival_date", "required": True, "takes": "date"}
    ]
    # A wrong milestone's refusal lists only what is still expected.
    code, _, err = wrong
    assert code == 1
    assert "expected one of: invitation_letter_issued" in one_line(err)
    assert "cost_estimate_accepted" not in err

    code, out, _ = allo_text
    said = one_line(out)
    assert code == 0 and "phase logistics" in said
    assert "waiting for the off-the-shelf product to be reserved (product_reserved)" in said
    assert "product_reserved │ lot: text; coi_id: text │ now" in said
    # PI review shows the site under review, not "site —".
    assert "site site-a ·" in pi_text[1]
    assert "site site-b (under PI review)" in review_text[1]

    # --help: kinds and fields; flags shown without a type.
    said = one_line(help_text[1])
    assert "records_complete: records" in said
    assert "product_reserved (allogeneic only): lot, coi_id" in said
    assert "cost_estimate_accepted: currency, total, version?, items?" in said
    assert "<bool>" not in help_text[1] and "KEY=VALUE" in help_text[1]

    # Refusals name the flags a person typed, and times carry their zone.
    code, _, err = past_due
    assert code == 1 and "--due 2020-01-01 00:00 UTC is not in the future" in one_line(err)
    code, _, err = future_at
    assert code == 1 and "--at" in err and "occurred_at" not in err
    # Unknown phases are refused; an intake problem says what the field takes, in words.
    code, _, err = bogus
    assert code == 2 and "'bogus' is not one of" in one_line(err)
    code, _, err = bad_intake
    assert code == 1 and "a two-letter country code such as GB" in one_line(err)
    assert "^" not in err and "[A-Z]" not in err

    # A reader that closes the pipe early is no failure.
    assert await closed_pipe_exit(cli_env(dev_server, db_url), "status", case) == 0

    # A withdrawn journey refuses a milestone (exit 1), saying so; the refusal is audited.
    code, _, _ = await cli("withdraw", case, "--reason", "family decision")
    assert code == 0
    code, _, err = await cli("milestone", case, "invitation_letter_issued", "--data", "site=site-a")
    assert code == 1 and f"the journey of case {case} is closed (withdrawn)" in one_line(err)
    (code, out, _), (dr_code, _, dr_err), (in_code, in_out, in_err) = await asyncio.gather(
        cli("audit", case, "--json"),
        # Erasure by a physician: a refusal in words, no traceback.
        cli("erase", case, "--reason", "x", "--yes", actor="dr-e2e"),
        cli("intake", str(e2e_intake_file(tmp_path)), "--json"),
    )
    assert any(
        "refused" in line["what"] and "invitation_letter_issued" in line["detail"]
        for line in json.loads(out)
    )
    assert dr_code == 1 and dr_err.startswith("refused:") and "Traceback" not in dr_err
    assert in_code == 0, in_err
    admitted = json.loads(in_out)["journey"]["case_id"]
    code, out, err = await cli("erase", admitted, "--reason", "request 42", "--yes", "--json")
    assert code == 0 and json.loads(out)["erased"] is True, err


def cli_env(dev_server: Any, db_url: str) -> dict[str, str]:
    """The environment the `cli` fixture runs the CLI in (for a process driven by hand)."""
    return os.environ | {
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "CELLPATH_TASK_QUEUE": QUEUE,
        "CELLPATH_ACTOR": "coord-e2e",
        "CELLPATH_DATABASE_URL": db_url,
    }


async def closed_pipe_exit(env: dict[str, str], *args: str) -> int:
    """The exit code of `cellpath ARGS | head -0`: the reader closes before any output."""

    def go() -> int:
        proc = subprocess.Popen(
            [sys.executable, "-m", "starter", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        proc.stdout.close()
        return proc.wait(timeout=120)

    return await asyncio.to_thread(go)


def history_file(tmp_path: Path, start: datetime, upto: str, **extra: Any) -> Path:
    """A history file of the pathway from `start`, up to and including `upto`."""
    milestones = []
    for kind, after, data in past_pathway(start.date()):
        milestones.append({"kind": kind, "occurred_at": (start + after).isoformat(), "data": data})
        if kind == upto:
            break
    path = tmp_path / f"history-{upto}.json"
    path.write_text(
        json.dumps({"note": "from the referral spreadsheet", "milestones": milestones} | extra)
    )
    return path


async def test_the_past_is_recorded_without_paging_anyone(cli, tmp_path, db_url, dev_server):
    now = datetime.now(UTC)
    # Grace 0: a deadline born overdue escalates at once unless met (the default waits 30 min).
    protocol = {"name": "e2e-backfill", "backfill_grace_minutes": 0}

    # A history with a refused item starts nothing and stores nothing.
    start_at = now - timedelta(days=52)
    good = history_file(tmp_path, start_at, "readiness_checked")
    broken = json.loads(good.read_text())
    broken["milestones"][5]["data"]["site"] = "site-z"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    intake = e2e_intake_file(tmp_path, protocol=protocol)
    case = json.loads(intake.read_text())["case_id"]
    code, _, err = await cli("intake", str(intake), "--history", str(bad))
    assert code == 1
    assert "milestones[6] (invitation_letter_issued)" in one_line(err)
    assert "nothing was started" in one_line(err)
    with sa.create_engine(db_url).connect() as conn:
        assert (
            conn.execute(
                sa.text("select count(*) from cases where case_id = :c"), {"c": case}
            ).scalar()
            == 0
        )

    # The good history: one summary, the journey in conditioning, nothing escalated.
    code, out, err = await cli("intake", str(intake), "--history", str(good), "--json")
    assert code == 0, err
    admitted = json.loads(out)
    assert admitted["journey"]["case_id"] == case
    assert admitted["history"]["phase"] == "conditioning"
    # 15 milestones to the product's release, 4 consents and the readiness check.
    assert admitted["history"]["milestones"] == 20
    assert "Nothing is overdue" in admitted["history"]["summary"]

    # Conditioning recorded as started 80 h and completed 50 h ago: the 24–48 h infusion
    # window was due 2 h ago and, with no grace, escalates with an urgent alert…

    def at(hours: int) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    code, _, err = await cli("milestone", case, "conditioning_started", "--at", at(80))
    assert code == 0, err
    code, _, err = await cli("milestone", case, "conditioning_completed", "--at", at(50))
    assert code == 0, err
    await eventually_alerted(dev_server, case)
    _, out, _ = await cli("status", case, "--json")
    status = json.loads(out)
    alert = next(a for a in status["alerts"] if a["kind"] == "deadline_breached")
    assert alert["deadline"] == "infusion_window" and alert["resolved_at"] is None

    # … until the infusion, which happened 26 h ago (inside the window), is recorded.
    code, _, err = await cli(
        "milestone",
        case,
        "infusion_completed",
        "--at",
        at(26),
        "--data",
        "lot=LOT-1",
        "--data",
        "coi_id=COI-1",
    )
    assert code == 0, err
    (code, out, _), (_, text, _), (flag_code, _, flag_err) = await asyncio.gather(
        cli("status", case, "--json"),
        cli("status", case),
        # Refusals name the flags a person typed.
        cli("observe", case, "--temperature", "50", "--systolic", "120", actor="nurse-e2e"),
    )
    assert flag_code == 1 and "--temperature" in flag_err and "temperature_c" not in flag_err
    alert = next(a for a in json.loads(out)["alerts"] if a["id"] == alert["id"])
    assert alert["resolved_at"] is not None and "met the deadline" in alert["resolution"]
    assert [
        a
        for a in json.loads(out)["alerts"]
        if a["resolved_at"] is None and not a["acknowledged_at"]
    ] == []
    assert "resolved" in text and "OPEN" not in text
    with sa.create_engine(db_url).connect() as conn:
        kinds = conn.execute(
            sa.text("select kind, recipient from notification_outbox where case_id = :c"),
            {"c": case},
        ).all()
    assert ("resolution", "on_call_physician") in [tuple(k) for k in kinds]
    assert ("summary", "coordinator") in [tuple(k) for k in kinds]

    # Timeline: the stand-down, a recorded column, observations; vitals.
    code, _, err = await cli(
        "observe", case, "--temperature", "38.4", "--systolic", "118", actor="nurse-e2e"
    )
    assert code == 0, err
    (_, out, _), (_, vitals, _) = await asyncio.gather(
        cli("timeline", case), cli("vitals", case, "--json")
    )
    said = one_line(out)
    assert "recorded (UTC)" in said and "escalation_resolved" in said
    assert "observation" in said and "T 38.4 °C · SBP 118" in said
    assert [r["observation"]["temperature_c"] for r in json.loads(vitals)] == [38.4]

    # At the bedside: an answer out of range is asked again, nothing typed is lost, and the
    # nurse confirms a summary (declining records nothing).
    answers = [
        "101",  # °F: asked again
        "38.9",
        "400",  # out of range: asked again
        "85",
        "",
        "",
        "",  # heart rate, respiratory rate, SpO2 skipped
        "none",
        "0",
        "n",
        "n",
        "n",
        "awake",
        "y",
        "4",
        "5",
        "3",
        "1",
        "1",
        "1",  # ICE naming 5 of 3: asked again
        "none",
        "n",
        "none",
        "",
    ]
    code, out, err = await cli(
        "observe", case, "-i", actor="nurse-e2e", stdin="\n".join([*answers, "n"]) + "\n"
    )
    assert code == 1 and "not recorded" in err
    assert "looks like °F" in err and "expected 30–300, got 400" in err
    assert "expected 0–3, got 5" in err and "ICE score 10/10" in err
    assert "observation to record" in err and "85" in err
    code, out, _ = await cli("vitals", case, "--json")
    assert len(json.loads(out)) == 1, "a declined observation is not recorded"
    code, out, err = await cli(
        "observe", case, "-i", "--json", actor="nurse-e2e", stdin="\n".join([*answers, "y"]) + "\n"
    )
    assert code == 0, err
    ack = json.loads(out)
    assert ack["crs_grade"] == 2  # fever, hypotension without vasopressors
    (urgent,) = [a for a in ack["alerts"] if a["kind"] == "crs"]
    # The UI's details show 8 characters of an alert's id: enough to acknowledge it.
    code, out, err = await cli("acknowledge", case, urgent["id"][:8], actor="dr-e2e")
    assert code == 0 and urgent["id"] in out, err


async def eventually_alerted(dev_server: Any, case: str) -> None:
    """Wait (asking the journey itself: a CLI call per poll costs a second) for the breach."""
    handle = dev_server.client.get_workflow_handle_for(PatientJourney.run, f"journey-{case}")
    for _ in range(80):
        status = await handle.query(PatientJourney.status)
        if any(a.kind == "deadline_breached" for a in status.alerts):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no infusion-window alert: {status}")


async def test_one_row_per_journey_and_json_everywhere(cli, dev_server, tmp_path):
    # A journey that continued as new (at infusion) is listed once, as its latest run.
    now = datetime.now(UTC)
    path = history_file(tmp_path, now - timedelta(days=60), "infusion_completed")
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)), "--history", str(path))
    assert code == 0, err
    case = out.splitlines()[0].strip()
    assert "phase monitoring" in out and "Due in the past" in one_line(out)
    code, _, _ = await cli("withdraw", case, "--reason", "moved home")
    assert code == 0
    query = f"WorkflowId = 'journey-{case}' AND ExecutionStatus != 'ContinuedAsNew'"
    for _ in range(80):  # visibility catches up with the closed run
        done = [e async for e in dev_server.client.list_workflows(query)]
        if done and done[0].status and done[0].status.name == "COMPLETED":
            break
        await asyncio.sleep(0.1)
    code, out, _ = await cli("list", "--all", "--json")
    rows = [r for r in json.loads(out) if r["case_id"] == case]
    assert len(rows) == 1 and rows[0]["outcome"] == "withdrawn", rows
    runs = [e async for e in dev_server.client.list_workflows(f"WorkflowId = 'journey-{case}'")]
    assert len(runs) >= 2, "the journey did continue as new"

    code, out, _ = await cli("demo", "--json")
    assert code == 0 and {row["case_id"] for row in json.loads(out)} >= {"DEMO-0001"}


def test_the_banner_of_a_second_start_does_not_promise_a_new_escalation():
    assert "DEMO-0006 escalates within a minute" in banner("u", {"DEMO-0006": "started (…)"})
    second = banner("u", {"DEMO-0006": "already there (now: intake)"})
    assert "within a minute" not in second and "DEMO-0006 is overdue" in second
    # Withdrawn since: the banner does not call it overdue (it once did).
    closed = banner("u", {"DEMO-0006": "already there (now: closed, withdrawn)"})
    assert "DEMO-0006 is overdue" not in closed and "within a minute" not in closed
