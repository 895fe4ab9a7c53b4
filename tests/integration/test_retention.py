"""COVBOT_RESULTS_KEEP_DAYS: the daily prune drops old evaluation results but keeps quarter ends."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select

from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold
from bot.store.db import session_scope
from bot.store.repository import RESULTS, RUNS, save_evaluation
from bot.store.retention import prune_results

TODAY = date(2026, 12, 3)
DAYS = (date(2024, 12, 31), date(2025, 1, 15), date(2025, 6, 30), date(2025, 10, 28), date(2025, 11, 1),
        date(2026, 11, 30), TODAY)


def _result(day: date) -> CovenantResult:
    threshold = Threshold.parse(">= 1.25")
    return CovenantResult("FAC-1", "min-dscr", "dscr_ttm", day, Decimal("1.3"), threshold, "ok",
                          threshold.headroom(Decimal("1.3")), None)


def _stored_dates(engine) -> list[date]:
    with session_scope(engine) as session:
        return sorted(session.scalars(select(RUNS.c.as_of)).all())


def test_results_older_than_the_retention_go_quarter_ends_stay(engine):
    with session_scope(engine) as session:
        for day in DAYS:
            save_evaluation(session, "check", day, datetime(2026, 12, 3, tzinfo=timezone.utc), "d", [_result(day)])
    with session_scope(engine) as session:
        pruned = prune_results(session, TODAY, keep_days=400)  # cut-off 2025-10-29
    assert pruned.runs == 2 and pruned.results == 2 and pruned.before == date(2025, 10, 29)
    assert _stored_dates(engine) == [date(2024, 12, 31), date(2025, 6, 30), date(2025, 11, 1),
                                     date(2026, 11, 30), TODAY]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(RESULTS)) == 5
        assert prune_results(session, TODAY, keep_days=400).runs == 0  # nothing more to do


def test_zero_keeps_everything(engine):
    with session_scope(engine) as session:
        save_evaluation(session, "check", date(2020, 1, 2), datetime(2026, 12, 3, tzinfo=timezone.utc), "d",
                        [_result(date(2020, 1, 2))])
    with session_scope(engine) as session:
        assert prune_results(session, TODAY, keep_days=0).runs == 0
    assert _stored_dates(engine) == [date(2020, 1, 2)]


def test_the_daily_prune_drops_alert_changes_staged_by_a_check_that_will_never_finish(engine):
    from bot.alerts import store
    from bot.alerts.lifecycle import AlertState
    from bot.alerts.tables import AlertStateChanges
    from bot.store.repository import finish_run, start_run
    from bot.usecases.retention import prune_old_results

    now = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)
    row = store.state_row(AlertState("FAC-1", "min-dscr", state="pending", status="breach", as_of=date(2026, 3, 2)))
    with session_scope(engine) as session:
        running, done = start_run(session, "check", date(2026, 3, 2), now, "x"), start_run(session, "check", date(2026, 3, 1), now, "x")
        finish_run(session, done, now)
        for run_id in (running, done, 9999):  # a check still running, one finished, one whose run is gone
            store.stage_states(session, run_id, [row], [])
    prune_old_results(engine, 400, date(2026, 3, 2))
    with session_scope(engine) as session:
        assert [r for (r,) in session.execute(select(AlertStateChanges.c.run_id))] == [running]
