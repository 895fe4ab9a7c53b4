"""The daily prune of evaluation results (`covbot run`'s ``prune`` job); see bot.store.retention."""

from __future__ import annotations

from datetime import date

from bot.config import Settings
from bot.store.retention import Pruned, prune_results


def prune_old_results(settings: Settings, engine, today: date) -> Pruned:
    """Apply COVBOT_RESULTS_KEEP_DAYS to the stored evaluation results, in one transaction."""
    from bot.store.db import session_scope

    with session_scope(engine) as session:
        return prune_results(session, today, settings.results_keep_days)
