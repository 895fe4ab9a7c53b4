"""`covbot run` in process on SQLite: slots and catch-up under time-machine, hot reload of the
rule files, the inbox, and `covbot status`. Each Service has its own in-memory job store."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import text
from typer.testing import CliRunner

from bot.config import load_settings
from bot.bootstrap import App
from bot.daemon.scheduler import Service
from tests.support.service import ONE_COVENANT_RULES, wait_for

UTC = timezone.utc

RULES = ONE_COVENANT_RULES
EXTRA = """\
covenants:
  - id: min-commitment
    metric: commitment
    must_be: ">= 1"
"""
BROKEN = """\
covenants:
  - id: min-commitment
    metric: commitment
    must_bee: ">= 1"
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch, csv_folder):
    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text(RULES)

    def settings(**overrides):
        values = dict(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                      outbox_dir=str(tmp_path / "out"), dispatch_seconds=3600, eval_cron="0 6 * * *",
                      digest_cron="0 7 1 1 *")
        values.update(overrides)
        return load_settings(**values)

    return settings, rules, csv_folder


def runs(service: Service) -> list[tuple]:
    with service.engine.connect() as conn:
        rows = conn.execute(text("SELECT as_of, kind FROM evaluation_runs ORDER BY id")).all()
    return [(r[0] if isinstance(r[0], date) else date.fromisoformat(r[0]), r[1]) for r in rows]


def evaluate_job_finished_after(service: Service, moment: datetime) -> bool:
    with service.engine.connect() as conn:
        row = conn.execute(text("SELECT last_finished_at FROM service_jobs WHERE job = 'evaluate'")).first()
    if row is None or row[0] is None:
        return False
    finished = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(row[0])
    return finished.replace(tzinfo=UTC) >= moment


def start_at(settings, moment: datetime) -> Service:
    service = Service(App(settings))
    service.start()
    wait_for(lambda: evaluate_job_finished_after(service, moment), what="the catch-up evaluation job")
    return service


def test_missed_slot_runs_once_at_start_and_never_twice_across_restarts(setup):
    make, _, _ = setup
    # 01:00 in Tokyo is 16:00 UTC the day before: the test date is the slot's date in COVBOT_TIMEZONE.
    settings = make(eval_cron="0 1 * * *", timezone="Asia/Tokyo")
    with time_machine.travel(datetime(2026, 3, 1, 17, 0, tzinfo=UTC), tick=True):
        service = start_at(settings, datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
        service.stop()
    assert runs(service) == [(date(2026, 3, 2), "check")]

    with time_machine.travel(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), tick=True):  # same slot: a restart
        service = start_at(settings, datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
        service.stop()
    assert runs(service) == [(date(2026, 3, 2), "check")]

    # Down for two slots (Tokyo 3 and 4 March): one catch-up, for the latest slot only.
    with time_machine.travel(datetime(2026, 3, 3, 18, 0, tzinfo=UTC), tick=True):
        service = start_at(settings, datetime(2026, 3, 3, 18, 0, tzinfo=UTC))
        service.stop()
    assert runs(service) == [(date(2026, 3, 2), "check"), (date(2026, 3, 4), "check")]


def test_the_cron_fires_while_running(setup):
    make, _, _ = setup
    settings = make(eval_cron="0 6 * * *")
    with time_machine.travel(datetime(2026, 3, 5, 5, 59, 57, tzinfo=UTC), tick=True):
        service = start_at(settings, datetime(2026, 3, 5, 5, 59, 57, tzinfo=UTC))
        assert runs(service) == [(date(2026, 3, 4), "check")]  # yesterday's slot, caught up
        wait_for(lambda: len(runs(service)) == 2, timeout=10, what="the 06:00 evaluation")
        service.stop()
    assert runs(service) == [(date(2026, 3, 4), "check"), (date(2026, 3, 5), "check")]


def test_hot_reload_uses_a_valid_change_and_refuses_a_bad_one_with_one_notice(setup):
    make, rules, _ = setup
    settings = make(default_slack_channel="#credit-alerts")
    service = Service(App(settings))
    service.start()
    try:
        as_of = date(2026, 1, 15)
        (rules / "b.yaml").write_text(EXTRA)
        outcome = service.evaluate(as_of)
        assert service.watcher.current.files[-1].endswith("b.yaml")
        assert {c.id for c in service.watcher.current.covenants} == {"max-outstanding", "min-commitment"}
        good_digest = service.watcher.current.digest

        (rules / "b.yaml").write_text(BROKEN)
        service.evaluate(as_of)
        assert service.watcher.current.digest == good_digest  # last good set stays live
        os.utime(rules / "b.yaml", None)  # touched again, same bad content: no second notice
        service.poll_rules()
        outcome = service.evaluate(as_of)
        assert outcome.ruleset.digest == good_digest
        with service.engine.connect() as conn:
            notices = conn.execute(text("SELECT route, payload FROM outbox WHERE kind = 'rules_refused'")).all()
        assert len(notices) == 1
        assert notices[0][0] == "#credit-alerts"
        assert f"{rules / 'b.yaml'}:4:5" in json.loads(notices[0][1])["text"]
    finally:
        service.stop()


BAD_PRICES = "symbol,date,price\nBTC,2026-01-02,95000\nETH,2026-01-02,-3\n"


def test_inbox_imports_good_drops_refuses_bad_ones_and_status_reports_it(setup, tmp_path: Path):
    make, _, csv_folder = setup
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    csv_folder("staging")
    (tmp_path / "staging").rename(inbox / "batch-1")  # moved in whole
    (inbox / "prices.csv").write_text(BAD_PRICES)
    (inbox / "prices.csv.ready").touch()  # written in place: the marker says it is complete
    settings = make(inbox=str(inbox), inbox_poll_seconds=0.5)
    service = Service(App(settings))
    service.start()
    try:
        wait_for(lambda: (inbox / "failed" / "prices" / "error.txt").exists()
                 and (inbox / "done" / "batch-1").is_dir(), what="both drops processed")
        wait_for(lambda: any(n > 0 for n in _result_counts(service)), what="an evaluation of the imported data")
        error = (inbox / "failed" / "prices" / "error.txt").read_text()
        assert "prices.csv:3" in error and "nothing was stored" in error
        assert (inbox / "failed" / "prices" / "prices.csv").read_text() == BAD_PRICES
        with service.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM facilities")).scalar() == 3
            assert conn.execute(text("SELECT COUNT(*) FROM prices WHERE date = '2026-01-02'")).scalar() == 0

        wait_for(lambda: _job_error(service, "inbox"), what="the inbox job's recorded error")
        result = CliRunner().invoke(__import__("bot.cli", fromlist=["app"]).app,
                                    ["status", "--format", "json", "--pid", str(os.getpid())],
                                    env={"COVBOT_DATABASE_URL": settings.database_url, "COVBOT_ENV_FILE": os.devnull})
        assert result.exit_code == 0, result.output
        status = json.loads(result.output)
        assert status["leader"] is True
        assert (status["leader_host"], status["leader_pid"]) == (service.me.host, os.getpid())
        jobs = {j["job"]: j for j in status["jobs"]}
        assert jobs["digest"]["next_run_at"] and jobs["digest"]["last_started_at"] is None  # listed before it ever ran
        assert "prices.csv" in jobs["inbox"]["last_error"]  # shown until a later error replaces it
        assert jobs["evaluate"]["next_run_at"] is not None
        assert status["rules"]["sha256"] == service.watcher.current.digest
    finally:
        service.stop()


def _result_counts(service: Service) -> list[int]:
    with service.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT COUNT(r.run_id) FROM evaluation_runs e LEFT JOIN evaluation_results r ON r.run_id = e.id GROUP BY e.id"))]


def _job_error(service: Service, job: str) -> str | None:
    with service.engine.connect() as conn:
        return conn.execute(text("SELECT last_error FROM service_jobs WHERE job = :j"), {"j": job}).scalar()


def prune_job_finished(service: Service) -> bool:
    with service.engine.connect() as conn:
        row = conn.execute(text("SELECT last_finished_at FROM service_jobs WHERE job = 'prune'")).first()
    return row is not None and row[0] is not None


def test_the_daily_prune_drops_results_past_the_retention_but_not_quarter_ends(setup):
    make, _, _ = setup
    settings = make(eval_cron="0 6 * * *", results_keep_days=5)
    for moment in (datetime(2026, 3, 31, 7, 0, tzinfo=UTC), datetime(2026, 4, 2, 7, 0, tzinfo=UTC)):
        with time_machine.travel(moment, tick=True):
            service = start_at(settings, moment)
            service.stop()
    assert runs(service) == [(date(2026, 3, 31), "check"), (date(2026, 4, 2), "check")]
    with time_machine.travel(datetime(2026, 4, 20, 7, 0, tzinfo=UTC), tick=True):
        service = start_at(settings, datetime(2026, 4, 20, 7, 0, tzinfo=UTC))
        wait_for(lambda: prune_job_finished(service), what="the prune job")
        service.stop()
    # 2 April is older than five days and goes; 31 March is a quarter end and stays
    assert runs(service) == [(date(2026, 3, 31), "check"), (date(2026, 4, 20), "check")]
