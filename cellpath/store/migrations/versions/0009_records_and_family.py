"""Records and the family: record files (sealed outside the database, their rows here), the
case's notes and messages, and the family's single-use sign-in links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("blob_key", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("translation", sa.String(16), nullable=True),
        sa.Column("translation_of", sa.Integer(), nullable=True, index=True),
        sa.Column("added_by", sa.String(80), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("erased_at", TS, nullable=True),
    )
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=True),
        sa.Column("delivery_error", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "family_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("sent_to", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("code_sha256", sa.String(64), nullable=True),
        sa.Column("code_expires_at", TS, nullable=True),
        sa.Column("code_tries", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("family_links")
    op.drop_table("case_notes")
    op.drop_table("records")
