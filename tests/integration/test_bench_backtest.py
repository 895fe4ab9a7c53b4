"""The back-test benchmark runs end to end on a tiny book and reports what it measured."""

from __future__ import annotations

from bench.backtest import bench_backtest


def test_backtest_bench_reports_dates_pairs_and_speed(tmp_path):
    report = bench_backtest(tmp_path, n=30)
    assert report["facilities"] == 30
    assert report["dates"] == 105  # two years of weekly dates, both ends included
    assert report["facility_covenant_pairs"] > 30
    assert report["evaluations"] == report["facility_covenant_pairs"] * report["dates"]
    assert report["seconds"] > 0 and report["rss_mib"] > 0
