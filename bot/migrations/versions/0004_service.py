"""Service: evaluated slots, job records, running instances, the leader, rule-set notices.

Tables as in bot/daemon/tables.py. (Chained after 0004_digest, which landed first.)

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def KEY() -> sa.types.TypeEngine:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def WHEN() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_slots",
        sa.Column("job", KEY(), primary_key=True),
        sa.Column("slot_at", WHEN(), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("claimed_at", WHEN(), nullable=False),
        sa.Column("finished_at", WHEN(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_table(
        "service_jobs",
        sa.Column("job", KEY(), primary_key=True),
        sa.Column("last_started_at", WHEN(), nullable=True),
        sa.Column("last_finished_at", WHEN(), nullable=True),
        sa.Column("last_state", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", WHEN(), nullable=True),
        sa.Column("next_run_at", WHEN(), nullable=True),
        sa.Column("instance", sa.Text(), nullable=True),
    )
    op.create_table(
        "service_instances",
        sa.Column("instance", sa.Text(), primary_key=True),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN(), nullable=False),
        sa.Column("heartbeat_at", WHEN(), nullable=False),
        sa.Column("stopped_at", WHEN(), nullable=True),
        sa.Column("rules_path", sa.Text(), nullable=True),
        sa.Column("rules_files", sa.Text(), nullable=True),
        sa.Column("rules_digest", sa.Text(), nullable=True),
        sa.Column("rules_loaded_at", WHEN(), nullable=True),
    )
    op.create_table(
        "service_leader",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", WHEN(), nullable=False),
        sa.Column("heartbeat_at", WHEN(), nullable=False),
    )
    op.create_table(
        "service_rules_notices",
        sa.Column("digest", sa.Text(), primary_key=True),
        sa.Column("noticed_at", WHEN(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("service_rules_notices", "service_leader", "service_instances", "service_jobs", "service_slots"):
        op.drop_table(table)
