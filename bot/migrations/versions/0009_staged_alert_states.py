"""Staged alert changes: the daily job's workers advance the alerts of their facilities.

Each worker stages the alert changes of its facilities here (per run); the check's last transaction
moves them into ``alert_states`` with its messages, so the main process no longer holds them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TEXT = sa.Text
DECIMAL = sa.Text  # DecimalText stores str(Decimal)


def KEY() -> sa.types.TypeEngine:
    return TEXT().with_variant(sa.Text(collation="C"), "postgresql")


def WHEN() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state_changes",
        sa.Column("run_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("is_new", sa.Boolean(), nullable=False),
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("covenant_id", KEY(), primary_key=True),
        sa.Column("state", TEXT(), nullable=False),
        sa.Column("status", TEXT(), nullable=True),
        sa.Column("alert_status", TEXT(), nullable=True),
        sa.Column("candidate_status", TEXT(), nullable=True),
        sa.Column("candidate_count", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("fired_at", WHEN(), nullable=True),
        sa.Column("breach_since", sa.Date(), nullable=True),
        sa.Column("last_notified_at", WHEN(), nullable=True),
        sa.Column("eod_sent", sa.Boolean(), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waived_until", sa.Date(), nullable=True),
        sa.Column("last_value", DECIMAL(), nullable=True),
        sa.Column("threshold", TEXT(), nullable=True),
        sa.Column("headroom", DECIMAL(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("alert_state_changes")
