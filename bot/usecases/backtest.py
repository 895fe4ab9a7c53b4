"""Use case `covbot backtest`: evaluate every covenant point in time at each test date.

The portfolio and the price history are read once; each date gets its own Market and sees only
what was known on that day. Nothing is stored and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from bot.config import Settings
from bot.domain.backtest import (
    BacktestInputError,
    PairHistory,
    Timeline,
    analyse,
    evaluate_timeline,
    forward_covenants,
    test_dates,
)
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.usecases.check import load_ruleset, open_engine


@dataclass
class BacktestReport:
    start: date
    end: date
    every: str
    ruleset: RuleSet
    timeline: Timeline
    histories: list[PairHistory]  # sorted by facility_id, covenant_id
    borrowers: dict[str, str]

    @property
    def dates(self) -> tuple[date, ...]:
        return self.timeline.dates


def run_backtest(
    settings: Settings,
    *,
    rules_path: str | None,
    start: date,
    end: date,
    every: str = "1m",
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    from bot.store.db import read_scope
    from bot.store.repository import load_facilities, load_price_book

    try:
        dates = test_dates(start, end, every)
    except BacktestInputError as exc:
        raise UsageError(str(exc)) from None
    ruleset = load_ruleset(settings, rules_path)
    with read_scope(open_engine(settings)) as session:
        facilities = load_facilities(session)
        prices = load_price_book(session)
    timeline = evaluate_timeline(facilities, prices, ruleset, dates, progress)
    histories = analyse(timeline, forward_covenants(ruleset.covenants))
    borrowers = {d.facility_id: d.facility.borrower for d in facilities}
    return BacktestReport(start, end, every, ruleset, timeline, histories, borrowers)
