"""The test period at T (DOMAIN.md "Metrics at a test date T"), one test per edge of the definition.

L = the latest counted period_end on or before T; the test period is the 4 latest counted periods
with period_end in (L − 366 days, L]. Fewer than 4 → no data ("3 of 4 quarters reported"); no
counted period, or L on or before T − 366 days → no data ("no quarter reported in the 12 months to
T"). A period ending after T never counts. Between a quarter's end and its report the previous test
period stands.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from bot.domain.explain import explain_facility
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics, find_test_period
from bot.domain.model import Facility, FacilityData, FinancialPeriod, PriceBook
from bot.domain.rulebook import Covenant, ForecastSettings, Valuation
from bot.domain.thresholds import Threshold
from bot.domain.variables import NoData

TTM = ("revenue_ttm", "cfads_ttm", "ebitda_ttm", "debt_service_ttm", "dscr_ttm", "dscr_fwd_6m", "dscr_fwd_12m")
Q = (date(2025, 9, 30), date(2025, 12, 31), date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30))


def days(n: int) -> timedelta:
    return timedelta(days=n)


def period(end: date, *, revenue: str = "100", reported_on: date | None = None, cash: str = "50",
           interest: str = "30") -> FinancialPeriod:
    """cfads = revenue − 35; debt service = interest + 20."""
    return FinancialPeriod("F1", end, D(revenue), D(20), D(10), D(5), D(interest), D(20), D(cash), reported_on)


def data(*financials: FinancialPeriod) -> FacilityData:
    facility = Facility("F1", "Borrower", "gpu_abl", "USD", D(2000), D(1000), date(2024, 1, 1), date(2030, 1, 1))
    return FacilityData(facility, (), tuple(financials))


def metrics(facility: FacilityData, as_of: date) -> dict:
    return compute_metrics(facility, Market(PriceBook(), Valuation(), ForecastSettings(), as_of))


def reported(end: date, lag: int = 30, **amounts) -> FinancialPeriod:
    return period(end, reported_on=end + days(lag), **amounts)


def ends(facility: FacilityData, as_of: date) -> list[date]:
    found = find_test_period(facility.financials, as_of)
    return sorted(p.period_end for p in found.periods) if found.complete else []


# -- the reporting gap: the previous test period stands --------------------------------------------
def test_between_a_quarter_end_and_its_report_the_previous_test_period_stands():
    book = data(*(reported(end, revenue=str(100 + i)) for i, end in enumerate(Q)))
    gap = date(2026, 10, 15)  # Q3 2026 has ended, is reported on 2026-10-30
    values = metrics(book, gap)
    assert ends(book, gap) == list(Q[:4])
    assert values["revenue_ttm"] == D(100 + 101 + 102 + 103)
    assert values["days_since_period_end"] == D((gap - Q[3]).days)
    on_report = date(2026, 10, 30)
    assert ends(book, on_report) == list(Q[1:])
    assert metrics(book, on_report)["revenue_ttm"] == D(101 + 102 + 103 + 104)


def test_every_day_across_a_quarter_end_and_its_report_has_a_value():
    book = data(*(reported(end, lag=58) for end in Q))
    for offset in range(0, 120):
        as_of = date(2026, 9, 1) + days(offset)
        assert metrics(book, as_of)["dscr_ttm"] == D(260) / D(200), as_of


# -- L exactly T − 366 -------------------------------------------------------------------------------
def test_l_exactly_t_minus_366_is_no_quarter_reported_in_the_12_months_to_t():
    book = data(*(period(end) for end in Q[:4]))  # L = 2026-06-30
    as_of = Q[3] + days(366)
    values = metrics(book, as_of)
    assert {values[name] for name in TTM} == {
        NoData(f"no quarter reported in the 12 months to {as_of} (the latest reported quarter ended on {Q[3]})")}
    assert values["cash"] == D(50) and values["days_since_period_end"] == D(366)


def test_l_365_days_before_t_still_gives_the_test_period():
    book = data(*(period(end) for end in Q[:4]))
    values = metrics(book, Q[3] + days(365))
    assert values["dscr_ttm"] == D("1.3")


def test_no_counted_period_is_no_quarter_reported_in_the_12_months_to_t():
    as_of = date(2026, 3, 31)
    for book in (data(), data(reported(as_of - days(10), lag=20))):  # nothing known at T
        values = metrics(book, as_of)
        assert values["dscr_ttm"] == NoData(f"no quarter reported in the 12 months to {as_of}")
        assert values["cash"] == NoData("no financials reported")


# -- a period exactly at L − 366 ---------------------------------------------------------------------
@pytest.mark.parametrize("age, counts", [(365, True), (366, False)])
def test_a_period_ending_exactly_l_minus_366_is_outside_the_test_period(age, counts):
    latest = date(2026, 6, 30)
    as_of = date(2026, 8, 15)  # L is 46 days before T: the window is anchored at L, not at T
    three = [period(latest - days(91 * i)) for i in range(3)]
    book = data(*three, period(latest - days(age), revenue="1000"))
    value = metrics(book, as_of)["revenue_ttm"]
    if counts:
        assert value == D(1300)
    else:
        assert value == NoData(f"only 3 of 4 quarters reported in the 12 months to {latest}"
                               " (the latest reported quarter)")


# -- five quarters in the window ---------------------------------------------------------------------
def test_five_quarters_in_the_window_only_the_four_latest_count():
    latest = date(2026, 6, 30)
    five = [period(latest - days(91 * i), revenue=str(100 * (i + 1))) for i in range(4)]
    fifth = period(latest - days(365), revenue="100000")  # in (L − 366, L], but the 5th latest
    book = data(*five, fifth)
    assert metrics(book, date(2026, 7, 31))["revenue_ttm"] == D(100 + 200 + 300 + 400)
    assert len(find_test_period(book.financials, date(2026, 7, 31)).periods) == 4


# -- a budget row with period_end after T ------------------------------------------------------------
def test_a_budget_row_ending_after_t_never_counts_even_if_reported_before_t():
    as_of = date(2026, 8, 15)
    budget = period(date(2026, 9, 30), revenue="9999", cash="1", reported_on=date(2026, 1, 15))
    book = data(*(reported(end, lag=20) for end in Q[:4]), budget)
    values = metrics(book, as_of)
    assert ends(book, as_of) == list(Q[:4])  # L = 2026-06-30, the budget is not an actual
    assert values["revenue_ttm"] == D(400)
    assert values["cash"] == D(50)
    assert values["days_since_period_end"] == D((as_of - Q[3]).days)
    # once its period has ended (and it was "reported" long ago) it counts as an actual
    assert metrics(book, Q[4])["revenue_ttm"] == D(100 * 3 + 9999)


# -- a borrower that stopped reporting ---------------------------------------------------------------
def test_a_borrower_that_stopped_reporting_keeps_its_last_test_period_for_a_year_then_has_none():
    book = data(*(reported(end, lag=40) for end in Q[:4]))  # nothing after Q2 2026
    for as_of in (date(2026, 11, 20), date(2027, 3, 31), Q[3] + days(365)):
        assert metrics(book, as_of)["dscr_ttm"] == D("1.3"), as_of
        assert ends(book, as_of) == list(Q[:4])
    stopped = Q[3] + days(366)
    values = metrics(book, stopped)
    assert values["dscr_ttm"] == NoData(
        f"no quarter reported in the 12 months to {stopped} (the latest reported quarter ended on {Q[3]})")
    assert values["days_since_period_end"] == D(366)  # the reporting covenant has been breaching for months


# -- fewer than 4 ------------------------------------------------------------------------------------
def test_fewer_than_four_periods_in_the_window_is_no_data_with_one_reason():
    book = data(*(period(end) for end in Q[2:5]))
    as_of = date(2026, 11, 20)
    values = metrics(book, as_of)
    assert {values[name] for name in TTM} == {
        NoData("only 3 of 4 quarters reported in the 12 months to 2026-09-30 (the latest reported quarter)")}
    assert values["cash"] == D(50)


# -- explain: which quarters, why not the others, when the next report is due ------------------------
def reporting(limit: str = "<= 45", covenant_id: str = "reporting") -> Covenant:
    return Covenant(id=covenant_id, must_be=Threshold.parse(limit), metric="days_since_period_end")


def explain(book: FacilityData, as_of: date, covenants=()):
    return explain_facility(book, Market(PriceBook(), Valuation(), ForecastSettings(), as_of), covenants)


def test_explain_names_the_test_period_and_why_each_other_quarter_is_left_out():
    late = reported(Q[4], lag=40)  # reported 2026-11-09
    budget = period(date(2026, 12, 31), reported_on=date(2026, 1, 10))
    old = period(date(2025, 6, 30))  # 5th in the window (L − 365)
    older = period(date(2025, 3, 31))
    book = data(*(period(end) for end in Q[:4]), late, budget, old, older)
    as_of = date(2026, 10, 20)
    ex = explain(book, as_of, [reporting("<= 135")])
    tp = ex.test_period
    assert tp.latest == Q[3] and tp.start == Q[3] - days(366) and tp.complete
    assert [n.period.period_end for n in ex.periods if n.in_test_period] == sorted(Q[:4], reverse=True)
    reasons = {n.period.period_end: n.reason for n in ex.periods}
    assert reasons[Q[4]] == "reported on 2026-11-09, after 2026-10-20: not known yet"
    assert reasons[date(2026, 12, 31)] == "the period ends on 2026-12-31, after 2026-10-20: a budget, not an actual"
    assert reasons[date(2025, 6, 30)] == "a 5th period in the 12 months to 2026-06-30: only the 4 latest count"
    assert reasons[date(2025, 3, 31)] == ("ends on or before 2025-06-29, more than 12 months before the latest "
                                          "reported quarter (2026-06-30)")
    assert (tp.next_report_due, tp.reporting_covenant, tp.reporting_limit_days) == (Q[3] + days(135), "reporting", 135)


def test_explain_without_a_reporting_covenant_gives_no_due_date():
    book = data(*(period(end) for end in Q[:4]))
    tp = explain(book, date(2026, 7, 31)).test_period
    assert tp.next_report_due is None and tp.reporting_covenant is None


def test_explain_next_report_due_uses_the_effective_limit_and_a_strict_operator():
    book = data(*(period(end) for end in Q[:4]))
    as_of = date(2026, 7, 31)
    assert explain(book, as_of, [reporting("< 45")]).test_period.next_report_due == Q[3] + days(44)
    shorter = [reporting("<= 90", "a-loose"), reporting("<= 45", "b-strict")]
    tp = explain(book, as_of, shorter).test_period
    assert (tp.next_report_due, tp.reporting_covenant) == (Q[3] + days(45), "b-strict")


def test_explain_when_the_borrower_stopped_reporting():
    book = data(*(period(end) for end in Q[:4]))
    as_of = Q[3] + days(400)
    ex = explain(book, as_of, [reporting("<= 135")])
    assert not ex.test_period.complete and not any(n.in_test_period for n in ex.periods)
    assert ex.test_period.missing == NoData(
        f"no quarter reported in the 12 months to {as_of} (the latest reported quarter ended on {Q[3]})")
    assert {n.reason for n in ex.periods} == {
        f"no test period: nothing reported in the 12 months to {as_of}"}
    assert ex.test_period.next_report_due == Q[3] + days(135)  # long overdue
