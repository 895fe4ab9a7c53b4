"""The alert lifecycle, driven over sequences of test dates with a virtual clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from bot.alerts.lifecycle import AlertState, advance
from bot.alerts.waivers import Waiver
from bot.domain.results import CovenantResult
from bot.domain.rulebook import AlertOptions, Covenant
from bot.domain.thresholds import Threshold

MUST_BE = Threshold.parse(">= 1.25")
DAY0 = date(2026, 1, 5)
VALUES = {"ok": "1.60", "warning": "1.30", "breach": "1.10", "no_data": None}


def covenant(**options) -> Covenant:
    return Covenant(
        id="min-dscr", must_be=MUST_BE, metric="dscr_ttm", warn_at=Threshold.parse(">= 1.40"),
        severity="high", alert=AlertOptions(**options),
    )


def result(status: str, day: int, value: str | None = "default") -> CovenantResult:
    text = VALUES[status] if value == "default" else value
    number = Decimal(text) if text is not None else None
    return CovenantResult(
        facility_id="FAC-1", covenant_id="min-dscr", metric="dscr_ttm", as_of=DAY0 + timedelta(days=day),
        value=number, threshold=MUST_BE, status=status,
        headroom=MUST_BE.headroom(number) if number is not None else None,
        reason="3 of 4 quarters reported" if number is None else None,
    )


def clock(day: int) -> datetime:
    return datetime.combine(DAY0 + timedelta(days=day), time(6, 0), tzinfo=timezone.utc)


class Timeline:
    """Feeds one evaluation per test date through advance(), keeping the state."""

    def __init__(self, cov: Covenant, waiver: Waiver | None = None):
        self.cov, self.waiver = cov, waiver
        self.state: AlertState | None = None
        self.events = []

    def at(self, day: int, status: str, value: str | None = "default"):
        self.state, events = advance(self.state, result(status, day, value), self.cov, clock(day), self.waiver)
        self.events += events
        return events

    def kinds(self, day: int, status: str, value: str | None = "default") -> list[str]:
        return [e.kind for e in self.at(day, status, value)]


def test_full_lifecycle_fire_remind_escalate_default_improve_cure():
    t = Timeline(covenant(cure_days=30, remind_every=timedelta(days=7)))
    seen: dict[int, list[str]] = {}
    plan = ["warning"] * 10 + ["breach"] * 45 + ["warning", "ok", "ok"]
    for day, status in enumerate(plan):
        kinds = t.kinds(day, status)
        if kinds:
            seen[day] = kinds
    assert seen == {
        0: ["firing"],  # warning fires at once (pending_evaluations=1)
        7: ["reminder"],  # exactly 7 days after the last notification, not on day 6
        10: ["escalated"],  # warning -> breach; the breach clock starts on day 10
        17: ["reminder"],
        24: ["reminder"],
        31: ["reminder"],
        38: ["reminder"],
        40: ["event_of_default"],  # 30 days after day 10, once
        47: ["reminder"],
        54: ["reminder"],
        55: ["improved"],  # breach -> warning
        56: ["resolved"],  # cured
    }
    escalated = next(e for e in t.events if e.kind == "escalated")
    assert (escalated.previous_status, escalated.status, escalated.notify) == ("warning", "breach", True)
    improved = next(e for e in t.events if e.kind == "improved")
    assert (improved.previous_status, improved.status) == ("breach", "warning")
    resolved = t.events[-1]
    assert (resolved.previous_status, resolved.status, resolved.notify) == ("warning", "ok", True)
    assert t.state.state == "inactive" and t.state.breach_since is None and not t.state.eod_sent


def test_reminder_not_before_remind_every():
    t = Timeline(covenant(remind_every=timedelta(days=7)))
    t.at(0, "breach")
    state, events = advance(t.state, result("breach", 6), t.cov, clock(7) - timedelta(seconds=1), None)
    assert events == []
    state, events = advance(state, result("breach", 7), t.cov, clock(7), None)
    assert [e.kind for e in events] == ["reminder"] and events[0].notify
    assert state.last_notified_at == clock(7)


def test_no_reminders_when_remind_every_is_none():
    t = Timeline(covenant(remind_every=None))
    kinds = [k for day in range(60) for k in t.kinds(day, "breach")]
    assert kinds == ["firing"]


def test_event_of_default_is_critical_and_emitted_once():
    t = Timeline(covenant(cure_days=5))
    kinds = {day: t.kinds(day, "breach") for day in range(12)}
    assert kinds[0] == ["firing"] and kinds[4] == [] and kinds[5] == ["event_of_default"]
    eod = [e for e in t.events if e.kind == "event_of_default"]
    assert len(eod) == 1
    assert eod[0].severity == "critical" and eod[0].notify and eod[0].status == "breach"
    assert t.events[0].severity == "high"  # other events carry the covenant's severity


def test_no_data_does_not_cure_a_breach_or_stop_its_clock():
    t = Timeline(covenant(cure_days=5))
    assert t.kinds(0, "breach") == ["firing"]
    assert t.kinds(1, "no_data") == []  # missing data is not an improvement
    assert t.state.alert_status == "breach" and t.state.breach_since == DAY0
    assert [t.kinds(d, "no_data") for d in (2, 3, 4)] == [[], [], []]
    assert t.kinds(5, "no_data") == ["event_of_default"]


def test_pending_evaluations_hold_back_flapping():
    t = Timeline(covenant(pending_evaluations=2))
    for day, status in enumerate(["ok", "breach", "ok", "breach", "ok"]):
        assert t.kinds(day, status) == []
    assert t.state.state == "inactive"
    assert t.kinds(5, "breach") == [] and t.state.state == "pending"
    assert t.kinds(6, "breach") == ["firing"]
    assert t.state.fired_at == clock(6)


def test_breach_then_no_data_while_pending_fires_as_breach_with_its_clock():
    t = Timeline(covenant(pending_evaluations=2, cure_days=3))
    assert t.kinds(0, "breach") == []
    events = t.at(1, "no_data")
    assert [(e.kind, e.status) for e in events] == [("firing", "breach")]
    assert t.state.breach_since == DAY0
    assert t.kinds(3, "no_data") == ["event_of_default"]


def test_pending_counts_any_bad_status_and_fires_with_the_current_one():
    t = Timeline(covenant(pending_evaluations=2))
    assert t.kinds(0, "warning") == []
    events = t.at(1, "breach")
    assert [(e.kind, e.status, e.previous_status) for e in events] == [("firing", "breach", "ok")]


def test_rerunning_the_same_test_date_does_not_count_twice():
    t = Timeline(covenant(pending_evaluations=2))
    assert t.kinds(0, "breach") == []
    assert t.kinds(0, "breach") == [] and t.state.candidate_count == 1
    assert t.kinds(1, "breach") == ["firing"]


def test_keep_firing_evaluations_one_ok_does_not_resolve():
    t = Timeline(covenant(keep_firing_evaluations=2))
    t.at(0, "breach")
    assert t.kinds(1, "ok") == [] and t.state.state == "firing"
    assert t.kinds(2, "breach") == []  # the ok run was broken: still the same alert
    assert t.kinds(3, "ok") == []
    assert t.kinds(4, "ok") == ["resolved"]
    assert t.state.state == "inactive"


def test_keep_firing_also_confirms_an_improvement():
    t = Timeline(covenant(keep_firing_evaluations=2))
    t.at(0, "breach")
    assert t.kinds(1, "warning") == []
    assert t.kinds(2, "warning") == ["improved"]


def test_no_data_fires_and_resolves_when_data_returns():
    t = Timeline(covenant())
    events = t.at(0, "no_data")
    assert [(e.kind, e.status, e.notify) for e in events] == [("firing", "no_data", True)]
    assert events[0].result.reason == "3 of 4 quarters reported"
    assert t.kinds(1, "ok") == ["resolved"]


def test_status_order_warning_then_no_data_then_breach_escalates():
    t = Timeline(covenant())
    assert t.kinds(0, "warning") == ["firing"]
    assert t.kinds(1, "no_data") == ["escalated"]
    assert t.kinds(2, "breach") == ["escalated"]
    assert t.kinds(3, "warning") == ["improved"]


def test_notify_on_filters_notifications_but_keeps_events():
    t = Timeline(covenant(notify_on=("breach",)))
    assert t.kinds(0, "warning") == ["firing"] and not t.events[-1].notify
    assert t.kinds(1, "breach") == ["escalated"] and t.events[-1].notify
    assert t.kinds(2, "ok") == ["resolved"]
    assert t.events[-1].notify is False


def test_no_reminder_for_a_status_not_notified():
    t = Timeline(covenant(notify_on=("breach", "resolved")))
    kinds = [k for day in range(20) for k in t.kinds(day, "warning")]
    assert kinds == ["firing"]


def test_value_change_alone_makes_no_new_alert():
    t = Timeline(covenant())
    t.at(0, "breach", "1.10")
    fired_at = t.state.fired_at
    assert t.kinds(1, "breach", "0.95") == []
    assert t.state.fired_at == fired_at and t.state.state == "firing"
    assert t.state.last_value == Decimal("0.95")
    assert t.state.headroom == Decimal("-0.24")


def test_a_new_alert_after_resolution_fires_again():
    t = Timeline(covenant())
    t.at(0, "breach")
    t.at(1, "ok")
    assert t.kinds(2, "breach") == ["firing"]
    assert t.state.fired_at == clock(2) and t.state.breach_since == DAY0 + timedelta(days=2)


def waiver(until_day: int) -> Waiver:
    return Waiver("FAC-1", "min-dscr", DAY0 + timedelta(days=until_day), "Q3 capex overrun agreed",
                  "credit@lender.example", clock(0))


def test_waiver_suppresses_notifications_and_expiry_reopens():
    t = Timeline(covenant(cure_days=5), waiver=waiver(10))
    events = t.at(0, "breach")
    assert [(e.kind, e.notify) for e in events] == [("firing", False), ("waived", True)]
    assert events[1].waiver.until == DAY0 + timedelta(days=10)
    assert t.state.waived and t.state.state == "firing"
    quiet = [e for day in range(1, 11) for e in t.at(day, "breach")]
    assert quiet == []  # no reminder, no event of default while the breach is excused
    events = t.at(11, "breach")
    assert [(e.kind, e.notify) for e in events] == [("waiver_expired", True)]
    assert not t.state.waived
    assert t.state.breach_since == DAY0 + timedelta(days=11)  # the cure period restarts after expiry
    assert [t.kinds(d, "breach") for d in range(12, 16)] == [[], [], [], []]
    assert t.kinds(16, "breach") == ["event_of_default"]


def test_waiver_escalation_is_recorded_but_not_notified():
    t = Timeline(covenant(), waiver=waiver(10))
    t.at(0, "warning")
    events = t.at(1, "breach")
    assert [(e.kind, e.notify) for e in events] == [("escalated", False)]
    assert t.state.alert_status == "breach" and t.state.waived


def test_cure_while_waived_is_notified_and_clears_the_waiver():
    t = Timeline(covenant(), waiver=waiver(10))
    t.at(0, "breach")
    events = t.at(1, "ok")
    assert [(e.kind, e.notify) for e in events] == [("resolved", True)]
    assert not t.state.waived
    assert t.kinds(20, "ok") == []  # no waiver_expired for an alert already resolved


def test_waiver_granted_on_a_firing_alert():
    t = Timeline(covenant())
    t.at(0, "breach")
    t.waiver = waiver(3)
    assert t.kinds(1, "breach") == ["waived"]
    t.waiver = None  # withdrawn
    assert t.kinds(2, "breach") == ["waiver_expired"]


def test_mismatched_identity_is_refused():
    t = Timeline(covenant())
    t.at(0, "breach")
    other = replace(result("breach", 1), facility_id="FAC-2")
    with pytest.raises(ValueError):
        advance(t.state, other, t.cov, clock(1), None)
