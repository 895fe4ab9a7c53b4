"""Use cases: what the CLI and the scheduler call. Each builds its adapters from settings.

No printing here; callers render the returned values.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

from bot.config import Settings
from bot.dates import utc_now
from bot.domain.results import SEVERITY_ORDER, CovenantResult
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError

ProgressFn = Callable[[str, int, int], None]


def load_ruleset(settings: Settings, rules_path: str | None) -> RuleSet:
    from bot.rulefiles.loader import load_rules

    path = rules_path or settings.rules
    if not Path(path).exists():
        raise UsageError(f"The rules path {path!r} does not exist; give --rules PATH or set COVBOT_RULES.")
    return load_rules(path)


def open_engine(settings: Settings):
    from bot.store.db import open_database

    return open_database(settings.database_url)


def import_data(settings: Settings, path: str | Path, progress: ProgressFn | None = None):
    from bot.imports import import_directory

    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path!r} does not exist; give a folder of CSV files, one CSV file or an Excel workbook (.xlsx).")
    return import_directory(open_engine(settings), p, progress=progress)


@dataclass
class CheckOutcome:
    as_of: date
    results: list[CovenantResult]
    run_id: int | None
    ruleset: RuleSet
    facilities: dict[str, object] = field(default_factory=dict)  # facility_id -> Facility
    # (facility_id, covenant_id) -> the date its waiver runs to, for alerts shown as waived
    # (filled by notify_after_check; empty with --no-notify or --dry-run)
    waived: dict[tuple[str, str], date] = field(default_factory=dict)

    def worst(self) -> str | None:
        if not self.results:
            return None
        return max((r.status for r in self.results), key=SEVERITY_ORDER.__getitem__)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in SEVERITY_ORDER}
        for r in self.results:
            out[r.status] += 1
        return out


def _chosen_covenants(ruleset: RuleSet, covenant_ids: Iterable[str] | None) -> list:
    covenants = list(ruleset.covenants)
    if covenant_ids is not None:
        wanted = set(covenant_ids)
        unknown = wanted - {c.id for c in covenants}
        if unknown:
            raise UsageError(f"No covenant with id {', '.join(sorted(unknown))} in the rule set.")
        covenants = [c for c in covenants if c.id in wanted]
    return covenants


def iter_evaluations(
    engine,
    ruleset: RuleSet,
    as_of: date,
    *,
    facility_ids: Iterable[str] | None = None,
    covenant_ids: Iterable[str] | None = None,
    shocks=None,
    chunk_size: int = 2000,
    on_facilities: Callable[[list], None] | None = None,
    session=None,
) -> Iterator[CovenantResult]:
    """Evaluate every covenant at every facility it applies to, streaming chunk by chunk.

    Reads in ``session`` when given (so a caller can store results in the same transaction).
    """
    from bot.domain.evaluation import evaluate_facility
    from bot.domain.market import Market
    from bot.domain.shocks import NO_SHOCKS
    from bot.store.db import read_scope
    from bot.store.repository import iter_facility_chunks, load_facilities, load_price_book

    covenants = _chosen_covenants(ruleset, covenant_ids)
    with read_scope(engine) if session is None else nullcontext(session) as session:
        prices = load_price_book(session)
        market = Market(prices, ruleset.valuation, ruleset.forecast, as_of, shocks or NO_SHOCKS)
        if facility_ids is not None:
            ids = sorted(set(facility_ids))
            loaded = load_facilities(session, ids)
            chunks: Iterable[list] = [loaded]
            missing = set(ids) - {d.facility_id for d in loaded}
            if missing:
                raise UsageError(f"No facility with id {', '.join(sorted(missing))} is stored.")
        else:
            chunks = iter_facility_chunks(session, chunk_size=chunk_size)
        for chunk in chunks:
            if on_facilities:
                on_facilities(chunk)
            for data in chunk:
                yield from evaluate_facility(data, market, covenants)


def run_check(
    settings: Settings,
    *,
    rules_path: str | None,
    as_of: date,
    facility_ids: list[str] | None = None,
    covenant_ids: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    ruleset: RuleSet | None = None,
) -> CheckOutcome:
    from bot.store.db import session_scope
    from bot.store.repository import save_evaluation

    ruleset = ruleset or load_ruleset(settings, rules_path)  # the service passes its live rule set
    engine = open_engine(settings)
    started = now or utc_now()
    facilities: dict[str, object] = {}

    def remember(chunk):
        for d in chunk:
            facilities[d.facility_id] = d.facility

    results = list(
        iter_evaluations(
            engine, ruleset, as_of,
            facility_ids=facility_ids, covenant_ids=covenant_ids, on_facilities=remember,
        )
    )
    run_id = None
    if not dry_run:
        with session_scope(engine) as session:
            run_id = save_evaluation(session, "check", as_of, started, ruleset.digest, results)
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
    settings: Settings,
    on_result: Callable[[CovenantResult], None],
    *,
    rules_path: str | None,
    as_of: date,
    facility_ids: list[str] | None = None,
    covenant_ids: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    rendered: RenderedRows | None = None,
) -> int | None:
    """`check` in flat memory: each result goes to ``on_result`` as it is computed (sorted by
    facility_id then covenant_id) and, unless ``dry_run``, is stored in bulk inserts in the same
    transaction as the reads. Returns the run id (None for a dry run). Sends nothing.

    With ``rendered``, a dry run of a whole book of at least ``check_pool.MIN_FACILITIES``
    facilities is evaluated on every available CPU (``bot.usecases.check_pool``) and handed over rendered,
    in the same order, instead of through ``on_result``."""
    from bot.store.db import session_scope
    from bot.store.repository import save_evaluation

    ruleset = load_ruleset(settings, rules_path)
    engine = open_engine(settings)
    started = now or utc_now()
    if dry_run and rendered is not None and facility_ids is None:
        if _dry_run_in_parallel(settings, engine, ruleset, as_of, covenant_ids, rendered):
            return None
    with session_scope(engine, read_only=dry_run) as session:
        results = iter_evaluations(
            engine, ruleset, as_of, facility_ids=facility_ids, covenant_ids=covenant_ids, session=session,
        )
        if dry_run:
            for r in results:
                on_result(r)
            return None

        def passed_on():
            for r in results:
                on_result(r)
                yield r

        return save_evaluation(session, "check", as_of, started, ruleset.digest, passed_on())


def stream_check_and_alert(
    settings: Settings,
    on_result: Callable[[CovenantResult], None],
    *,
    rules_path: str | None,
    as_of: date,
    facility_ids: list[str] | None = None,
    covenant_ids: list[str] | None = None,
    now: datetime | None = None,
    dispatch_budget: float | None = None,
) -> str:
    """`check` with alerts in flat memory: each result goes to ``on_result`` as it is computed, is
    stored in bulk and advances its alert chunk by chunk, all in one transaction (results, alert
    state, audit and outbox commit together); then the outbox is dispatched. Returns the short
    report of `notify_after_check`."""
    from bot.alerts.service import AlertAdvance, describe_notifications
    from bot.notify.dispatcher import dispatch
    from bot.store.db import session_scope
    from bot.store.repository import save_evaluation

    ruleset = load_ruleset(settings, rules_path)
    engine = open_engine(settings)
    started = now or utc_now()
    with session_scope(engine) as session:
        advancing = AlertAdvance(session, ruleset, started, settings)
        results = iter_evaluations(engine, ruleset, as_of, facility_ids=facility_ids, covenant_ids=covenant_ids,
                                   session=session, on_facilities=advancing.facilities_seen)

        def passed_on():
            for r in results:
                on_result(r)
                advancing.add(r)
                yield r

        save_evaluation(session, "check", as_of, started, ruleset.digest, passed_on())
        run = advancing.finish()
    budget = settings.dispatch_budget_seconds if dispatch_budget is None else dispatch_budget
    return describe_notifications(run, dispatch(settings, engine, budget_seconds=budget), settings)


def _dry_run_in_parallel(settings: Settings, engine, ruleset: RuleSet, as_of: date,
                         covenant_ids: Iterable[str] | None, rendered: RenderedRows) -> bool:
    """Run the dry run on worker processes; False (nothing done) for a small book or one CPU."""
    from bot.usecases import check_pool
    from bot.store.db import read_scope
    from bot.store.repository import count_facilities, facility_id_ranges

    covenants = _chosen_covenants(ruleset, covenant_ids)
    workers = min(check_pool.available_cpus(), check_pool.MAX_WORKERS)
    if workers < 2:
        return False
    with read_scope(engine) as session:
        if count_facilities(session) < check_pool.MIN_FACILITIES:
            return False
        ranges = facility_id_ranges(session, check_pool.RUN_SIZE)
    engine.dispose()  # no open connection crosses into the workers
    check_pool.run_parallel(settings.database_url, ruleset, covenants, as_of, ranges,
                            rendered.render, rendered.separator, rendered.on_rows, workers)
    return True


def explain(settings: Settings, *, rules_path: str | None, facility_id: str, as_of: date):
    from bot.domain.evaluation import evaluate_facility
    from bot.domain.explain import explain_facility
    from bot.domain.market import Market
    from bot.domain.shocks import NO_SHOCKS
    from bot.store.db import read_scope
    from bot.store.repository import load_facilities, load_price_book

    ruleset = load_ruleset(settings, rules_path)
    engine = open_engine(settings)
    with read_scope(engine) as session:
        found = load_facilities(session, [facility_id])
        if not found:
            raise UsageError(f"No facility with id {facility_id!r} is stored; import it first.")
        prices = load_price_book(session)
    data = found[0]
    market = Market(prices, ruleset.valuation, ruleset.forecast, as_of, NO_SHOCKS)
    covenants = list(ruleset.covenants)
    return data, explain_facility(data, market, covenants), evaluate_facility(data, market, covenants)


def notify_after_check(settings: Settings, outcome: CheckOutcome, now: datetime | None = None,
                       dispatch_budget: float | None = None) -> str:
    """Advance every alert and queue its notifications (one transaction), then dispatch the outbox
    within ``dispatch_budget`` seconds (default COVBOT_DISPATCH_BUDGET_SECONDS; the service passes 0
    and leaves delivery to its dispatch job); returns a short rich-markup report for `covbot check`."""
    from bot.alerts.service import advance_alerts, describe_notifications
    from bot.notify.dispatcher import dispatch
    from bot.store.db import session_scope

    engine = open_engine(settings)
    with session_scope(engine) as session:
        run = advance_alerts(session, outcome.results, outcome.ruleset, outcome.facilities,
                             now or utc_now(), settings)
    outcome.waived = dict(run.waived)
    budget = settings.dispatch_budget_seconds if dispatch_budget is None else dispatch_budget
    report = dispatch(settings, engine, budget_seconds=budget)
    return describe_notifications(run, report, settings)
