"""The initial case store: patients, cases, journeys, outbox, audit log, staff.

Plain SQLAlchemy types on purpose: SQLModel's AutoString and cellpath's UTCDateTime are
Python-side wrappers of VARCHAR and TIMESTAMP WITH TIME ZONE, and a migration must not change
meaning when those classes do.

Revision ID: 0001
Revises: (none: the first revision)
Create Date: 2026-11-21 21:30:41.623106
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(op.f("ix_audit_log_case_id"), "audit_log", ["case_id"], unique=False)
    op.create_table(
        "journeys",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("patient_ref", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("therapy", sa.String(), nullable=False),
        sa.Column("cell_source", sa.String(), nullable=False),
        sa.Column("program", sa.String(), nullable=False),
        sa.Column("site", sa.String(), nullable=True),
        sa.Column("coordinator", sa.String(), nullable=False),
        sa.Column("next_deadline", sa.String(), nullable=True),
        sa.Column("next_deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(op.f("ix_journeys_coordinator"), "journeys", ["coordinator"], unique=False)
    op.create_index(op.f("ix_journeys_overdue"), "journeys", ["overdue"], unique=False)
    op.create_index(op.f("ix_journeys_phase"), "journeys", ["phase"], unique=False)
    op.create_index(op.f("ix_journeys_site"), "journeys", ["site"], unique=False)
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("recipient_ref", sa.String(), nullable=True),
        sa.Column("deadline", sa.String(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(
        op.f("ix_notification_outbox_case_id"), "notification_outbox", ["case_id"], unique=False
    )
    op.create_table(
        "patients",
        sa.Column("patient_ref", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("passport_number", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("patient_ref"),
    )
    op.create_table(
        "staff",
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor"),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("patient_ref", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_ref"],
            ["patients.patient_ref"],
        ),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(op.f("ix_cases_patient_ref"), "cases", ["patient_ref"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_cases_patient_ref"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("staff")
    op.drop_table("patients")
    op.drop_index(op.f("ix_notification_outbox_case_id"), table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index(op.f("ix_journeys_site"), table_name="journeys")
    op.drop_index(op.f("ix_journeys_phase"), table_name="journeys")
    op.drop_index(op.f("ix_journeys_overdue"), table_name="journeys")
    op.drop_index(op.f("ix_journeys_coordinator"), table_name="journeys")
    op.drop_table("journeys")
    op.drop_index(op.f("ix_audit_log_case_id"), table_name="audit_log")
    op.drop_table("audit_log")
