"""Alerts: alert state, waivers, audit trail, the transactional outbox and Slack threads.

Tables as in bot/alerts/tables.py.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TEXT = sa.Text
DECIMAL = sa.Text  # DecimalText stores str(Decimal)


def KEY() -> sa.types.TypeEngine:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def WHEN() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alert_states",
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
        sa.Column("updated_at", WHEN(), nullable=True),
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("facility_id", KEY(), nullable=False),
        sa.Column("covenant_id", KEY(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", TEXT(), nullable=False),
        sa.Column("granted_by", TEXT(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("withdrawn_at", WHEN(), nullable=True),
        sa.Column("withdrawn_by", TEXT(), nullable=True),
    )
    op.create_index("ix_waivers_facility_covenant", "waivers", ["facility_id", "covenant_id"])
    op.create_table(
        "alert_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("facility_id", KEY(), nullable=True),
        sa.Column("covenant_id", KEY(), nullable=True),
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("status", TEXT(), nullable=True),
        sa.Column("actor", TEXT(), nullable=True),
        sa.Column("notification_id", TEXT(), nullable=True),
        sa.Column("detail", TEXT(), nullable=True),
    )
    op.create_index("ix_alert_audit_facility_covenant", "alert_audit", ["facility_id", "covenant_id", "id"])
    op.create_index("ix_alert_audit_notification_id", "alert_audit", ["notification_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notification_id", TEXT(), nullable=False),
        sa.Column("transport", TEXT(), nullable=False),
        sa.Column("route", TEXT(), nullable=False),
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("thread_role", TEXT(), nullable=True),
        sa.Column("facility_id", KEY(), nullable=True),
        sa.Column("covenant_id", KEY(), nullable=True),
        sa.Column("payload", TEXT(), nullable=False),
        sa.Column("state", TEXT(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("next_attempt_at", WHEN(), nullable=False),
        sa.Column("last_attempt_at", WHEN(), nullable=True),
        sa.Column("sent_at", WHEN(), nullable=True),
        sa.Column("sent_via", TEXT(), nullable=True),
        sa.Column("last_error", TEXT(), nullable=True),
        sa.Column("channel_id", TEXT(), nullable=True),
        sa.Column("ts", TEXT(), nullable=True),
        sa.UniqueConstraint("notification_id", name="uq_outbox_notification_id"),
    )
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "slack_threads",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("covenant_id", KEY(), primary_key=True),
        sa.Column("channel_id", KEY(), primary_key=True),
        sa.Column("ts", TEXT(), nullable=False),
        sa.Column("notification_id", TEXT(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
    )


def downgrade() -> None:
    for table in ("slack_threads", "outbox", "alert_audit", "waivers", "alert_states"):
        op.drop_table(table)
