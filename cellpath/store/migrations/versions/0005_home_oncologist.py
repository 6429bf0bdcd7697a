"""The hand-over: the home oncologist who takes the patient back (identifying, erased with the
patient's other details).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("home_oncologist_name", "home_oncologist_institution", "home_oncologist_email")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("patients") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("patients") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
