"""The scheduled outbox: each journey's next reminders and escalations, which the dispatcher
sends at their time (the journey's own timer records them in its history later).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "scheduled_outbox",
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_scheduled_outbox_state_due", "scheduled_outbox", ["state", "due_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_scheduled_outbox_state_due", "scheduled_outbox")
    op.drop_table("scheduled_outbox")
