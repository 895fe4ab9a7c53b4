"""`covbot backtest` end to end on the demo portfolio (CliRunner, a temporary SQLite file)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli import app
from bot.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo" / "portfolio"
RULES = str(ROOT / "rules")
SPAN = ["--from", "2025-06-01", "--to", "2026-11-20"]



def backtest(*args: str):
    return CliRunner().invoke(app, ["backtest", "--rules", RULES, *args], catch_exceptions=False)


def test_the_demo_warns_quarters_before_a_breach(demo_db):
    result = backtest(*SPAN, "--every", "1w", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dates"][0] == "2025-06-01" and data["dates"][-1] <= "2026-11-20" and len(data["dates"]) == 77
    early = [r for r in data["results"] if r["lead_days"] is not None and r["lead_days"] >= 91]
    assert early, "some breach is seen coming at least a quarter ahead"
    for r in early:
        assert date.fromisoformat(r["early_warning"]) < date.fromisoformat(r["first_breach"])
        assert r["statuses"][data["dates"].index(r["first_breach"])] == "breach"
    assert any(r["early_warning_by"] == "fwd-dscr-12m" and r["covenant_id"] != "fwd-dscr-12m" for r in early)


TEST_PERIOD_COVENANTS = {"min-dscr", "miner-dscr", "fwd-dscr-12m", "min-liquidity"}


def test_the_demo_back_test_has_no_no_data_episode_from_the_reporting_lag(demo_db):
    """Covenants on the test period stand between a quarter's end and its report: once a facility
    has a DSCR, no weekly test date of the back-test shows it as no data (the only no-data runs are
    those of borrowers before their 4th quarter is reported: Tundra, Brightline, Fjordlight)."""
    result = backtest("--from", "2026-01-01", "--to", "2026-12-31", "--every", "1w", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    lapses = []
    short_history = set()
    for r in data["results"]:
        if r["covenant_id"] not in TEST_PERIOD_COVENANTS:
            continue
        statuses = r["statuses"]
        first_value = next((i for i, s in enumerate(statuses) if s not in (None, "no_data")), len(statuses))
        if "no_data" in statuses[:first_value]:
            short_history.add(r["facility_id"])
        lapses += [(r["facility_id"], r["covenant_id"], data["dates"][i])
                   for i, s in enumerate(statuses) if s == "no_data" and i > first_value]
    assert lapses == []
    assert short_history == {"MINR-004", "GPUC-005", "AIDC-003"}


def test_the_back_test_stores_and_sends_nothing(demo_db):
    result = backtest(*SPAN, "--every", "1q")
    assert result.exit_code == 0, result.output
    assert "Back-test 2025-06-01 to 2026-11-20" in result.stdout and "breached" in result.stdout
    engine = make_engine(f"sqlite:///{demo_db / 'covbot.db'}")
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
        assert {"evaluation_runs", "evaluation_results"} <= tables
        for table in tables & {"evaluation_runs", "evaluation_results", "runs", "results", "alerts", "outbox"}:
            assert conn.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() == 0, table
    engine.dispose()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_html_and_csv_outputs_to_a_file(demo_db, tmp_path):
    page = tmp_path / "backtest.html"
    result = backtest(*SPAN, "--every", "1m", "--format", "html", "--output", str(page))
    assert result.exit_code == 0, result.output
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert "svg" in parser.tags and "rect" in parser.tags and "script" not in parser.tags
    assert "Vega &amp; &lt;Sons&gt; Compute LLC" in page.read_text(encoding="utf-8")

    result = backtest(*SPAN, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["facility_id", "borrower", "covenant_id"] and "lead_days" in rows[0]
    assert len(rows) > 1


@pytest.mark.parametrize("args, words", [
    (["--from", "2026-01-01", "--to", "2025-01-01"], "--to: the last test date (2025-01-01) is before the first"),
    (["--from", "2026-01-01", "--to", "2026-02-01", "--every", "1d"], "--every: the step between test dates must be"),
    (["--from", "01/01/2026", "--to", "2026-02-01"], "--from must be a date"),
])
def test_bad_dates_are_usage_errors(demo_db, args, words):
    result = backtest(*args)
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())
