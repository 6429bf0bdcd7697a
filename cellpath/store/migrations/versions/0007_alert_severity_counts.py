"""Open critical and urgent alerts counted per journey, so such cases top every worklist.

Rows written before this revision get at least one of their most severe kind (the next write
of the journey puts the exact counts).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(
            sa.Column("critical_alerts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("urgent_alerts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_index("ix_journeys_critical_alerts", ["critical_alerts"])
        batch.create_index("ix_journeys_urgent_alerts", ["urgent_alerts"])
    op.execute("UPDATE journeys SET critical_alerts = 1 WHERE top_alert = 'critical'")
    op.execute("UPDATE journeys SET urgent_alerts = 1 WHERE top_alert = 'urgent'")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("journeys") as batch:
        batch.drop_index("ix_journeys_urgent_alerts")
        batch.drop_index("ix_journeys_critical_alerts")
        batch.drop_column("urgent_alerts")
        batch.drop_column("critical_alerts")
