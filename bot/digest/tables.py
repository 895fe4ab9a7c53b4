"""The record of digest runs: which test date each digest covered and when it was sent.

"Since the last digest" compares with the latest recorded run before the test date (see
``bot.digest.store.last_digest``). Migration ``0003_digest`` creates exactly this table.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, Index, Integer
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime, optional_when, table_of


class DigestRunRow(SQLModel, table=True):
    __tablename__ = "digest_runs"
    __table_args__ = (Index("ix_digest_runs_as_of", "as_of"),)

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    as_of: dt.date = Field(sa_column=Column(Date(), nullable=False))
    generated_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: dt.datetime | None = optional_when()


DIGEST_RUNS = table_of(DigestRunRow)
