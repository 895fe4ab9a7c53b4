"""THE crash test: a dispatcher dies after Slack accepted a post but before it recorded it.

A real subprocess (`python -m bot outbox dispatch`) is SIGKILLed while the fake Slack has stored
its ``chat.postMessage`` but not yet answered it. The outbox row stays "sending"; once its lease runs
out a restarted dispatcher finds the message in the channel by its notification id and records it,
so Slack sees exactly one post.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.notify.tables import OutboxRow
from bot.store.db import session_scope
from tests.fakes import running_slack_api
from tests.support.alerts_env import make_book, rule_text

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-crash-test-token"
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def slack():
    with running_slack_api(token=TOKEN, channels=[("C0ALERTS", "credit-alerts")]) as fake:
        yield fake


def dispatch_process(book, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **book.env, **extra}
    return subprocess.run([sys.executable, "-m", "bot", "outbox", "dispatch", "--budget", "5"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def killed_after_slack_accepted(book, slack) -> int:
    """Run a dispatcher and SIGKILL it once Slack has stored its post but before it got the answer."""
    release = slack.hold_next("chat.postMessage")
    env = {**os.environ, **book.env}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "outbox", "dispatch", "--budget", "20"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert slack.held.wait(timeout=30), "the dispatcher never posted"
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        release.set()
        if proc.poll() is None:  # pragma: no cover - only when an assertion above failed
            proc.kill()


def posts_carrying(slack, notification_id: str) -> int:
    count = 0
    for request in slack.calls("chat.postMessage"):
        metadata = request.params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if (metadata or {}).get("event_payload", {}).get("notification_id") == notification_id:
            count += 1
    return count


def the_row(book) -> OutboxRow:
    with session_scope(book.engine()) as session:
        [row] = session.scalars(select(OutboxRow)).all()
        return row


def test_a_crash_after_slack_accepted_the_post_does_not_post_twice(tmp_path, slack):
    book = make_book(tmp_path / "book", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url,
                     COVBOT_DISPATCH_BUDGET_SECONDS="0", COVBOT_DISPATCH_LEASE_SECONDS="0.5")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    book.write_rules(rule_text())
    book.set_status(DAY, "breach")
    assert "1 left in the outbox" in book.check(DAY).output  # no time to deliver: it stays queued
    queued = the_row(book)
    assert queued.state == "queued" and slack.posted() == []

    assert killed_after_slack_accepted(book, slack) == -signal.SIGKILL
    assert posts_carrying(slack, queued.notification_id) == 1  # Slack has it ...
    assert the_row(book).state == "sending"  # ... the outbox does not know

    time.sleep(0.6)  # the crashed dispatcher's lease runs out
    restarted = dispatch_process(book)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "found already in Slack" in restarted.stdout

    assert posts_carrying(slack, queued.notification_id) == 1
    assert len(slack.posted("C0ALERTS")) == 1
    row = the_row(book)
    assert row.state == "sent" and row.ts == slack.posted("C0ALERTS")[0].ts

    again = dispatch_process(book)  # and nothing more on a later run
    assert again.returncode == 0 and posts_carrying(slack, queued.notification_id) == 1


def test_a_sending_row_within_its_lease_is_left_alone(tmp_path, slack):
    book = make_book(tmp_path / "book", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url,
                     COVBOT_DISPATCH_BUDGET_SECONDS="0", COVBOT_DISPATCH_LEASE_SECONDS="60")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    book.write_rules(rule_text())
    book.set_status(DAY, "breach")
    book.check(DAY)
    assert killed_after_slack_accepted(book, slack) == -signal.SIGKILL

    # another dispatcher (e.g. a second `covbot check`) must not touch a message still leased
    book.ok(book.cli("outbox", "dispatch", "--budget", "0.3"))
    assert the_row(book).state == "sending"
    assert len(slack.calls("chat.postMessage")) == 1
