"""A coordinator covering a colleague's cases for a period.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "staff_cover",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("absent", sa.String(64), nullable=False, index=True),
        sa.Column("covering", sa.String(64), nullable=False, index=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("staff_cover")
