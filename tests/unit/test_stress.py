"""Stress testing, pure (DOMAIN.md "Forward-looking risk" → Stress): shocks, scenarios, summaries."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from bot.domain.evaluation import evaluate_facility
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics, value_lot
from bot.domain.model import CryptoHolding, Facility, FacilityData, FinancialPeriod, GpuLot, Price, PriceBook
from bot.domain.rulebook import Covenant, ForecastSettings, Scenario, Valuation
from bot.domain.stress import (
    ADHOC,
    EXPOSURE_VARIABLES,
    StressInputError,
    exposure_of,
    pair_results,
    parse_change,
    parse_shock_options,
    plan_scenarios,
    row_key,
    shocks_for,
    summarize,
)
from bot.domain.thresholds import Threshold
from bot.domain.variables import VARIABLES
from bot.render.stress import stress_json

T = date(2026, 3, 31)
LIQUIDATION = {"liquidation_value", "liquidation_ltv", "collateral_mirage"}
MOVED_BY = {
    "BTC": {"crypto_value", "collateral_value", "ltv", "crypto_coverage", "crypto_liquidation_value"} | LIQUIDATION,
    "rent": {"revenue_ttm", "cfads_ttm", "ebitda_ttm", "dscr_ttm", "dscr_fwd_6m", "dscr_fwd_12m"},
    "gpu": {"gpu_value", "collateral_value", "ltv", "gpu_liquidation_value"} | LIQUIDATION,
    "gpu:H100": {"gpu_value", "collateral_value", "ltv", "gpu_liquidation_value"} | LIQUIDATION,
}


# -- shock text ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [
    ("-65%", D("-0.65")), ("-0.65", D("-0.65")), ("-100%", D("-1")), ("+10%", D("0.10")), ("0.2", D("0.2")),
    (" -30 % ", D("-0.30")), ("-1", D("-1")),
])
def test_a_change_is_written_as_a_percentage_or_a_fraction(text, value):
    assert parse_change(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-65%%", "-101%", "-1.5", "1e-1", "%", "--5%", "-0,65"])
def test_bad_changes_are_refused(text):
    assert parse_change(text) is None


def test_shock_options_become_a_mapping_in_both_spellings():
    assert parse_shock_options(["BTC=-65%", "rent=-0.30", "gpu:H100=-40%", "gpu=-10%"]) == {
        "BTC": D("-0.65"), "rent": D("-0.30"), "gpu:H100": D("-0.40"), "gpu": D("-0.10"),
    }


def test_every_bad_shock_option_is_reported_at_once():
    with pytest.raises(StressInputError) as caught:
        parse_shock_options(["btc=-50%", "rent", "gpu=-150%", "ETH=-10%", "ETH=-20%", "gpu:=-5%", "BTC=fast"])
    problems = caught.value.problems
    assert len(problems) == 6
    assert "did you mean BTC?" in problems[0]
    assert "KEY=CHANGE" in problems[1]
    assert "'gpu=-150%'" in problems[2]
    assert "given twice" in problems[3]
    assert "'gpu:'" in problems[4]
    assert "'BTC=fast'" in problems[5]


# -- which scenarios run -------------------------------------------------------------------------------
RULE_SCENARIOS = (
    Scenario("rental-slump", None, {"rent": D("-0.4")}),
    Scenario("crypto-winter", "Crypto winter", {"BTC": D("-0.65")}),
)


def names(scenarios):
    return [s.name for s in scenarios]


def test_without_scenarios_or_shocks_every_rule_file_scenario_runs():
    assert names(plan_scenarios(RULE_SCENARIOS, [], [])) == ["crypto-winter", "rental-slump"]


def test_with_only_shocks_only_adhoc_runs():
    chosen = plan_scenarios(RULE_SCENARIOS, [], ["BTC=-50%"])
    assert names(chosen) == [ADHOC]
    assert chosen[0].shocks == {"BTC": D("-0.50")}


def test_named_scenarios_and_shocks_run_together():
    assert names(plan_scenarios(RULE_SCENARIOS, ["rental-slump"], ["gpu=-20%"])) == [ADHOC, "rental-slump"]
    assert names(plan_scenarios(RULE_SCENARIOS, ["rental-slump", "rental-slump"], [])) == ["rental-slump"]


def test_an_unknown_scenario_names_the_known_ones():
    with pytest.raises(StressInputError) as caught:
        plan_scenarios(RULE_SCENARIOS, ["crypto-winter", "nope"], ["rent=oops"])
    text = str(caught.value)
    assert "'nope'" in text and "crypto-winter, rental-slump" in text and "'rent=oops'" in text


def test_no_scenario_anywhere_is_a_usage_problem():
    with pytest.raises(StressInputError, match="define no stress scenarios"):
        plan_scenarios((), [], [])


# -- one scenario, one Shocks ----------------------------------------------------------------------------
def test_shocks_of_one_scenario_apply_together_and_gpu_shocks_compound():
    shocks = shocks_for(Scenario("x", None, {"BTC": D("-0.65"), "rent": D("-0.3"), "gpu": D("-0.2"),
                                               "gpu:H100": D("-0.1")}))
    assert shocks.crypto_multiplier("BTC") == D("0.35")
    assert shocks.crypto_multiplier("ETH") == 1
    assert shocks.rent == D("0.7")
    assert shocks.gpu_multiplier("H100") == D("0.72")  # 0.8 × 0.9
    assert shocks.gpu_multiplier("A100") == D("0.8")


# -- each shock moves what it should and nothing else -----------------------------------------------------
def quarters(facility_id: str, revenue: str, opex: str, debt_service: str, n: int = 4):
    return tuple(
        FinancialPeriod(facility_id, T - timedelta(days=91 * i), D(revenue), D(opex), D(0), D(0), D(debt_service),
                        D(0), D(100))
        for i in range(n)
    )


def facility(facility_id: str, ftype: str, outstanding: str, *, lots=(), crypto=(), revenue="100", opex="40",
             debt_service="30") -> FacilityData:
    f = Facility(facility_id, f"Borrower {facility_id}", ftype, "USD", D(5000), D(outstanding), date(2024, 1, 1),
                 date(2030, 1, 1))
    return FacilityData(f, (), quarters(facility_id, revenue, opex, debt_service), tuple(lots), tuple(crypto))


def lot(facility_id: str, lot_id: str, model: str, quantity: str) -> GpuLot:
    return GpuLot(facility_id, lot_id, model, D(quantity), date(2025, 1, 1), D(1000))


PRICES = PriceBook.from_prices([
    Price("BTC", T, D(3000)), Price("GPU:H100", T, D(200)), Price("GPU:A100", T, D(100)),
    Price("RENT:H100", T, D(2)), Price("RENT:H100", T - timedelta(days=365), D(3)),
])


def market(scenario: dict[str, D] | None = None) -> Market:
    shocks = shocks_for(Scenario("s", None, scenario or {}))
    return Market(PRICES, Valuation(), ForecastSettings(), T, shocks)


MIXED = facility("F1", "miner_convertible", "1000",
                 lots=[lot("F1", "L1", "H100", "10"), lot("F1", "L2", "A100", "10")],
                 crypto=[CryptoHolding("F1", "BTC", T, D(1))])


@pytest.mark.parametrize("key", sorted(MOVED_BY))
def test_each_shock_moves_exactly_what_it_should(key):
    base = compute_metrics(MIXED, market())
    shocked = compute_metrics(MIXED, market({key: D("-0.5")}))
    moved = {name for name in VARIABLES if base[name] != shocked[name]}
    assert moved == MOVED_BY[key]


def test_a_gpu_model_shock_moves_only_that_models_lots():
    m = market({"gpu:H100": D("-0.4")})
    h100, a100 = MIXED.gpu_lots
    assert value_lot(h100, m).value == D(10) * D(200) * D("0.6")
    assert value_lot(a100, m).value == D(10) * D(100)
    assert compute_metrics(MIXED, m, ["gpu_value"])["gpu_value"] == D(1200) + D(1000)


def test_gpu_and_gpu_model_shocks_compound():
    m = market({"gpu": D("-0.5"), "gpu:H100": D("-0.2")})
    h100, a100 = MIXED.gpu_lots
    assert value_lot(h100, m).value == D(2000) * D("0.5") * D("0.8")
    assert value_lot(a100, m).value == D(1000) * D("0.5")


def test_a_book_value_is_shocked_like_a_mark():
    unmarked = FacilityData(MIXED.facility, (), (), (lot("F1", "L9", "B200", "1"),))
    base = compute_metrics(unmarked, market(), ["gpu_value"])["gpu_value"]
    shocked = compute_metrics(unmarked, market({"gpu:B200": D("-0.25")}), ["gpu_value"])["gpu_value"]
    assert shocked == base * D("0.75")


# -- a combined scenario on a hand-built portfolio ---------------------------------------------------------
def cov(cid: str, must_be: str, metric: str, warn_at: str | None = None, types=None) -> Covenant:
    return Covenant(id=cid, must_be=Threshold.parse(must_be), metric=metric,
                    warn_at=Threshold.parse(warn_at) if warn_at else None, applies_to_types=types)


COVENANTS = [
    cov("min-dscr", ">= 1.25", "dscr_ttm", ">= 1.40"),
    cov("max-ltv", "<= 0.70", "ltv", types=("gpu_abl",)),
    cov("crypto-cover", ">= 1.50", "crypto_coverage", types=("miner_convertible", "crypto_backed")),
]
# GPU: DSCR (4×60)/(4×30) = 2.0; 10 H100 at 200 = 2000 vs 1000 outstanding: LTV 0.5.
GPU = facility("GPU-1", "gpu_abl", "1000", lots=[lot("GPU-1", "L1", "H100", "10")])
# Miner: DSCR 2.0; 1 BTC at 3000 vs 1500 outstanding: coverage 2.0; GPUs and crypto: double leverage.
MINER = facility("MIN-1", "miner_convertible", "1500", lots=[lot("MIN-1", "L1", "A100", "5")],
                 crypto=[CryptoHolding("MIN-1", "BTC", T, D(1))])
# Lender on crypto only: 10 BTC = 30000 vs 1000: coverage 30; DSCR 60/30 → 2.0 (rent -30 %: 1.0 → breach).
CRYPTO = facility("CRY-1", "crypto_backed", "1000", crypto=[CryptoHolding("CRY-1", "BTC", T, D(10))], revenue="0",
                  opex="-60")
PORTFOLIO = [GPU, MINER, CRYPTO]
CONVERGENCE = Scenario("convergence", "Everything at once", {"BTC": D("-0.5"), "rent": D("-0.3"), "gpu:H100": D("-0.4")})


def stress(scenario: Scenario):
    base_market, shocked = market(), Market(PRICES, Valuation(), ForecastSettings(), T, shocks_for(scenario))
    rows, exposures = [], {}
    for data in PORTFOLIO:
        base = evaluate_facility(data, base_market, COVENANTS)
        exposures[data.facility_id] = exposure_of(data, compute_metrics(data, base_market, EXPOSURE_VARIABLES))
        rows += pair_results(scenario.name, base, evaluate_facility(data, shocked, COVENANTS))
    return sorted(rows, key=row_key), exposures


def test_a_combined_scenario_breaches_what_a_hand_calculation_predicts():
    rows, exposures = stress(CONVERGENCE)
    stressed = {(r.facility_id, r.covenant_id): (r.stressed.status, r.stressed.value) for r in rows}
    # revenue 70 → CFADS 30 → DSCR 1.0; the crypto-only facility has no revenue: DSCR stays 2.0
    assert stressed[("GPU-1", "min-dscr")] == ("breach", D(1))
    assert stressed[("MIN-1", "min-dscr")] == ("breach", D(1))
    assert stressed[("CRY-1", "min-dscr")] == ("ok", D(2))
    # 10 × 200 × 0.6 = 1200 → LTV 1000 / 1200
    assert stressed[("GPU-1", "max-ltv")][0] == "breach"
    assert stressed[("GPU-1", "max-ltv")][1] == D(1000) / D(1200)
    # BTC 1500: 1500 / 1500 = 1.0 (breach); 15000 / 1000 = 15 (ok)
    assert stressed[("MIN-1", "crypto-cover")] == ("breach", D(1))
    assert stressed[("CRY-1", "crypto-cover")] == ("ok", D(15))
    assert all(r.base.status == "ok" for r in rows)

    summary = summarize(CONVERGENCE, rows, exposures)
    assert summary.newly_breached == ("GPU-1", "MIN-1")
    assert summary.new_breaches == 4
    assert summary.exposure_newly_breached == D(2500)
    assert summary.failing_most[0] == ("min-dscr", 2)
    assert summary.double_leverage == ("MIN-1",)
    assert (summary.worst.facility_id, summary.worst.covenant_id) == ("MIN-1", "crypto-cover")  # headroom −1/3
    assert [(r.facility_id, r.covenant_id) for r in summary.changed] == [
        ("GPU-1", "max-ltv"), ("GPU-1", "min-dscr"), ("MIN-1", "crypto-cover"), ("MIN-1", "min-dscr"),
    ]


def test_a_facility_already_in_breach_is_not_newly_in_breach():
    weak = facility("GPU-1", "gpu_abl", "1000", lots=[lot("GPU-1", "L1", "H100", "10")], revenue="70")
    base_market = market()
    shocked = Market(PRICES, Valuation(), ForecastSettings(), T, shocks_for(CONVERGENCE))
    rows = pair_results("convergence", evaluate_facility(weak, base_market, COVENANTS),
                        evaluate_facility(weak, shocked, COVENANTS))
    exposures = {"GPU-1": exposure_of(weak, compute_metrics(weak, base_market, EXPOSURE_VARIABLES))}
    summary = summarize(CONVERGENCE, rows, exposures)
    assert summary.new_breaches == 1  # max-ltv; min-dscr was in breach already
    assert summary.newly_breached == ()
    assert summary.exposure_newly_breached == 0


# -- JSON ----------------------------------------------------------------------------------------------
def test_json_has_the_documented_fields_sorted_by_scenario_facility_covenant():
    rows_a, _ = stress(CONVERGENCE)
    rows_b, _ = stress(Scenario("a-first", None, {"BTC": D("-0.1")}))
    data = json.loads(stress_json(rows_a + rows_b))
    assert len(data) == 2 * 6  # per scenario: 3 facilities × (min-dscr and one collateral covenant)
    assert [(r["scenario"], r["facility_id"], r["covenant_id"]) for r in data] == sorted(
        (r["scenario"], r["facility_id"], r["covenant_id"]) for r in data
    )
    assert data[0]["scenario"] == "a-first"
    assert set(data[0]) == {"scenario", "facility_id", "covenant_id", "threshold", "base_value", "base_status",
                            "stressed_value", "stressed_status"}
    row = next(r for r in data if r["scenario"] == "convergence" and r["facility_id"] == "GPU-1"
               and r["covenant_id"] == "min-dscr")
    assert row == {"scenario": "convergence", "facility_id": "GPU-1", "covenant_id": "min-dscr",
                   "threshold": ">= 1.25", "base_value": "2", "base_status": "ok", "stressed_value": "1.0",
                   "stressed_status": "breach"}


def test_json_values_are_null_where_there_is_no_data():
    bare = FacilityData(Facility("NO-1", "B", "gpu_abl", "USD", D(1), D(1), date(2024, 1, 1), date(2030, 1, 1)))
    rows = pair_results("s", evaluate_facility(bare, market(), COVENANTS),
                        evaluate_facility(bare, market({"rent": D("-0.5")}), COVENANTS))
    data = json.loads(stress_json(rows))
    assert {r["covenant_id"]: (r["base_value"], r["stressed_status"]) for r in data} == {
        "max-ltv": (None, "no_data"), "min-dscr": (None, "no_data"),
    }
