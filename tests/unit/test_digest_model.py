"""The digest model on hand-built results: counts and exposure, sorting by worst headroom, changes
since the last digest, breach age and cure deadlines, reporting deadlines, waivers, trends."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from bot.alerts.waivers import Waiver
from bot.digest.model import (
    DigestInputs,
    FacilityInfo,
    PastDigest,
    breach_since,
    build_digest_model,
    last_compliant_day,
)
from bot.digest.trend import DOWN, FLAT, NONE, UP, Point, direction, previous_quarter_ends, spark, text_bar
from bot.domain.results import CovenantResult
from bot.domain.rulebook import AlertOptions, Covenant
from bot.domain.thresholds import Threshold

T = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)
PREVIOUS = date(2026, 11, 13)

DSCR = Covenant(id="min-dscr", must_be=Threshold.parse(">= 1.25"), metric="dscr_ttm", title="Minimum DSCR",
                alert=AlertOptions(cure_days=30))
LTV = Covenant(id="max-ltv", must_be=Threshold.parse("<= 0.70"), metric="ltv")
REPORTING = Covenant(id="reporting", must_be=Threshold.parse("<= 135"), metric="days_since_period_end")
COVENANTS = (DSCR, LTV, REPORTING)


def fac(fid: str, outstanding: str, currency: str = "USD") -> FacilityInfo:
    return FacilityInfo(fid, f"Borrower of {fid}", "gpu_abl", currency, D(outstanding))


def res(fid: str, cid: str, status: str, headroom: str | None, *, as_of: date = T, value: str | None = "1",
        threshold: str = ">= 1.25", metric: str = "dscr_ttm") -> CovenantResult:
    return CovenantResult(
        fid, cid, metric, as_of, None if status == "no_data" else D(value), Threshold.parse(threshold), status,
        None if headroom is None else D(headroom), "no financials reported" if status == "no_data" else None,
    )


def digest(current, **kw):
    facilities = kw.pop("facilities", None) or {
        fid: fac(fid, "100") for fid in {r.facility_id for r in current}
    }
    return build_digest_model(DigestInputs(T, NOW, facilities, COVENANTS, current, **kw))


# -- counts and exposure ---------------------------------------------------------------------------


def test_counts_facilities_under_their_worst_status_with_the_outstanding_behind_them():
    facilities = {
        "A": fac("A", "100"), "B": fac("B", "250"), "C": fac("C", "40", "EUR"), "D": fac("D", "7"),
        "E": fac("E", "1000"),  # no covenant applies: counted in the total, in no status
    }
    current = [
        res("A", "min-dscr", "breach", "-0.10"), res("A", "max-ltv", "ok", "0.30"),
        res("B", "min-dscr", "warning", "0.05"), res("B", "max-ltv", "no_data", None),
        res("C", "min-dscr", "ok", "0.40"), res("C", "max-ltv", "breach", "-0.02"),
        res("D", "min-dscr", "ok", "0.20"),
    ]
    d = digest(current, facilities=facilities)

    counts = {c.status: (c.facilities, c.covenants, {m.currency: m.amount for m in c.exposure}) for c in d.counts}
    assert counts == {
        "breach": (2, 2, {"USD": D("100"), "EUR": D("40")}),
        "no_data": (1, 1, {"USD": D("250")}),  # no_data is worse than warning
        "warning": (0, 1, {}),
        "ok": (1, 3, {"USD": D("7")}),
    }
    assert [c.status for c in d.counts] == ["breach", "no_data", "warning", "ok"]
    assert d.facilities_total == 5
    assert d.untested == ("E",)
    assert {m.currency: m.amount for m in d.exposure_total} == {"EUR": D("40"), "USD": D("1357")}


def test_facilities_are_sorted_by_worst_headroom_and_those_without_any_headroom_come_last():
    current = [
        res("OK", "min-dscr", "ok", "0.50"),
        res("NODATA", "min-dscr", "no_data", None),
        res("DEEP", "min-dscr", "ok", "0.90"), res("DEEP", "max-ltv", "breach", "-0.30"),
        res("SHALLOW", "min-dscr", "breach", "-0.05"),
        res("WARN", "min-dscr", "warning", "0.04"),
    ]
    d = digest(current)
    assert [f.facility.facility_id for f in d.facilities] == ["DEEP", "SHALLOW", "WARN", "OK", "NODATA"]
    deep = d.facilities[0]
    assert deep.worst_headroom == D("-0.30") and deep.worst_status == "breach"
    assert [ln.result.covenant_id for ln in deep.covenants] == ["max-ltv", "min-dscr"]  # worst first


# -- changes since the last digest -----------------------------------------------------------------


def test_new_breaches_and_cures_are_measured_against_the_last_digest():
    before = [
        res("A", "min-dscr", "ok", "0.10", as_of=PREVIOUS),
        res("B", "min-dscr", "breach", "-0.10", as_of=PREVIOUS),
        res("C", "min-dscr", "breach", "-0.10", as_of=PREVIOUS),
        res("D", "min-dscr", "breach", "-0.10", as_of=PREVIOUS),
        res("E", "min-dscr", "breach", "-0.20", as_of=PREVIOUS),
    ]
    current = [
        res("A", "min-dscr", "breach", "-0.05"),  # new breach
        res("B", "min-dscr", "warning", "0.02"),  # cured (to warning)
        res("C", "min-dscr", "ok", "0.30"),  # cured
        res("D", "min-dscr", "no_data", None),  # missing data cures nothing
        res("E", "min-dscr", "breach", "-0.25"),  # still in breach: not new
        res("F", "min-dscr", "breach", "-0.01"),  # not evaluated at the last digest: new
    ]
    d = digest(current, previous=PastDigest(PREVIOUS, NOW - timedelta(days=7)), previous_results=before)

    assert [(c.facility.facility_id, c.before) for c in d.new_breaches] == [("A", "ok"), ("F", None)]
    assert [(c.facility.facility_id, c.line.result.status) for c in d.cures] == [("B", "warning"), ("C", "ok")]
    line = next(f for f in d.facilities if f.facility.facility_id == "E").covenants[0]
    assert line.since_last == DOWN  # headroom −20 % → −25 %


def test_without_an_earlier_digest_nothing_is_new_and_nothing_is_cured():
    d = digest([res("A", "min-dscr", "breach", "-0.05")])
    assert d.previous is None
    assert d.new_breaches == () and d.cures == ()
    assert d.facilities[0].covenants[0].since_last == NONE


# -- open breaches ---------------------------------------------------------------------------------


def test_breach_age_runs_back_over_missing_data_and_stops_at_a_better_status():
    history = [
        (date(2026, 11, 13), "breach"),
        (date(2026, 11, 6), "no_data"),
        (date(2026, 10, 30), "breach"),
        (date(2026, 10, 23), "warning"),
        (date(2026, 10, 16), "breach"),
    ]
    assert breach_since(T, history) == date(2026, 10, 30)
    assert breach_since(T, []) == T
    assert breach_since(T, [(date(2026, 11, 13), "ok")]) == T


def test_open_breaches_carry_age_and_the_cure_deadline_of_the_covenant():
    current = [
        res("A", "min-dscr", "breach", "-0.10"),
        res("B", "min-dscr", "breach", "-0.20"),
        res("A", "max-ltv", "breach", "-0.05", threshold="<= 0.70", metric="ltv"),
    ]
    history = {
        ("A", "min-dscr"): [(date(2026, 11, 13), "breach"), (date(2026, 10, 10), "breach"), (date(2026, 10, 1), "ok")],
        ("B", "min-dscr"): [(date(2026, 11, 13), "breach")],
    }
    waiver = Waiver("B", "min-dscr", date(2026, 12, 31), "refinancing agreed", "pm@lender.example", NOW)
    d = digest(current, breach_history=history, waivers=[waiver])

    by_key = {b.line.key: b for b in d.open_breaches}
    a = by_key[("A", "min-dscr")]
    assert (a.since, a.age_days, a.cure_deadline, a.days_to_cure) == (date(2026, 10, 10), 41, date(2026, 11, 9), -11)
    b = by_key[("B", "min-dscr")]
    assert (b.since, b.cure_deadline, b.days_to_cure, b.waived_until) == (
        date(2026, 11, 13), date(2026, 12, 13), 23, date(2026, 12, 31))
    ltv = by_key[("A", "max-ltv")]
    assert (ltv.since, ltv.cure_deadline, ltv.days_to_cure) == (T, None, None)
    # the soonest end of a cure period first, breaches without a cure period last
    assert [b.line.key for b in d.open_breaches] == [("A", "min-dscr"), ("B", "min-dscr"), ("A", "max-ltv")]


# -- reporting deadlines ---------------------------------------------------------------------------


def test_reporting_deadlines_are_the_last_compliant_day_after_the_latest_period_end():
    def reporting(fid, days, status):
        headroom = None if days is None else str((D(135) - D(days)) / D(135))
        return res(fid, "reporting", status, headroom, value=days, threshold="<= 135",
                   metric="days_since_period_end")

    current = [
        reporting("SOON", "120", "ok"),  # period end 2026-07-23, due 2026-12-05
        reporting("LATE", "143", "breach"),  # due 2026-11-12: 8 days overdue
        reporting("FAR", "20", "ok"),  # due in 115 days: outside the window
        reporting("TODAY", "135", "ok"),  # due today
        reporting("NONE", None, "no_data"),
    ]
    d = digest(current)
    assert [(r.facility.facility_id, r.due, r.days_left) for r in d.deadlines_due] == [
        ("TODAY", T, 0), ("SOON", date(2026, 12, 5), 15)]
    assert [(r.facility.facility_id, r.period_end, r.due, r.days_left) for r in d.deadlines_overdue] == [
        ("LATE", date(2026, 6, 30), date(2026, 11, 12), -8), ("NONE", None, None, None)]


@pytest.mark.parametrize("op, limit, days", [("<=", "135", 135), ("<", "135", 134), ("<=", "135.5", 135),
                                             ("<", "135.5", 135), (">=", "10", None)])
def test_last_compliant_day(op, limit, days):
    assert last_compliant_day(op, D(limit)) == days


# -- waivers ---------------------------------------------------------------------------------------


def test_waivers_expiring_within_the_window_and_none_when_not_tracked():
    current = [res("A", "min-dscr", "breach", "-0.1")]
    waivers = [
        Waiver("A", "min-dscr", date(2026, 12, 1), "equity cure pending", "pm@lender.example", NOW),
        Waiver("B", "max-ltv", date(2027, 3, 1), "collateral top-up", "pm@lender.example", NOW),
        Waiver("C", "max-ltv", date(2026, 11, 19), "expired yesterday", "pm@lender.example", NOW),
    ]
    d = digest(current, waivers=waivers)
    assert [(w.facility_id, w.until, w.days_left, w.title) for w in d.waivers_expiring] == [
        ("A", date(2026, 12, 1), 11, "Minimum DSCR")]
    assert digest(current).waivers_expiring is None


# -- trends ----------------------------------------------------------------------------------------


def test_quarterly_history_and_the_trend_over_the_year():
    q = previous_quarter_ends(T)
    assert q == (date(2025, 12, 31), date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30))
    quarters = {
        q[0]: [res("A", "min-dscr", "ok", "0.40", as_of=q[0])],
        q[1]: [],  # not evaluated then
        q[2]: [res("A", "min-dscr", "ok", "0.30", as_of=q[2])],
        q[3]: [res("A", "min-dscr", "warning", "0.08", as_of=q[3])],
    }
    d = digest([res("A", "min-dscr", "breach", "-0.05")], quarters=quarters)
    line = d.facilities[0].covenants[0]
    assert [p.status for p in line.history] == ["ok", None, "ok", "warning", "breach"]
    assert line.over_year == DOWN
    assert d.quarter_ends == q
    assert spark(line.history) == "█·▆▃▁"  # scaled between −5 % and +40 %, a dot where none


@pytest.mark.parametrize("before, after, expected", [
    (("ok", "0.30"), ("ok", "0.35"), UP),
    (("ok", "0.30"), ("ok", "0.305"), FLAT),  # within the 1-point steady band
    (("ok", "0.30"), ("ok", "0.20"), DOWN),
    (("ok", "0.105"), ("warning", "0.10"), DOWN),  # a worse status outranks a tiny headroom change
    (("breach", "-0.01"), ("warning", "0.01"), UP),
    (("no_data", None), ("no_data", None), FLAT),
    ((None, None), ("ok", "0.2"), NONE),
])
def test_direction(before, after, expected):
    def point(status_headroom):
        status, headroom = status_headroom
        return Point(T, status, None if headroom is None else D(headroom))

    assert direction(point(before), point(after)) == expected


def test_previous_quarter_ends_exclude_the_test_date_itself():
    assert previous_quarter_ends(date(2026, 12, 31), 2) == (date(2026, 6, 30), date(2026, 9, 30))
    assert previous_quarter_ends(date(2026, 1, 1), 1) == (date(2025, 12, 31),)


def test_text_bar_is_clamped_and_two_sided():
    assert text_bar(D("-0.30")) == "··███|··········"
    assert text_bar(D("0.60")) == "·····|██████····"
    assert text_bar(D("-9")) == "█████|··········"
    assert text_bar(D("5")) == "·····|██████████"
    assert text_bar(None) == "·····|··········"


# -- layout helpers --------------------------------------------------------------------------------


def test_fit_lines_stops_before_the_limit_and_says_how_many_more():
    from bot.digest.slack import fit_lines

    lines = [f"• line {i:03d} " + "x" * 80 for i in range(100)]
    text = fit_lines("*Open breaches* (100)", lines, limit=3000)
    assert len(text) <= 3000
    shown = text.count("• line")
    assert 0 < shown < 100 and text.endswith(f"_+{100 - shown} more_")
    assert fit_lines("*Cures*", lines[:3], max_lines=2).endswith("_+1 more_")
    assert fit_lines("*Cures*", []) == "*Cures*\nNone."


def test_md_escape_neutralises_markdown_and_table_pipes():
    from bot.digest.view import md_escape

    assert md_escape("Vega & <Sons> | *LLC*_[x]") == "Vega \\& \\<Sons\\> \\| \\*LLC\\*\\_\\[x\\]"
