"""A check of a large book on several processes, each run of facilities handed back in order.

The parent splits the book into runs of facility ids; each worker process opens its own engine
(``open_engine``, from the composition root), builds the ``Market`` once (``open_book``), then
reads and evaluates one run at a time through the same evaluation path as every other use case.
A run comes back rendered (one text, for `check --dry-run --format json`) and, when the parent
stores the results and advances the alerts (the daily job), with its results and facilities. The
parent takes the runs in facility_id order and keeps at most two runs per worker in flight, so
memory stays flat at any size.

Workers only read, each run in its own read transaction (the market at their start); the parent
alone writes. A run of facilities is one consistent snapshot; an import that commits while a large
book is being evaluated is seen by the runs read after it (the next check sees all of it).
"""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import sys
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy import Engine

from bot.domain.model import Facility
from bot.domain.results import SEVERITY_ORDER, CovenantResult
from bot.domain.rulebook import Covenant, RuleSet
from bot.notify import templates
from bot.store.db import read_scope, session_scope
from bot.store.repository import save_results
from bot.usecases.evaluate import evaluate_chunks, open_book

if TYPE_CHECKING:
    from bot.alerts.advance import Advanced

MIN_FACILITIES = 5000  # below this, starting processes costs more than it saves
MAX_WORKERS = 8
RUN_SIZE = 1000  # facilities a worker reads and evaluates at a time
IN_FLIGHT_PER_WORKER = 2

_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(CovenantResult))
_FACILITY_FIELDS = tuple(f.name for f in dataclasses.fields(Facility))


@dataclass(frozen=True)
class EvaluatedRun:
    """One run of facilities, evaluated by a worker. Results and facilities cross between the
    processes as plain tuples (a third cheaper to pickle and unpickle than the objects)."""

    text: str  # the rows rendered and joined ("" when nothing is rendered)
    rows: int
    worst: int  # the worst severity of the run, -1 when it has no result
    packed_results: list[tuple[Any, ...]] | None  # kept only when asked (the parent shows them)
    packed_facilities: list[tuple[Any, ...]] | None
    tally: dict[tuple[str, str], int] | None = None  # (covenant_id, status) -> results, for the daily job
    advanced: Advanced | None = None  # what advancing the run's alerts did (the daily job)

    @property
    def results(self) -> list[CovenantResult] | None:
        if self.packed_results is None:
            return None
        return [CovenantResult(*values) for values in self.packed_results]

    @property
    def facilities(self) -> list[Facility] | None:
        if self.packed_facilities is None:
            return None
        return [Facility(*values) for values in self.packed_facilities]


def _pack(items: Sequence[Any], fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(item, name) for name in fields) for item in items]


_worker: dict[str, Any] = {}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DailyJob:
    """What the workers of the daily job do besides evaluating: store each run's results in the
    unfinished run ``run_id`` and advance its alerts (see ``_store_and_advance``)."""

    run_id: int
    now: datetime
    default_slack_channel: str | None = None  # where an alert with no route of that kind goes
    default_email: str | None = None


def _start_worker(open_engine: Callable[[], Engine], ruleset: RuleSet, covenants: list[Covenant],
                  as_of: date, render: Callable[[CovenantResult], str] | None, separator: str, keep: bool,
                  templates_folder: str | None = None, daily: DailyJob | None = None) -> None:
    if templates_folder is not None:  # a spawned worker renders with the parent's templates
        templates.use_templates(functools.partial(Path, templates_folder))
    engine = open_engine()  # its own connections: none is shared with the parent
    with open_book(engine) as book:
        market = book.market(ruleset, as_of)
    _worker.update(engine=engine, covenants=list(covenants), render=render, separator=separator, market=market, as_of=as_of,
                   keep=keep, daily=daily, by_id={c.id: c for c in ruleset.covenants})
    if daily is not None:
        # the alerts' modules (rendering included) only where the daily job runs: the dry run's
        # workers stay as small as they were
        import bot.alerts.advance as alert_advance, bot.alerts.store as alert_store  # noqa: E401

        _worker.update(advance=alert_advance.advance_results, states_between=alert_store.load_states_between,
                       stage=alert_store.stage_states)
        with read_scope(engine) as session:  # every waiver in force: a handful
            _worker["waivers"] = alert_store.current_waivers(session)


def _evaluate_run(first: str, last: str) -> EvaluatedRun:
    with open_book(_worker["engine"]) as book:
        chunk = book.between(first, last)
    results = list(evaluate_chunks([chunk], _worker["market"], _worker["covenants"]))
    render = _worker["render"]
    text = _worker["separator"].join(map(render, results)) if render is not None else ""
    severity = SEVERITY_ORDER.__getitem__
    worst = max((severity(r.status) for r in results), default=-1)
    tally: dict[tuple[str, str], int] | None = None
    advanced = None
    if _worker["daily"] is not None:
        tally = dict(Counter((r.covenant_id, r.status) for r in results))
        advanced = _store_and_advance(_worker["daily"], first, last, results, [d.facility for d in chunk])
    if not _worker["keep"]:
        return EvaluatedRun(text, len(results), worst, None, None, tally, advanced)
    return EvaluatedRun(text, len(results), worst, _pack(results, _RESULT_FIELDS),
                        _pack([d.facility for d in chunk], _FACILITY_FIELDS), tally, advanced)


def _store_and_advance(daily: DailyJob, first: str, last: str, results: list[CovenantResult],
                       facilities: list[Facility]) -> Advanced:
    """The daily job's work on one run, here on the worker so the parent keeps only what changed:
    advance the alerts of facilities ``first`` … ``last`` from their stored states, then append the
    results to the unfinished run and stage the alert changes, in one short write transaction. The
    parent moves the staged changes into alert_states with their messages in the check's last
    transaction (``bot.usecases.notify``)."""
    engine = _worker["engine"]
    with read_scope(engine) as session:
        states = _worker["states_between"](session, first, last)
    by_id = {f.facility_id: f for f in facilities}
    advanced: Advanced = _worker["advance"](results, states, _worker["by_id"], _worker["waivers"], daily.now, by_id.get)
    with session_scope(engine) as session:
        save_results(session, daily.run_id, results)
        advanced.staged = _worker["stage"](session, daily.run_id, advanced.fresh, advanced.changed)
    advanced.fresh, advanced.changed = [], []  # staged: the parent need not hold them
    advanced.group(_worker["by_id"], daily.default_slack_channel, daily.default_email)
    return advanced


# What a worker started by the fork server has loaded before it is forked: everything a daily job's
# worker imports (``_start_worker``), so no evaluation pays Python's start-up and imports again.
PRELOAD = ("bot.usecases.check_pool", "bot.alerts.advance", "bot.alerts.store", "bot.alerts.inputs",
           "bot.notify.render_email", "bot.notify.render_slack", "bot.notify.outbox")


def _context() -> BaseContext:
    """fork where it is safe: workers start at once and inherit the loaded modules and the rule set
    (the parent has no open database connection and has flushed its output, see evaluated_runs).
    In a process with other threads (the service: its scheduler, Slack and HTTP threads) a fork
    could copy a lock some thread holds, so the workers are forked by multiprocessing's fork
    server instead: one single-threaded process, started (fork and exec) with the first pool and
    kept for the life of the service, that has covbot loaded (``PRELOAD``). A worker then starts
    in milliseconds, where a spawned one would import covbot again at every evaluation. Spawned
    where there is no fork server (not on Linux)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))  # read when the server starts (once)
        return context
    return multiprocessing.get_context("spawn")


class Pool:
    """The runs as they come back (``runs``, in order), and the same workers for other work once
    they are done: ``map`` a module-level function over items (each worker has the book's engine
    and ``Market``, see ``alert_details``)."""

    def __init__(self, runs: Iterator[EvaluatedRun], executor: ProcessPoolExecutor, workers: int):
        self.runs, self._executor, self._ahead = runs, executor, max(2, workers * IN_FLIGHT_PER_WORKER)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], ahead: int | None = None) -> Iterator[Any]:
        """``fn`` of each item, in order, as they come. The first ``ahead`` (default a few per
        worker) are submitted at once, so the workers start while the caller does other work; then
        one more each time a result is taken, never all at once (memory stays flat)."""
        pending: deque[Future[Any]] = deque()
        todo = iter(items)
        limit = ahead or self._ahead

        def fill() -> None:
            while len(pending) < limit:
                item = next(todo, _END)
                if item is _END:
                    return
                pending.append(self._executor.submit(fn, item))

        def results() -> Iterator[Any]:
            while pending:
                done = pending.popleft()
                fill()
                yield done.result()

        fill()
        return results()


_END = object()


def alert_details(keys: list[tuple[str, str]]) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[Any]]]:
    """In a worker: the `explain` inputs and the trends of these alerts (the alerts a message shows
    in full, ``bot.alerts.advance.alert_details``), with the worker's ``Market``."""
    from bot.alerts.advance import alert_details as details

    with read_scope(_worker["engine"]) as session:
        return details(session, _worker["market"], _worker["as_of"], keys)


@contextmanager
def evaluated_runs(
    open_engine: Callable[[], Engine],
    ruleset: RuleSet,
    covenants: Sequence[Covenant],
    as_of: date,
    ranges: Sequence[tuple[str, str]],
    workers: int,
    *,
    render: Callable[[CovenantResult], str] | None = None,
    separator: str = "",
    keep: bool = False,
    daily: DailyJob | None = None,
) -> Iterator[Pool]:
    """Evaluate each (first, last) facility-id range on ``workers`` processes; the runs come back
    in the order of ``ranges``, rendered with ``render`` (a module-level function) when given, with
    their results and facilities when ``keep``; with ``daily``, each worker also stores its runs'
    results and advances their alerts (``_store_and_advance``).

    The workers are started (forked) when the block is entered: open no database connection
    before, so none crosses into them; the parent may open its own inside the block."""
    sys.stdout.flush()  # a forked child would otherwise write the parent's pending output again
    sys.stderr.flush()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_start_worker,
        initargs=(open_engine, ruleset, list(covenants), as_of, render, separator, keep,
                  str(templates.templates_dir()), daily),
    ) as pool:
        pending: deque[Future[EvaluatedRun]] = deque()
        todo = iter(ranges)
        limit = workers * IN_FLIGHT_PER_WORKER

        def top_up() -> None:
            while len(pending) < limit:
                nxt = next(todo, None)
                if nxt is None:
                    return
                pending.append(pool.submit(_evaluate_run, *nxt))

        def runs() -> Iterator[EvaluatedRun]:
            while True:
                top_up()
                if not pending:
                    return
                yield pending.popleft().result()

        top_up()  # the workers start now, before the caller opens anything
        try:
            yield Pool(runs(), pool, workers)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


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
    with evaluated_runs(open_engine, ruleset, covenants, as_of, ranges, workers, render=render,
                        separator=separator) as pool:
        for run in pool.runs:
            on_run(run.text, run.rows, run.worst)
