"""Use case "check and notify": the daily job. Evaluate the book, store the run, advance every
alert and queue what must be said, then deliver. The alert changes, their audit rows and their
messages commit together, in one last short transaction (see ``check_and_notify``).

It streams: each result is stored, advanced and handed to the caller's output as it is computed,
in facility_id order, so memory stays flat at any size (only the events to send are kept until the
end). A whole book of at least ``check_pool.MIN_FACILITIES`` facilities is evaluated on every CPU
(``bot.usecases.check_pool``); this process stores, advances and writes while the workers evaluate.
Used by `covbot check` (unless --dry-run or --no-notify) and by each evaluation of `covbot run`.
Returns data; the caller renders it.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.alerts.advance import AlertAdvance, AlertRun
from bot.alerts.store import alert_epoch, claim_epoch, current_waivers, drop_staged_states
from bot.config import Settings
from bot.domain.model import Facility
from bot.domain.results import SEVERITY_ORDER, STATUSES_BY_SEVERITY, CovenantResult, Status
from bot.domain.rulebook import Covenant, RuleSet
from bot.notify.dispatcher import DispatchReport
from bot.store.db import read_scope, session_scope
from bot.store.repository import (
    delete_run,
    facility_records,
    finish_run,
    iter_run_results,
    save_results,
    start_run,
)
from bot.usecases import check_pool
from bot.usecases.check import RenderedRows, pool_plan
from bot.usecases.evaluate import chosen_covenants, evaluations


@dataclass
class CheckedRun:
    """What one check with notifications did (its results were handed over, not kept)."""

    as_of: date
    run_id: int
    ruleset: RuleSet
    alerts: AlertRun
    delivery: DispatchReport
    results: int = 0
    by_covenant: Counter[tuple[str, str]] = field(default_factory=Counter)  # (covenant, status) -> n

    @property
    def waived(self) -> dict[tuple[str, str], date]:
        """(facility_id, covenant_id) -> the date its waiver runs to, for the alerts shown as waived."""
        return self.alerts.waived

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {s: 0 for s in SEVERITY_ORDER}
        for (_, status), n in self.by_covenant.items():
            out[cast(Status, status)] += n
        return out

    def worst(self) -> Status | None:
        seen = [SEVERITY_ORDER[cast(Status, status)] for (_, status), n in self.by_covenant.items() if n]
        return STATUSES_BY_SEVERITY[max(seen)] if seen else None


log = logging.getLogger("covbot.check")

RESULTS_PER_TRANSACTION = 20_000  # results stored per short write transaction
INPUTS_PER_TASK = 250  # facilities whose alerts shown in full a worker details at a time (inputs, trends)
MESSAGES_AHEAD = 16  # grouped Slack messages and e-mails made ahead on the workers (their jobs held meanwhile)


def check_and_notify(
    engine: Engine,
    ruleset: RuleSet,
    as_of: date,
    *,
    now: datetime,
    routing: Settings,
    deliver: Callable[[], DispatchReport],
    facility_ids: Iterable[str] | None = None,
    covenant_ids: Iterable[str] | None = None,
    on_result: Callable[[CovenantResult], None] | None = None,
    on_facilities: Callable[[list[Facility]], None] | None = None,
    rendered: RenderedRows | None = None,
    worker_engine: Callable[[], Engine] | None = None,
) -> CheckedRun:
    """Evaluate, store, advance the alerts of and queue the notifications of one check, then
    ``deliver``. Each result goes to ``on_result`` (sorted by facility_id then covenant_id), each
    run of facilities first to ``on_facilities``. With ``worker_engine``, a whole large book is
    evaluated on several processes; with ``rendered`` too, their rows come back already rendered
    (``rendered.on_rows``) instead of through ``on_result``.

    No write lock is held while the book is evaluated (a service's heartbeat and a Slack click
    write meanwhile): the results are stored ``RESULTS_PER_TRANSACTION`` at a time in a run that
    stays unfinished (invisible to every reader of runs), the alert changes are kept, and one last
    transaction writes them with their audit rows and messages and finishes the run. If another
    check advanced the alerts in between, that transaction advances them again from the stored
    results (``_advance_again``), so two checks at once never send a message twice."""
    covenants = chosen_covenants(ruleset, covenant_ids)
    plan = pool_plan(engine, facility_ids) if worker_engine is not None else None
    with session_scope(engine) as session:
        run_id = start_run(session, "check", as_of, now, ruleset.digest)
        epoch = alert_epoch(session)
        waivers = current_waivers(session)
    advancing = AlertAdvance(lambda: read_scope(engine), ruleset, now, routing, waivers)
    tally: Counter[tuple[str, str]] = Counter()
    try:
        if plan is not None and worker_engine is not None:
            engine.dispose()  # no open connection crosses into the workers
            alerts = _on_workers(engine, worker_engine, plan, ruleset, covenants, as_of, run_id, now, advancing,
                                 tally, epoch, on_result, on_facilities, rendered)
        else:
            alerts = _here(engine, ruleset, as_of, run_id, advancing, tally, epoch, facility_ids, covenant_ids,
                           on_result, on_facilities)
    except BaseException:
        _discard(engine, run_id)
        raise
    checked = CheckedRun(as_of, run_id, ruleset, alerts, DispatchReport(), sum(tally.values()), tally)
    checked.delivery = deliver()
    return checked


def _on_workers(engine: Engine, worker_engine: Callable[[], Engine], plan: tuple[int, list[tuple[str, str]]],
                ruleset: RuleSet, covenants: Sequence[Covenant], as_of: date, run_id: int, now: datetime, advancing: AlertAdvance,
                tally: Counter[tuple[str, str]], epoch: int, on_result: Callable[[CovenantResult], None] | None,
                on_facilities: Callable[[list[Facility]], None] | None, rendered: RenderedRows | None) -> AlertRun:
    """A whole large book: the workers evaluate, store the results and advance the alerts, a run of
    facilities at a time; this process merges what changed and writes it in the last transaction."""
    workers, ranges = plan
    advancing.staged_for = run_id  # the workers stage the alert changes (check_pool._store_and_advance)
    hand_over = on_result if rendered is None else None
    keep = hand_over is not None or on_facilities is not None
    with check_pool.evaluated_runs(
            worker_engine, ruleset, covenants, as_of, ranges, workers, keep=keep,
            render=rendered.render if rendered is not None else None,
            separator=rendered.separator if rendered is not None else "",
            daily=check_pool.DailyJob(run_id, now, advancing.settings.default_slack_channel,
                                      advancing.settings.default_email)) as pool:
        for run in pool.runs:
            assert run.tally is not None and run.advanced is not None
            tally.update(run.tally)
            if keep:
                facilities, results = run.facilities, run.results
                assert facilities is not None and results is not None
                if on_facilities is not None:
                    on_facilities(facilities)
                if hand_over is not None:
                    for result in results:
                        hand_over(result)
            if rendered is not None:
                rendered.on_rows(run.text, run.rows, run.worst)
            advancing.merge(run.advanced)
        return _finish(engine, ruleset, run_id, now, advancing, epoch, pool)


def _here(engine: Engine, ruleset: RuleSet, as_of: date, run_id: int, advancing: AlertAdvance,
          tally: Counter[tuple[str, str]], epoch: int, facility_ids: Iterable[str] | None,
          covenant_ids: Iterable[str] | None, on_result: Callable[[CovenantResult], None] | None,
          on_facilities: Callable[[list[Facility]], None] | None) -> AlertRun:
    """Some facilities or a small book: evaluated, stored and advanced in this process."""

    def seen(facilities: list[Facility]) -> None:
        advancing.facilities_seen(facilities)
        if on_facilities is not None:
            on_facilities(facilities)

    rows: list[CovenantResult] = []
    for result in evaluations(engine, ruleset, as_of, facility_ids=facility_ids, covenant_ids=covenant_ids,
                              on_facilities=lambda chunk: seen([d.facility for d in chunk])):
        tally[(result.covenant_id, result.status)] += 1
        if on_result is not None:
            on_result(result)
        advancing.add(result)
        rows.append(result)
        if len(rows) >= RESULTS_PER_TRANSACTION:
            _store(engine, run_id, rows)
    _store(engine, run_id, rows)
    return _finish(engine, ruleset, run_id, advancing.now, advancing, epoch, None)


def _finish(engine: Engine, ruleset: RuleSet, run_id: int, now: datetime, advancing: AlertAdvance, epoch: int,
            pool: check_pool.Pool | None) -> AlertRun:
    """The last transaction: the alert changes, their audit rows and messages, and the run finished."""
    with session_scope(engine) as session:
        if not claim_epoch(session, epoch):
            drop_staged_states(session, run_id)
            advancing = _advance_again(session, ruleset, run_id, now, advancing.settings)
        alerts = advancing.finish(session, **_offloaded(pool))
        finish_run(session, run_id)
    return alerts


def _offloaded(pool: check_pool.Pool | None) -> dict[str, Any]:
    """What the workers, done evaluating, do of the messages' work: the `explain` inputs and trends
    of the alerts shown in full and the rendering of the e-mails (each on every CPU, not here)."""
    if pool is None:
        return {}

    def details_of(keys: list[tuple[str, str]]) -> Iterator[Any]:
        batches = list(_by_facilities(keys, INPUTS_PER_TASK))
        return pool.map(check_pool.alert_details, batches, ahead=len(batches))  # all submitted now: small

    return {"details_of": details_of, "map_": functools.partial(pool.map, ahead=MESSAGES_AHEAD)}


def _by_facilities(keys: list[tuple[str, str]], facilities: int) -> Iterator[list[tuple[str, str]]]:
    """``keys`` (sorted) in batches of the alerts of at most ``facilities`` facilities each (a
    facility's alerts in one batch: its inputs are read once)."""
    batch: list[tuple[str, str]] = []
    count = 0
    for key in keys:
        if not batch or key[0] != batch[-1][0]:
            if count == facilities:
                yield batch
                batch, count = [], 0
            count += 1
        batch.append(key)
    if batch:
        yield batch


def _advance_again(session: Session, ruleset: RuleSet, run_id: int, now: datetime, routing: Settings
                   ) -> AlertAdvance:
    """Another check advanced the alerts while this one evaluated (two checks at once): advance them
    again from this run's stored results, against the states as they are now, in ``session`` (which
    holds the write lock, so nothing moves in between). Rare; costs a second pass over the run."""
    log.info("another check advanced the alerts meanwhile: advancing them again from run %s", run_id)
    advancing = AlertAdvance(lambda: nullcontext(session), ruleset, now, routing, current_waivers(session),
                             facilities=facility_records(session))
    for result in iter_run_results(session, run_id):
        advancing.add(result)
    return advancing


def _discard(engine: Engine, run_id: int) -> None:
    """The check failed: remove its unfinished run, without hiding why it failed."""
    try:
        with session_scope(engine) as session:
            drop_staged_states(session, run_id)
            delete_run(session, run_id)
    except Exception:  # the database itself may be what failed
        log.warning("could not remove the unfinished run %s", run_id, exc_info=True)


def _store(engine: Engine, run_id: int, results: list[CovenantResult]) -> None:
    """Append ``results`` to the run in one short write transaction (and empty the list)."""
    if results:
        with session_scope(engine) as session:
            save_results(session, run_id, results)
        results.clear()
