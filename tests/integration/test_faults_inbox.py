"""The inbox takes a single file only once it is complete, and never creates a mistyped inbox
(issue 13, items 4 and 12)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_settings
from bot.daemon.inbox import pending_drops, process_inbox
from bot.errors import UsageError
from tests.support.service import ONE_COVENANT_RULES, wait_for

PRICES = "symbol,date,price\nBTC,2026-01-02,91234.56\nETH,2026-01-02,3350.10\n"


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_single_file_is_taken_only_once_settled_or_marked_ready(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    half = inbox / "prices.csv"
    half.write_text(PRICES[:30])  # "...BTC,2026-01-02,9": cut off mid-line
    assert pending_drops(inbox, settle_seconds=10) == []  # fresh
    _age(half, 60)
    assert pending_drops(inbox, settle_seconds=10) == []  # old, but does not end with a newline
    half.write_text(PRICES)
    assert pending_drops(inbox, settle_seconds=10) == []  # complete, but just written
    _age(half, 11)
    assert pending_drops(inbox, settle_seconds=10) == [half]
    fresh = inbox / "crypto.csv"
    fresh.write_text("facility_id,asset,as_of,quantity\n")
    (inbox / "crypto.csv.ready").touch()  # the writer says it is complete: taken at once
    (inbox / "batch").mkdir()  # a folder moved in whole: taken at once
    assert pending_drops(inbox, settle_seconds=10) == [inbox / "batch", fresh, half]


def test_a_file_written_slowly_into_the_inbox_is_imported_whole(tmp_path, monkeypatch, csv_folder):
    """A real writer thread writes prices.csv into the inbox root in pieces while the service
    polls every 0.2 s; the file is imported once, complete (never a price of 9)."""
    from bot.daemon.scheduler import Service
    from bot.bootstrap import App
    from bot.usecases.imports import import_data

    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rules = tmp_path / "rules.yaml"
    rules.write_text(ONE_COVENANT_RULES)
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                             outbox_dir=str(tmp_path / "out"), inbox=str(inbox), inbox_poll_seconds=0.2,
                             inbox_settle_seconds=1.5, eval_cron="0 6 * * *", digest_cron="0 7 1 1 *",
                             dispatch_seconds=3600)
    import_data(App(settings).engine, csv_folder("data"))
    service = Service(App(settings))
    service.start()
    try:
        def inbox_polls() -> int:
            with service.engine.connect() as conn:
                return conn.execute(text("SELECT COUNT(*) FROM service_jobs WHERE job = 'inbox' "
                                         "AND last_finished_at IS NOT NULL")).scalar()

        wait_for(inbox_polls, 30, "the inbox job to poll")  # it polls while the file is written

        def write_slowly():
            with open(inbox / "prices.csv", "w") as out:
                for i in range(0, len(PRICES), 10):
                    out.write(PRICES[i:i + 10])
                    out.flush()
                    time.sleep(0.4)

        writer = threading.Thread(target=write_slowly)
        writer.start()
        writer.join()
        assert not (inbox / "done" / "prices.csv").exists()  # not taken while being written
        wait_for(lambda: (inbox / "done" / "prices.csv").exists(), 20, "the settled file to be imported")
        with service.engine.connect() as conn:
            stored = conn.execute(text("SELECT price FROM prices WHERE symbol = 'BTC' AND date = '2026-01-02'")).all()
        assert [r[0] for r in stored] == ["91234.56"]
    finally:
        service.stop()


def test_a_mistyped_inbox_is_refused_never_created(tmp_path, monkeypatch):
    from bot.daemon.scheduler import Service

    monkeypatch.setenv("COVBOT_ENV_FILE", os.devnull)
    rules = tmp_path / "rules.yaml"
    rules.write_text(ONE_COVENANT_RULES)
    typo = tmp_path / "inbxo"
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'svc.db'}", rules=str(rules),
                             outbox_dir=str(tmp_path / "out"), inbox=str(typo))
    with pytest.raises(UsageError, match="COVBOT_INBOX"):
        process_inbox(settings.inbox, None, now=None)
    from bot.bootstrap import App

    service = Service(App(settings))
    with pytest.raises(UsageError, match="not an existing folder"):
        service.start()
    assert not typo.exists()
    service.engine.dispose()
