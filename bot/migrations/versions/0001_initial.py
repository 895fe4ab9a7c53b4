"""Initial schema: loan data (facilities, balances, financials, GPU lots, crypto, prices)
and evaluation runs with their results.

Decimals are TEXT (exact on every backend; see bot.store.types.DecimalText).

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT = sa.Text
DECIMAL = sa.Text  # DecimalText stores str(Decimal)


def KEY() -> sa.types.TypeEngine:
    """Identifiers: code-point order on PostgreSQL too (see bot.store.types.KeyText)."""
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _facility_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["facility_id"], ["facilities.facility_id"], ondelete="CASCADE", name=f"fk_{table}_facility_id"
    )


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("borrower", TEXT(), nullable=False),
        sa.Column("facility_type", TEXT(), nullable=False),
        sa.Column("currency", TEXT(), nullable=False),
        sa.Column("commitment", DECIMAL(), nullable=False),
        sa.Column("outstanding", DECIMAL(), nullable=False),
        sa.Column("origination_date", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("owner_email", TEXT(), nullable=True),
        sa.Column("slack_channel", TEXT(), nullable=True),
    )
    op.create_index("ix_facilities_facility_type", "facilities", ["facility_type"])

    op.create_table(
        "balances",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("as_of", sa.Date(), primary_key=True),
        sa.Column("outstanding", DECIMAL(), nullable=False),
        _facility_fk("balances"),
    )
    op.create_table(
        "financials",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("period_end", sa.Date(), primary_key=True),
        *(sa.Column(name, DECIMAL(), nullable=False)
          for name in ("revenue", "opex", "capex", "taxes", "interest", "principal", "cash")),
        sa.Column("reported_on", sa.Date(), nullable=True),
        _facility_fk("financials"),
    )
    op.create_table(
        "gpu_lots",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("lot_id", KEY(), primary_key=True),
        sa.Column("gpu_model", TEXT(), nullable=False),
        sa.Column("quantity", DECIMAL(), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("unit_cost", DECIMAL(), nullable=False),
        _facility_fk("gpu_lots"),
    )
    op.create_table(
        "crypto_holdings",
        sa.Column("facility_id", KEY(), primary_key=True),
        sa.Column("asset", KEY(), primary_key=True),
        sa.Column("as_of", sa.Date(), primary_key=True),
        sa.Column("quantity", DECIMAL(), nullable=False),
        _facility_fk("crypto_holdings"),
    )
    op.create_table(
        "prices",
        sa.Column("symbol", KEY(), primary_key=True),
        sa.Column("date", sa.Date(), primary_key=True),
        sa.Column("price", DECIMAL(), nullable=False),
    )

    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rules_digest", TEXT(), nullable=False),
    )
    op.create_index("ix_evaluation_runs_kind_as_of", "evaluation_runs", ["kind", "as_of"])

    op.create_table(
        "evaluation_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("facility_id", KEY(), nullable=False),
        sa.Column("covenant_id", KEY(), nullable=False),
        sa.Column("metric", TEXT(), nullable=False),
        sa.Column("value", DECIMAL(), nullable=True),
        sa.Column("threshold", TEXT(), nullable=False),
        sa.Column("status", TEXT(), nullable=False),
        sa.Column("headroom", DECIMAL(), nullable=True),
        sa.Column("reason", TEXT(), nullable=True),
        sa.Column("months_to_breach", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["evaluation_runs.id"], ondelete="CASCADE", name="fk_evaluation_results_run_id"
        ),
    )
    op.create_index(
        "ix_evaluation_results_facility_covenant_as_of",
        "evaluation_results",
        ["facility_id", "covenant_id", "as_of"],
    )
    op.create_index("ix_evaluation_results_run_id", "evaluation_results", ["run_id"])
    op.create_index("ix_evaluation_results_as_of_status", "evaluation_results", ["as_of", "status"])


def downgrade() -> None:
    op.drop_table("evaluation_results")
    op.drop_table("evaluation_runs")
    for table in ("prices", "crypto_holdings", "gpu_lots", "financials", "balances", "facilities"):
        op.drop_table(table)
