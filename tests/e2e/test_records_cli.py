"""`cellpath records …`, `cellpath notes`, `cellpath family link` and `cellpath erase` as
subprocesses against the dev server: a record in English kept encrypted and its translation
requested, downloaded (audited) byte for byte, refused for a viewer and for an executable, the
thread, and erasure that removes the files and says how many."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cellpath.scenarios import QUOTE
from cellpath.store import CaseStore
from tests.support import e2e_intake_file

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nPathology: DLBCL, CD19 positive\n%%EOF"


async def test_records_notes_and_erasure_from_the_command_line(
    cli: Any, tmp_path: Path, db_url: str
) -> None:
    code, out, err = await cli("intake", str(e2e_intake_file(tmp_path)), "--json")
    assert code == 0, err
    case = json.loads(out)["journey"]["case_id"]
    report = tmp_path / "pathology.pdf"
    report.write_bytes(PDF)

    code, out, err = await cli(
        "records", "add", case, str(report), "--type", "pathology", "--language", "en", "--json"
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["recorded"] == ["record_received", "translation_requested"]
    assert added["media_type"] == "application/pdf" and added["translation"] == "requested"

    code, out, err = await cli(
        "records", "get", case, str(added["record"]), "-o", str(tmp_path / "back.pdf")
    )
    assert code == 0, err
    assert (tmp_path / "back.pdf").read_bytes() == PDF

    code, out, err = await cli("records", "list", case, "--json")
    assert code == 0 and [r["sha256"] for r in json.loads(out)] == [added["sha256"]]
    assert "blob_key" not in out and "key_id" not in out

    viewer = await cli("records", "get", case, str(added["record"]), actor="viewer-e2e")
    assert viewer[0] == 1 and "viewer" in viewer[2]
    program = tmp_path / "tool.pdf"
    program.write_bytes(b"\x7fELF" + b"\x00" * 100)
    refused = await cli("records", "add", case, str(program), "--type", "labs")
    assert refused[0] == 1 and "program or script" in refused[2]

    code, out, err = await cli("notes", case, "--add", "Called the daughter: scans on Monday")
    assert code == 0 and "scans on Monday" in out, err
    code, out, err = await cli("notes", case, "--search", "monday", "--json")
    assert code == 0 and [n["kind"] for n in json.loads(out)] == ["note"]
    # No mail server here: the link cannot go, and the command says why (exit 2).
    code, _out, err = await cli("family", "link", case)
    assert code == 2 and "could not be e-mailed" in err

    # The family's money: a quote, a deposit in another currency, the balance by payer.
    code, _out, err = await cli("milestone", case, "quote_issued", "--data-json", json.dumps(QUOTE))
    assert code == 0, err
    code, _out, err = await cli(
        "milestone",
        case,
        "deposit_received",
        "--data",
        "amount=14000",
        "--data",
        "currency=CNY",
        "--data",
        "fx_rate=0.14",
    )
    assert code == 0, err
    code, out, err = await cli("finance", case)
    assert code == 0, err
    assert "Quote version 1 (not accepted yet): 9,500.00 USD" in out
    assert "patient" in out and "6,040.00 USD" in out and "14,000.00 CNY at 0.14" in out
    code, out, _ = await cli("finance", case, "--json")
    assert {b["payer"]: b["outstanding"] for b in json.loads(out)["balances"]} == {
        "patient": "6040.00",
        "trial": "1500.00",
    }

    trail = [r.action for r in CaseStore.from_url(db_url).audit_trail(case)]
    assert {"record_added", "record_viewed", "refused:record", "note_added"} <= set(trail)

    code, out, err = await cli("erase", case, "--reason", "patient request", "--yes", "--json")
    assert code == 0, err
    assert json.loads(out)["files_removed"] == 1
    code, out, _ = await cli("records", "list", case, "--json")
    assert code == 0 and json.loads(out) == []
