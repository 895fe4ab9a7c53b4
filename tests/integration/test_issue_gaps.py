"""Gaps the issues' own test lists named but the suite did not pin end to end (issues 3, 5 and 6).

Each test goes through the real parts: CSV import into SQLite, the CLI (CliRunner), the service.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli import app
from bot.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo" / "portfolio"
RULES = ROOT / "rules"
AS_OF = "2026-11-20"


def run(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def ok(result):
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture()
def engine(env):
    engine = make_engine(f"sqlite:///{env / 'covbot.db'}")
    yield engine
    engine.dispose()


# -- issue 3: a DSCR exactly on the threshold in decimal complies, through CSV, database and check ----------

FACILITY = ("facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,maturity_date,"
            "owner_email,slack_channel\nEXACT-1,Exact Compute LLC,gpu_abl,USD,1000,10,2024-01-01,2030-01-01,,\n")
QUARTERS = [("2025-06-30", "1.2", "0.87"), ("2025-09-30", "1.3", "0.97"), ("2025-12-31", "1.4", "1.07"),
            ("2026-03-31", "1.5", "1.17")]
EXACT_RULES = """\
covenants:
  - id: min-dscr
    metric: dscr_ttm
    must_be: ">= 1.1"
  - id: min-dscr-strict
    metric: dscr_ttm
    must_be: "> 1.1"
"""


def test_a_dscr_exactly_on_the_threshold_complies_end_to_end_where_floats_would_breach(env):
    floats = sum(float(r) - float(o) for _, r, o in QUARTERS) / (4 * (0.1 + 0.2))
    assert floats < 1.1  # binary floating point would call this a breach
    data = env / "exact"
    data.mkdir()
    (data / "facilities.csv").write_text(FACILITY)
    (data / "financials.csv").write_text(
        "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
        + "".join(f"EXACT-1,{end},{r},{o},0,0,0.1,0.2,5,\n" for end, r, o in QUARTERS))
    (env / "rules.yaml").write_text(EXACT_RULES)
    ok(run("import", data))
    rows = json.loads(ok(run("check", "--rules", env / "rules.yaml", "--as-of", "2026-04-15", "--format", "json",
                             "--dry-run", "--no-notify")).stdout)
    by_id = {r["covenant_id"]: r for r in rows}
    assert D(by_id["min-dscr"]["value"]) == D("1.1")
    assert by_id["min-dscr"]["status"] == "ok"
    assert D(by_id["min-dscr"]["headroom"]) == 0
    assert by_id["min-dscr-strict"]["status"] == "breach"


# -- issue 3 "Done when": bad CSV / rule files refused with file and line; data AND results unchanged -----

def _demo_with_results(table_snapshot, engine):
    ok(run("import", DEMO))
    ok(run("check", "--rules", RULES, "--as-of", AS_OF, "--no-notify", "--format", "json"))
    before = table_snapshot(engine)
    assert before["evaluation_results"], "the check stored results to protect"
    return before


def test_a_bad_csv_through_the_cli_names_file_and_line_and_changes_no_data_or_results(env, engine, table_snapshot):
    before = _demo_with_results(table_snapshot, engine)
    bad = env / "bad"
    bad.mkdir()
    (bad / "balances.csv").write_text("facility_id,as_of,outstanding\nGPUC-001,2026-11-30,1\n")  # valid
    (bad / "financials.csv").write_text(
        "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
        "GPUC-001,2026-10-31,1,2,3,4,5,6,7,\n"
        "GPUC-001,2026-11-30,oops,2,3,4,5,6,7,\n")
    result = run("import", bad)
    assert result.exit_code != 0
    assert "financials.csv:3:3" in result.output
    assert table_snapshot(engine) == before


def test_a_bad_rule_file_through_check_names_file_line_column_and_changes_no_results(env, engine, table_snapshot):
    before = _demo_with_results(table_snapshot, engine)
    bad = env / "bad-rules"
    shutil.copytree(RULES, bad, ignore=shutil.ignore_patterns("tests"))
    original = (bad / "dscr.yaml").read_text()
    (bad / "dscr.yaml").write_text(original.replace('">= 1.25"', '"=> 1.25"', 1))
    line = next(i for i, t in enumerate(original.splitlines(), 1) if '">= 1.25"' in t)
    column = original.splitlines()[line - 1].index('"') + 1
    result = run("check", "--rules", bad, "--as-of", AS_OF, "--no-notify")
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert re.search(rf"dscr\.yaml:{line}:{column}\b", said), said
    assert table_snapshot(engine) == before


# -- issue 6: the back-test never sees a quarter reported after each test date (end to end) -------------

def _backtest(start: str, end: str) -> dict:
    result = ok(run("backtest", "--rules", RULES, "--from", start, "--to", end, "--every", "1w", "--format", "json"))
    return json.loads(result.stdout)


def test_the_back_test_never_sees_a_quarter_before_the_day_it_was_reported(env):
    ok(run("import", DEMO))
    blind = _backtest("2026-08-01", AS_OF)
    late = env / "late"
    late.mkdir()  # a disastrous quarter, reported only on 2026-11-10
    (late / "financials.csv").write_text(
        "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
        "GPUC-001,2026-10-15,0,20000000,0,0,1000000,4870000,100,2026-11-10\n")
    ok(run("import", late))
    seen = _backtest("2026-08-01", AS_OF)
    assert seen["dates"] == blind["dates"]
    reported = seen["dates"].index(next(d for d in seen["dates"] if d >= "2026-11-10"))
    statuses = {(r["facility_id"], r["covenant_id"]): r["statuses"] for r in blind["results"]}
    changed_after = False
    for r in seen["results"]:
        before = statuses[(r["facility_id"], r["covenant_id"])]
        assert r["statuses"][:reported] == before[:reported], (r["facility_id"], r["covenant_id"])
        changed_after |= r["statuses"][reported:] != before[reported:]
    assert changed_after  # once reported, the quarter does count
    dscr = {(r["facility_id"], r["covenant_id"]): r for r in seen["results"]}[("GPUC-001", "min-dscr")]
    assert dscr["statuses"][reported] == "breach"
    assert statuses[("GPUC-001", "min-dscr")][reported] == "ok"


# -- issue 6: the combined scenario on the demo portfolio gives the breaches a hand calculation predicts ---

BTC, ETH = D("77250.00"), D("2655.00")  # demo spot prices on 2026-11-20
CRYPTO = {  # pledged quantities known on 2026-11-20 and outstanding on that date (balances.csv or facilities.csv)
    "MINR-001": (D(1240), D(0), D(72000000)),
    "MINR-002": (D(1400), D(18000), D(96500000)),
    "MINR-003": (D(1950), D(0), D(61000000)),  # SOL went to 0 on 2026-08-14: no longer pledged
    "MINR-004": (D(900), D(6500), D(41000000)),
    "CRYP-001": (D(820), D(0), D(45000000)),
    "CRYP-003": (D(0), D(10500), D(15000000)),
}


def _status(value: D, must_be: str, warn_at: str) -> str:
    def holds(v: D, t: str) -> bool:
        op, number = t.split()
        return {">=": v >= D(number), "<=": v <= D(number)}[op]
    return "ok" if holds(value, warn_at) else "warning" if holds(value, must_be) else "breach"


def test_correlation_convergence_on_the_demo_breaches_what_a_hand_calculation_predicts(env):
    ok(run("import", DEMO))
    result = ok(run("stress", "--rules", RULES, "--as-of", AS_OF, "--scenario", "correlation-convergence",
                    "--format", "json"))
    rows = {(r["facility_id"], r["covenant_id"]): r for r in json.loads(result.stdout)}

    # crypto coverage = Σ quantity × price / outstanding; the scenario keeps 35 % of BTC and 30 % of ETH
    for facility, (btc, eth, outstanding) in CRYPTO.items():
        base = (btc * BTC + eth * ETH) / outstanding
        stressed = (btc * BTC * D("0.35") + eth * ETH * D("0.30")) / outstanding
        row = rows[(facility, "crypto-cover")]
        assert (D(row["base_value"]), row["base_status"]) == (base, _status(base, ">= 1.50", ">= 1.70")), facility
        assert (D(row["stressed_value"]), row["stressed_status"]) == (stressed, "breach"), facility
    # crypto-backed LTV = outstanding / collateral (no GPUs pledged)
    for facility in ("CRYP-001", "CRYP-003"):
        btc, eth, outstanding = CRYPTO[facility]
        stressed = outstanding / (btc * BTC * D("0.35") + eth * ETH * D("0.30"))
        row = rows[(facility, "crypto-ltv")]
        assert (D(row["stressed_value"]), row["stressed_status"]) == (stressed, "breach")
    assert rows[("CRYP-002", "crypto-cover")]["stressed_status"] == "no_data"  # SOL price 5 days old

    # GPUC-001, the 4 quarters known on 2026-11-20 (2025-12-31 .. 2026-09-30):
    revenue = D(25037000 + 23410000 + 21888000 + 20466000)
    costs = D(7032000 + 7102000 + 7174000 + 7245000) + D(751000 + 702000 + 657000 + 614000) \
        + D(376000 + 351000 + 328000 + 307000)
    debt_service = D(1380000 + 1252000 + 1125000 + 997000) + 4 * D(4870000)
    row = rows[("GPUC-001", "min-dscr")]
    assert (D(row["base_value"]), row["base_status"]) == ((revenue - costs) / debt_service, "ok")
    assert (D(row["stressed_value"]), row["stressed_status"]) == (
        (revenue * D("0.6") - costs) / debt_service, "breach")  # rent −40 %: 0.90 < 1.25
    # liquidity and the reporting deadline are moved by none of the shocks
    for cid in ("min-liquidity", "reporting-deadline"):
        row = rows[("GPUC-001", cid)]
        assert (row["stressed_value"], row["stressed_status"]) == (row["base_value"], row["base_status"])


# -- issue 5: hot reload with a real file edit — the new rules are what the next evaluation stores ------

SERVICE_RULES = "covenants:\n  - id: max-outstanding\n    metric: outstanding\n    must_be: \"<= 1\"\n"
EXTRA = "covenants:\n  - id: min-commitment\n    metric: commitment\n    must_be: \">= 1\"\n"
BROKEN = "covenants:\n  - id: min-commitment\n    metric: commitment\n    must_bee: \">= 1\"\n"


def _stored_covenants(engine, run_id) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(
            text("SELECT DISTINCT covenant_id FROM evaluation_results WHERE run_id = :r"), {"r": run_id})}


def test_hot_reload_the_next_evaluation_stores_the_edited_rules_and_a_broken_edit_keeps_them(
        tmp_path, monkeypatch, csv_folder):
    from bot.config import load_settings
    from bot.bootstrap import App
    from bot.usecases.imports import import_data
    from bot.daemon.scheduler import Service

    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text(SERVICE_RULES)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                             outbox_dir=str(tmp_path / "out"), dispatch_seconds=3600, eval_cron="0 6 * * *",
                             digest_cron="0 7 1 1 *")
    import_data(App(settings).engine, csv_folder("data"))
    service = Service(App(settings))
    service.start()
    try:
        as_of = date(2026, 1, 15)
        first = service.evaluate(as_of)
        assert _stored_covenants(service.engine, first.run_id) == {"max-outstanding"}
        (rules / "b.yaml").write_text(EXTRA)
        edited = service.evaluate(as_of)
        assert _stored_covenants(service.engine, edited.run_id) == {"max-outstanding", "min-commitment"}
        (rules / "b.yaml").write_text(BROKEN)
        kept = service.evaluate(as_of)
        assert _stored_covenants(service.engine, kept.run_id) == {"max-outstanding", "min-commitment"}
    finally:
        service.stop()
