"""A dry-run check of a large book on several processes, rendered rows returned in order.

The parent splits the book into runs of facility ids; each worker process opens its own engine,
loads the price book and builds the ``Market`` once, then reads and evaluates one run at a time
and returns it rendered (one text per run). The parent writes the runs in facility_id order and
keeps at most two runs per worker in flight, so memory stays flat at any size.

Used only for `check --dry-run` without --facility (nothing is stored, so no shared transaction
is needed); each worker reads in its own transactions.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from typing import Callable, Sequence

from bot.domain.results import SEVERITY_ORDER, CovenantResult
from bot.domain.rulebook import Covenant, RuleSet

MIN_FACILITIES = 5000  # below this, starting processes costs more than it saves
MAX_WORKERS = 8
RUN_SIZE = 1000  # facilities a worker reads and evaluates at a time
IN_FLIGHT_PER_WORKER = 2

# (rendered rows joined by the separator, number of rows, worst severity or -1)
RenderedRun = tuple[str, int, int]

_worker: dict = {}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start_worker(url: str, ruleset: RuleSet, covenants: Sequence[Covenant], as_of: date,
                  render: Callable[[CovenantResult], str], separator: str) -> None:
    from bot.domain.market import Market
    from bot.domain.shocks import NO_SHOCKS
    from bot.store.db import make_engine, read_scope
    from bot.store.repository import load_price_book

    engine = make_engine(url)  # its own connections: none is shared with the parent
    with read_scope(engine) as session:
        prices = load_price_book(session)
    _worker.update(
        engine=engine, covenants=list(covenants), render=render, separator=separator,
        market=Market(prices, ruleset.valuation, ruleset.forecast, as_of, NO_SHOCKS),
    )


def _evaluate_run(first: str, last: str) -> RenderedRun:
    from bot.domain.evaluation import evaluate_facility
    from bot.store.db import read_scope
    from bot.store.repository import load_facility_range

    with read_scope(_worker["engine"]) as session:
        chunk = load_facility_range(session, first, last)
    market, covenants, render = _worker["market"], _worker["covenants"], _worker["render"]
    severity = SEVERITY_ORDER.__getitem__
    rows: list[str] = []
    worst = -1
    for data in chunk:
        for result in evaluate_facility(data, market, covenants):
            rows.append(render(result))
            worst = max(worst, severity(result.status))
    return _worker["separator"].join(rows), len(rows), worst


def _context():
    # fork: workers start at once and inherit the loaded modules and the rule set; the parent
    # has no open database connection and has flushed its output when it forks (see run_parallel)
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_parallel(
    url: str,
    ruleset: RuleSet,
    covenants: Sequence[Covenant],
    as_of: date,
    ranges: Sequence[tuple[str, str]],
    render: Callable[[CovenantResult], str],
    separator: str,
    on_run: Callable[[str, int, int], None],
    workers: int,
) -> None:
    """Evaluate each (first, last) facility-id range on ``workers`` processes; ``on_run(text, rows,
    worst)`` is called in the order of ``ranges``."""
    sys.stdout.flush()  # a forked child would otherwise write the parent's pending output again
    sys.stderr.flush()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_start_worker,
        initargs=(url, ruleset, tuple(covenants), as_of, render, separator),
    ) as pool:
        pending: deque = deque()
        todo = iter(ranges)
        limit = workers * IN_FLIGHT_PER_WORKER
        try:
            while True:
                while len(pending) < limit:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    pending.append(pool.submit(_evaluate_run, *nxt))
                if not pending:
                    return
                on_run(*pending.popleft().result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise
