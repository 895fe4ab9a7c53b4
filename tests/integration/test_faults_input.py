"""Absurd input ends in one sentence, never a traceback (issue 13: items 2, 6, 10 and 11)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

RULES = """\
covenants:
  - id: cover
    metric: crypto_coverage
    must_be: "<= 0.000001"
    notify: {slack: ["#credit-alerts"]}
  - id: ltv
    metric: ltv
    must_be: "<= 0.000000000001"
  - id: dscr
    metric: dscr_ttm
    must_be: "<= 1.25"
    warn_at: "<= 1"
scenarios:
  - {name: crash, shocks: {BTC: "-65%"}}
"""

BIG = "999999999999999999"  # 18 integer digits: the largest amount a lender's file may hold

HUGE_PORTFOLIO = {
    "facilities.csv": (
        "facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
        "maturity_date,owner_email,slack_channel\n"
        f"BIG-001,Huge Co,gpu_abl,USD,{BIG}.99,0.000000000000000001,2024-01-01,2030-01-01,,\n"
    ),
    "financials.csv": (
        "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
        + "".join(f"BIG-001,{d},{BIG},0,0,0,0.000000000000000001,0,{BIG},\n"
                  for d in ("2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31"))
    ),
    "gpu_lots.csv": ("facility_id,lot_id,gpu_model,quantity,acquired_on,unit_cost\n"
                     f"BIG-001,L1,H100,{BIG},2025-01-01,{BIG}\n"),
    "crypto.csv": f"facility_id,asset,as_of,quantity\nBIG-001,BTC,2025-12-01,{BIG}\n",
    "prices.csv": f"symbol,date,price\nBTC,2026-01-01,{BIG}.999999999999999999\n",
}


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _said(result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def _no_traceback(result) -> None:
    assert "Traceback" not in _said(result), _said(result)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# -- item 2: number bounds at import ------------------------------------------------------------

@pytest.mark.parametrize("value,column", [("1" + "0" * 28, 3), ("-1" + "0" * 18, 3), ("0." + "1" * 19, 3)])
def test_an_amount_beyond_the_bounds_is_refused_at_file_line_column(env, csv_folder, value, column):
    folder = csv_folder("prices", {"prices.csv": f"symbol,date,price\nBTC,2026-01-01,1\nETH,2026-01-01,{value}\n"})
    result = _run("import", str(folder))
    assert result.exit_code == 1
    if value.startswith("-"):
        assert "prices.csv:3:3" in _said(result)  # a price is never negative: refused either way
    else:
        assert f"prices.csv:3:{column}: price:" in _said(result) and "18 digits" in _said(result)
    _no_traceback(result)


def test_the_largest_amounts_are_accepted_and_every_table_and_alert_renders(env, csv_folder):
    rules = env / "rules.yaml"
    rules.write_text(RULES)
    folder = csv_folder("huge", HUGE_PORTFOLIO)
    assert _run("import", str(folder)).exit_code == 0
    check = _run("check", "--rules", str(rules), "--as-of", "2026-01-02")
    _no_traceback(check)
    assert check.exit_code == 0, _said(check)
    assert "BIG-001" in check.output
    written = list((env / "out").rglob("*"))
    assert any(p.is_file() for p in written), "the alert text was written to the file outbox"
    for args in (["explain", "BIG-001"], ["stress", "--scenario", "crash"], ["check", "--format", "json", "--no-notify"]):
        result = _run(*args, "--rules", str(rules), "--as-of", "2026-01-02")
        _no_traceback(result)
        assert result.exit_code == 0, _said(result)


# -- item 6: durations in rule files are bounded -------------------------------------------------

@pytest.mark.parametrize("command", [["rules", "validate"], ["check", "--no-notify"]])
def test_an_absurd_duration_is_a_rule_file_error(env, command):
    rules = env / "rules.yaml"
    rules.write_text("covenants:\n  - id: a\n    metric: ltv\n    must_be: \"<= 0.7\"\n"
                     "    remind_every: 99999999999999999999w\n")
    result = _run(*command, str(rules)) if command[0] == "rules" else _run(*command, "--rules", str(rules))
    _no_traceback(result)
    assert result.exit_code == 2
    assert "rules.yaml:5:" in _said(result) and "remind_every" in _said(result)


# -- item 10: a sentence and a non-zero exit -----------------------------------------------------

@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
@pytest.mark.parametrize("command", [["check", "--no-notify"], ["explain", "GPUC-001"], ["stress"]])
def test_test_dates_far_outside_any_loan_are_refused(env, portfolio_dir, command, day):
    rules = env / "rules.yaml"
    rules.write_text(RULES)
    assert _run("import", str(portfolio_dir)).exit_code == 0
    result = _run(*command, "--rules", str(rules), "--as-of", day)
    _no_traceback(result)
    assert result.exit_code == 2
    assert "--as-of" in _said(result) and "between 1900-01-01 and 2999-12-31" in _said(result)


def test_a_database_url_with_a_bad_port_is_a_sentence(env, monkeypatch):
    monkeypatch.setenv("COVBOT_DATABASE_URL", "postgresql+psycopg://covbot:pw@localhost:notaport/covbot")
    result = _run("check", "--no-notify")
    _no_traceback(result)
    assert result.exit_code == 1
    assert "database URL" in _said(result) and "pw" not in _said(result)


def test_a_corrupted_sqlite_file_is_a_sentence(env, portfolio_dir):
    rules = env / "rules.yaml"
    rules.write_text(RULES)
    assert _run("import", str(portfolio_dir)).exit_code == 0
    import sqlite3

    db = env / "covbot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'financials'").fetchone()[0]
    with open(db, "r+b") as f:  # overwrite the financials table's first page with garbage
        f.seek(page_size * (root - 1))
        f.write(b"\xff" * page_size)
    for args in (["check", "--no-notify", "--as-of", "2026-01-02"], ["explain", "GPUC-001"]):
        result = _run(*args, "--rules", str(rules))
        _no_traceback(result)
        assert result.exit_code == 1
        assert "damaged" in _said(result) and "backup" in _said(result)


def test_metrics_port_in_use_is_a_sentence(env, portfolio_dir):
    """A real `covbot run` process (it configures logging and signals for itself)."""
    import os
    import subprocess
    import sys

    rules = env / "rules.yaml"
    rules.write_text(RULES)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_"))}
    child_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "bot", "run", "--rules", str(rules), "--metrics-port", str(port)],
                              env=child_env, capture_output=True, text=True, timeout=60, cwd=env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert f"port {port}" in done.stderr and "in use" in done.stderr


# -- item 11: facility ids that look alike ---------------------------------------------------------

@pytest.mark.parametrize("shown_id", ['" GPUC-001"', '"GPUC-001 "', "GPUC-001\u200b", "GPUC\u00a0001",
                                      "GPUC-\u200d001", "\ufeffGPUC-002", "GPUC-00\t1"])
def test_facility_ids_that_are_not_printable_or_padded_are_refused(env, portfolio, csv_folder, shown_id):
    header, *rows = portfolio["facilities.csv"].splitlines(keepends=True)
    rows.append(f"{shown_id},Lookalike,gpu_abl,USD,1,1,2024-01-01,2030-01-01,,\n")
    folder = csv_folder("lookalike", {"facilities.csv": header + "".join(rows)})
    result = _run("import", str(folder))
    _no_traceback(result)
    assert result.exit_code == 1
    assert f"facilities.csv:{len(rows) + 1}:1: facility_id:" in _said(result)


def test_a_padded_facility_id_in_another_file_is_refused_too(env, portfolio_dir, csv_folder):
    assert _run("import", str(portfolio_dir)).exit_code == 0
    folder = csv_folder("bal", {"balances.csv": 'facility_id,as_of,outstanding\n"GPUC-001 ",2026-01-01,5\n'})
    result = _run("import", str(folder))
    assert result.exit_code == 1
    assert "balances.csv:2:1: facility_id:" in _said(result)
