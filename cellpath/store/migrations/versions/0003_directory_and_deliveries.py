"""The directory (staff contacts, role assignments and rotas), deliveries, and the family's
language and caregiver.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("preferred_language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("caregiver_name", sa.String(), nullable=True))
        batch.add_column(sa.Column("caregiver_email", sa.String(), nullable=True))
        batch.add_column(sa.Column("caregiver_phone", sa.String(), nullable=True))
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("due_at", TS, nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    op.create_table(
        "staff_contacts",
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("quiet_hours", sa.String(length=11), nullable=True),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("actor"),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("program", sa.String(length=32), nullable=True),
        sa.Column("valid_from", TS, nullable=True),
        sa.Column("valid_until", TS, nullable=True),
        sa.Column("assigned_by", sa.String(), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_role_assignments_role", "role_assignments", ["role"])
    op.create_index("ix_role_assignments_site", "role_assignments", ["site"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("held_until", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", "person", "channel"),
    )
    op.create_index("ix_deliveries_idempotency_key", "deliveries", ["idempotency_key"])
    op.create_index("ix_deliveries_case_id", "deliveries", ["case_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("deliveries")
    op.drop_table("role_assignments")
    op.drop_table("staff_contacts")
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("timezone")
        batch.drop_column("due_at")
    with op.batch_alter_table("patients") as batch:
        for column in (
            "caregiver_phone",
            "caregiver_email",
            "caregiver_name",
            "preferred_language",
        ):
            batch.drop_column(column)
