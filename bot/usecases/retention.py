"""The daily prune of evaluation results (`covbot run`'s ``prune`` job); see bot.store.retention."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from bot.alerts.store import drop_abandoned_staged_states
from bot.store.db import session_scope
from bot.store.retention import Pruned, prune_results


def prune_old_results(engine: Engine, keep_days: int, today: date) -> Pruned:
    """Keep the evaluation results of the last ``keep_days`` days (COVBOT_RESULTS_KEEP_DAYS; quarter
    ends kept), in one transaction."""
    with session_scope(engine) as session:
        pruned = prune_results(session, today, keep_days)
        drop_abandoned_staged_states(session)
        return pruned
