"""`covbot stress` end to end on the demo portfolio (CliRunner, a temporary SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo" / "portfolio"
RULES = str(ROOT / "rules")
AS_OF = "2026-11-20"
SCENARIOS = ["blackwell-step-down", "correlation-convergence", "crypto-winter", "rental-slump"]
FIELDS = {"scenario", "facility_id", "covenant_id", "threshold", "base_value", "base_status", "stressed_value",
          "stressed_status"}



def stress(*args: str):
    return CliRunner().invoke(app, ["stress", "--rules", RULES, "--as-of", AS_OF, *args], catch_exceptions=False)


def stress_json(*args: str) -> list[dict]:
    result = stress("--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def base_results() -> list[dict]:
    result = CliRunner().invoke(app, ["check", "--rules", RULES, "--as-of", AS_OF, "--format", "json", "--dry-run"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_named_scenario_covers_every_facility_and_covenant_sorted(demo_db):
    rows = stress_json("--scenario", "crypto-winter")
    base = base_results()
    assert all(set(r) == FIELDS for r in rows)
    assert {r["scenario"] for r in rows} == {"crypto-winter"}
    assert [(r["facility_id"], r["covenant_id"]) for r in rows] == [(b["facility_id"], b["covenant_id"]) for b in base]
    assert [(r["base_value"], r["base_status"], r["threshold"]) for r in rows] == [
        (b["value"], b["status"], b["threshold"]) for b in base
    ]
    moved = {(r["facility_id"], r["covenant_id"]) for r in rows if r["stressed_value"] != r["base_value"]}
    assert moved and all(cid in ("crypto-cover", "crypto-ltv") for _, cid in moved)
    assert any(r["base_status"] != "breach" and r["stressed_status"] == "breach" for r in rows)


def test_ad_hoc_shocks_equal_the_same_shocks_in_a_scenario(demo_db):
    named = stress_json("--scenario", "crypto-winter")
    adhoc = stress_json("--shock", "BTC=-65%", "--shock", "ETH=-0.70")
    assert {r["scenario"] for r in adhoc} == {"adhoc"}
    strip = [{k: v for k, v in r.items() if k != "scenario"} for r in named]
    assert [{k: v for k, v in r.items() if k != "scenario"} for r in adhoc] == strip


def test_without_options_every_scenario_runs_and_with_both_the_named_plus_adhoc(demo_db):
    rows = stress_json()
    assert sorted({r["scenario"] for r in rows}) == SCENARIOS
    keys = [(r["scenario"], r["facility_id"], r["covenant_id"]) for r in rows]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == 4 * len(base_results())
    both = stress_json("--scenario", "rental-slump", "--shock", "gpu=-20%", "--shock", "gpu:H100=-10%")
    assert sorted({r["scenario"] for r in both}) == ["adhoc", "rental-slump"]


@pytest.mark.parametrize("args, words", [
    (["--scenario", "nuclear-winter"], "No stress scenario is named 'nuclear-winter'"),
    (["--shock", "BTC=-150%"], "'BTC=-150%'"),
    (["--shock", "btc=-50%"], "did you mean BTC?"),
    (["--shock", "rent"], "KEY=CHANGE"),
])
def test_an_unknown_scenario_or_a_bad_shock_is_a_usage_error(demo_db, args, words):
    result = stress(*args)
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())
    assert result.stdout == ""


def test_the_table_shows_changes_summaries_double_leverage_and_deflation(demo_db):
    result = stress()
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for name in SCENARIOS:
        assert f"{name}:" in text
    assert "Rental deflation per GPU model" in text and "observed" in text and "assumed" in text
    assert "double leverage" in text.lower() and "MINR-001" in text
    assert "Facilities newly in breach" in text and "Worst stressed headroom" in text
    assert "Covenants failing most" in text


def test_a_shock_that_moves_nothing_is_flagged(demo_db):
    typo = stress("--shock", "gpu:h100=-40%")
    assert typo.exit_code == 0
    assert "shock gpu:h100 moves nothing" in typo.output and "H100" in typo.output
    unknown = stress("--shock", "DOGE=-50%")
    assert "shock DOGE moves nothing" in unknown.output
    real = stress("--shock", "gpu:H100=-40%")
    assert "moves nothing" not in real.output
