"""The board across patients: each journey's schedule (steps done and ahead), replaced by
each of its newest writes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "journey_schedule",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(64), primary_key=True),
        sa.Column("expected", TS, nullable=False, index=True),
        sa.Column("earliest", TS, nullable=False),
        sa.Column("latest", TS, nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("done_at", TS, nullable=True),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("journey_schedule")
