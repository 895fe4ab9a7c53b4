"""`covbot run` as real processes: SQLite refuses a second instance; on PostgreSQL two instances
elect one leader, and when the leader is killed the standby takes over without a duplicate in
(fake) Slack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.bootstrap import App
from bot.usecases.imports import import_data
from bot.store.db import make_engine
from tests.fakes.slack_api import FakeSlackApi
from tests.support.service import ONE_COVENANT_RULES, wait_for

pytestmark = pytest.mark.slow

RULES = ONE_COVENANT_RULES
COVBOT = [sys.executable, "-m", "bot"]


def base_env(tmp_path: Path, url: str) -> dict[str, str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVBOT_", "SLACK_", "SMTP_"))}
    env.update({"COVBOT_ENV_FILE": os.devnull, "COVBOT_DATABASE_URL": url, "COVBOT_RULES": str(rules),
                "COVBOT_EVAL_CRON": "* * * * *", "COVBOT_DIGEST_CRON": "0 7 1 1 *",
                "COVBOT_OUTBOX_DIR": str(tmp_path / "out"), "COVBOT_DISPATCH_SECONDS": "1",
                "COVBOT_SLACK_MIN_INTERVAL_SECONDS": "0", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    return env


def spawn(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([*COVBOT, "run"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)


def settings_for(url: str):
    from bot.config import Settings

    return Settings(_env_file=None, database_url=url)


def leader_pid(engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pid FROM service_leader")).scalar()


def scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("covbot run did not stop within 15 s of SIGTERM") from None
    return proc.returncode


def test_sqlite_second_instance_refuses_to_start(tmp_path: Path, csv_folder):
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    env = base_env(tmp_path, url)
    import_data(App(settings_for(url)).engine, csv_folder("data"))
    engine = make_engine(url)
    first = spawn(env, tmp_path, "first")
    try:
        wait_for(lambda: leader_pid(engine) == first.pid, 20, "the first instance to start")
        second = subprocess.run([*COVBOT, "run"], env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert second.returncode == 1
        assert "already uses the SQLite database" in second.stderr and f"pid {first.pid}" in second.stderr
        assert first.poll() is None  # the first one is untouched
    finally:
        assert stop(first) == 0  # graceful stop on SIGTERM
        engine.dispose()


@pytest.fixture
def pg_url():
    from tests.integration.conftest import PG_URL, _admin, pg_where, postgres_unreachable

    reason = postgres_unreachable()
    if reason:
        pytest.skip(f"PostgreSQL at {pg_where()} is unreachable: {reason}")
    schema = f"covbot_svc_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_postgres_ha_one_leader_and_takeover_without_duplicates(tmp_path: Path, csv_folder, pg_url):
    import_data(App(settings_for(pg_url)).engine, csv_folder("data"))
    engine = make_engine(pg_url)
    channels = [("C0ALERTS", "credit-alerts"), ("C0GPU", "gpu-credit"), ("C0DC", "dc")]
    with FakeSlackApi(channels=channels) as slack:
        env = base_env(tmp_path, pg_url) | {"SLACK_BOT_TOKEN": slack.token, "COVBOT_SLACK_API_URL": slack.base_url}
        a = spawn(env, tmp_path, "a")
        b = None
        try:
            wait_for(lambda: leader_pid(engine) == a.pid, 20, "instance A to lead")
            wait_for(lambda: scalar(engine, "SELECT COUNT(*) FROM service_slots WHERE state = 'ok'"), 20,
                     "A's first evaluation")
            wait_for(lambda: len(slack.posted()) >= 3, 20, "A's alerts in Slack")
            b = spawn(env, tmp_path, "b")
            wait_for(lambda: scalar(engine, f"SELECT COUNT(*) FROM service_instances WHERE pid = {b.pid}"), 20,
                     "instance B to register")
            time.sleep(6)  # B has tried for the lock at least once
            assert leader_pid(engine) == a.pid
            with engine.connect() as conn:  # only the leader evaluated: every run is one claimed slot of A
                assert conn.execute(text("SELECT COUNT(*) FROM evaluation_runs")).scalar() == \
                    conn.execute(text("SELECT COUNT(*) FROM service_slots WHERE job = 'evaluate'")).scalar()
                owners = {r[0].split(":")[1] for r in conn.execute(text("SELECT instance FROM service_slots"))}
            assert owners == {str(a.pid)}

            a.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            a.wait()
            wait_for(lambda: leader_pid(engine) == b.pid, 30, "B to take over")
            assert time.monotonic() - killed < 30
            wait_for(lambda: scalar(engine, "SELECT instance FROM service_jobs WHERE job = 'evaluate'")
                     .split(":")[1] == str(b.pid), 20, "B's catch-up evaluation")
            time.sleep(2)  # let B's dispatcher run

            status = subprocess.run([*COVBOT, "status", "--format", "json", "--pid", str(b.pid)], env=env,
                                    capture_output=True, text=True, timeout=30, cwd=tmp_path)
            assert status.returncode == 0, status.stderr
            report = json.loads(status.stdout)
            assert report["leader"] is True and report["leader_pid"] == b.pid

            top_level = [(m.channel, m.text) for m in slack.posted() if m.thread_ts is None]
            assert top_level and len(top_level) == len(set(top_level)), top_level
            with engine.connect() as conn:
                runs = conn.execute(text("SELECT COUNT(*) FROM evaluation_runs")).scalar()
                slots = conn.execute(text("SELECT COUNT(*) FROM service_slots WHERE job = 'evaluate'")).scalar()
            assert runs == slots  # never a slot twice
        finally:
            if a.poll() is None:
                a.kill()
            if b is not None:
                assert stop(b) == 0
            engine.dispose()
