"""Back-testing, pure: test dates, point-in-time timelines, first warning / breach / cure, lead time."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest

from bot.usecases.backtest import BacktestReport
from bot.domain.backtest import (
    BacktestInputError,
    Timeline,
    analyse,
    evaluate_timeline,
    forward_covenants,
    test_dates as make_dates,
)
from bot.domain.expressions import parse_expression
from bot.domain.model import Balance, Facility, FacilityData, FinancialPeriod, PriceBook
from bot.domain.rulebook import Covenant, ForecastSettings, RuleSet
from bot.domain.thresholds import Threshold
from bot.render.backtest import CSV_COLUMNS, backtest_csv, backtest_html, backtest_json


# -- test dates ----------------------------------------------------------------------------------------
def test_weekly_dates_run_from_start_to_end_inclusive():
    dates = make_dates(date(2026, 1, 1), date(2026, 1, 29), "1w")
    assert dates == [date(2026, 1, d) for d in (1, 8, 15, 22, 29)]


def test_monthly_dates_keep_the_day_clamped_without_drifting():
    assert make_dates(date(2025, 1, 31), date(2025, 5, 31), "1m") == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
    ]


def test_quarterly_dates_step_three_calendar_months():
    assert make_dates(date(2024, 11, 30), date(2025, 9, 1), "1q") == [
        date(2024, 11, 30), date(2025, 2, 28), date(2025, 5, 30), date(2025, 8, 30),
    ]


@pytest.mark.parametrize("start, end, every, words", [
    (date(2026, 2, 1), date(2026, 1, 1), "1m", "is before the first"),
    (date(2026, 1, 1), date(2026, 2, 1), "1d", "step between test dates must be"),
    (date(2026, 1, 1), date(2026, 2, 1), "0w", "step between test dates must be"),
])
def test_impossible_dates_are_refused(start, end, every, words):
    with pytest.raises(BacktestInputError, match=words):
        make_dates(start, end, every)


# -- hand-built data --------------------------------------------------------------------------------------
def covenant(cid: str, must_be: str, warn_at: str | None = None, metric: str | None = None, expr: str | None = None):
    return Covenant(id=cid, must_be=Threshold.parse(must_be), metric=metric,
                    expr=parse_expression(expr) if expr else None, expr_text=expr,
                    warn_at=Threshold.parse(warn_at) if warn_at else None)


def facility(facility_id="F1", balances=(), financials=()) -> FacilityData:
    f = Facility(facility_id, "Borrower <&> Co", "gpu_abl", "USD", D(500), D(50), date(2024, 1, 1), date(2030, 1, 1))
    return FacilityData(f, tuple(Balance(facility_id, d, D(v)) for d, v in balances), tuple(financials))


def ruleset(*covenants: Covenant) -> RuleSet:
    return RuleSet(covenants=covenants, forecast=ForecastSettings(default_rate=D("-0.25")))


OUTSTANDING = covenant("max-outstanding", "<= 100", "<= 80", metric="outstanding")
# ok (50) in January, warning (90) from March, breach (120) from May, ok (70) again from August
PATH = facility(balances=[(date(2025, 1, 1), 50), (date(2025, 3, 1), 90), (date(2025, 5, 1), 120),
                          (date(2025, 8, 1), 70)])
MONTHLY = make_dates(date(2025, 1, 15), date(2025, 9, 15), "1m")


def test_first_warning_breach_and_cure_of_a_hand_built_facility():
    timeline = evaluate_timeline([PATH], PriceBook(), ruleset(OUTSTANDING), MONTHLY)
    assert timeline.statuses[("F1", "max-outstanding")] == [
        "ok", "ok", "warning", "warning", "breach", "breach", "breach", "ok", "ok",
    ]
    (h,) = analyse(timeline, frozenset())
    assert (h.first_warning, h.first_breach, h.first_cured) == (date(2025, 3, 15), date(2025, 5, 15), date(2025, 8, 15))
    assert (h.early_warning, h.early_warning_by, h.lead_days) == (date(2025, 3, 15), "max-outstanding", 61)
    assert h.counts == {"ok": 4, "warning": 2, "breach": 3}


def test_a_warning_after_a_breach_is_not_a_cure_and_no_breach_means_no_lead():
    dates = make_dates(date(2025, 1, 1), date(2025, 4, 1), "1m")
    timeline = Timeline(tuple(dates), {("F1", "a"): ["breach", "warning", "ok", "breach"],
                                       ("F1", "b"): ["warning", "ok", "ok", "ok"]})
    a, b = analyse(timeline, frozenset())
    assert (a.first_breach, a.first_cured, a.first_warning, a.lead_days) == (
        date(2025, 1, 1), date(2025, 3, 1), date(2025, 2, 1), None)
    assert (b.first_warning, b.first_breach, b.early_warning, b.lead_days) == (date(2025, 1, 1), None, None, None)


def quarterly_financials(facility_id: str, ends, revenue: str, reported_late: dict | None = None):
    late = reported_late or {}
    return [FinancialPeriod(facility_id, end, D(late.get(end, revenue)), D(40), D(0), D(0), D(30), D(0), D(100),
                            end + timedelta(days=200 if end in late else 30))
            for end in ends]


QUARTER_ENDS = [date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30), date(2024, 12, 31),
                date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30), date(2025, 12, 31)]
DSCR = covenant("min-dscr", ">= 1.25", ">= 1.40", metric="dscr_ttm")


def test_a_quarter_reported_late_does_not_change_earlier_results():
    # Q1 2025 is a disaster (no revenue), but it is only reported on 2025-10-17.
    late_q = date(2025, 3, 31)
    with_late = facility(financials=quarterly_financials("F1", QUARTER_ENDS, "100", {late_q: "0"}))
    without = facility(financials=[p for p in with_late.financials if p.period_end != late_q])
    dates = make_dates(date(2025, 1, 1), date(2026, 3, 1), "1m")
    rules = ruleset(DSCR)
    seen = evaluate_timeline([with_late], PriceBook(), rules, dates).statuses[("F1", "min-dscr")]
    blind = evaluate_timeline([without], PriceBook(), rules, dates).statuses[("F1", "min-dscr")]
    known = dates.index(date(2025, 11, 1))  # the first test date after 2025-10-17
    assert seen[:known] == blind[:known]
    assert seen[known] == "breach" and blind[known] != "breach"


def test_the_lead_time_counts_an_early_warning_from_a_forward_dscr_covenant():
    fwd = covenant("fwd-dscr", ">= 1.10", ">= 1.25", metric="dscr_fwd_12m")
    fwd_expr = covenant("fwd-cushion", ">= 0", expr="dscr_fwd_6m - 1")
    assert forward_covenants([DSCR, fwd, fwd_expr, OUTSTANDING]) == {"fwd-dscr", "fwd-cushion"}
    dates = make_dates(date(2025, 1, 1), date(2025, 6, 1), "1m")
    timeline = Timeline(tuple(dates), {
        ("F1", "fwd-dscr"): ["ok", "warning", "breach", "breach", "breach", "breach"],
        ("F1", "min-dscr"): ["ok", "ok", "ok", "warning", "breach", "breach"],
        ("F2", "fwd-dscr"): ["warning", "warning", "warning", "warning", "warning", "warning"],  # other facility
        ("F3", "min-dscr"): ["ok", "ok", "ok", "warning", "breach", "breach"],
    })
    histories = {(h.facility_id, h.covenant_id): h for h in analyse(timeline, forward_covenants([DSCR, fwd]))}
    f1 = histories[("F1", "min-dscr")]
    assert f1.first_warning == date(2025, 4, 1)
    assert (f1.early_warning, f1.early_warning_by) == (date(2025, 2, 1), "fwd-dscr")
    assert f1.lead_days == (date(2025, 5, 1) - date(2025, 2, 1)).days == 89
    f3 = histories[("F3", "min-dscr")]
    assert (f3.early_warning, f3.early_warning_by, f3.lead_days) == (date(2025, 4, 1), "min-dscr", 30)
    fwd_own = histories[("F1", "fwd-dscr")]
    assert (fwd_own.early_warning_by, fwd_own.lead_days) == ("fwd-dscr", 28)


def test_forward_dscr_warns_before_the_trailing_dscr_breaches():
    # Revenue falls each quarter of 2025; the forward DSCR (−25 % a year on revenue) sees it first.
    revenues = ["110", "110", "110", "110", "95", "80", "65", "50"]
    fins = [FinancialPeriod("F1", end, D(r), D(20), D(0), D(0), D(40), D(0), D(100), end + timedelta(days=10))
            for end, r in zip(QUARTER_ENDS, revenues)]
    fwd = covenant("fwd-dscr", ">= 1.25", ">= 1.40", metric="dscr_fwd_12m")
    trailing = covenant("min-dscr", ">= 1.50", ">= 1.70", metric="dscr_ttm")
    dates = make_dates(date(2025, 1, 15), date(2026, 3, 15), "1m")
    timeline = evaluate_timeline([facility(financials=fins)], PriceBook(), ruleset(fwd, trailing), dates)
    (_, h) = analyse(timeline, forward_covenants([fwd, trailing]))
    # TTM to Q4 2025: (290 − 80) / 160 = 1.3125 < 1.50, known from 2026-01-10
    assert (h.covenant_id, h.first_breach) == ("min-dscr", date(2026, 1, 15))
    # TTM to Q3 2025: (350 − 80) / 160 = 1.6875: a warning of its own, a quarter before
    assert h.first_warning == date(2025, 10, 15)
    # forward DSCR to Q2 2025: (395 × 0.75 − 80) / 160 = 1.3516 < 1.40, known from 2025-07-10
    assert (h.early_warning, h.early_warning_by, h.lead_days) == (date(2025, 7, 15), "fwd-dscr", 184)


# -- output formats ---------------------------------------------------------------------------------------
def report() -> BacktestReport:
    evil = facility("F<1>", balances=[(date(2025, 1, 1), 50), (date(2025, 5, 1), 120)])
    timeline = evaluate_timeline([PATH, evil], PriceBook(), ruleset(OUTSTANDING), MONTHLY)
    return BacktestReport(MONTHLY[0], MONTHLY[-1], "1m", ruleset(OUTSTANDING), timeline,
                          analyse(timeline, frozenset()), {"F1": "Borrower <&> Co", "F<1>": "=cmd|' /C calc'!A0"})


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_one_self_contained_page_with_an_svg_timeline_and_escaped_data():
    page = backtest_html(report())
    parser = _Collect()
    parser.feed(page)
    parser.close()
    assert "svg" in parser.tags and "rect" in parser.tags and "table" in parser.tags
    assert not {"script", "link", "img", "iframe"} & set(parser.tags)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<1>" not in page and "F&lt;1&gt;" in page and "Borrower &lt;&amp;&gt; Co" in page
    assert "F<1> · max-outstanding" in "".join(parser.text)


def test_csv_has_a_header_and_one_row_per_facility_and_covenant_safe_for_spreadsheets():
    rows = list(csv.reader(io.StringIO(backtest_csv(report()))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r[0], r[2]) for r in rows[1:]] == [("F1", "max-outstanding"), ("F<1>", "max-outstanding")]
    f1 = dict(zip(CSV_COLUMNS, rows[1]))
    assert (f1["first_warning"], f1["first_breach"], f1["first_cured"], f1["lead_days"]) == (
        "2025-03-15", "2025-05-15", "2025-08-15", "61")
    assert rows[2][1].startswith("'=")


def test_json_holds_the_dates_and_each_pairs_history_and_timeline():
    data = json.loads(backtest_json(report()))
    assert data["dates"][0] == "2025-01-15" and len(data["dates"]) == 9
    first = data["results"][0]
    assert first["facility_id"] == "F1" and first["first_breach"] == "2025-05-15" and first["lead_days"] == 61
    assert first["statuses"][:3] == ["ok", "ok", "warning"]
