"""Slack actions done once: the key of every waiver granted from Slack (migration 0005).

A retried request (``X-Slack-Retry-Num``), a double submit, or the same submission reaching two
instances behind a load balancer all carry the same key; the primary key lets exactly one of them
insert, in the same transaction as the waiver it guards.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from bot.store.types import KeyText, UTCDateTime, optional_text


class SlackActionRow(SQLModel, table=True):
    __tablename__ = "slack_actions"

    key: str = Field(sa_column=Column(KeyText(), primary_key=True))
    kind: str = Field(sa_column=Column(Text(), nullable=False))
    facility_id: str | None = optional_text()
    covenant_id: str | None = optional_text()
    slack_user: str = Field(sa_column=Column(Text(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
