"""Digest runs: the test date each status digest covered and when it was sent.

Table as in bot/digest/tables.py.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_digest_runs_as_of", "digest_runs", ["as_of"])


def downgrade() -> None:
    op.drop_index("ix_digest_runs_as_of", table_name="digest_runs")
    op.drop_table("digest_runs")
