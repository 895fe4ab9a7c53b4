"""Tables of alerts: alert state, waivers, the audit trail (the outbox and Slack threads are bot.notify.tables).

Same conventions as ``bot.store.tables``: natural keys as ``KeyText``, decimals as ``DecimalText``,
instants as ``UTCDateTime``. Migration ``0002_alerts`` creates exactly these tables.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Column, Date, Index, Integer, Table, Text
from sqlmodel import Field, SQLModel

from bot.store.types import DecimalText, KeyText, UTCDateTime, optional_text, optional_when, optional_day


class AlertStateRow(SQLModel, table=True):
    """The lifecycle state of one alert (one covenant at one facility); see bot.alerts.lifecycle."""

    __tablename__ = "alert_states"

    facility_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    covenant_id: str = Field(sa_column=Column(KeyText(), primary_key=True))
    state: str = Field(sa_column=Column(Text(), nullable=False))
    status: str | None = optional_text()
    alert_status: str | None = optional_text()
    candidate_status: str | None = optional_text()
    candidate_count: int = Field(default=0, sa_column=Column(Integer(), nullable=False))
    as_of: dt.date | None = optional_day()
    fired_at: dt.datetime | None = optional_when()
    breach_since: dt.date | None = optional_day()
    last_notified_at: dt.datetime | None = optional_when()
    eod_sent: bool = Field(default=False, sa_column=Column(Boolean(), nullable=False))
    waived: bool = Field(default=False, sa_column=Column(Boolean(), nullable=False))
    waived_until: dt.date | None = optional_day()
    last_value: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    threshold: str | None = optional_text()
    headroom: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    updated_at: dt.datetime | None = optional_when()
    # acknowledged from Slack (bot.slackapp): written only there; cleared once the status changes
    acknowledged_at: dt.datetime | None = optional_when()
    acknowledged_by: str | None = optional_text()  # e-mail, or slack:<user id>
    acknowledged_user: str | None = optional_text()  # Slack user id
    acknowledged_status: str | None = optional_text()  # the alert's status that was acknowledged


# The alert changes of a check whose book was evaluated on worker processes, staged there per run and
# moved into alert_states by the check's last transaction, with its messages (bot.alerts.store:
# stage_states, apply_staged_states); a failed or superseded check drops its rows.
STAGED_STATE_COLUMNS = tuple(c.name for c in AlertStateRow.__table__.columns  # type: ignore[attr-defined]
                             if c.name not in ("updated_at",) and not c.name.startswith("acknowledged_"))
AlertStateChanges = Table(
    "alert_state_changes", SQLModel.metadata,
    Column("run_id", Integer(), primary_key=True, autoincrement=False),
    Column("is_new", Boolean(), nullable=False),  # INSERTed into alert_states, else UPDATEd
    *(Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
      for c in AlertStateRow.__table__.columns if c.name in STAGED_STATE_COLUMNS),  # type: ignore[attr-defined]
)


class WaiverRow(SQLModel, table=True):
    """A waiver as granted; withdrawn ones keep their row (``withdrawn_at``) for the audit trail."""

    __tablename__ = "waivers"
    __table_args__ = (Index("ix_waivers_facility_covenant", "facility_id", "covenant_id"),)

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    facility_id: str = Field(sa_column=Column(KeyText(), nullable=False))
    covenant_id: str = Field(sa_column=Column(KeyText(), nullable=False))
    until: dt.date = Field(sa_column=Column(Date(), nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    granted_by: str = Field(sa_column=Column(Text(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    withdrawn_at: dt.datetime | None = optional_when()
    withdrawn_by: str | None = optional_text()


class AuditRow(SQLModel, table=True):
    """One line of the audit trail: a state change, a waiver, or a delivery attempt."""

    __tablename__ = "alert_audit"
    __table_args__ = (
        Index("ix_alert_audit_facility_covenant", "facility_id", "covenant_id", "id"),
        Index("ix_alert_audit_notification_id", "notification_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer(), primary_key=True, autoincrement=True))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    facility_id: str | None = Field(default=None, sa_column=Column(KeyText(), nullable=True))
    covenant_id: str | None = Field(default=None, sa_column=Column(KeyText(), nullable=True))
    kind: str = Field(sa_column=Column(Text(), nullable=False))
    as_of: dt.date | None = optional_day()
    status: str | None = optional_text()
    actor: str | None = optional_text()
    notification_id: str | None = optional_text()
    detail: str | None = optional_text()


class AlertEpochRow(SQLModel, table=True):
    """One row: how many checks have advanced the alerts. A check reads it when it starts and bumps
    it when it writes its alert changes (``bot.alerts.store.claim_epoch``): a check that finds it
    moved knows another check advanced the same alerts in between, and writes none of its own."""

    __tablename__ = "alert_epoch"

    id: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    epoch: int = Field(sa_column=Column(Integer(), nullable=False))


ALERT_TABLES = {
    "alert_states": AlertStateRow.__table__,
    "waivers": WaiverRow.__table__,
    "alert_audit": AuditRow.__table__,
    "alert_epoch": AlertEpochRow.__table__,
}
