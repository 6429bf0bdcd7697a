"""A site's scarce resources and their bookings: resources with capacity and opening days,
bookings per case, and the seats that make overbooking impossible.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "site_resources",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("per", sa.String(8), nullable=False),
        sa.Column("open_days", sa.String(32), nullable=False),
        sa.Column("holidays", sa.String(2), nullable=True),
        sa.Column("closed", sa.JSON(), nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("lock_version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "slot_bookings",
        sa.Column("booking_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("chain_step", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booked_by", sa.String(64), nullable=False),
        sa.Column("held_at", TS, nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("release_reason", sa.String(200), nullable=True),
    )
    op.create_index("ix_slot_bookings_site_resource", "slot_bookings", ["site", "resource"])
    op.create_table(
        "slot_seats",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(64), primary_key=True),
        sa.Column("unit", sa.Date(), primary_key=True),
        sa.Column("seat", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id",
            sa.String(64),
            sa.ForeignKey("slot_bookings.booking_id"),
            nullable=False,
            index=True,
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("slot_seats")
    op.drop_index("ix_slot_bookings_site_resource", table_name="slot_bookings")
    op.drop_table("slot_bookings")
    op.drop_table("site_resources")
