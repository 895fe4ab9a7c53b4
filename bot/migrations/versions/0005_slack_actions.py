"""Acting from Slack: acknowledgements on alert_states, and slack_actions (once-only keys).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def KEY() -> sa.types.TypeEngine:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def WHEN() -> sa.types.TypeEngine:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alert_states") as batch:
        batch.add_column(sa.Column("acknowledged_at", WHEN(), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acknowledged_user", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acknowledged_status", sa.Text(), nullable=True))
    op.create_table(
        "slack_actions",
        sa.Column("key", KEY(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("facility_id", sa.Text(), nullable=True),
        sa.Column("covenant_id", sa.Text(), nullable=True),
        sa.Column("slack_user", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_actions")
    with op.batch_alter_table("alert_states") as batch:
        for name in ("acknowledged_status", "acknowledged_user", "acknowledged_by", "acknowledged_at"):
            batch.drop_column(name)
