"""The database tables (SQLModel). Keys are the natural keys of the CSV interchange contract.

Money, quantities and ratios are ``DecimalText`` (exact on every backend); instants are
``UTCDateTime``. The Alembic migrations in ``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from bot.store.types import DecimalText, KeyText, UTCDateTime, table_of


def _money(nullable: bool = False):
    return Field(sa_column=Column(DecimalText(), nullable=nullable))


def _facility_key(table: str):
    fk = ForeignKey("facilities.facility_id", ondelete="CASCADE", name=f"fk_{table}_facility_id")
    return Field(sa_column=Column(KeyText(), fk, primary_key=True))


class FacilityRow(SQLModel, table=True):
    __tablename__ = "facilities"

    facility_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    borrower: str = Field(sa_column=Column(Text(), nullable=False))
    facility_type: str = Field(sa_column=Column(Text(), nullable=False, index=True))
    currency: str = Field(sa_column=Column(Text(), nullable=False))
    commitment: Decimal = _money()
    outstanding: Decimal = _money()
    origination_date: dt.date = Field(sa_column=Column(Date(), nullable=False))
    maturity_date: dt.date = Field(sa_column=Column(Date(), nullable=False))
    owner_email: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    slack_channel: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))


class BalanceRow(SQLModel, table=True):
    __tablename__ = "balances"

    facility_id: str = _facility_key("balances")
    as_of: dt.date = Field(sa_column=Column(Date(), primary_key=True))
    outstanding: Decimal = _money()


class FinancialRow(SQLModel, table=True):
    __tablename__ = "financials"

    facility_id: str = _facility_key("financials")
    period_end: dt.date = Field(sa_column=Column(Date(), primary_key=True))
    revenue: Decimal = _money()
    opex: Decimal = _money()
    capex: Decimal = _money()
    taxes: Decimal = _money()
    interest: Decimal = _money()
    principal: Decimal = _money()
    cash: Decimal = _money()
    reported_on: dt.date | None = Field(default=None, sa_column=Column(Date(), nullable=True))


class GpuLotRow(SQLModel, table=True):
    __tablename__ = "gpu_lots"

    facility_id: str = _facility_key("gpu_lots")
    lot_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    gpu_model: str = Field(sa_column=Column(Text(), nullable=False))
    quantity: Decimal = _money()
    acquired_on: dt.date = Field(sa_column=Column(Date(), nullable=False))
    unit_cost: Decimal = _money()


class CryptoRow(SQLModel, table=True):
    __tablename__ = "crypto_holdings"

    facility_id: str = _facility_key("crypto_holdings")
    asset: str = Field(sa_column=Column(KeyText(), primary_key=True))
    as_of: dt.date = Field(sa_column=Column(Date(), primary_key=True))
    quantity: Decimal = _money()


class PriceRow(SQLModel, table=True):
    __tablename__ = "prices"

    symbol: str = Field(sa_column=Column(KeyText(), primary_key=True))
    date: dt.date = Field(sa_column=Column(Date(), primary_key=True))
    price: Decimal = _money()


class EvaluationRun(SQLModel, table=True):
    __tablename__ = "evaluation_runs"
    __table_args__ = (Index("ix_evaluation_runs_kind_as_of", "kind", "as_of"),)

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    kind: str = Field(sa_column=Column(Text(), nullable=False))
    as_of: dt.date = Field(sa_column=Column(Date(), nullable=False))
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    rules_digest: str = Field(sa_column=Column(Text(), nullable=False))


def _run_fk(table: str) -> ForeignKey:
    return ForeignKey("evaluation_runs.id", ondelete="CASCADE", name=f"fk_{table}_run_id")


class EvaluationResultRow(SQLModel, table=True):
    """One covenant at one facility in one run: only what a reader cannot derive (issue 12).

    The headroom is not stored: it is ``Threshold.parse(threshold).headroom(value)`` (the stored
    threshold is the effective one of that row). The metric is the covenant's, the same on every row
    of a run: it is stored once per run and covenant in ``evaluation_metrics``."""

    __tablename__ = "evaluation_results"
    __table_args__ = (
        Index("ix_evaluation_results_facility_covenant_as_of", "facility_id", "covenant_id", "as_of"),
        Index("ix_evaluation_results_run_id", "run_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    run_id: int = Field(sa_column=Column(Integer(), _run_fk("evaluation_results"), nullable=False))
    as_of: dt.date = Field(sa_column=Column(Date(), nullable=False))
    facility_id: str = Field(sa_column=Column(KeyText(), nullable=False))
    covenant_id: str = Field(sa_column=Column(KeyText(), nullable=False))
    value: Decimal | None = _money(nullable=True)
    threshold: str = Field(sa_column=Column(Text(), nullable=False))
    status: str = Field(sa_column=Column(Text(), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    months_to_breach: int | None = Field(default=None, sa_column=Column(Integer(), nullable=True))


class EvaluationMetricRow(SQLModel, table=True):
    """The metric (expression label) of each covenant evaluated in a run, once per run and covenant."""

    __tablename__ = "evaluation_metrics"

    run_id: int = Field(sa_column=Column(Integer(), _run_fk("evaluation_metrics"), primary_key=True,
                                         autoincrement=False))
    covenant_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    metric: str = Field(sa_column=Column(Text(), nullable=False))


# The tables that hold loan data, in the order an import writes them (parents first).
DATA_TABLES = {
    "facilities": table_of(FacilityRow),
    "balances": table_of(BalanceRow),
    "financials": table_of(FinancialRow),
    "gpu_lots": table_of(GpuLotRow),
    "crypto_holdings": table_of(CryptoRow),
    "prices": table_of(PriceRow),
}
ALL_TABLES = {
    **DATA_TABLES,
    "evaluation_runs": table_of(EvaluationRun),
    "evaluation_results": table_of(EvaluationResultRow),
    "evaluation_metrics": table_of(EvaluationMetricRow),
}
