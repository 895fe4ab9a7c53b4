"""Lean alerts: the delivery log (one row per message and delivery step, owned by bot.notify).

Before, the dispatcher wrote a row per alert of a message into ``alert_audit`` for every attempt;
a grouped message about 4,000 alerts wrote 8,000 rows to be delivered once. Rows written that way
stay where they are and `covbot history` still shows them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    with op.batch_alter_table("delivery_log") as batch:
        batch.create_index("ix_delivery_log_notification_id", ["notification_id", "id"])


def downgrade() -> None:
    op.drop_table("delivery_log")
