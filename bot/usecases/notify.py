"""Use case "check and notify": the daily job. Evaluate the book, store the run, advance every
alert and queue what must be said, in ONE transaction, then deliver.

It streams: each result is stored, advanced and handed to the caller's output as it is computed,
in facility_id order, so memory stays flat at any size (only the events to send are kept until the
end). A whole book of at least ``check_pool.MIN_FACILITIES`` facilities is evaluated on every CPU
(``bot.usecases.check_pool``); this process stores, advances and writes while the workers evaluate.
Used by `covbot check` (unless --dry-run or --no-notify) and by each evaluation of `covbot run`.
Returns data; the caller renders it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from bot.alerts.advance import AlertAdvance, AlertRun
from bot.config import Settings
from bot.domain.model import Facility
from bot.domain.results import SEVERITY_ORDER, STATUSES_BY_SEVERITY, CovenantResult, Status
from bot.domain.rulebook import RuleSet
from bot.notify.dispatcher import DispatchReport
from bot.store.db import session_scope
from bot.store.repository import save_evaluation
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
            out[status] += n  # type: ignore[index]
        return out

    def worst(self) -> Status | None:
        seen = [SEVERITY_ORDER[status] for (_, status), n in self.by_covenant.items() if n]
        return STATUSES_BY_SEVERITY[max(seen)] if seen else None


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
    (``rendered.on_rows``) instead of through ``on_result``."""
    covenants = chosen_covenants(ruleset, covenant_ids)
    plan = pool_plan(engine, facility_ids) if worker_engine is not None else None
    tally: Counter[tuple[str, str]] = Counter()
    source: AbstractContextManager[Iterator[check_pool.EvaluatedRun] | None] = nullcontext(None)
    if plan is not None and worker_engine is not None:
        workers, ranges = plan
        source = check_pool.evaluated_runs(
            worker_engine, ruleset, covenants, as_of, ranges, workers, keep=True,
            render=rendered.render if rendered is not None else None,
            separator=rendered.separator if rendered is not None else "")
    with source as runs, session_scope(engine) as session:  # the workers start first: see evaluated_runs
        advancing = AlertAdvance(session, ruleset, now, routing)

        def seen(facilities: list[Facility]) -> None:
            advancing.facilities_seen(facilities)
            if on_facilities is not None:
                on_facilities(facilities)

        def pooled() -> Iterator[CovenantResult]:
            assert runs is not None
            for run in runs:
                assert run.results is not None and run.facilities is not None
                seen(run.facilities)
                if rendered is not None:
                    rendered.on_rows(run.text, run.rows, run.worst)
                yield from run.results

        def here() -> Iterator[CovenantResult]:
            yield from evaluations(engine, ruleset, as_of, facility_ids=facility_ids, covenant_ids=covenant_ids,
                                   session=session, on_facilities=lambda chunk: seen([d.facility for d in chunk]))

        def passed_on() -> Iterator[CovenantResult]:
            hand_over = on_result if (runs is None or rendered is None) else None
            for result in pooled() if runs is not None else here():
                tally[(result.covenant_id, result.status)] += 1
                if hand_over is not None:
                    hand_over(result)
                advancing.add(result)
                yield result

        run_id = save_evaluation(session, "check", as_of, now, ruleset.digest, passed_on())
        alerts = advancing.finish()
    checked = CheckedRun(as_of, run_id, ruleset, alerts, DispatchReport(), sum(tally.values()), tally)
    checked.delivery = deliver()
    return checked
