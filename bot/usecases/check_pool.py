"""A dry-run check of a large book on several processes, rendered rows returned in order.

The parent splits the book into runs of facility ids; each worker process opens its own engine
(``open_engine``, from the composition root), builds the ``Market`` once (``open_book``), then
reads and evaluates one run at a time through the same evaluation path as every other use case
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
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from multiprocessing.context import BaseContext
from typing import Any, Callable, Sequence

from sqlalchemy import Engine

from bot.domain.results import SEVERITY_ORDER, CovenantResult
from bot.domain.rulebook import Covenant, RuleSet
from bot.usecases.evaluate import evaluate_chunks, open_book

MIN_FACILITIES = 5000  # below this, starting processes costs more than it saves
MAX_WORKERS = 8
RUN_SIZE = 1000  # facilities a worker reads and evaluates at a time
IN_FLIGHT_PER_WORKER = 2

# (rendered rows joined by the separator, number of rows, worst severity or -1)
RenderedRun = tuple[str, int, int]

_worker: dict[str, Any] = {}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start_worker(open_engine: Callable[[], Engine], ruleset: RuleSet, covenants: list[Covenant],
                  as_of: date, render: Callable[[CovenantResult], str], separator: str) -> None:
    engine = open_engine()  # its own connections: none is shared with the parent
    with open_book(engine) as book:
        market = book.market(ruleset, as_of)
    _worker.update(engine=engine, covenants=list(covenants), render=render, separator=separator, market=market)


def _evaluate_run(first: str, last: str) -> RenderedRun:
    with open_book(_worker["engine"]) as book:
        chunk = book.between(first, last)
    render = _worker["render"]
    severity = SEVERITY_ORDER.__getitem__
    rows: list[str] = []
    worst = -1
    for result in evaluate_chunks([chunk], _worker["market"], _worker["covenants"]):
        rows.append(render(result))
        worst = max(worst, severity(result.status))
    return _worker["separator"].join(rows), len(rows), worst


def _context() -> BaseContext:
    # fork: workers start at once and inherit the loaded modules and the rule set; the parent
    # has no open database connection and has flushed its output when it forks (see run_parallel)
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_parallel(
    open_engine: Callable[[], Engine],
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
        initargs=(open_engine, ruleset, list(covenants), as_of, render, separator),
    ) as pool:
        pending: deque[Future[RenderedRun]] = deque()
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
