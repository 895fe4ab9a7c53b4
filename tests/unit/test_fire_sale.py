"""The fire sale (DOMAIN.md "Liquidation value" → Fire sale): foreclosed facilities sharing one market,
hand-computed, and the property fire-sale value ≤ standalone liquidation value ≤ stated collateral."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.fire_sale import FIRE_SALE_FIELDS, Seller, fire_sale, seller
from bot.domain.liquidation import ModelHolding, gpu_liquidation_value
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics, model_holdings
from bot.domain.model import CryptoHolding, Facility, FacilityData, GpuLot, Price, PriceBook
from bot.domain.rulebook import ForecastSettings, LiquidationSettings, SaleTerms, Scenario, Valuation
from bot.domain.variables import NoData

T = date(2026, 3, 31)
BASE = Scenario("base", None, {})
H100_DEPTH_5 = LiquidationSettings(models={"H100": SaleTerms(D("0.60"), D("0.25"), D(5))})  # C = 30


def sold(facility_id: str, outstanding: str, *holdings: ModelHolding, crypto=D(0)) -> Seller:
    value = sum((h.value for h in holdings), D(0))
    alone = gpu_liquidation_value(holdings, H100_DEPTH_5) + crypto
    return Seller(facility_id, f"Borrower {facility_id}", D(outstanding), value + crypto, alone, crypto, holdings)


def test_two_facilities_crowd_one_market() -> None:
    # each 20 H100 worth 2,000: alone Q = 20 ≤ C = 30 (all orderly, 1,200 each); together Q = 40 > 30,
    # f = 30/40 = 0.75: each realises 2,000 × (0.60 × 0.75 + 0.25 × 0.25) = 2,000 × 0.5125 = 1,025
    a = sold("F1", "1500", ModelHolding("H100", D(20), D(2000)))
    b = sold("F2", "500", ModelHolding("H100", D(20), D(2000)))
    sale = fire_sale(BASE, [b, a], H100_DEPTH_5)
    (m,) = sale.market
    assert (m.units, m.capacity, m.orderly_share, m.months_to_absorb) == (40, 30, D("0.75"), 8)
    f1, f2 = sale.rows  # sorted by facility_id
    assert (f1.facility_id, f1.fire_sale_value, f1.recovery, f1.loss) == ("F1", D(1025), D(1025), D(475))
    assert (f2.facility_id, f2.fire_sale_value, f2.recovery, f2.loss) == ("F2", D(1025), D(500), D(0))
    assert (sale.exposure, sale.fire_sale_value, sale.loss) == (D(2000), D(2050), D(475))
    assert (f1.liquidation_value, sale.liquidation_value) == (D(1200), D(2400))  # alone: the crowding is the gap
    assert sale.loss_rate == D("0.2375")


def test_models_are_crowded_separately_and_crypto_is_not_crowded() -> None:
    # H100: 20 + 40 = 60 > 30, f = 0.5 → × 0.425; A100 (default depth 1000, C = 6000): all orderly × 0.60
    a = sold("F1", "10000", ModelHolding("H100", D(20), D(2000)), ModelHolding("A100", D(10), D(500)),
             crypto=D(950))
    b = sold("F2", "10000", ModelHolding("H100", D(40), D(4000)))
    f1, f2 = fire_sale(BASE, [a, b], H100_DEPTH_5).rows
    assert f1.fire_sale_value == D(2000) * D("0.425") + D(300) + D(950)
    assert f2.fire_sale_value == D(4000) * D("0.425")


def test_a_seller_without_a_fresh_crypto_price_is_null_but_still_crowds_the_market() -> None:
    stale = Seller("F1", "B", D(1000), NoData("ETH is pledged but has no fresh price"), NoData("x"),
                   NoData("ETH is pledged but has no fresh price"), (ModelHolding("H100", D(30), D(3000)),))
    other = sold("F2", "5000", ModelHolding("H100", D(30), D(3000)))
    sale = fire_sale(BASE, [stale, other], H100_DEPTH_5)
    f1, f2 = sale.rows
    assert f1.as_json() == {"scenario": "base", "facility_id": "F1", "outstanding": "1000", "collateral_value": None,
                            "liquidation_value": None, "fire_sale_value": None, "recovery": None, "loss": None,
                            "reason": "ETH is pledged but has no fresh price"}
    assert sale.market[0].units == 60  # its 30 units count
    assert f2.fire_sale_value == D(3000) * D("0.425")
    assert (sale.unvalued, sale.unvalued_exposure, sale.exposure) == (("F1",), D(1000), D(6000))
    assert sale.loss_rate == (D(5000) - D(1275)) / D(5000)


def test_row_json_keys_and_book_beside_liquidation_ltv() -> None:
    row = fire_sale(BASE, [Seller("F1", "B", D(900), D(2000), D(1200), D(0), (ModelHolding("H100", D(20), D(2000)),))],
                    H100_DEPTH_5).rows[0]
    assert tuple(row.as_json()) == FIRE_SALE_FIELDS
    assert (row.book_ltv, row.liquidation_ltv) == (D("0.45"), D("0.75"))
    assert row.as_json()["fire_sale_value"] == "1200.00"


def test_nobody_foreclosed_is_an_empty_sale() -> None:
    sale = fire_sale(BASE, [], LiquidationSettings())
    assert (sale.rows, sale.market, sale.exposure, sale.loss_rate) == ((), (), 0, None)


# -- property: fire sale ≤ standalone liquidation value ≤ stated collateral ---------------------------
MODELS = ("H100", "A100", "H200")
quantities = st.integers(min_value=0, max_value=5000).map(D)
shares = st.integers(min_value=0, max_value=100).map(lambda n: D(n) / 100)


@st.composite
def terms(draw) -> SaleTerms:
    orderly = draw(shares)
    forced = draw(shares.filter(lambda s: s <= orderly)) if orderly > 0 else D(0)
    return SaleTerms(orderly, forced, D(draw(st.integers(min_value=1, max_value=3000))))


@st.composite
def book(draw):
    sale = LiquidationSettings(
        horizon_days=draw(st.integers(min_value=1, max_value=365)),
        default=draw(terms()),
        models={m: draw(terms()) for m in MODELS if draw(st.booleans())},
        crypto_default=D(draw(st.integers(min_value=1, max_value=100))) / 100,
    )
    facilities = []
    for i in range(draw(st.integers(min_value=1, max_value=5))):
        fid = f"F{i}"
        lots = tuple(GpuLot(fid, f"L{j}", draw(st.sampled_from(MODELS)), draw(quantities), date(2025, 1, 1),
                            D(draw(st.integers(min_value=0, max_value=40_000))))
                     for j in range(draw(st.integers(min_value=0, max_value=4))))
        crypto = (CryptoHolding(fid, "BTC", T, D(draw(st.integers(min_value=0, max_value=50)))),)
        facility = Facility(fid, "B", "gpu_abl", "USD", D(1), D(draw(st.integers(min_value=1, max_value=10**9))),
                            date(2024, 1, 1), date(2030, 1, 1))
        facilities.append(FacilityData(facility, (), (), lots, crypto))
    marks = [Price(f"GPU:{m}", T, D(draw(st.integers(min_value=0, max_value=30_000)))) for m in MODELS
             if draw(st.booleans())]
    return sale, facilities, marks + [Price("BTC", T, D(60_000))]


@given(book())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fire_sale_never_exceeds_standalone_liquidation_which_never_exceeds_stated_collateral(drawn) -> None:
    sale_settings, facilities, prices = drawn
    market = Market(PriceBook.from_prices(prices), Valuation(liquidation=sale_settings), ForecastSettings(), T)
    sellers = []
    for data in facilities:
        values = compute_metrics(data, market, ["outstanding", "collateral_value", "liquidation_value",
                                                "crypto_liquidation_value"])
        assert values["liquidation_value"] <= values["collateral_value"]
        sellers.append(seller(data.facility_id, "B", values, model_holdings(data.gpu_lots, market)))
    for row in fire_sale(BASE, sellers, sale_settings).rows:
        assert row.fire_sale_value <= row.liquidation_value <= row.collateral_value
        assert row.recovery + row.loss == row.outstanding and row.loss >= 0
