"""Tables of the service: evaluated slots, job records, running instances and the leader.

Migration ``0003_service`` creates exactly these tables.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field, SQLModel

from bot.store.types import KeyText, UTCDateTime, optional_text, optional_when, table_of




class SlotRow(SQLModel, table=True):
    """One scheduled slot of a job (e.g. the 06:00 evaluation of a day), claimed once."""

    __tablename__ = "service_slots"

    job: str = Field(sa_column=Column(KeyText(), primary_key=True))
    slot_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    state: str = Field(sa_column=Column(Text(), nullable=False))  # running | ok | failed
    instance: str = Field(sa_column=Column(Text(), nullable=False))
    claimed_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: dt.datetime | None = optional_when()
    error: str | None = optional_text()


class JobRow(SQLModel, table=True):
    """The last run of each job, and when it runs next (for `covbot status`)."""

    __tablename__ = "service_jobs"

    job: str = Field(sa_column=Column(KeyText(), primary_key=True))
    last_started_at: dt.datetime | None = optional_when()
    last_finished_at: dt.datetime | None = optional_when()
    last_state: str | None = optional_text()  # ok | failed
    last_error: str | None = optional_text()
    last_error_at: dt.datetime | None = optional_when()
    next_run_at: dt.datetime | None = optional_when()
    instance: str | None = optional_text()


class InstanceRow(SQLModel, table=True):
    """A `covbot run` process: where it runs, whether it is alive, and its live rule set."""

    __tablename__ = "service_instances"

    instance: str = Field(sa_column=Column(Text(), primary_key=True))
    host: str = Field(sa_column=Column(Text(), nullable=False))
    pid: int = Field(sa_column=Column(Integer(), nullable=False))
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    heartbeat_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    stopped_at: dt.datetime | None = optional_when()
    rules_path: str | None = optional_text()
    rules_files: str | None = optional_text()  # JSON list
    rules_digest: str | None = optional_text()
    rules_loaded_at: dt.datetime | None = optional_when()


class LeaderRow(SQLModel, table=True):
    """The current leader (one row, name ``covbot``): the only instance that acts."""

    __tablename__ = "service_leader"

    name: str = Field(sa_column=Column(Text(), primary_key=True))
    instance: str = Field(sa_column=Column(Text(), nullable=False))
    host: str = Field(sa_column=Column(Text(), nullable=False))
    pid: int = Field(sa_column=Column(Integer(), nullable=False))
    since: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    heartbeat_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RulesNoticeRow(SQLModel, table=True):
    """A refused rule set (by content digest) whose owners were told: told once per digest."""

    __tablename__ = "service_rules_notices"

    digest: str = Field(sa_column=Column(Text(), primary_key=True))
    noticed_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    problems: str = Field(sa_column=Column(Text(), nullable=False))


SERVICE_TABLES = {
    "service_slots": table_of(SlotRow),
    "service_jobs": table_of(JobRow),
    "service_instances": table_of(InstanceRow),
    "service_leader": table_of(LeaderRow),
    "service_rules_notices": table_of(RulesNoticeRow),
}
