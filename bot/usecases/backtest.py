"""Use case `covbot backtest`: evaluate every covenant point in time at each test date.

The portfolio and the price history are read once; each date gets its own Market and sees only
what was known on that day. Nothing is stored and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from sqlalchemy import Engine

from bot.domain.backtest import (
    PairHistory,
    Timeline,
    analyse,
    evaluate_timeline,
    forward_covenants,
    test_dates,
)
from bot.domain.rulebook import RuleSet
from bot.usecases.evaluate import open_book


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
    engine: Engine,
    ruleset: RuleSet,
    *,
    start: date,
    end: date,
    every: str = "1m",
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    dates = test_dates(start, end, every)  # BacktestInputError: the caller says which input is wrong
    with open_book(engine) as book:
        facilities = book.facilities()
        prices = book.prices
    timeline = evaluate_timeline(facilities, prices, ruleset, dates, progress)
    histories = analyse(timeline, forward_covenants(ruleset.covenants))
    borrowers = {d.facility_id: d.facility.borrower for d in facilities}
    return BacktestReport(start, end, every, ruleset, timeline, histories, borrowers)
