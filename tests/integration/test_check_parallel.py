"""`check --dry-run --format json` on worker processes writes exactly what the in-process check writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.generate import AS_OF, write_portfolio
from bot.usecases import check_pool
from bot.cli import app

RULES = Path(__file__).resolve().parents[2] / "bench" / "rules"


@pytest.fixture()
def book(env):
    write_portfolio(env / "book", 45)
    imported = CliRunner().invoke(app, ["import", str(env / "book")], catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    return env


def _check(*extra: str):
    args = ["check", "--dry-run", "--format", "json", "--rules", str(RULES), "--as-of", AS_OF.isoformat(), *extra]
    return CliRunner().invoke(app, args, catch_exceptions=False)


def _go_parallel(monkeypatch, runs: list) -> None:
    monkeypatch.setattr(check_pool, "MIN_FACILITIES", 10)
    monkeypatch.setattr(check_pool, "RUN_SIZE", 7)  # 45 facilities: 7 runs, the last one short
    monkeypatch.setattr(check_pool, "available_cpus", lambda: 2)
    real = check_pool.run_parallel

    def counting(url, ruleset, covenants, as_of, ranges, *rest):
        runs.append(list(ranges))
        return real(url, ruleset, covenants, as_of, ranges, *rest)

    monkeypatch.setattr(check_pool, "run_parallel", counting)


def test_workers_write_the_same_bytes_and_exit_code_as_one_process(book, monkeypatch):
    alone = _check("--fail-on", "breach")
    runs: list = []
    _go_parallel(monkeypatch, runs)
    parallel = _check("--fail-on", "breach")
    assert len(runs) == 1 and len(runs[0]) == 7, "the check did not run on workers"
    assert parallel.stdout == alone.stdout
    assert parallel.exit_code == alone.exit_code == 3
    rows = json.loads(parallel.stdout)
    assert len({r["facility_id"] for r in rows}) == 45
    assert rows == sorted(rows, key=lambda r: (r["facility_id"], r["covenant_id"]))


def test_a_covenant_filter_is_kept_and_an_unknown_covenant_refused_on_workers(book, monkeypatch):
    alone = _check("--covenant", "max-ltv")
    runs: list = []
    _go_parallel(monkeypatch, runs)
    parallel = _check("--covenant", "max-ltv")
    assert runs and parallel.stdout == alone.stdout
    assert {r["covenant_id"] for r in json.loads(parallel.stdout)} == {"max-ltv"}
    unknown = _check("--covenant", "nope")
    assert unknown.exit_code == 2 and "No covenant with id nope" in unknown.output


def test_a_small_book_or_a_facility_filter_stays_in_process(book, monkeypatch):
    runs: list = []
    _go_parallel(monkeypatch, runs)
    monkeypatch.setattr(check_pool, "MIN_FACILITIES", 46)
    assert _check().exit_code == 0
    monkeypatch.setattr(check_pool, "MIN_FACILITIES", 10)
    assert _check("--facility", "BF-0000001").exit_code == 0
    assert runs == []
