"""`covbot fire-sale` end to end on a small hand-computed book (CliRunner, a temporary SQLite file).

Every H100 is marked at 100; H100 sells at orderly 0.60 / forced 0.25 with a depth of 5 a month,
so over the 180-day horizon the market takes C = 30 units at the orderly price.

    F1  20 H100, outstanding 1,500   liquidation LTV 1,500 / 1,200 → breach of liq-ltv (<= 0.3)
    F2  20 H100, outstanding   500   500 / 1,200 = 0.42 → breach
    F3  10 H100, outstanding   100   100 / 600 = 0.17 → ok (breach under gpu −50 %: 100 / 300)
    F4  10 H100, outstanding     0   in breach (override "< 0") but nothing to recover: never foreclosed
    F5  10 H100 + ETH with a stale price, outstanding 1,000: breach of min-gpus; values null
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.reference import domain_ref

AS_OF = "2026-03-31"
FILES = {
    "facilities.csv": """facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,maturity_date,owner_email,slack_channel
F1,One,gpu_abl,USD,5000,1500,2024-01-01,2030-01-01,,
F2,Two,gpu_abl,USD,5000,500,2024-01-01,2030-01-01,,
F3,Three,gpu_abl,USD,5000,100,2024-01-01,2030-01-01,,
F4,Four,gpu_abl,USD,5000,0,2024-01-01,2030-01-01,,
F5,Five,miner,USD,5000,1000,2024-01-01,2030-01-01,,
""",
    "gpu_lots.csv": """facility_id,lot_id,gpu_model,quantity,acquired_on,unit_cost
F1,L1,H100,20,2025-01-01,1000
F2,L1,H100,20,2025-01-01,1000
F3,L1,H100,10,2025-01-01,1000
F4,L1,H100,10,2025-01-01,1000
F5,L1,H100,10,2025-01-01,1000
""",
    "crypto.csv": """facility_id,asset,as_of,quantity
F5,ETH,2026-01-01,1
""",
    "prices.csv": """symbol,date,price
GPU:H100,2026-03-31,100
ETH,2026-03-26,2000
BTC,2026-03-31,60000
""",
}
RULES = """\
valuation:
  liquidation:
    models:
      H100: {monthly_depth: 5}
covenants:
  - id: liq-ltv
    metric: liquidation_ltv
    must_be: "<= 0.3"
    overrides: {F4: "< 0"}
    applies_to: {facility_type: [gpu_abl]}
  - id: min-gpus
    metric: gpu_count
    must_be: ">= 15"
    applies_to: {facility_id: [F5]}
scenarios:
  - {name: gpu-crash, shocks: {gpu: "-50%"}}
  - {name: calm, shocks: {BTC: "+10%"}}
"""
KEYS = ["scenario", "facility_id", "outstanding", "collateral_value", "liquidation_value", "fire_sale_value",
        "recovery", "loss", "reason"]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    root = tmp_path_factory.mktemp("fire-sale")
    (root / "data").mkdir()
    for name, text in FILES.items():
        (root / "data" / name).write_text(text, encoding="utf-8")
    (root / "rules.yaml").write_text(RULES, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVBOT_DATABASE_URL", f"sqlite:///{root / 'covbot.db'}")
        mp.setenv("COVBOT_ENV_FILE", "/dev/null")
        result = CliRunner().invoke(app, ["import", str(root / "data")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        yield root


def fire_sale(book: Path, *args: str):
    return CliRunner().invoke(app, ["fire-sale", "--rules", str(book / "rules.yaml"), "--as-of", AS_OF, *args],
                              catch_exceptions=False)


def rows(book: Path, *args: str) -> list[dict]:
    result = fire_sale(book, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert all(list(r) == KEYS for r in found)
    return found


def money(row: dict) -> tuple:
    return tuple(None if row[k] is None else D(row[k]) for k in ("fire_sale_value", "recovery", "loss"))


def test_base_forecloses_the_facilities_in_breach_and_they_share_the_market(book):
    found = rows(book)
    assert [(r["scenario"], r["facility_id"]) for r in found] == [("base", "F1"), ("base", "F2"), ("base", "F5")]
    f1, f2, f5 = found
    # Q_total = 20 + 20 + 10 = 50 > 30: f = 0.6, each value × (0.60 × 0.6 + 0.25 × 0.4) = × 0.46
    assert money(f1) == (D(920), D(920), D(580))
    assert money(f2) == (D(920), D(500), D(0))
    assert (D(f1["collateral_value"]), D(f1["liquidation_value"])) == (D(2000), D(1200))  # alone: all orderly
    # F5's ETH price is 5 days old: its values are null with the reason, but its 10 H100 crowd the others
    assert f5["outstanding"] == "1000" and money(f5) == (None, None, None) and f5["collateral_value"] is None
    assert "ETH" in f5["reason"] and f1["reason"] is None


def test_all_forecloses_every_facility_with_something_outstanding(book):
    found = rows(book, "--all")
    assert [r["facility_id"] for r in found] == ["F1", "F2", "F3", "F5"]  # F4 has nothing outstanding
    # Q_total = 60: f = 0.5, × 0.425
    assert [money(r) for r in found[:3]] == [(D(850), D(850), D(650)), (D(850), D(500), D(0)),
                                              (D("425"), D(100), D(0))]


def test_two_scenarios_in_one_run_and_no_base_rows(book):
    found = rows(book, "--scenario", "gpu-crash", "--scenario", "calm")
    assert [(r["scenario"], r["facility_id"]) for r in found] == [
        ("calm", "F1"), ("calm", "F2"), ("calm", "F5"),
        ("gpu-crash", "F1"), ("gpu-crash", "F2"), ("gpu-crash", "F3"), ("gpu-crash", "F5"),
    ]
    calm = {r["facility_id"]: money(r) for r in found if r["scenario"] == "calm"}
    assert calm["F1"] == (D(920), D(920), D(580))
    crash = {r["facility_id"]: r for r in found if r["scenario"] == "gpu-crash"}
    # GPU values halve and F3 falls into breach: Q_total = 60, f = 0.5
    assert money(crash["F1"]) == (D(425), D(425), D(1075))
    assert money(crash["F3"]) == (D("212.5"), D(100), D(0))
    assert D(crash["F1"]["collateral_value"]) == D(1000) and D(crash["F1"]["outstanding"]) == D(1500)


def test_ad_hoc_shocks_form_the_adhoc_scenario(book):
    adhoc = rows(book, "--shock", "gpu=-50%")
    named = rows(book, "--scenario", "gpu-crash")
    assert {r["scenario"] for r in adhoc} == {"adhoc"}
    assert [{**r, "scenario": "x"} for r in adhoc] == [{**r, "scenario": "x"} for r in named]


def test_the_cli_agrees_with_the_reference_on_the_hand_computed_book(book):
    for scenarios, shocks, everyone in ((None, None, False), (None, None, True), (["gpu-crash", "calm"], None, False),
                                        (None, ["gpu=-50%"], True)):
        args = [a for name in scenarios or [] for a in ("--scenario", name)]
        args += [a for s in shocks or [] for a in ("--shock", s)] + (["--all"] if everyone else [])
        reference = domain_ref.fire_sale(book / "data", book / "rules.yaml", AS_OF, scenarios, shocks, everyone)
        real = rows(book, *args)
        assert [(r["scenario"], r["facility_id"]) for r in real] == [(r["scenario"], r["facility_id"]) for r in reference]
        for a, b in zip(real, reference):
            for key in KEYS[2:-1]:
                assert (a[key] is None) == (b[key] is None) and (a[key] is None or D(a[key]) == D(b[key])), (a, b)


def test_the_table_shows_totals_the_market_and_book_beside_liquidation_ltv(book):
    result = fire_sale(book, "--scenario", "gpu-crash")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "gpu-crash" in out and "Foreclosed: 4 facilities, exposure 3,100" in out
    assert "loss 1,150" in out and "loss rate" in out  # 1,075 + 75
    for heading in ("Units to sell", "Capacity", "Orderly share", "Months to", "Book LTV", "Liquidation LTV"):
        assert heading in out, heading
    assert "50.0%" in out  # the shared orderly share
    assert "Not valued" in out and "F5" in out


def test_exit_codes_as_check(book, tmp_path):
    unknown = fire_sale(book, "--scenario", "nope")
    assert unknown.exit_code == 2 and "nope" in unknown.output
    bad_shock = fire_sale(book, "--shock", "gpu=-150%")
    assert bad_shock.exit_code == 2
    bad_rules = tmp_path / "bad.yaml"
    bad_rules.write_text("valuation:\n  liquidation:\n    crypto: {BTC: 1.5}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["fire-sale", "--rules", str(bad_rules), "--as-of", AS_OF])
    assert result.exit_code == 2 and f"{bad_rules}:3:" in result.output


def test_the_shipped_liquidation_rule_test_passes():
    shipped = Path(__file__).resolve().parents[2] / "rules" / "tests" / "liquidation_test.yaml"
    result = CliRunner().invoke(app, ["rules", "test", str(shipped)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "4 expectation(s) in 1 file(s), 0 mismatch(es)" in result.output
