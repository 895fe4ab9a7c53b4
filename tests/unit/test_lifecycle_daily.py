"""The daily job's two shortcuts give exactly what the step-by-step lifecycle gives.

1. ``advance`` shortcuts an alert at rest (inactive, nothing counting) that is met again;
2. the daily job writes an alert back only when ``changed`` says so: a stored state may keep the
   annotations (value, test date, threshold, headroom) of an older evaluation.

Random sequences of evaluations (repeated test dates included, with waivers, cure
periods, reminders and pending counts) are fed both ways; the events must be the same at every step
and the stored state the same but for its annotations.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.lifecycle import ANNOTATIONS, AlertState, _advance, advance, at_rest, changed
from bot.alerts.waivers import Waiver
from bot.domain.results import CovenantResult
from bot.domain.rulebook import AlertOptions, Covenant
from bot.domain.thresholds import Threshold

MUST_BE = Threshold.parse(">= 1.25")
DAY0 = date(2026, 1, 5)
VALUES = {"ok": "1.60", "warning": "1.30", "breach": "1.10", "no_data": None}


def _result(status: str, day: int, wobble: int) -> CovenantResult:
    text = VALUES[status]
    value = Decimal(text) + Decimal(wobble) / 1000 if text is not None else None
    return CovenantResult("FAC-1", "min-dscr", "dscr_ttm", DAY0 + timedelta(days=day), value, MUST_BE, status,
                          MUST_BE.headroom(value) if value is not None else None, None if value else "no data")


def _without_annotations(state: AlertState) -> dict:
    return {k: v for k, v in state.__dict__.items() if k not in ANNOTATIONS}


# test dates never go back here (the same date again, yes): a check of an earlier date re-run
# among later ones is pinned separately below
steps = st.lists(st.tuples(st.sampled_from(["ok", "ok", "ok", "warning", "breach", "no_data"]),
                           st.integers(0, 3), st.integers(0, 9)), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps=steps, pending=st.integers(1, 3), keep=st.integers(1, 3), cure=st.one_of(st.none(), st.integers(0, 20)),
       remind=st.one_of(st.none(), st.integers(1, 10)), waived_until=st.one_of(st.none(), st.integers(0, 60)))
def test_shortcuts_give_the_same_events_and_material_state(steps, pending, keep, cure, remind, waived_until):
    cov = Covenant(id="min-dscr", must_be=MUST_BE, metric="dscr_ttm", warn_at=Threshold.parse(">= 1.40"),
                   severity="high", alert=AlertOptions(pending_evaluations=pending, keep_firing_evaluations=keep,
                                                       cure_days=cure,
                                                       remind_every=timedelta(days=remind) if remind else None))
    waiver = None
    if waived_until is not None:
        waiver = Waiver("FAC-1", "min-dscr", DAY0 + timedelta(days=waived_until), "amendment", "a@bank.example",
                        datetime(2026, 1, 1, tzinfo=timezone.utc))
    stored: AlertState | None = None  # what the daily job keeps in the database
    reference: AlertState | None = None  # step by step, every state kept
    day = 0
    for status, delta, wobble in steps:
        day = max(0, day + delta)
        result = _result(status, day, wobble)
        now = datetime.combine(result.as_of, time(6), tzinfo=timezone.utc)
        nxt, events = advance(stored, result, cov, now, waiver)
        expected, expected_events = _advance(reference or AlertState("FAC-1", "min-dscr"), result, cov, now, waiver)
        assert events == expected_events
        assert _without_annotations(nxt) == _without_annotations(expected)
        if changed(stored, nxt):
            stored = nxt
        reference = expected
        if stored is None:  # nothing stored: the alert is at rest
            assert at_rest(reference)
        else:
            assert _without_annotations(stored) == _without_annotations(reference)


def test_a_steady_day_changes_nothing_to_write():
    cov = Covenant(id="min-dscr", must_be=MUST_BE, metric="dscr_ttm", severity="high", alert=AlertOptions())
    first, _ = advance(None, _result("ok", 0, 0), cov, datetime(2026, 1, 5, tzinfo=timezone.utc), None)
    assert not changed(None, first)  # an alert at rest is not even stored
    again, events = advance(first, _result("ok", 1, 5), cov, datetime(2026, 1, 6, tzinfo=timezone.utc), None)
    assert events == [] and not changed(first, again)
    assert again.last_value == Decimal("1.605") and again.as_of == DAY0 + timedelta(days=1)
    breach, events = advance(again, _result("breach", 2, 0), cov, datetime(2026, 1, 7, tzinfo=timezone.utc), None)
    assert [e.kind for e in events] == ["firing"] and changed(again, breach)


def test_an_earlier_test_date_run_again_does_not_count_a_later_one_twice():
    cov = Covenant(id="min-dscr", must_be=MUST_BE, metric="dscr_ttm", severity="high",
                   alert=AlertOptions(keep_firing_evaluations=2))
    state, kinds = None, []
    for status, day in (("breach", 0), ("ok", 1), ("ok", 0), ("ok", 1), ("ok", 2)):
        state, events = advance(state, _result(status, day, 0), cov,
                                datetime.combine(DAY0 + timedelta(days=day), time(6), tzinfo=timezone.utc), None)
        kinds.append([e.kind for e in events])
    assert kinds == [["firing"], [], [], [], ["resolved"]]
    assert state.as_of == DAY0 + timedelta(days=2)


def test_the_daily_job_skips_a_met_covenant_without_a_stored_alert_as_advance_would():
    """Most of a book on most days: met, no alert stored. ``advance_results`` skips it without
    advancing; ``advance`` says the same (nothing to write, no event)."""
    from bot.alerts.advance import advance_results

    cov = Covenant(id="min-dscr", must_be=MUST_BE, metric="dscr_ttm", severity="high", alert=AlertOptions())
    now = datetime(2026, 1, 5, 6, tzinfo=timezone.utc)
    state, events = advance(None, _result("ok", 0, 0), cov, now, None)
    assert events == [] and not changed(None, state)
    skipped = advance_results([_result("ok", 0, 0)], {}, {"min-dscr": cov}, {}, now, lambda fid: None)
    assert (skipped.fresh, skipped.changed, skipped.audit, skipped.notified, skipped.kinds) == ([], [], [], [], {})
    breach = advance_results([_result("breach", 0, 0)], {}, {"min-dscr": cov}, {}, now, lambda fid: None)
    assert len(breach.fresh) == 1 and breach.kinds == {"firing": 1}
    stored = AlertState("FAC-1", "min-dscr", state="firing", alert_status="breach", status="breach", as_of=DAY0)
    cured = advance_results([_result("ok", 1, 0)], {("FAC-1", "min-dscr"): stored}, {"min-dscr": cov}, {}, now,
                            lambda fid: None)
    assert cured.kinds == {"resolved": 1}  # a stored alert is advanced as ever
