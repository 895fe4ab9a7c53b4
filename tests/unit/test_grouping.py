"""Grouping: a flood of events for one route goes as one message."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from bot.alerts.grouping import group_for_delivery
from bot.alerts.lifecycle import AlertEvent
from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold

AS_OF = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 6, tzinfo=timezone.utc)


def event(n: int, notify: bool = True) -> AlertEvent:
    facility = f"FAC-{n:03d}"
    res = CovenantResult(facility, "max-ltv", "ltv", AS_OF, Decimal("0.82"), Threshold.parse("<= 0.70"),
                         "breach", Decimal("-0.17"), None)
    return AlertEvent("firing", facility, "max-ltv", "breach", "ok", "high", notify, NOW, AS_OF, res)


def test_up_to_threshold_events_stay_single():
    events = [event(i) for i in range(10)]
    groups = group_for_delivery({"#credit-alerts": events})
    assert len(groups) == 10
    assert all(not g.grouped and g.route == "#credit-alerts" for g in groups)
    assert [g.events[0] for g in groups] == events


def test_more_than_threshold_events_go_as_one_group():
    events = [event(i) for i in range(11)]
    groups = group_for_delivery({"#credit-alerts": events, "risk@lender.example": events[:2]})
    assert [(g.route, len(g.events), g.grouped) for g in groups] == [
        ("#credit-alerts", 11, True), ("risk@lender.example", 1, False), ("risk@lender.example", 1, False),
    ]
    assert groups[0].events == tuple(events)


def test_threshold_is_configurable_and_counts_only_notifying_events():
    events = [event(1), event(2), event(3, notify=False), event(4)]
    assert [len(g.events) for g in group_for_delivery({"C1": events}, threshold=2)] == [3]
    assert [len(g.events) for g in group_for_delivery({"C1": events}, threshold=3)] == [1, 1, 1]
    assert group_for_delivery({"C1": [event(5, notify=False)], "C2": []}) == []


def test_threshold_below_one_is_refused():
    with pytest.raises(ValueError):
        group_for_delivery({"C1": [event(1)]}, threshold=0)
