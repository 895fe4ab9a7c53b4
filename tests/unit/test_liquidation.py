"""Liquidation value (DOMAIN.md "Liquidation value: the collateral mirage"): settings and the five
variables, each rule pinned with a case computed by hand.

Unless a test says otherwise: horizon 180 days, so capacity C = monthly_depth × 6 units; defaults
orderly 0.60, forced 0.25, depth 1000; crypto share 0.95.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.domain.explain import explain_facility
from bot.domain.liquidation import capacity, orderly_share
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.model import CryptoHolding, Facility, FacilityData, GpuLot, Price, PriceBook
from bot.domain.rulebook import (
    DEFAULT_SALE_TERMS,
    ForecastSettings,
    LiquidationSettings,
    SaleTerms,
    Valuation,
)
from bot.domain.shocks import Shocks
from bot.domain.variables import VARIABLES, NoData
from bot.errors import RuleFileError
from bot.rulefiles.loader import load_rules, validate_rules

T = date(2026, 3, 31)
FIVE = ("gpu_liquidation_value", "crypto_liquidation_value", "liquidation_value", "liquidation_ltv",
        "collateral_mirage")


def lot(lot_id: str, model: str, quantity: str) -> GpuLot:
    return GpuLot("F1", lot_id, model, D(quantity), date(2025, 1, 1), D(1000))


def data(*, lots=(), crypto=(), outstanding="1000") -> FacilityData:
    f = Facility("F1", "Borrower", "gpu_abl", "USD", D(5000), D(outstanding), date(2024, 1, 1), date(2030, 1, 1))
    return FacilityData(f, (), (), tuple(lots), tuple(crypto))


PRICES = [Price("GPU:H100", T, D(100)), Price("GPU:A100", T, D(50)), Price("BTC", T, D(1000)),
          Price("ETH", T - timedelta(days=3), D(100))]  # ETH is stale (3 days > 2)


def values(facility: FacilityData, sale: LiquidationSettings = LiquidationSettings(), shocks: Shocks = Shocks()):
    market = Market(PriceBook.from_prices(PRICES), Valuation(liquidation=sale), ForecastSettings(), T, shocks)
    return compute_metrics(facility, market)


H100_DEPTH_5 = LiquidationSettings(models={"H100": SaleTerms(D("0.60"), D("0.25"), D(5))})  # C = 30


def test_the_five_variables_are_documented_variables() -> None:
    assert set(FIVE) <= VARIABLES.keys()


def test_capacity_and_orderly_share() -> None:
    assert capacity(SaleTerms(D("0.6"), D("0.25"), D(4000)), 180) == D(24000)
    assert capacity(SaleTerms(D("0.6"), D("0.25"), D(1000)), 45) == D(1500)
    assert orderly_share(D(10), D(30)) == 1
    assert orderly_share(D(30), D(30)) == 1
    assert orderly_share(D(60), D(30)) == D("0.5")


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        ("20", D("1200")),  # Q below C: 2,000 × 0.60
        ("30", D("1800")),  # Q equal to C: 3,000 × 0.60 (all orderly)
        ("60", D("2550")),  # Q above C: f = 30/60, 6,000 × (0.60 × 0.5 + 0.25 × 0.5) = 6,000 × 0.425
        ("120", D("4050")),  # f = 0.25: 12,000 × (0.60 × 0.25 + 0.25 × 0.75) = 12,000 × 0.3375
    ],
)
def test_gpu_liquidation_value_below_at_and_above_capacity(units: str, expected: D) -> None:
    found = values(data(lots=[lot("L1", "H100", units)]), H100_DEPTH_5)
    assert found["gpu_value"] == D(units) * 100
    assert found["gpu_liquidation_value"] == expected
    assert found["liquidation_value"] == expected
    assert found["liquidation_ltv"] == D(1000) / expected
    assert found["collateral_mirage"] == 1 - expected / (D(units) * 100)


def test_several_models_and_lots_group_by_model_before_the_capacity_test() -> None:
    # H100: two lots of 30 → Q = 60 > C = 30, f = 0.5; terms 0.70 / 0.35:
    #   6,000 × (0.70 × 0.5 + 0.35 × 0.5) = 6,000 × 0.525 = 3,150
    # A100: 10 at 50 = 500, default terms, C = 6,000: 500 × 0.60 = 300
    sale = LiquidationSettings(models={"H100": SaleTerms(D("0.70"), D("0.35"), D(5))})
    found = values(data(lots=[lot("L1", "H100", "30"), lot("L2", "H100", "30"), lot("L3", "A100", "10")]), sale)
    assert found["gpu_liquidation_value"] == D(3450)
    assert found["collateral_mirage"] == 1 - D(3450) / D(6500)


def test_forced_equal_to_orderly_makes_the_depth_irrelevant() -> None:
    sale = LiquidationSettings(models={"H100": SaleTerms(D("0.5"), D("0.5"), D(1))})  # C = 6
    assert values(data(lots=[lot("L1", "H100", "600")]), sale)["gpu_liquidation_value"] == D(30000)


def test_crypto_realises_its_share_of_spot_and_a_stale_price_is_no_data() -> None:
    sale = LiquidationSettings(crypto_default=D("0.9"), crypto={"BTC": D("0.97")})
    fresh = values(data(lots=[lot("L1", "A100", "10")], crypto=[CryptoHolding("F1", "BTC", T, D(2))]), sale)
    assert fresh["crypto_liquidation_value"] == D(1940)  # 2 × 1,000 × 0.97
    assert fresh["liquidation_value"] == D(1940) + D(300)
    assert fresh["collateral_mirage"] == 1 - D(2240) / D(2500)

    stale = values(data(lots=[lot("L1", "A100", "10")], crypto=[CryptoHolding("F1", "ETH", T, D(10))]), sale)
    assert stale["gpu_liquidation_value"] == D(300)  # the GPUs still have a value
    for name in ("crypto_liquidation_value", "liquidation_value", "liquidation_ltv", "collateral_mirage"):
        assert isinstance(stale[name], NoData) and "ETH" in stale[name].reason, name
    assert stale[name] == stale["crypto_value"]


def test_an_asset_not_pledged_at_t_needs_no_price() -> None:
    found = values(data(lots=[lot("L1", "A100", "10")], crypto=[CryptoHolding("F1", "ETH", T, D(0))]))
    assert found["crypto_liquidation_value"] == 0 and found["liquidation_value"] == D(300)


def test_no_lots_and_no_crypto_is_no_collateral() -> None:
    found = values(data())
    assert found["gpu_liquidation_value"] == 0 and found["crypto_liquidation_value"] == 0
    assert found["liquidation_value"] == 0
    assert found["liquidation_ltv"] == NoData("no collateral")
    assert found["collateral_mirage"] == NoData("no collateral")


def test_nothing_outstanding_gives_a_liquidation_ltv_of_zero() -> None:
    assert values(data(lots=[lot("L1", "A100", "10")], outstanding="0"))["liquidation_ltv"] == 0


def test_stress_shocks_move_the_unit_value_before_the_sale() -> None:
    # gpu −50 %: V = 3,000 (60 × 50); f stays 0.5 (units do not move): 3,000 × 0.425 = 1,275
    found = values(data(lots=[lot("L1", "H100", "60")]), H100_DEPTH_5, Shocks(gpu=D("0.5")))
    assert found["gpu_liquidation_value"] == D(1275)
    btc = values(data(crypto=[CryptoHolding("F1", "BTC", T, D(1))]), shocks=Shocks(crypto={"BTC": D("0.35")}))
    assert btc["crypto_liquidation_value"] == D("332.5")  # 1 × 350 × 0.95


def test_the_variables_work_in_expressions_and_explain_shows_the_sale() -> None:
    from bot.domain.expressions import parse_expression

    facility = data(lots=[lot("L1", "H100", "60"), lot("L2", "A100", "10")], crypto=[CryptoHolding("F1", "BTC", T, D(1))])
    found = values(facility, H100_DEPTH_5)
    expr = parse_expression("liquidation_value / collateral_value + collateral_mirage")
    assert expr.evaluate(found) == 1

    market = Market(PriceBook.from_prices(PRICES), Valuation(liquidation=H100_DEPTH_5), ForecastSettings(), T)
    ex = explain_facility(facility, market)
    (a100, h100) = ex.sales
    assert (h100.gpu_model, h100.units, h100.capacity, h100.orderly_share) == ("H100", 60, 30, D("0.5"))
    assert (h100.orderly_value, h100.forced_value, h100.realised) == (D(1800), D(750), D(2550))
    assert h100.months_to_absorb == 12
    assert (a100.orderly_share, a100.realised) == (1, D(300))
    (btc,) = ex.crypto_sales
    assert (btc.asset, btc.share, btc.realised) == ("BTC", D("0.95"), D("950"))
    assert ex.metrics["liquidation_value"] == D(2550) + D(300) + D(950)


# -- settings ---------------------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "valuation.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_liquidation_block(tmp_path: Path) -> None:
    sale = load_rules(write(tmp_path, "valuation:\n  default: {useful_life_years: 3}\n")).valuation.liquidation
    assert sale == LiquidationSettings()
    assert (sale.horizon_days, sale.default) == (180, SaleTerms(D("0.60"), D("0.25"), D(1000)))
    assert sale.crypto_share("BTC") == D("0.95")


def test_keys_left_out_are_inherited_and_decimals_stay_exact(tmp_path: Path) -> None:
    sale = load_rules(write(tmp_path, """\
valuation:
  liquidation:
    horizon_days: 90
    default: {orderly: 0.50}
    models:
      H100: {monthly_depth: 4000}
      A100: {forced: 20%}
    crypto: {default: 0.9, BTC: 0.97}
""")).valuation.liquidation
    assert sale.horizon_days == 90
    assert sale.default == SaleTerms(D("0.50"), D("0.25"), D(1000))  # forced and depth: built in
    assert sale.terms("H100") == SaleTerms(D("0.50"), D("0.25"), D(4000))  # from default:
    assert sale.terms("A100") == SaleTerms(D("0.50"), D("0.20"), D(1000))
    assert sale.terms("L40S") == sale.default
    assert str(sale.default.orderly) == "0.50"
    assert (sale.crypto_share("BTC"), sale.crypto_share("ETH")) == (D("0.97"), D("0.9"))
    # inherited settings drive the value: H100 4,000 × 90 / 30 = 12,000 units of capacity
    market = Market(PriceBook.from_prices(PRICES), Valuation(liquidation=sale), ForecastSettings(), T)
    found = compute_metrics(data(lots=[lot("L1", "H100", "24000")]), market, ["gpu_liquidation_value"])
    assert found["gpu_liquidation_value"] == D(2400000) * (D("0.5") * D("0.5") + D("0.25") * D("0.5"))


L = "valuation:\n  liquidation:\n"
CASES = [
    (L + "    default: {orderly: 0.5, forced: 0.6}\n",
     "3:37: valuation.liquidation.default: forced must not be above orderly"),
    (L + "    default: {orderly: 0.2}\n",  # the built-in forced 0.25 is above it
     "3:24: valuation.liquidation.default: forced must not be above orderly (a forced sale never realises more "
     "than an orderly one); got forced 0.25 (from the built-in default) above orderly 0.2; "
     "expected 0 <= forced <= orderly <= 1"),
    (L + "    models:\n      H100: {forced: 0.7}\n",  # above the inherited orderly 0.60
     "4:22: valuation.liquidation.models.H100: forced must not be above orderly"),
    (L + "    default: {monthly_depth: 0}\n",
     '3:30: valuation.liquidation.default.monthly_depth: expected a number of units a month greater than 0 (e.g. 1000), got "0"'),
    (L + "    models:\n      H100: {orderly: 1.2}\n",
     '4:23: valuation.liquidation.models.H100.orderly: expected a share of the unit value from 0 to 1 (e.g. 0.60 or 60%), got "1.2"'),
    (L + "    crypto: {BTC: 1.01}\n",
     '3:19: valuation.liquidation.crypto.BTC: expected a share of spot greater than 0 and at most 1 (e.g. 0.95 or 95%), got "1.01"'),
    (L + "    crypto: {default: 0}\n",
     '3:23: valuation.liquidation.crypto.default: expected a share of spot greater than 0 and at most 1'),
    (L + "    horizon_days: 0\n", '3:19: valuation.liquidation.horizon_days: expected a whole number of 1 or more, got "0"'),
    (L + "    horizon: 180\n", "3:5: horizon: unknown key in valuation.liquidation; did you mean horizon_days?"),
    (L + "    models:\n      H100: {depth: 10}\n",
     "4:14: depth: unknown key in valuation.liquidation.models.H100; expected one of orderly, forced, monthly_depth"),
    ("valuation:\n  liquidation: 0.6\n", "2:16: valuation.liquidation: expected a mapping with the keys horizon_days"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_settings_problem_is_a_rule_file_error_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    found = [str(p) for p in validate_rules(path)]
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{expected}"), found
    with pytest.raises(RuleFileError):
        load_rules(path)


def test_every_problem_of_the_block_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, L + "    default: {forced: 0.9}\n    models:\n      H100: {monthly_depth: -1}\n"
                              "    crypto: {BTC: 2}\n")
    assert [(p.location.line, p.message.split(":")[0]) for p in validate_rules(path)] == [
        (3, "valuation.liquidation.default"),
        (5, "valuation.liquidation.models.H100.monthly_depth"),
        (6, "valuation.liquidation.crypto.BTC"),
    ]


def test_a_bad_setting_is_exit_2_from_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    path = write(tmp_path, L + "    default: {orderly: 0.5, forced: 0.6}\n")
    env = {"COVBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "COVBOT_ENV_FILE": "/dev/null"}
    result = CliRunner().invoke(app, ["check", "--rules", str(path), "--no-notify"], env=env)
    assert result.exit_code == 2, result.output
    assert f"{path}:3:37" in result.output


def test_the_default_terms_are_the_contract_s() -> None:
    assert DEFAULT_SALE_TERMS == SaleTerms(D("0.60"), D("0.25"), D(1000))
