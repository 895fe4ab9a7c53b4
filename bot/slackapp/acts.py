"""What an approver does from Slack, written through the database so every instance may serve.

- acknowledge: one conditional UPDATE (firing, not yet acknowledged) — a retry, a double click or
  a second instance finds it done and changes nothing; audited once.
- waive: the waiver is granted by ``bot.usecases.waive.grant`` (the code path of ``covbot waive``)
  in the same transaction as its once-only key in ``slack_actions``; the same submission twice
  inserts the key once, so one waiver.
- refusals are audited too. Functions take an open session and never commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts import store
from bot.alerts.tables import AlertStateRow
from bot.alerts.waivers import Waiver
from bot.domain.rulebook import RuleSet
from bot.slackapp.access import SlackUser
from bot.slackapp.tables import SlackActionRow
from bot.usecases.waive import grant


@dataclass(frozen=True)
class Acknowledged:
    done: bool  # this request acknowledged it
    status: str | None = None  # the alert's status acknowledged
    by: str | None = None  # who had acknowledged it, when it was done already
    user: str | None = None
    open: bool = True  # False: no open alert to acknowledge


def acknowledge(session: Session, facility_id: str, covenant_id: str, user: SlackUser, now: datetime) -> Acknowledged:
    key = (col(AlertStateRow.facility_id) == facility_id) & (col(AlertStateRow.covenant_id) == covenant_id)
    result = session.execute(
        update(AlertStateRow)
        .where(key, col(AlertStateRow.state) == "firing", col(AlertStateRow.alert_status).is_not(None),
               col(AlertStateRow.acknowledged_at).is_(None))
        .values(acknowledged_at=now, acknowledged_by=user.by, acknowledged_user=user.id,
                acknowledged_status=AlertStateRow.alert_status)
        .execution_options(synchronize_session=False)
    )
    row = session.get(AlertStateRow, (facility_id, covenant_id), populate_existing=True)
    if cast(CursorResult[Any], result).rowcount == 1 and row is not None:
        store.audit(session, "acknowledged", now, facility_id, covenant_id, as_of=row.as_of,
                    status=row.alert_status, actor=user.actor,
                    detail=f"acknowledged from Slack: no reminders while it stays {row.alert_status}")
        return Acknowledged(True, row.alert_status, user.by, user.id)
    if row is None or row.state != "firing":
        return Acknowledged(False, open=False)
    return Acknowledged(False, row.acknowledged_status, row.acknowledged_by, row.acknowledged_user)


def waiver_key(facility_id: str, covenant_id: str, until: date, reason: str, by: str, today: date) -> str:
    """The same waiver asked for twice on one day is one waiver (retries, double submits, two
    instances, two modals opened by a double click)."""
    text = "\0".join((facility_id, covenant_id, until.isoformat(), " ".join(reason.split()), by, today.isoformat()))
    return "waive:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def claim(session: Session, key: str, kind: str, user: SlackUser, now: datetime,
          facility_id: str | None = None, covenant_id: str | None = None) -> None:
    """Insert the once-only key (flushes: a second claim of the same key raises IntegrityError,
    on PostgreSQL once the first transaction has committed)."""
    session.add(SlackActionRow(key=key, kind=kind, facility_id=facility_id, covenant_id=covenant_id,
                               slack_user=user.id, created_at=now))
    session.flush()


def waive(session: Session, facility_id: str, covenant_id: str, until: date, reason: str, user: SlackUser,
          now: datetime, *, today: date, ruleset: RuleSet | None) -> Waiver:
    """Grant the waiver as ``covbot waive`` does (UsageError naming every problem); raises
    IntegrityError when this very waiver was granted already (the caller's session is then void)."""
    claim(session, waiver_key(facility_id, covenant_id, until, reason, user.by, today), "waive", user, now,
          facility_id, covenant_id)
    return grant(session, facility_id, covenant_id, until, reason, user.by, now, today=today, ruleset=ruleset,
                 actor=user.actor)


def refuse(session: Session, user: SlackUser, what: str, setting: str, now: datetime,
           facility_id: str | None = None, covenant_id: str | None = None) -> None:
    store.audit(session, "slack_refused", now, facility_id, covenant_id, actor=user.actor,
                detail=f"{what} from Slack refused: not in {setting}; nothing was changed")
