"""Search by name or passport number: each patient's name and passport folded to ASCII
(`search_key`), filled in for the patients already stored.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    from cellpath.store.search import search_key

    op.add_column("patients", sa.Column("search_key", sa.String(), nullable=True))
    patients = sa.table(
        "patients",
        sa.column("patient_ref", sa.String()),
        sa.column("full_name", sa.String()),
        sa.column("passport_number", sa.String()),
        sa.column("search_key", sa.String()),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(patients.c.patient_ref, patients.c.full_name, patients.c.passport_number)
    ).all()
    for ref, name, passport in rows:
        conn.execute(
            patients.update()
            .where(patients.c.patient_ref == ref)
            .values(search_key=search_key(name, passport))
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("search_key")
