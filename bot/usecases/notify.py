"""Use case "notify after a check": advance every alert, queue its notifications, deliver.

Runs after a stored `covbot check` and after each evaluation of the service. The alerts advance
and their messages are queued in one transaction; then ``deliver`` (the composition root's
dispatcher, with its time budget) sends what it can. Returns data; the caller renders it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from bot.alerts.advance import AlertRun, advance_alerts
from bot.config import Settings
from bot.notify.dispatcher import DispatchReport
from bot.store.db import session_scope
from bot.usecases.check import CheckOutcome


@dataclass(frozen=True)
class NotifyOutcome:
    alerts: AlertRun
    delivery: DispatchReport


def notify_after_check(
    engine: Engine,
    outcome: CheckOutcome,
    now: datetime,
    *,
    routing: Settings,
    deliver: Callable[[], DispatchReport],
) -> NotifyOutcome:
    """Advance the alerts of ``outcome`` (routes and grouping from ``routing``), then ``deliver``.

    Fills ``outcome.waived`` with the alerts shown as waived."""
    with session_scope(engine) as session:
        run = advance_alerts(session, outcome.results, outcome.ruleset, outcome.facilities, now, routing)
    outcome.waived = dict(run.waived)
    return NotifyOutcome(run, deliver())
