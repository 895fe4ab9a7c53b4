"""Retention of evaluation results: the daily prune keeps what the bot reads back, drops the rest.

Kept: every run whose test date is within ``keep_days`` of today, and the runs of quarter-end test
dates (31 March, 30 June, 30 September, 31 December) forever, because the digest's sparklines and
breach history and the alerts' trends read them. ``keep_days`` 0 keeps everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from bot.store.repository import METRICS, RESULTS, RUNS

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
_CHUNK = 200  # runs per DELETE


def is_quarter_end(day: date) -> bool:
    return (day.month, day.day) in QUARTER_ENDS


@dataclass(frozen=True)
class Pruned:
    runs: int
    results: int
    before: date | None  # test dates before this one were pruned (quarter ends kept)


def prune_results(session: Session, today: date, keep_days: int) -> Pruned:
    """Delete the runs (and their results and metrics) older than ``keep_days`` that are not at a quarter end."""
    if keep_days <= 0:
        return Pruned(0, 0, None)
    cutoff = today - timedelta(days=keep_days)
    old = [run_id for run_id, as_of in session.execute(select(RUNS.c.id, RUNS.c.as_of).where(RUNS.c.as_of < cutoff))
           if not is_quarter_end(as_of)]
    results = 0
    for start in range(0, len(old), _CHUNK):
        chunk = old[start:start + _CHUNK]
        deleted = cast(CursorResult[Any], session.execute(delete(RESULTS).where(RESULTS.c.run_id.in_(chunk))))
        results += deleted.rowcount or 0
        session.execute(delete(METRICS).where(METRICS.c.run_id.in_(chunk)))
        session.execute(delete(RUNS).where(RUNS.c.id.in_(chunk)))
    return Pruned(len(old), results, cutoff)
