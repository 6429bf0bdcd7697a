"""No refusal and no failure prints a patient: the intake's values stay out of every trace.

A NUL in a name is refused by field name before anything is written; a store that fails on
the patient's row (a trigger here, a constraint or an outage in life) ends the command without
any of the row's values on standard error or in the logs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from cellpath.store import CaseStore
from models.roles import Role
from tests.builders import PATIENT
from tests.support import QUEUE, ROOT, e2e_intake_file

pytestmark = pytest.mark.e2e

SECRETS = [v for v in PATIENT.values() if len(v) >= 4] + ["Zebulon", "X99887766Q"]


async def intake(dev_server: WorkflowEnvironment, db_url: str, path: Path) -> tuple[int, str]:
    env = os.environ | {
        "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
        "CELLPATH_DATABASE_URL": db_url,
        "CELLPATH_TASK_QUEUE": QUEUE,
        "CELLPATH_ACTOR": "coord-e2e",
        "CELLPATH_LOG_FORMAT": "console",
    }
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "starter", "intake", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


async def test_a_nul_in_a_name_is_refused_by_field_and_stores_nothing(
    dev_server: WorkflowEnvironment, db_url: str, tmp_path: Path
) -> None:
    patient = PATIENT | {"full_name": "Zebulon\x00Quixote", "phone": "+44 7700\u2028900123"}
    code, output = await intake(dev_server, db_url, e2e_intake_file(tmp_path, patient=patient))
    assert code == 1, output
    assert "patient.full_name: contains a control character" in output
    for secret in SECRETS:
        assert secret not in output


async def test_a_store_failing_on_the_patient_row_prints_none_of_it(
    dev_server: WorkflowEnvironment, db_url: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    CaseStore.from_url(f"sqlite:///{broken}").set_role("coord-e2e", Role.COORDINATOR, by="test")
    with sa.create_engine(f"sqlite:///{broken}").begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON patients "
                "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
            )
        )
    code, output = await intake(dev_server, f"sqlite:///{broken}", e2e_intake_file(tmp_path))
    assert code != 0 and "IntegrityError" in output, output
    for secret in SECRETS:
        assert secret not in output, (secret, output)
