"""The board across patients and the program's measures: each journey's schedule (steps done
and ahead) and its figures, replaced by each of its newest writes.

A journey gets its rows with its first write after this revision (its next milestone or
reschedule); until then the board and the measures do not show it.

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
        sa.Column("at", TS, nullable=False),
        sa.Column("expected", TS, nullable=False),
        sa.Column("earliest", TS, nullable=False),
        sa.Column("latest", TS, nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("coordinator", sa.String(64), nullable=False),
    )
    op.create_index("ix_journey_schedule_step_at", "journey_schedule", ["step", "at"])
    op.create_index("ix_journey_schedule_site_at", "journey_schedule", ["site", "at"])
    op.create_index("ix_journey_schedule_coordinator_at", "journey_schedule", ["coordinator", "at"])
    op.create_table(
        "journey_measures",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("quarter", sa.String(8), nullable=False, index=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("program", sa.String(32), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        *(
            sa.Column(name, sa.Float(), nullable=True)
            for name in (
                "to_eligibility",
                "to_pi_decision",
                "to_arrival",
                "vein_to_vein",
                "to_discharge",
            )
        ),
        sa.Column("done", sa.String(1000), nullable=False),
    )
    # The measures count escalations and alerts, and manufacturing failures, across cases.
    op.create_index("ix_notification_outbox_kind", "notification_outbox", ["kind"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_audit_log_action", "audit_log")
    op.drop_index("ix_notification_outbox_kind", "notification_outbox")
    op.drop_table("journey_measures")
    op.drop_index("ix_journey_schedule_coordinator_at", "journey_schedule")
    op.drop_index("ix_journey_schedule_site_at", "journey_schedule")
    op.drop_index("ix_journey_schedule_step_at", "journey_schedule")
    op.drop_table("journey_schedule")
