"""Metrics at a test date T, each rule of DOMAIN.md pinned with a hand-computed case."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from bot.domain.explain import explain_facility
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.model import (
    Balance,
    CryptoHolding,
    Facility,
    FacilityData,
    FinancialPeriod,
    GpuLot,
    Price,
    PriceBook,
)
from bot.domain.rulebook import ForecastSettings, ModelLife, Valuation
from bot.domain.shocks import Shocks
from bot.domain.variables import VARIABLES, NoData

T = date(2026, 3, 31)
TTM = ("revenue_ttm", "cfads_ttm", "ebitda_ttm", "debt_service_ttm", "dscr_ttm", "dscr_fwd_6m", "dscr_fwd_12m")


def days(n: int) -> timedelta:
    return timedelta(days=n)


def period(end: date, *, revenue="100", opex="20", capex="10", taxes="5", interest="30", principal="20",
           cash="50", reported_on: date | None = None) -> FinancialPeriod:
    return FinancialPeriod("F1", end, D(revenue), D(opex), D(capex), D(taxes), D(interest), D(principal),
                           D(cash), reported_on)


def quarters(as_of: date = T, n: int = 4, **amounts) -> tuple[FinancialPeriod, ...]:
    """n periods ending at T, T − 91d, T − 182d, ...: cfads 65, debt service 50 each by default."""
    return tuple(period(as_of - days(91 * i), **amounts) for i in range(n))


def facility_data(*, financials=(), lots=(), crypto=(), balances=(), outstanding="1000",
                  commitment="2000") -> FacilityData:
    facility = Facility("F1", "Borrower", "gpu_abl", "USD", D(commitment), D(outstanding), date(2024, 1, 1),
                        date(2030, 1, 1))
    return FacilityData(facility, tuple(balances), tuple(financials), tuple(lots), tuple(crypto))


def market(prices=(), as_of: date = T, valuation: Valuation = Valuation(),
           forecast: ForecastSettings = ForecastSettings(), shocks: Shocks = Shocks()) -> Market:
    return Market(PriceBook.from_prices(list(prices)), valuation, forecast, as_of, shocks)


def lot(lot_id="L1", model="H100", quantity="10", acquired_on=date(2025, 3, 31), unit_cost="1000") -> GpuLot:
    return GpuLot("F1", lot_id, model, D(quantity), acquired_on, D(unit_cost))


def metrics(data: FacilityData, m: Market | None = None) -> dict:
    return compute_metrics(data, m or market())


# -- trailing twelve months -------------------------------------------------------------------------
def test_dscr_is_exact_decimal_where_binary_floats_are_not():
    revenues, opexes = ["1.2", "1.3", "1.4", "1.5"], ["0.87", "0.97", "1.07", "1.17"]
    floats = sum(float(r) - float(o) for r, o in zip(revenues, opexes)) / 1.2
    assert floats < 1.1  # binary floating point would call this a breach of ">= 1.1"
    financials = [
        period(T - days(91 * i), revenue=r, opex=o, capex="0", taxes="0", interest="0.1", principal="0.2")
        for i, (r, o) in enumerate(zip(revenues, opexes))
    ]
    values = metrics(facility_data(financials=financials))
    assert values["cfads_ttm"] == D("1.32")
    assert values["debt_service_ttm"] == D("1.2")
    assert values["dscr_ttm"] == D("1.1")


def test_ttm_sums_of_the_four_quarters():
    values = metrics(facility_data(financials=quarters()))
    assert values["revenue_ttm"] == D(400)
    assert values["ebitda_ttm"] == D(320)
    assert values["cfads_ttm"] == D(260)
    assert values["debt_service_ttm"] == D(200)
    assert values["dscr_ttm"] == D("1.3")


def test_three_of_four_quarters_make_every_ttm_variable_no_data_with_one_reason():
    values = metrics(facility_data(financials=quarters(n=3)))
    reasons = {values[name] for name in TTM}
    assert reasons == {NoData("only 3 of 4 quarters reported in the 12 months to 2026-03-31"
                              " (the latest reported quarter)")}
    assert values["cash"] == D(50)  # cash does not need four quarters


def test_a_quarter_reported_after_t_is_unseen_until_the_day_it_is_reported():
    late = period(T, revenue="300", reported_on=T + days(30))
    financials = (late,) + quarters(as_of=T - days(91), n=3) + (period(T - days(300), revenue="0"),)
    before = metrics(facility_data(financials=financials), market(as_of=T + days(29)))
    on_the_day = metrics(facility_data(financials=financials), market(as_of=T + days(30)))
    # before: the 3 quarters + the one 300 days before T (revenue 0): cfads 195 − 35 = 160
    assert before["cfads_ttm"] == D(160)
    assert before["days_since_period_end"] == D(29 + 91)
    # on the day: the late quarter (cfads 265) replaces the oldest one
    assert on_the_day["cfads_ttm"] == D(265 + 195)
    assert on_the_day["days_since_period_end"] == D(30)
    assert on_the_day["cash"] == D(50)


def test_empty_reported_on_means_known_from_period_end():
    values = metrics(facility_data(financials=quarters()), market(as_of=T - days(1)))
    assert values["days_since_period_end"] == D(90)  # the quarter ending at T is not known yet
    assert values["dscr_ttm"] == NoData("only 3 of 4 quarters reported in the 12 months to 2025-12-30"
                                        " (the latest reported quarter)")


def test_only_the_four_latest_periods_in_the_window_count():
    fifth = period(T - days(91 * 4 + 1), revenue="1000000")  # 365 days old, in the window but 5th
    values = metrics(facility_data(financials=quarters() + (fifth,)))
    assert values["revenue_ttm"] == D(400)


def test_a_period_367_days_old_is_outside_the_window():
    financials = quarters(n=3) + (period(T - days(367)),)
    assert metrics(facility_data(financials=financials))["dscr_ttm"] == NoData(
        "only 3 of 4 quarters reported in the 12 months to 2026-03-31 (the latest reported quarter)"
    )


@pytest.mark.parametrize("age, counts", [(365, True), (366, False)])
def test_the_window_is_l_minus_366_days_exclusive(age, counts):  # L = T here
    financials = quarters(n=3) + (period(T - days(age)),)
    value = metrics(facility_data(financials=financials))["dscr_ttm"]
    assert (value == D("1.3")) is counts


def test_no_debt_service_makes_only_dscr_no_data():
    values = metrics(facility_data(financials=quarters(interest="0", principal="0")))
    assert values["debt_service_ttm"] == D(0)
    assert values["dscr_ttm"] == NoData("no debt service in the last 4 quarters")
    assert values["dscr_fwd_6m"] == values["dscr_ttm"]
    assert values["cfads_ttm"] == D(260)


def test_cash_and_days_since_period_end_use_the_latest_period_however_old():
    old = period(date(2024, 12, 31), cash="77")
    values = metrics(facility_data(financials=[period(date(2024, 9, 30), cash="1"), old]))
    assert values["cash"] == D(77)
    assert values["days_since_period_end"] == D((T - date(2024, 12, 31)).days)


def test_no_financials_reported():
    unseen = period(T, reported_on=T + days(1))
    for data in (facility_data(), facility_data(financials=[unseen])):
        values = metrics(data)
        assert values["cash"] == NoData("no financials reported")
        assert values["days_since_period_end"] == NoData("no financials reported")


# -- loan ---------------------------------------------------------------------------------------------
def test_outstanding_follows_the_balances_history():
    balances = [Balance("F1", date(2025, 12, 31), D(800)), Balance("F1", date(2026, 6, 30), D(600)),
                Balance("F1", date(2026, 3, 1), D(700))]
    data = facility_data(balances=balances, outstanding="900")
    assert metrics(data, market(as_of=date(2025, 12, 30)))["outstanding"] == D(900)
    assert metrics(data, market(as_of=date(2025, 12, 31)))["outstanding"] == D(800)
    assert metrics(data, market(as_of=T))["outstanding"] == D(700)
    assert metrics(data, market(as_of=date(2026, 7, 1)))["outstanding"] == D(600)
    assert metrics(data)["commitment"] == D(2000)


# -- GPU collateral -------------------------------------------------------------------------------------
@pytest.mark.parametrize("age, unit", [(30, D(500)), (31, None)])
def test_a_mark_at_most_30_days_old_is_used_else_book_value(age, unit):
    prices = [Price("GPU:H100", T - days(age), D(500))]
    value = metrics(facility_data(lots=[lot()]), market(prices))["gpu_value"]
    book = D(1000) * (1 - D(365) / (D("365.25") * 3))
    assert value == 10 * (unit if unit is not None else book)


def test_mark_max_age_days_is_configurable():
    prices = [Price("GPU:H100", T - days(45), D(500))]
    data = facility_data(lots=[lot()])
    assert metrics(data, market(prices, valuation=Valuation(mark_max_age_days=45)))["gpu_value"] == D(5000)
    assert metrics(data, market(prices, valuation=Valuation(mark_max_age_days=44)))["gpu_value"] != D(5000)


def test_a_mark_dated_after_t_is_not_used():
    prices = [Price("GPU:H100", T + days(1), D(500))]
    assert metrics(facility_data(lots=[lot()]), market(prices))["gpu_value"] != D(5000)


def test_book_value_is_straight_line_over_the_models_life():
    valuation = Valuation(models={"H100": ModelLife(D(8), D("0.10"))})
    data = facility_data(lots=[lot(acquired_on=T - days(1461))])  # 1461 days = 4 years of 365.25
    assert metrics(data, market(valuation=valuation))["gpu_value"] == D(10) * D(1000) * D("0.5")


def test_book_value_floors_at_the_residual():
    data = facility_data(lots=[lot(acquired_on=T - days(4 * 366))])  # older than the 3-year default life
    assert metrics(data)["gpu_value"] == D(10) * D(1000) * D("0.10")


def test_a_model_not_named_in_valuation_uses_the_default_life():
    valuation = Valuation(default=ModelLife(D(2), D("0.2")), models={"H100": ModelLife(D(8), D("0.10"))})
    acquired = T - days(1461)
    data = facility_data(lots=[lot("L1", "H100", acquired_on=acquired), lot("L2", "A100", acquired_on=acquired)])
    # H100: 1 − 4/8 = 0.5; A100: max(0.2, 1 − 4/2) = 0.2
    assert metrics(data, market(valuation=valuation))["gpu_value"] == D(10000) * D("0.5") + D(10000) * D("0.2")


def test_lots_acquired_after_t_do_not_count():
    data = facility_data(lots=[lot("L1", quantity="3", acquired_on=T), lot("L2", quantity="5", acquired_on=T + days(1))])
    values = metrics(data, market([Price("GPU:H100", T, D(100))]))
    assert values["gpu_count"] == D(3)
    assert values["gpu_value"] == D(300)


# -- crypto collateral -----------------------------------------------------------------------------------
def holding(asset: str, as_of: date, quantity: str) -> CryptoHolding:
    return CryptoHolding("F1", asset, as_of, D(quantity))


def test_crypto_value_uses_the_latest_holding_and_a_fresh_price():
    crypto = [holding("BTC", date(2026, 1, 1), "1"), holding("BTC", date(2026, 3, 1), "2"),
              holding("BTC", date(2026, 4, 1), "9")]
    prices = [Price("BTC", T - days(2), D(50000)), Price("BTC", T - days(10), D(1))]
    values = metrics(facility_data(crypto=crypto, outstanding="50000"), market(prices))
    assert values["crypto_value"] == D(100000)
    assert values["collateral_value"] == D(100000)
    assert values["crypto_coverage"] == D(2)
    assert values["ltv"] == D("0.5")


def test_a_stale_crypto_price_makes_crypto_metrics_no_data_but_not_gpu_value():
    prices = [Price("BTC", T - days(3), D(50000)), Price("GPU:H100", T, D(100))]
    values = metrics(facility_data(lots=[lot()], crypto=[holding("BTC", date(2026, 1, 1), "1")]), market(prices))
    reason = ("BTC is pledged but has no fresh price: the latest BTC price is from 2026-03-28, "
              "3 days before 2026-03-31 (at most 2 days allowed)")
    for name in ("crypto_value", "collateral_value", "ltv", "crypto_coverage"):
        assert values[name] == NoData(reason)
    assert values["gpu_value"] == D(1000)


def test_a_pledged_asset_never_priced_is_named():
    values = metrics(facility_data(crypto=[holding("ETH", date(2026, 1, 1), "1")]))
    assert values["crypto_value"] == NoData("ETH is pledged but has no fresh price: no ETH price on or before 2026-03-31")


def test_crypto_max_age_days_is_configurable():
    prices = [Price("BTC", T - days(3), D(50000))]
    data = facility_data(crypto=[holding("BTC", date(2026, 1, 1), "1")])
    assert metrics(data, market(prices, valuation=Valuation(crypto_max_age_days=3)))["crypto_value"] == D(50000)


def test_holdings_with_quantity_0_or_first_row_after_t_are_not_pledged_and_need_no_price():
    crypto = [holding("BTC", date(2026, 1, 1), "1"), holding("BTC", date(2026, 3, 1), "0"),
              holding("ETH", T + days(1), "5")]
    values = metrics(facility_data(crypto=crypto))
    assert values["crypto_value"] == D(0)


def test_nothing_pledged_means_crypto_value_0_and_no_collateral_means_no_ltv():
    values = metrics(facility_data())
    assert values["crypto_value"] == D(0)
    assert values["gpu_value"] == D(0)
    assert values["collateral_value"] == D(0)
    assert values["ltv"] == NoData("no collateral")
    assert values["crypto_coverage"] == D(0)


def test_nothing_outstanding_makes_crypto_coverage_no_data():
    values = metrics(facility_data(outstanding="0"))
    assert values["crypto_coverage"] == NoData("nothing outstanding")


# -- shocks ---------------------------------------------------------------------------------------------
def shock_fixture() -> tuple[FacilityData, list[Price]]:
    data = facility_data(
        financials=quarters(),
        lots=[lot("L1", "H100", quantity="10"), lot("L2", "A100", quantity="4", acquired_on=T - days(1461))],
        crypto=[holding("BTC", date(2026, 1, 1), "2"), holding("ETH", date(2026, 1, 1), "10")],
    )
    prices = [Price("GPU:H100", T, D(200)), Price("BTC", T, D(1000)), Price("ETH", T, D(100))]
    return data, prices


LIQUIDATION = {"liquidation_value", "liquidation_ltv", "collateral_mirage"}
CRYPTO_DERIVED = {"crypto_value", "collateral_value", "ltv", "crypto_coverage", "crypto_liquidation_value"} | LIQUIDATION
GPU_DERIVED = {"gpu_value", "collateral_value", "ltv", "gpu_liquidation_value"} | LIQUIDATION
RENT_DERIVED = {"revenue_ttm", "cfads_ttm", "ebitda_ttm", "dscr_ttm", "dscr_fwd_6m", "dscr_fwd_12m"}


@pytest.mark.parametrize(
    "shocks, moved",
    [
        (Shocks(crypto={"BTC": D("0.5")}), CRYPTO_DERIVED),
        (Shocks(crypto={"ETH": D("0.5")}), CRYPTO_DERIVED),
        (Shocks(rent=D("0.7")), RENT_DERIVED),
        (Shocks(gpu=D("0.5")), GPU_DERIVED),
        (Shocks(gpu_models={"A100": D("0.5")}), GPU_DERIVED),
        (Shocks(gpu_models={"B200": D("0.5")}), set()),
    ],
)
def test_each_shock_moves_exactly_what_it_should(shocks, moved):
    data, prices = shock_fixture()
    base = metrics(data, market(prices))
    stressed = metrics(data, market(prices, shocks=shocks))
    assert {name for name in VARIABLES if base[name] != stressed[name]} == moved


def test_shock_sizes():
    data, prices = shock_fixture()
    a100_book = D(4) * D(1000) * (1 - D(1461) / (D("365.25") * 3))  # 4 years old, life 3: residual
    assert a100_book < D(400)
    a100 = D(4) * D(1000) * D("0.10")
    base = metrics(data, market(prices))
    assert base["gpu_value"] == D(2000) + a100
    assert base["crypto_value"] == D(3000)
    btc = metrics(data, market(prices, shocks=Shocks(crypto={"BTC": D("0.35")})))
    assert btc["crypto_value"] == D(2) * D(350) + D(1000)
    rent = metrics(data, market(prices, shocks=Shocks(rent=D("0.7"))))
    assert rent["revenue_ttm"] == D(280)
    assert rent["cfads_ttm"] == D(140)
    # gpu hits marks and book values; gpu and gpu:<model> compound
    both = metrics(data, market(prices, shocks=Shocks(gpu=D("0.5"), gpu_models={"H100": D("0.5")})))
    assert both["gpu_value"] == D(2000) * D("0.25") + a100 * D("0.5")


# -- what is computed ----------------------------------------------------------------------------------
def test_needed_subset_gives_the_same_values_as_computing_everything():
    data, prices = shock_fixture()
    everything = metrics(data, market(prices))
    assert set(everything) == set(VARIABLES)
    subset = compute_metrics(data, market(prices), ["ltv", "dscr_fwd_12m"])
    assert subset == {"ltv": everything["ltv"], "dscr_fwd_12m": everything["dscr_fwd_12m"]}


def test_an_unknown_variable_is_refused():
    with pytest.raises(ValueError, match="unknown variable"):
        compute_metrics(facility_data(), market(), ["ebitda"])


# -- explanation -------------------------------------------------------------------------------------
def test_explanation_lists_periods_lots_crypto_and_deflation():
    financials = quarters() + (
        period(T - days(91 * 4 + 1)),  # in window, 5th
        period(T - days(400)),  # outside the window
        period(T + days(1), reported_on=T + days(20)),  # after T
    )
    lots = [lot("L1", "H100"), lot("L2", "A100", acquired_on=T - days(1461)), lot("L3", "H100", acquired_on=T + days(1))]
    crypto = [holding("BTC", date(2026, 1, 1), "1"), holding("ETH", date(2026, 1, 1), "0")]
    prices = [Price("GPU:H100", T - days(5), D(200)), Price("GPU:A100", T - days(40), D(150)),
              Price("BTC", T - days(9), D(1000)), Price("RENT:H100", T, D(2)), Price("RENT:H100", T - days(365), D("2.5"))]
    data = facility_data(financials=financials, lots=lots, crypto=crypto)
    m = market(prices)
    ex = explain_facility(data, m)

    reasons = {n.period.period_end: n.reason for n in ex.periods}
    assert [n.in_test_period for n in ex.periods].count(True) == 4
    assert reasons[T + days(1)] == "reported on 2026-04-20, after 2026-03-31: not known yet"
    assert reasons[T - days(365)] == "a 5th period in the 12 months to 2026-03-31: only the 4 latest count"
    assert reasons[T - days(400)] == (
        "ends on or before 2025-03-30, more than 12 months before the latest reported quarter (2026-03-31)")

    l1, l2, l3 = ex.lots
    assert (l1.mark, l1.book, l1.value) == (Price("GPU:H100", T - days(5), D(200)), None, D(2000))
    assert l2.mark is None and l2.mark_note == (
        "the latest GPU:A100 mark is from 2026-02-19, 40 days before 2026-03-31 (at most 30 days allowed)")
    assert (l2.book.useful_life_years, l2.book.residual, l2.book.factor, l2.book.age_years) == (
        D(3), D("0.10"), D("0.10"), D(4))
    assert not l3.counted and l3.value is None

    btc, eth = ex.crypto
    assert btc.pledged and btc.value is None and "BTC is pledged but has no fresh price" in btc.note
    assert not eth.pledged and eth.note == "not pledged at 2026-03-31: quantity 0 since 2026-01-01"

    a100, h100 = ex.deflation
    assert (h100.gpu_model, h100.quantity, h100.deflation.source, h100.deflation.rate) == ("H100", D(10), "observed", D("-0.2"))
    assert (a100.quantity, a100.deflation.source, a100.deflation.rate) == (D(10), "assumed", D("-0.25"))
    assert ex.metrics == compute_metrics(data, m)
    assert ex.metrics["gpu_value"] == D(2000) + D(1000)
