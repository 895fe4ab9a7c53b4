"""Hand-computed cases that pin the reference implementation itself, so its verdicts can be trusted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.reference import domain_ref
from tests.support.random_portfolio import FILES, write_csv

D = Decimal
FACILITY = {"facility_id": "F1", "borrower": "Borrower", "facility_type": "gpu_abl",
            "currency": "USD", "commitment": "1000", "outstanding": "800",
            "origination_date": "2023-01-01", "maturity_date": "2030-01-01",
            "owner_email": "", "slack_channel": ""}


def quarter(period_end, revenue="300", opex="100", capex="50", taxes="25", interest="60",
            principal="40", cash="10", reported_on=""):
    return {"facility_id": "F1", "period_end": period_end, "revenue": revenue, "opex": opex,
            "capex": capex, "taxes": taxes, "interest": interest, "principal": principal,
            "cash": cash, "reported_on": reported_on}


FOUR_QUARTERS = [quarter("2025-03-31"), quarter("2025-06-30"), quarter("2025-09-30"),
                 quarter("2025-12-31")]  # cfads 125, debt service 100 each: DSCR exactly 1.25


def make(tmp_path, rules_yaml, facility=None, **files):
    data = tmp_path / "data"
    data.mkdir(parents=True)
    write_csv(data, "facilities.csv", [dict(FACILITY, **(facility or {}))])
    for name in ("balances", "financials", "gpu_lots", "crypto", "prices"):
        write_csv(data, f"{name}.csv", files.get(name, []))
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_yaml, encoding="utf-8")
    return data, rules


def row(rows, covenant_id):
    matching = [r for r in rows if r["covenant_id"] == covenant_id]
    assert len(matching) == 1
    return matching[0]


def test_files_table_matches_the_interchange_contract():
    assert FILES["financials.csv"] == ["facility_id", "period_end", "revenue", "opex", "capex",
                                       "taxes", "interest", "principal", "cash", "reported_on"]


def test_dscr_exactly_on_the_threshold_complies_with_ge_and_fails_gt(tmp_path):
    data, rules = make(tmp_path, """\
covenants:
  - {id: a-ge, metric: dscr_ttm, must_be: ">= 1.25", warn_at: ">= 1.4"}
  - {id: b-gt, metric: dscr_ttm, must_be: "> 1.25"}
  - {id: c-raw, expr: "cfads_ttm / debt_service_ttm", must_be: ">= 1.25"}
""", financials=FOUR_QUARTERS)
    rows = domain_ref.check(data, rules, dt.date(2026, 1, 15))
    ge, gt, raw = row(rows, "a-ge"), row(rows, "b-gt"), row(rows, "c-raw")
    assert (D(ge["value"]), ge["status"], D(ge["headroom"])) == (D("1.25"), "warning", D(0))
    assert (gt["status"], gt["threshold"]) == ("breach", "> 1.25")
    assert raw["status"] == "ok" and raw["reason"] is None
    assert ge["metric"] == "dscr_ttm" and raw["metric"] == "cfads_ttm / debt_service_ttm"


def test_three_of_four_quarters_is_no_data_with_the_effective_threshold(tmp_path):
    data, rules = make(tmp_path, """\
covenants:
  - id: min-dscr
    metric: dscr_ttm
    must_be: ">= 1.25"
    steps: [{from: 2026-01-01, must_be: ">= 1.35"}, {from: 2025-01-01, must_be: ">= 1.3"}]
  - {id: cash, metric: cash, must_be: ">= 0"}
""", financials=FOUR_QUARTERS[1:])
    rows = domain_ref.check(data, rules, dt.date(2026, 1, 15))
    dscr = row(rows, "min-dscr")
    assert dscr["status"] == "no_data" and dscr["value"] is None and dscr["headroom"] is None
    assert dscr["reason"] == "3 of 4 quarters reported"
    assert dscr["threshold"] == ">= 1.35" and dscr["months_to_breach"] is None
    cash = row(rows, "cash")  # the latest counted period still gives cash; threshold 0: no headroom
    assert (cash["value"], cash["status"], cash["headroom"]) == ("10", "ok", None)


def test_test_period_keeps_the_4_latest_and_is_open_at_l_minus_366(tmp_path):
    rules_text = "covenants:\n  - {id: d, metric: dscr_ttm, must_be: '>= 1'}\n"
    T = "2026-02-15"  # L = 2025-12-31: the window is anchored at L, not at T
    fifth = quarter("2025-01-31", revenue="300", principal="140")  # in the window, but 5th latest
    data, rules = make(tmp_path / "a", rules_text, financials=[fifth] + FOUR_QUARTERS)
    assert row(domain_ref.check(data, rules, T), "d")["value"] == "1.25"
    # L - 366 days = 2024-12-30 (outside); 2024-12-31 is inside.
    inside = quarter("2024-12-31", revenue="325")  # cfads 150
    data, rules = make(tmp_path / "b", rules_text, financials=[inside] + FOUR_QUARTERS[1:])
    assert D(row(domain_ref.check(data, rules, T), "d")["value"]) == D("1.3125")
    outside = quarter("2024-12-30", revenue="325")
    data, rules = make(tmp_path / "c", rules_text, financials=[outside] + FOUR_QUARTERS[1:])
    assert row(domain_ref.check(data, rules, T), "d")["reason"] == "3 of 4 quarters reported"


def test_the_test_period_stands_for_366_days_then_nothing_was_reported_for_a_year(tmp_path):
    data, rules = make(tmp_path, "covenants:\n  - {id: d, metric: dscr_ttm, must_be: '>= 1'}\n",
                       financials=FOUR_QUARTERS)  # L = 2025-12-31
    assert row(domain_ref.check(data, rules, "2026-12-31"), "d")["value"] == "1.25"  # T - 365
    stale = row(domain_ref.check(data, rules, "2027-01-01"), "d")  # L = T - 366
    assert stale["reason"] == "no quarter reported in the 12 months to 2027-01-01"


def test_a_budget_row_ending_after_t_never_counts(tmp_path):
    budget = quarter("2026-03-31", revenue="9000", cash="999", reported_on="2025-11-01")
    data, rules = make(tmp_path, """\
covenants:
  - {id: c, metric: cash, must_be: ">= 0"}
  - {id: d, metric: dscr_ttm, must_be: ">= 1"}
  - {id: r, metric: days_since_period_end, must_be: "<= 135"}
""", financials=FOUR_QUARTERS + [budget])
    rows = domain_ref.check(data, rules, "2026-02-01")
    assert (row(rows, "c")["value"], row(rows, "d")["value"], row(rows, "r")["value"]) == ("10", "1.25", "32")


def test_late_report_counts_only_from_its_reported_on(tmp_path):
    late = quarter("2025-12-31", revenue="400", reported_on="2026-03-10")  # cfads 225
    data, rules = make(tmp_path, """\
covenants:
  - {id: d, metric: dscr_ttm, must_be: ">= 1"}
  - {id: r, metric: days_since_period_end, must_be: "<= 135", warn_at: "<= 60"}
""", financials=FOUR_QUARTERS[:3] + [late])
    before = domain_ref.check(data, rules, "2026-03-09")
    assert row(before, "d")["reason"] == "3 of 4 quarters reported"
    assert (row(before, "r")["value"], row(before, "r")["status"]) == ("160", "breach")  # since 09-30
    after = domain_ref.check(data, rules, "2026-03-10")
    assert D(row(after, "d")["value"]) == D("1.5")  # (125 * 3 + 225) / 400
    assert (row(after, "r")["value"], row(after, "r")["status"]) == ("69", "warning")


def test_no_financials_at_all(tmp_path):
    data, rules = make(tmp_path, """\
covenants:
  - {id: c, metric: cash, must_be: ">= 0"}
  - {id: r, metric: revenue_ttm, must_be: ">= 0"}
""", financials=[quarter("2025-03-31", reported_on="2025-05-01")])
    rows = domain_ref.check(data, rules, "2025-04-30")
    assert row(rows, "c")["reason"] == "no financials reported"
    assert row(rows, "r")["reason"] == "no quarter reported in the 12 months to 2025-04-30"


def test_zero_debt_service_is_no_data_for_dscr_only(tmp_path):
    free = [dict(q, interest="0", principal="0") for q in FOUR_QUARTERS]
    data, rules = make(tmp_path, """\
covenants:
  - {id: a, metric: dscr_ttm, must_be: ">= 1.25"}
  - {id: b, metric: debt_service_ttm, must_be: "<= 0"}
  - {id: c, expr: "cfads_ttm / debt_service_ttm", must_be: ">= 1.25"}
  - {id: d, metric: dscr_fwd_6m, must_be: ">= 1.25"}
""", financials=free)
    rows = domain_ref.check(data, rules, "2026-01-01")
    assert row(rows, "a")["reason"] == "no debt service"
    assert (row(rows, "b")["value"], row(rows, "b")["status"]) == ("0", "ok")
    assert row(rows, "c")["reason"] == "division by zero"
    assert row(rows, "d")["reason"] == "no debt service"


GPU_RULES = """\
valuation:
  models:
    H100: {useful_life_years: 8}
    A100: {residual: 0.6}
covenants:
  - {id: v, metric: gpu_value, must_be: ">= 0"}
  - {id: n, metric: gpu_count, must_be: ">= 0"}
"""
GPU_LOTS = [
    {"facility_id": "F1", "lot_id": "L1", "gpu_model": "H100", "quantity": "10",
     "acquired_on": "2020-01-01", "unit_cost": "30000"},
    {"facility_id": "F1", "lot_id": "L2", "gpu_model": "A100", "quantity": "2",
     "acquired_on": "2020-01-01", "unit_cost": "1000"},
    {"facility_id": "F1", "lot_id": "L3", "gpu_model": "H100", "quantity": "5",
     "acquired_on": "2024-01-02", "unit_cost": "99999"},
]


def test_gpu_mark_30_days_old_counts_31_days_old_falls_back_to_book(tmp_path):
    prices = [{"symbol": "GPU:H100", "date": "2023-12-01", "price": "20000"}]
    data, rules = make(tmp_path, GPU_RULES, gpu_lots=GPU_LOTS, prices=prices)
    # A100: no mark; life 3 inherited, 1 - 4/3 < residual 0.6 -> 600 a unit.
    at_30 = domain_ref.check(data, rules, "2023-12-31")
    assert D(row(at_30, "v")["value"]) == 10 * 20000 + 2 * 600
    # 2020-01-01 -> 2024-01-01 is 1461 days = 4.0 years: H100 book 30000 * (1 - 4/8) = 15000.
    at_31 = domain_ref.check(data, rules, "2024-01-01")
    assert D(row(at_31, "v")["value"]) == 10 * 15000 + 2 * 600
    assert row(at_31, "n")["value"] == "12"  # L3 is acquired after T
    assert row(domain_ref.check(data, rules, "2024-01-02"), "n")["value"] == "17"


CRYPTO_RULES = """\
covenants:
  - {id: cv, metric: crypto_value, must_be: ">= 60000"}
  - {id: cc, metric: crypto_coverage, must_be: ">= 1.5"}
  - {id: ltv, metric: ltv, must_be: "<= 0.7"}
  - {id: gv, metric: gpu_value, must_be: ">= 0"}
"""
CRYPTO_ROWS = [
    {"facility_id": "F1", "asset": "BTC", "as_of": "2025-01-01", "quantity": "2"},
    {"facility_id": "F1", "asset": "ETH", "as_of": "2025-01-01", "quantity": "10"},
    {"facility_id": "F1", "asset": "ETH", "as_of": "2025-06-01", "quantity": "0"},
]


def test_stale_crypto_price_and_unpledged_assets(tmp_path):
    prices = [{"symbol": "BTC", "date": "2025-06-27", "price": "50000"},
              {"symbol": "ETH", "date": "2025-01-01", "price": "3000"}]
    balances = [{"facility_id": "F1", "as_of": "2025-01-01", "outstanding": "500"},
                {"facility_id": "F1", "as_of": "2025-06-29", "outstanding": "0"}]
    data, rules = make(tmp_path, CRYPTO_RULES, crypto=CRYPTO_ROWS, prices=prices, balances=balances)
    before_pledge = domain_ref.check(data, rules, "2024-12-31")  # first rows after T
    assert row(before_pledge, "cv")["value"] == "0"
    assert D(row(before_pledge, "cc")["value"]) == 0  # 0 / facilities.outstanding 800
    assert row(before_pledge, "ltv")["reason"] == "no collateral"
    fresh = domain_ref.check(data, rules, "2025-06-28")  # BTC 1 day old; ETH at 0 needs no price
    assert (D(row(fresh, "cv")["value"]), D(row(fresh, "cc")["value"])) == (100000, 200)
    assert D(row(fresh, "ltv")["value"]) == D("0.005")
    edge = domain_ref.check(data, rules, "2025-06-29")  # 2 days old still counts; nothing outstanding
    assert D(row(edge, "cv")["value"]) == 100000
    assert row(edge, "cc")["reason"] == "nothing outstanding"
    stale = domain_ref.check(data, rules, "2025-06-30")  # 3 days old
    for covenant in ("cv", "cc", "ltv"):
        assert row(stale, covenant)["status"] == "no_data"
        assert "BTC" in row(stale, covenant)["reason"]
    assert row(stale, "gv")["status"] == "ok"


MONTHS_QUARTERS = [dict(q, revenue="250", opex="75", capex="30", taxes="20") for q in FOUR_QUARTERS]


def test_months_to_breach_hand_case(tmp_path):
    # revenue_ttm 1000, costs 500, debt service 400, r = -0.19 (no lots: default_rate), so
    # forward DSCR m months ahead = (1000 * 0.81^(m/12) - 500) / 400 >= 1 iff 0.81^(m/12) >= 0.9
    # iff m <= 6.
    data, rules = make(tmp_path, """\
forecast: {default_rate: -0.19}
covenants:
  - {id: a, metric: dscr_ttm, must_be: ">= 1"}
  - id: b
    metric: dscr_ttm
    must_be: ">= 1"
    steps: [{from: 2026-04-30, must_be: ">= 1.2"}]
  - {id: c, metric: dscr_ttm, must_be: ">= 1", overrides: {F1: ">= 1.3"}}
  - {id: d, metric: dscr_fwd_6m, must_be: ">= 1"}
  - {id: e, metric: dscr_fwd_12m, must_be: ">= 1"}
  - {id: f, metric: dscr_ttm, must_be: ">= -1.25"}
  - {id: h, metric: dscr_ttm, must_be: ">= 0.1"}
  - {id: g, expr: "dscr_ttm", must_be: ">= 1"}
""", financials=MONTHS_QUARTERS)
    rows = domain_ref.check(data, rules, "2026-01-31")
    assert row(rows, "a")["months_to_breach"] == 7
    # 2026-01-31 + 3 months is clamped to 2026-04-30, the step's date: 1.1217... < 1.2.
    assert row(rows, "b")["months_to_breach"] == 3
    assert (row(rows, "c")["status"], row(rows, "c")["months_to_breach"]) == ("breach", 0)
    assert D(row(rows, "d")["value"]) == 1
    assert D(row(rows, "e")["value"]) == D("0.775")
    assert row(rows, "f")["months_to_breach"] is None  # -500 / 400 is the floor: never
    # 0.81^(m/12) < 0.54 iff m > 12 * ln 0.54 / ln 0.81 = 35.09...
    assert row(rows, "h")["months_to_breach"] == 36
    assert row(rows, "g")["months_to_breach"] is None  # not a dscr_ttm metric


def test_add_months_clamps_to_the_end_of_the_month():
    assert domain_ref.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert domain_ref.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert domain_ref.add_months(dt.date(2025, 11, 30), 14) == dt.date(2027, 1, 30)


def test_rental_deflation_weighs_models_by_quantity(tmp_path):
    lots = [
        {"facility_id": "F1", "lot_id": "L1", "gpu_model": "H100", "quantity": "30",
         "acquired_on": "2024-01-01", "unit_cost": "1"},
        {"facility_id": "F1", "lot_id": "L2", "gpu_model": "A100", "quantity": "10",
         "acquired_on": "2024-01-01", "unit_cost": "1"},
        {"facility_id": "F1", "lot_id": "L3", "gpu_model": "B200", "quantity": "1000",
         "acquired_on": "2026-02-01", "unit_cost": "1"},
    ]
    prices = [{"symbol": "RENT:H100", "date": "2024-12-25", "price": "3.2"},
              {"symbol": "RENT:H100", "date": "2025-12-20", "price": "2.4"}]
    data, rules = make(tmp_path, """\
forecast: {default_rate: -0.2, rates: {A100: -0.45}}
covenants:
  - {id: r, metric: rental_deflation, must_be: ">= -0.3"}
""", gpu_lots=lots, prices=prices)
    observed = row(domain_ref.check(data, rules, "2025-12-31"), "r")
    assert (D(observed["value"]), observed["status"], D(observed["headroom"])) == (D("-0.3"), "ok", 0)
    stale = row(domain_ref.check(data, rules, "2026-01-25"), "r")  # 2.4 is 36 days old
    assert D(stale["value"]) == D("-0.2625")  # (30 * -0.2 + 10 * -0.45) / 40
    assert D(row(domain_ref.check(data, rules, "2023-12-31"), "r")["value"]) == D("-0.2")  # no lots


def test_stress_shocks_hand_case(tmp_path):
    lots = [GPU_LOTS[0]]
    prices = [{"symbol": "GPU:H100", "date": "2025-12-20", "price": "20000"},
              {"symbol": "BTC", "date": "2025-12-31", "price": "50000"}]
    data, rules = make(tmp_path, """\
covenants:
  - {id: cv, metric: crypto_value, must_be: ">= 60000"}
  - {id: d, metric: dscr_ttm, must_be: ">= 1.25"}
  - {id: g, metric: gpu_value, must_be: "> 100000"}
scenarios:
  - {name: z-gpu, shocks: {gpu: "-40%", "gpu:H100": "-0.5", "gpu:A100": "-0.9"}}
  - {name: a-all, shocks: {BTC: "-50%", rent: "-30%"}}
""", gpu_lots=lots, prices=prices, financials=FOUR_QUARTERS, crypto=CRYPTO_ROWS[:1])
    rows = domain_ref.stress(data, rules, "2025-12-31")
    assert [(r["scenario"], r["covenant_id"]) for r in rows] == [
        ("a-all", "cv"), ("a-all", "d"), ("a-all", "g"), ("z-gpu", "cv"), ("z-gpu", "d"), ("z-gpu", "g")]
    by = {(r["scenario"], r["covenant_id"]): r for r in rows}
    assert (by["a-all", "cv"]["base_status"], D(by["a-all", "cv"]["stressed_value"])) == ("ok", 50000)
    assert by["a-all", "cv"]["stressed_status"] == "breach"
    assert D(by["a-all", "d"]["stressed_value"]) == D("0.35")  # revenue 210: cfads 35 a quarter
    assert D(by["a-all", "g"]["stressed_value"]) == 200000
    assert D(by["z-gpu", "g"]["stressed_value"]) == 60000  # 20000 * 0.6 * 0.5 * 10
    assert (by["z-gpu", "g"]["base_status"], by["z-gpu", "g"]["stressed_status"]) == ("ok", "breach")
    adhoc = domain_ref.stress(data, rules, "2025-12-31", shocks=["BTC=-0.5"])
    assert {r["scenario"] for r in adhoc} == {"adhoc"} and len(adhoc) == 3
    named = domain_ref.stress(data, rules, "2025-12-31", scenarios=["z-gpu"], shocks={"rent": "-10%"})
    assert {r["scenario"] for r in named} == {"z-gpu", "adhoc"}


def test_headroom_with_a_negative_threshold_and_effective_thresholds(tmp_path):
    data, rules = make(tmp_path, """\
covenants:
  - id: m
    expr: "0 - 0.42"
    must_be: ">= -0.35"
  - id: s
    expr: "1"
    must_be: ">= 2"
    steps: [{from: 2025-06-01, must_be: "< 3"}, {from: 2025-01-01, must_be: "<= 0.5"}]
  - {id: o, expr: "1", must_be: ">= 2", overrides: {F1: "<= 4"}, steps: [{from: 2025-01-01, must_be: ">= 9"}]}
""")
    rows = domain_ref.check(data, rules, "2025-03-01")
    assert (row(rows, "m")["status"], D(row(rows, "m")["headroom"])) == ("breach", D("-0.2"))
    assert (row(rows, "s")["threshold"], row(rows, "s")["status"]) == ("<= 0.5", "breach")
    assert (row(rows, "o")["threshold"], D(row(rows, "o")["headroom"])) == ("<= 4", D("0.75"))
    later = domain_ref.check(data, rules, "2025-06-01")
    assert (row(later, "s")["threshold"], D(row(later, "s")["headroom"])) == ("< 3", D(2) / D(3))


def test_applies_to_needs_both_type_and_id_when_both_are_given(tmp_path):
    data, rules = make(tmp_path, """\
covenants:
  - {id: a, expr: "1", must_be: ">= 0", applies_to: {facility_type: [gpu_abl], facility_id: [F1]}}
  - {id: b, expr: "1", must_be: ">= 0", applies_to: {facility_type: [gpu_abl], facility_id: [F2]}}
  - {id: c, expr: "1", must_be: ">= 0", applies_to: {facility_id: [F1]}}
  - {id: d, expr: "1", must_be: ">= 0", applies_to: {facility_type: [crypto_backed]}}
""")
    assert [r["covenant_id"] for r in domain_ref.check(data, rules, "2025-01-01")] == ["a", "c"]


def lookup(values):
    return lambda name: values[name]


def test_expression_evaluator():
    values = {"cash": D(7), "ltv": domain_ref.Missing("no collateral"), "outstanding": D(0)}
    assert domain_ref.evaluate("-2 * (3 + 4) / max(1, 2, abs(-cash))", lookup(values)) == D(-2)
    assert domain_ref.evaluate("1 - 2 - 3", lookup(values)) == D(-4)
    assert domain_ref.evaluate("8 / 4 / 2", lookup(values)) == D(1)
    assert domain_ref.evaluate("min(cash, 2.5) + --1", lookup(values)) == D("3.5")
    assert domain_ref.evaluate("cash / outstanding", lookup(values)) == domain_ref.Missing("division by zero")
    assert domain_ref.evaluate("max(ltv, 1) / 0", lookup(values)) == domain_ref.Missing("no collateral")
    assert domain_ref.evaluate("1 / 3", lookup(values)) == D(1) / D(3)
    for bad in ("cash.real", "__import__('os')", "foo + 1", "round(cash)", "cash ** 2", "(cash", "abs(1, 2)"):
        with pytest.raises(ValueError):
            domain_ref.evaluate(bad, lookup(values))
