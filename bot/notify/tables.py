"""Tables of delivery: the outbox, the delivery log (what the dispatcher did) and Slack threads.

Same conventions as ``bot.store.tables``. The outbox and Slack threads were created by migration
``0002_alerts`` (when they lived in ``bot.alerts``); ``0006_lean_alerts`` adds the delivery log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import KeyText, PackedText, UTCDateTime, optional_text, optional_when


class OutboxRow(SQLModel, table=True):
    """A rendered message waiting for (or done with) delivery. ``payload`` is JSON text, stored
    compressed when it is large (every e-mail: ``PackedText``; since migration 0007)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notification_id", name="uq_outbox_notification_id"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    notification_id: str = Field(sa_column=Column(Text(), nullable=False))
    transport: str = Field(sa_column=Column(Text(), nullable=False))  # slack | email
    route: str = Field(sa_column=Column(Text(), nullable=False))  # #channel / channel id / addresses
    kind: str = Field(sa_column=Column(Text(), nullable=False))  # alert, alert_group, digest, ...
    thread_role: str | None = optional_text()  # slack only: start | reply | None (not threaded)
    facility_id: str | None = Field(default=None, sa_column=Column(KeyText(), nullable=True))
    covenant_id: str | None = Field(default=None, sa_column=Column(KeyText(), nullable=True))
    payload: str = Field(sa_column=Column(PackedText(), nullable=False))
    state: str = Field(sa_column=Column(Text(), nullable=False))  # queued sending retry sent dead
    attempts: int = Field(default=0, sa_column=Column(Integer(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_attempt_at: dt.datetime | None = optional_when()
    sent_at: dt.datetime | None = optional_when()
    sent_via: str | None = optional_text()  # slack | smtp | file
    last_error: str | None = optional_text()
    channel_id: str | None = optional_text()
    ts: str | None = optional_text()


class SlackThreadRow(SQLModel, table=True):
    """Where an alert's Slack thread lives in one channel: its parent message."""

    __tablename__ = "slack_threads"

    facility_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    covenant_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    channel_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    ts: str = Field(sa_column=Column(Text(), nullable=False))
    notification_id: str = Field(sa_column=Column(Text(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DeliveryLogRow(SQLModel, table=True):
    """One step of one message's delivery: an attempt, its success, a failure, a dead letter.

    One row per message and step, whatever the number of alerts in the message: which alerts a
    message is about is in the alert audit (its ``queued`` rows carry the notification id)."""

    __tablename__ = "delivery_log"
    __table_args__ = (Index("ix_delivery_log_notification_id", "notification_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    notification_id: str = Field(sa_column=Column(Text(), nullable=False))
    kind: str = Field(sa_column=Column(Text(), nullable=False))  # delivery_attempt delivered delivery_failed ...
    detail: str | None = optional_text()


NOTIFY_TABLES = {
    "outbox": OutboxRow.__table__,
    "slack_threads": SlackThreadRow.__table__,
    "delivery_log": DeliveryLogRow.__table__,
}
