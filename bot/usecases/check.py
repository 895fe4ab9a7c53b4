"""Use case `covbot check`: evaluate the book at the test date and store the run.

``run_check`` keeps the results (for the table, the alerts and the service); ``stream_check``
hands each result over as it is computed (memory flat at any size) and, for a dry run of a whole
large book, evaluates on several processes (``bot.usecases.check_pool``). Both go through the one
evaluation path (``bot.usecases.evaluate``). Nothing is printed or sent here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from bot.domain.model import Facility, FacilityData
from bot.domain.results import SEVERITY_ORDER, CovenantResult, Status
from bot.domain.rulebook import RuleSet
from bot.store.db import read_scope, session_scope
from bot.store.repository import count_facilities, facility_id_ranges, save_evaluation
from bot.usecases import check_pool
from bot.usecases.evaluate import chosen_covenants, evaluations


@dataclass
class CheckOutcome:
    as_of: date
    results: list[CovenantResult]
    run_id: int | None
    ruleset: RuleSet
    facilities: dict[str, Facility] = field(default_factory=dict)

    def worst(self) -> Status | None:
        if not self.results:
            return None
        return max((r.status for r in self.results), key=SEVERITY_ORDER.__getitem__)

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {s: 0 for s in SEVERITY_ORDER}
        for r in self.results:
            out[r.status] += 1
        return out


def run_check(
    engine: Engine,
    ruleset: RuleSet,
    as_of: date,
    *,
    now: datetime,
    facility_ids: Iterable[str] | None = None,
    covenant_ids: Iterable[str] | None = None,
    dry_run: bool = False,
) -> CheckOutcome:
    """Evaluate and (unless ``dry_run``) store one run of kind "check"."""
    facilities: dict[str, Facility] = {}

    def remember(chunk: list[FacilityData]) -> None:
        for d in chunk:
            facilities[d.facility_id] = d.facility

    results = list(evaluations(engine, ruleset, as_of, facility_ids=facility_ids,
                               covenant_ids=covenant_ids, on_facilities=remember))
    run_id = None
    if not dry_run:
        with session_scope(engine) as session:
            run_id = save_evaluation(session, "check", as_of, now, ruleset.digest, results)
    return CheckOutcome(as_of, results, run_id, ruleset, facilities)


@dataclass(frozen=True)
class RenderedRows:
    """How `stream_check` may hand over rows already rendered, a run of facilities at a time:
    ``render`` (a module-level function) turns a result into text, runs are joined with
    ``separator`` and passed to ``on_rows(text, rows, worst severity or -1)``."""

    render: Callable[[CovenantResult], str]
    separator: str
    on_rows: Callable[[str, int, int], None]


def stream_check(
    engine: Engine,
    ruleset: RuleSet,
    as_of: date,
    on_result: Callable[[CovenantResult], None],
    *,
    now: datetime,
    facility_ids: Iterable[str] | None = None,
    covenant_ids: Iterable[str] | None = None,
    dry_run: bool = False,
    rendered: RenderedRows | None = None,
    worker_engine: Callable[[], Engine] | None = None,
) -> int | None:
    """`check` in flat memory: each result goes to ``on_result`` as it is computed (sorted by
    facility_id then covenant_id) and, unless ``dry_run``, is stored in bulk inserts in the same
    transaction as the reads. Returns the run id (None for a dry run). Sends nothing.

    With ``rendered`` and ``worker_engine``, a dry run of a whole book of at least
    ``check_pool.MIN_FACILITIES`` facilities is evaluated on every available CPU and handed over
    rendered, in the same order, instead of through ``on_result``."""
    if dry_run and rendered is not None and worker_engine is not None and facility_ids is None:
        if _dry_run_in_parallel(engine, worker_engine, ruleset, as_of, covenant_ids, rendered):
            return None
    with session_scope(engine, read_only=dry_run) as session:
        results = evaluations(engine, ruleset, as_of, facility_ids=facility_ids,
                              covenant_ids=covenant_ids, session=session)
        if dry_run:
            for r in results:
                on_result(r)
            return None

        def passed_on() -> Iterator[CovenantResult]:
            for r in results:
                on_result(r)
                yield r

        return save_evaluation(session, "check", as_of, now, ruleset.digest, passed_on())


def pool_plan(engine: Engine, facility_ids: Iterable[str] | None) -> tuple[int, list[tuple[str, str]]] | None:
    """(workers, runs of facility ids) to evaluate the whole book on several processes, or None
    (some facilities only, a small book or one CPU: evaluating here costs less). Leaves no
    connection open, so the workers can be forked next."""
    workers = min(check_pool.available_cpus(), check_pool.MAX_WORKERS)
    if workers < 2 or facility_ids is not None:
        return None
    with read_scope(engine) as session:
        if count_facilities(session) < check_pool.MIN_FACILITIES:
            return None
        ranges = facility_id_ranges(session, check_pool.RUN_SIZE)
    engine.dispose()  # no open connection crosses into the workers
    return workers, ranges


def _dry_run_in_parallel(engine: Engine, worker_engine: Callable[[], Engine], ruleset: RuleSet, as_of: date,
                         covenant_ids: Iterable[str] | None, rendered: RenderedRows) -> bool:
    """Run the dry run on worker processes; False (nothing done) for a small book or one CPU."""
    covenants = chosen_covenants(ruleset, covenant_ids)
    plan = pool_plan(engine, None)
    if plan is None:
        return False
    workers, ranges = plan
    check_pool.run_parallel(worker_engine, ruleset, covenants, as_of, ranges,
                            rendered.render, rendered.separator, rendered.on_rows, workers)
    return True
