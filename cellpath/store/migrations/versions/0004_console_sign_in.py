"""The console: staff passwords (Argon2 hashes), the sites a member of staff works on, and
each journey's open alerts in its projection (the worklist shows them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("sites", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(sa.Column("open_alerts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("top_alert", sa.String(length=16), nullable=True))
    op.create_table(
        "staff_credentials",
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_by", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("staff_credentials")
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("top_alert")
        batch.drop_column("open_alerts")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("sites")
