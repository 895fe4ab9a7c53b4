"""`make bench` in quick mode on a tiny portfolio: it runs end to end and reports every measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.generate import write_portfolio

ROOT = Path(__file__).resolve().parents[2]


def test_generator_is_deterministic(tmp_path):
    first = write_portfolio(tmp_path / "a", 40)
    second = write_portfolio(tmp_path / "b", 40)
    assert first == second and first["facilities.csv"] == 40 and first["financials.csv"] == 8 * 40
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.slow
def test_quick_bench_reports_every_measure(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--sizes", "60,120", "--naive-limit", "30",
         "--backtest-facilities", "20", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    assert [s["facilities"] for s in report["sizes"]] == [60, 120]
    assert report["backtest"]["facilities"] == 20 and report["backtest"]["dates"] == 105
    assert "back-test: 20 facilities" in run.stdout
    for size in report["sizes"]:
        assert size["import"]["rows_per_s"] > 0 and size["import"]["seconds"] > 0
        assert size["check"]["results"] > 0 and size["check"]["rss_mib"] > 0
        assert size["floor"]["seconds"] > 0
        assert size["naive"]["measured_facilities"] == 30 and size["naive"]["extrapolated"] is True
        assert set(size["ratios"]) == {"check_over_floor", "naive_over_check", "naive_shared_market_over_check"}
        assert size["naive_shared_market"]["measured_facilities"] == 30
        daily = size["daily"]  # the daily job: check with alerts, first and a steady day
        for day in ("first_day", "steady_day"):
            assert daily[day]["seconds"] > 0 and daily[day]["rss_mib"] > 0 and daily[day]["db_growth_mib"] >= 0
            assert daily[day]["cpu_s"] > 0
        # the ratios use the faster of the two dry runs (one before the daily job, one in it)
        assert daily["dry"]["seconds"] == min(size["check"]["seconds"], daily["dry_run"]["seconds"])
        assert 0 < daily["largest_email_kib"] <= 1000
        assert daily["ratios"]["first_day_over_dry_run"] > 0
        service = daily["service"]  # the service's path: one process, day after day, workers from the fork server
        assert [d["as_of"] for d in service["days"]] == ["2026-06-30", "2026-07-01", "2026-07-02"]
        assert service["days"][0]["written"] > 0 and all(d["seconds"] > 0 for d in service["days"])
        assert service["rss_mib"] > 0 and daily["ratios"]["service_steady_day_over_dry_run"] > 0
        pg = size["postgres"]
        assert "skipped" in pg or (pg["check"]["results"] == size["check"]["results"] and pg["import"]["seconds"] > 0)
    risk = report["sizes"][-1]["risk"]  # stress beside fire-sale at the largest size only
    assert risk["stress"]["rows"] > 0 and risk["fire_sale"]["seconds"] > 0 and risk["fire_sale_over_stress"] > 0
    summary = report["summary"]
    assert set(summary["values"]) == set(summary["met"]) == {
        "check_over_floor", "naive_over_check", "rss_ratio", "import_rows_per_s", "fire_sale_over_stress"}
    assert set(summary["daily"]["values"]) == set(summary["daily"]["met"]) == {
        "first_day_over_dry_run", "steady_day_over_dry_run", "first_day_rss_over_dry_run",
        "steady_day_rss_over_dry_run", "steady_growth_mib_per_100k", "largest_email_kib",
        "service_first_day_over_dry_run", "service_steady_day_over_dry_run", "service_rss_over_dry_run"}
    assert "The daily job" in run.stdout and "The service's path" in run.stdout
    assert "stress vs fire-sale at 120" in run.stdout
    assert "check÷floor" in run.stdout and "naive loop measured on the first facilities" in run.stdout
