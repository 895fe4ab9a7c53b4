"""The events to send, routed as they arrive and kept per route in a file (bot.alerts.routed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bot.alerts import routed
from bot.alerts.lifecycle import AlertEvent
from bot.alerts.routed import RoutedEvents, Unpacker, pack, sort_key
from bot.config import Settings
from bot.domain.model import Facility
from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold
from bot.rulefiles.loader import load_rules

DAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 6, tzinfo=dt.timezone.utc)
RULES = """
covenants:
  - id: min-dscr
    metric: dscr_ttm
    must_be: ">= 1.25"
    severity: high
    notify: {slack: ["#credit"]}
"""


def _facility(i: int, email: str | None) -> Facility:
    return Facility(f"FAC-{i:03d}", f"Borrower {i}", "gpu_abl", "USD", Decimal(100), Decimal(50), DAY, DAY,
                    owner_email=email)


def _event(fid: str, value: str) -> AlertEvent:
    result = CovenantResult(fid, "min-dscr", "dscr_ttm", DAY, Decimal(value), Threshold.parse(">= 1.25"),
                            "breach", (Decimal(value) - Decimal("1.25")) / Decimal("1.25"), None)
    return AlertEvent("firing", fid, "min-dscr", "breach", "ok", "high", True, NOW, DAY, result)


def test_each_route_gives_back_its_events_in_order_and_keeps_only_the_worst_in_memory(monkeypatch, tmp_path):
    monkeypatch.setattr(routed, "FLUSH", 4)  # most of them go to the file
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    ruleset = load_rules(tmp_path / "rules.yaml")
    covenants = {c.id: c for c in ruleset.covenants}
    events = RoutedEvents(Settings(_env_file=None, COVBOT_GROUP_THRESHOLD=5))
    sent = []
    for start in range(0, 120, 30):  # four runs of facilities, each grouped by route as a worker does
        notified = []
        for i in range(start, start + 30):
            facility = _facility(i, "ana@bank.example" if i % 2 else None)
            event = _event(facility.facility_id, f"1.{200 - i:03d}")  # later facilities are worse
            notified.append((sort_key(event), pack(event, facility)))
            sent.append((event, facility))
        groups = routed.by_routes(notified, covenants, None, None)
        assert [(slack, email, len(items)) for slack, email, items in groups] == [
            (("#credit",), (), 15), (("#credit",), ("ana@bank.example",), 15)]  # in the order they first appear
        assert events.add_run(groups, len(notified)) == []  # every event has a route
    channel, address = events.routes()  # the channel first: Slack is queued before e-mail
    assert (channel.name, channel.count, address.name, address.count) == ("#credit", 120, "ana@bank.example", 60)
    assert channel.chunks and len(channel.top) < 2 * channel.keep  # on disk, the worst few in memory
    back = events.events_of(channel, Unpacker())
    assert [(e, f) for e, f, _ in back] == sent  # made again exactly, in arrival order
    assert all(first for *_, first in back)  # the channel carries every event first ...
    assert not any(first for *_, first in events.events_of(address, Unpacker()))  # ... the e-mail none
    assert [(e, f) for e, f, _ in events.events_of(address, Unpacker())] == sent[1::2]
    assert events.shown(channel, Unpacker()) == []  # a grouped Slack message: one line each, none in full
    shown = [e.facility_id for _, e, _ in events.shown(address, Unpacker())]  # the e-mail: its worst ten
    assert shown == [f"FAC-{i:03d}" for i in range(119, 99, -2)]
    assert events.latest == DAY
    events.close()


def test_events_without_a_route_come_back_unrouted_in_arrival_order(tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES.replace('    notify: {slack: ["#credit"]}\n', ""), encoding="utf-8")
    ruleset = load_rules(tmp_path / "rules.yaml")
    events = RoutedEvents(Settings(_env_file=None))
    notified = []
    for i in range(4):
        facility = _facility(i, "ana@bank.example" if i == 2 else None)
        event = _event(facility.facility_id, "1.1")
        notified.append((sort_key(event), pack(event, facility)))
    groups = routed.by_routes(notified, {c.id: c for c in ruleset.covenants}, None, None)
    unrouted = events.add_run(groups, len(notified))
    assert [packed[1] for packed in unrouted] == ["FAC-000", "FAC-001", "FAC-003"]
    [address] = events.routes()
    assert address.name == "ana@bank.example" and address.count == 1
    defaults = routed.by_routes(notified, {c.id: c for c in ruleset.covenants}, "#team", "risk@bank.example")
    assert [(slack, email, len(items)) for slack, email, items in defaults] == [
        (("#team",), ("risk@bank.example",), 3), (("#team",), ("ana@bank.example",), 1)]
    events.close()


def test_a_packed_event_is_made_again_exactly_with_its_waiver():
    from dataclasses import replace

    from bot.alerts.waivers import Waiver

    facility = replace(_facility(7, "ana@bank.example"), slack_channel="#fac-7")
    waiver = Waiver(facility.facility_id, "min-dscr", DAY, "cure agreed", "bob@bank.example", NOW)
    event = replace(_event(facility.facility_id, "1.0999999999999999999999"), waiver=waiver, kind="waived")
    import marshal

    assert Unpacker()(marshal.loads(marshal.dumps(pack(event, facility)))) == (event, facility)
