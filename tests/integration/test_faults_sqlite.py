"""SQLite under concurrent writers: no "database is locked" (issue 13, item 1).

Every unit of work that may write takes the write lock up front (BEGIN IMMEDIATE), waits and
retries with backoff while another writer holds it; a failed scheduled slot is tried again."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.daemon.leader import Instance, _record_leader, instance_heartbeat, register_instance
from bot.errors import StorageError
from bot.store import sqlite_locking
from bot.store.db import open_database, read_scope, session_scope
from tests.fakes import running_slack_api
from tests.support.service import ONE_COVENANT_RULES

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[2]


def _facilities_csv(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
             "maturity_date,owner_email,slack_channel"]
    lines += [f"F-{i:05d},Borrower {i},gpu_abl,USD,1000,{500 + i},2024-01-01,2030-01-01,,"
              for i in range(n)]
    (folder / "facilities.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_a_read_then_write_does_not_fail_when_another_writer_commits_in_between(tmp_path):
    """The failure of the issue: a deferred transaction reads, the heartbeat writes, then the
    transaction's write is refused at once. With the lock taken up front the heartbeat waits."""
    engine = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    me = Instance()
    register_instance(engine, me, "rules/")
    heartbeat_done: list[float] = []

    def heartbeat():
        instance_heartbeat(engine, me, datetime.now(UTC))
        heartbeat_done.append(time.monotonic())

    with session_scope(engine) as session:
        session.execute(text("SELECT count(*) FROM service_instances")).scalar()
        writer = threading.Thread(target=heartbeat)
        writer.start()
        time.sleep(0.3)  # the heartbeat tries to write meanwhile
        assert not heartbeat_done, "a second writer must wait for the first one's lock"
        session.execute(text("UPDATE service_instances SET rules_path = 'other/'"))
        committed_at = time.monotonic()
    writer.join(10)
    assert heartbeat_done and heartbeat_done[0] >= committed_at
    with read_scope(engine) as session:
        assert session.execute(text("SELECT rules_path FROM service_instances")).scalar() == "other/"
    engine.dispose()


def test_a_busy_database_is_retried_with_backoff_then_refused_in_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_locking, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(sqlite_locking, "RETRY_DELAYS", (0.05, 0.1, 0.2, 0.4))
    path = tmp_path / "c.db"
    engine = open_database(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    released = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    started = time.monotonic()
    released.start()
    with session_scope(engine) as session:  # waits, retries, then gets it
        session.execute(text("DELETE FROM service_slots"))
    assert time.monotonic() - started >= 0.3
    released.join()

    holder.execute("BEGIN IMMEDIATE")  # now held for good: every retry fails
    with pytest.raises(StorageError, match="database is locked"):
        with session_scope(engine) as session:
            session.execute(text("DELETE FROM service_slots"))
    with read_scope(engine) as session:  # readers never wait for writers
        assert session.execute(text("SELECT count(*) FROM service_slots")).scalar() == 0
    holder.execute("ROLLBACK")
    holder.close()
    engine.dispose()


@pytest.mark.slow
def test_ten_every_minute_slots_with_2500_facilities_and_a_busy_heartbeat(tmp_path, monkeypatch, csv_folder):
    """The service's evaluate job, driven slot by slot (a minute apart) while the leader
    heartbeat writes as fast as it can: every slot is evaluated and none fails."""
    from bot.config import load_settings
    from bot.daemon.scheduler import Service
    from bot.bootstrap import App
    from bot.daemon.slots import slot_states
    from bot.usecases.imports import import_data

    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    rules = tmp_path / "rules.yaml"
    rules.write_text(ONE_COVENANT_RULES)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                             outbox_dir=str(tmp_path / "out"), eval_cron="* * * * *", digest_cron="0 7 1 1 *")
    import_data(App(settings).engine, _facilities_csv(tmp_path / "data", 2500))
    moment = [datetime(2026, 3, 2, 6, 0, 30, tzinfo=UTC)]
    service = Service(App(settings, clock=lambda: moment[0]))
    service.watcher.load_at_start(moment[0])
    me, stop, beats, errors = Instance(), threading.Event(), [0], []
    register_instance(service.engine, me, str(rules))

    def heartbeat():
        while not stop.is_set():
            try:
                _record_leader(service.engine, me, datetime.now(UTC), taking_over=False)
                instance_heartbeat(service.engine, me, datetime.now(UTC))
                beats[0] += 1
            except Exception as exc:  # pragma: no cover - what the test forbids
                errors.append(exc)
            time.sleep(0.005)

    beater = threading.Thread(target=heartbeat, daemon=True)
    beater.start()
    try:
        done = []
        for minute in range(10):
            moment[0] = datetime(2026, 3, 2, 6, minute, 30, tzinfo=UTC)
            done.append(service.evaluate_due())
    finally:
        stop.set()
        beater.join(30)
    assert errors == []
    assert beats[0] > 10
    states = slot_states(service.engine, "evaluate")
    assert len(states) == 10 and set(states.values()) == {"ok"}
    assert all(slot is not None for slot in done)
    service.engine.dispose()


def test_a_failed_slot_is_tried_again(tmp_path, monkeypatch):
    from bot.config import load_settings
    from bot.daemon.scheduler import Service
    from bot.bootstrap import App
    from bot.daemon.slots import slot_states

    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    rules = tmp_path / "rules.yaml"
    rules.write_text(ONE_COVENANT_RULES)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                             outbox_dir=str(tmp_path / "out"), eval_cron="0 6 * * *")
    moment = datetime(2026, 3, 2, 6, 0, 30, tzinfo=UTC)
    service = Service(App(settings, clock=lambda: moment))
    attempts = []

    def flaky(as_of):
        attempts.append(as_of)
        if len(attempts) == 1:
            raise StorageError("The database failed: database is locked.")

    monkeypatch.setattr(service, "evaluate", flaky)
    with pytest.raises(StorageError):
        service.evaluate_due()
    assert list(slot_states(service.engine, "evaluate").values()) == ["failed"]
    assert service.evaluate_due() is not None  # the same slot, again
    assert list(slot_states(service.engine, "evaluate").values()) == ["ok"]
    assert len(attempts) == 2
    assert service.evaluate_due() is None  # done: never a third time
    service.engine.dispose()


@pytest.mark.slow
def test_two_concurrent_checks_both_succeed_without_a_duplicate_message(tmp_path):
    with running_slack_api() as slack:
        db = tmp_path / "c.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COVBOT_", "SLACK_", "SMTP_"))}
        env.update({"COVBOT_ENV_FILE": os.devnull, "COVBOT_DATABASE_URL": f"sqlite:///{db}",
                    "SLACK_BOT_TOKEN": slack.token, "COVBOT_SLACK_API_URL": slack.base_url,
                    "COVBOT_SLACK_MIN_INTERVAL_SECONDS": "0", "COVBOT_GROUP_THRESHOLD": "1000",
                    "COVBOT_OUTBOX_DIR": str(tmp_path / "out"), "PYTHONPATH": str(ROOT)})
        rules = tmp_path / "rules.yaml"
        rules.write_text(ONE_COVENANT_RULES)
        covbot = [sys.executable, "-m", "bot"]
        subprocess.run([*covbot, "import", str(_facilities_csv(tmp_path / "data", 60))], env=env,
                       check=True, capture_output=True, cwd=tmp_path)
        procs = [subprocess.Popen([*covbot, "check", "--rules", str(rules), "--as-of", "2026-03-02"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
                 for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        for proc, (out, err) in zip(procs, outs):
            assert proc.returncode == 0, err
            assert "locked" not in out + err
        ids = [m.metadata["event_payload"]["notification_id"] for m in slack.posted() if m.metadata]
        assert len(ids) == len(set(ids)) and len(ids) >= 60
