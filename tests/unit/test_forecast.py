"""Forward-looking risk: rental deflation, forward DSCR, months to breach (DOMAIN.md)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.evaluation import evaluate_facility
from bot.domain.forecast import ForwardInputs, forward_dscr, months_to_breach
from bot.domain.market import Market, add_months
from bot.domain.metrics import compute_metrics
from bot.domain.model import Facility, FacilityData, FinancialPeriod, GpuLot, Price, PriceBook
from bot.domain.rulebook import Covenant, ForecastSettings, Step, Valuation
from bot.domain.thresholds import Threshold
from bot.domain.variables import NoData

T = date(2026, 3, 31)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def facility_data(as_of: date = T, lots=(), n_quarters: int = 4) -> FacilityData:
    """Four quarters: revenue 100, costs 35, debt service 50 each → TTM 400 / 140 / 200, DSCR 1.3."""
    facility = Facility("F1", "Borrower", "gpu_abl", "USD", D(2000), D(1000), date(2024, 1, 1), date(2030, 1, 1))
    financials = tuple(
        FinancialPeriod("F1", as_of - days(91 * i), D(100), D(20), D(10), D(5), D(30), D(20), D(50))
        for i in range(n_quarters)
    )
    return FacilityData(facility, (), financials, tuple(lots))


def market(prices=(), as_of: date = T, forecast: ForecastSettings = ForecastSettings()) -> Market:
    return Market(PriceBook.from_prices(list(prices)), Valuation(), forecast, as_of)


def lot(lot_id: str, model: str, quantity: str, acquired_on: date = date(2025, 1, 1)) -> GpuLot:
    return GpuLot("F1", lot_id, model, D(quantity), acquired_on, D(1000))


def rent(model: str, on: date, price: str) -> Price:
    return Price(f"RENT:{model}", on, D(price))


# -- rental deflation of a model -----------------------------------------------------------------------
def test_observed_deflation_is_p_t_over_p_t_minus_365_minus_1():
    found = market([rent("H100", T - days(3), "2"), rent("H100", T - days(365), "2.5"),
                    rent("H100", T - days(366), "9")]).deflation("H100")
    assert (found.rate, found.source) == (D("-0.2"), "observed")
    assert (found.current.price, found.previous.price) == (D(2), D("2.5"))


@pytest.mark.parametrize(
    "prices, why",
    [
        ([rent("H100", T - days(365), "2.5")], "no RENT:H100 price within 30 days before 2026-03-31"),
        ([rent("H100", T, "2")], "no RENT:H100 price within 30 days before 2025-03-31 (a year earlier)"),
        ([rent("H100", T - days(31), "2"), rent("H100", T - days(365), "2.5")],
         "no RENT:H100 price within 30 days before 2026-03-31"),
        ([rent("H100", T, "2"), rent("H100", T - days(365 + 31), "2.5")],
         "no RENT:H100 price within 30 days before 2025-03-31 (a year earlier)"),
        ([rent("H100", T, "2"), rent("H100", T - days(365), "0")], "the RENT:H100 price a year earlier (2025-03-31) is 0"),
    ],
)
def test_assumed_deflation_when_a_price_is_missing_stale_or_zero(prices, why):
    default = market(prices).deflation("H100")
    assert (default.rate, default.source) == (D("-0.25"), "assumed")
    assert default.note == f"assumed: {why}, so the default assumed rate is used"
    per_model = market(prices, forecast=ForecastSettings(rates={"H100": D("-0.3")})).deflation("H100")
    assert (per_model.rate, per_model.source) == (D("-0.3"), "assumed")


def test_price_max_age_days_is_configurable():
    prices = [rent("H100", T, "2"), rent("H100", T - days(365 + 31), "2.5")]
    found = market(prices, forecast=ForecastSettings(price_max_age_days=31)).deflation("H100")
    assert (found.rate, found.source) == (D("-0.2"), "observed")


# -- rental deflation of a facility --------------------------------------------------------------------
def test_facility_deflation_is_weighted_by_the_quantity_of_the_lots_that_count():
    lots = [lot("L1", "H100", "2"), lot("L2", "H100", "1"), lot("L3", "A100", "1"),
            lot("L4", "B200", "100", acquired_on=T + days(1))]
    m = market([rent("H100", T, "2"), rent("H100", T - days(365), "2.5")],
               forecast=ForecastSettings(rates={"A100": D("-0.6")}))
    # (3 × −0.2 + 1 × −0.6) / 4
    assert compute_metrics(facility_data(lots=lots), m, ["rental_deflation"])["rental_deflation"] == D("-0.3")


@pytest.mark.parametrize("lots", [(), (lot("L1", "H100", "0"),), (lot("L1", "H100", "5", acquired_on=T + days(1)),)])
def test_no_lots_or_zero_quantity_use_the_default_rate(lots):
    m = market([rent("H100", T, "2"), rent("H100", T - days(365), "2.5")],
               forecast=ForecastSettings(default_rate=D("-0.15")))
    assert compute_metrics(facility_data(lots=lots), m, ["rental_deflation"])["rental_deflation"] == D("-0.15")


# -- forward DSCR --------------------------------------------------------------------------------------
def test_forward_dscr_hand_computed():
    # r = 0.81 − 1: 6 months → (400 × 0.9 − 140) / 200 = 1.1; 12 months → (400 × 0.81 − 140) / 200 = 0.92
    lots = [lot("L1", "H100", "8")]
    m = market([rent("H100", T, "0.81"), rent("H100", T - days(365), "1")])
    values = compute_metrics(facility_data(lots=lots), m)
    assert values["rental_deflation"] == D("-0.19")
    assert values["dscr_ttm"] == D("1.3")
    assert values["dscr_fwd_6m"] == D("1.1")
    assert values["dscr_fwd_12m"] == D("0.92")


def test_forward_dscr_has_no_data_wherever_dscr_ttm_has_none():
    values = compute_metrics(facility_data(n_quarters=3), market())
    assert values["dscr_fwd_6m"] == values["dscr_fwd_12m"] == values["dscr_ttm"]
    assert isinstance(values["dscr_ttm"], NoData)


def test_growth_factors_are_computed_once_per_rate():
    m = market()
    factors = m.growth_factors(D("-0.19"))
    assert len(factors) == 61 and factors[0] == 1 and factors[6] == D("0.9") and factors[24] == D("0.6561")
    assert m.growth_factors(D("-0.19")) is factors


# -- months to breach ----------------------------------------------------------------------------------
def dscr_covenant(must_be: str, steps=(), overrides=None) -> Covenant:
    return Covenant(
        id="min-dscr", must_be=Threshold.parse(must_be), metric="dscr_ttm",
        steps=tuple(Step(start, Threshold.parse(t)) for start, t in steps), overrides=overrides or {},
    )


def months(covenant: Covenant, data: FacilityData, m: Market) -> int | None:
    (result,) = evaluate_facility(data, m, [covenant])
    return result.months_to_breach


FLAT = ForecastSettings(default_rate=D(0))


def test_never_within_60_months_is_none():
    assert months(dscr_covenant(">= 1.2"), facility_data(), market(forecast=FLAT)) is None
    # even deflating at −1 % a year, 1.3 stays above 1.0 for 5 years
    slow = ForecastSettings(default_rate=D("-0.01"))
    assert months(dscr_covenant(">= 1.0"), facility_data(), market(forecast=slow)) is None


def test_already_in_breach_is_0():
    assert months(dscr_covenant(">= 1.35"), facility_data(), market(forecast=FLAT)) == 0


def test_a_future_step_up_breaches_at_the_steps_month():
    covenant = dscr_covenant(">= 1.2", steps=[(date(2026, 9, 15), ">= 1.35")])
    # T + 5 months = 2026-08-31 (before the step), T + 6 months = 2026-09-30 (after it)
    assert months(covenant, facility_data(), market(forecast=FLAT)) == 6


@pytest.mark.parametrize("step, expected", [(date(2026, 2, 28), 1), (date(2026, 3, 1), 2)])
def test_the_month_ahead_clamps_the_day_to_the_months_end(step, expected):
    as_of = date(2026, 1, 31)  # + 1 month = 2026-02-28, + 2 months = 2026-03-31
    covenant = dscr_covenant(">= 1.2", steps=[(step, ">= 1.35")])
    assert months(covenant, facility_data(as_of), market(as_of=as_of, forecast=FLAT)) == expected


def test_an_override_ignores_the_steps():
    covenant = dscr_covenant(">= 1.2", steps=[(date(2026, 9, 15), ">= 1.35")], overrides={"F1": Threshold.parse(">= 1.1")})
    assert months(covenant, facility_data(), market(forecast=FLAT)) is None


def test_a_deflating_facility_crosses_at_the_hand_computed_month():
    # 400 × 0.81^(m/12) − 140 < 200 ⇔ 0.81^(m/12) < 0.85 ⇔ m > 12 × ln 0.85 / ln 0.81 ≈ 9.26 → m = 10
    # (0.81^(9/12) ≈ 0.8538 passes, 0.81^(10/12) ≈ 0.8390 fails)
    lots = [lot("L1", "H100", "8")]
    m = market([rent("H100", T, "0.81"), rent("H100", T - days(365), "1")])
    assert months(dscr_covenant(">= 1.0"), facility_data(lots=lots), m) == 10
    assert months(dscr_covenant("> 1.1"), facility_data(lots=lots), m) == 6  # exactly 1.1 at 6 months fails >


def test_no_data_and_other_metrics_have_no_months_to_breach():
    assert months(dscr_covenant(">= 1.0"), facility_data(n_quarters=3), market()) is None
    other = Covenant(id="ltv", must_be=Threshold.parse("<= 0.0001"), metric="commitment")
    assert months(other, facility_data(), market()) is None


def test_add_months():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 3, 31), 60) == date(2031, 3, 31)


# -- the bisection agrees with a month-by-month scan ------------------------------------------------------
def scan(covenant: Covenant, inputs: ForwardInputs, m: Market) -> int | None:
    factors = m.growth_factors(inputs.rate)
    for month in range(61):
        threshold = covenant.threshold_at("F1", add_months(m.as_of, month))
        if not threshold.passes(forward_dscr(inputs, factors[month])):
            return month
    return None


amounts = st.decimals(min_value=-500, max_value=1000, places=2)


@settings(max_examples=300, deadline=None)
@given(
    revenue=amounts, costs=amounts,
    debt_service=amounts.filter(lambda d: d != 0),
    rate=st.sampled_from([D("-0.4"), D("-0.25"), D("-0.01"), D(0), D("0.1"), D("-0.999")]),
    op=st.sampled_from([">=", ">", "<=", "<"]),
    levels=st.lists(st.decimals(min_value=-2, max_value=3, places=2), min_size=1, max_size=4),
    step_days=st.lists(st.integers(min_value=-100, max_value=2000), min_size=3, max_size=3, unique=True),
)
def test_months_to_breach_matches_a_month_by_month_scan(revenue, costs, debt_service, rate, op, levels, step_days):
    starts = sorted(T + days(d) for d in step_days)
    covenant = dscr_covenant(f"{op} {levels[0]}", steps=[(s, f"{op} {lv}") for s, lv in zip(starts, levels[1:])])
    inputs = ForwardInputs(revenue, costs, debt_service, rate)
    m = market()
    assert months_to_breach(covenant, "F1", inputs, m) == scan(covenant, inputs, m)
