"""Slack faults: odd bodies, Retry-After per channel, in-doubt lookup in a busy channel (issue 13,
items 3, 7 and 8), against the local fake Slack Web API."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from bot.errors import RetryableDeliveryError
from bot.notify.slack import SlackTransport
from tests.fakes import StoredMessage, running_slack_api

UTC = timezone.utc
ODD_BODIES = {"html": "<html><body>Gateway says hi</body></html>", "json array": ["ok", True]}


@pytest.fixture
def slack():
    with running_slack_api() as fake:
        yield fake


def transport(fake) -> SlackTransport:
    return SlackTransport(SecretStr(fake.token), fake.base_url, sdk_retries=0)


@pytest.mark.parametrize("kind", ODD_BODIES)
@pytest.mark.parametrize("method", ["chat.postMessage", "conversations.history", "conversations.list"])
def test_an_answer_that_is_not_slacks_is_worth_retrying(slack, kind, method):
    slack.fail_next(method, body=ODD_BODIES[kind])
    t = transport(slack)
    with pytest.raises(RetryableDeliveryError) as caught:
        if method == "chat.postMessage":
            t.post("C0ALERTS", "hello")
        elif method == "conversations.history":
            t.find_by_notification_id("C0ALERTS", "n-1", oldest=0)
        else:
            t.resolve_channel("#credit-alerts")
    assert "not a Slack API answer" in str(caught.value)
    assert slack.token not in str(caught.value)
    # and the next try goes through
    assert t.post("C0ALERTS", "hello").channel_id == "C0ALERTS"


# -- item 3: the in-doubt lookup covers its time window, however busy the channel ------------------

def test_a_message_behind_250_others_is_still_found(slack):
    t = transport(slack)
    first_try = time.time()
    mine = t.post("C0ALERTS", "the alert", metadata={"notification_id": "n-busy"})
    for i in range(250):  # a busy channel: others talk after covbot's message
        slack.messages.append(StoredMessage("C0ALERTS", f"{time.time() + 1:.0f}.{900000 + i:06d}", f"chatter {i}"))
    found = t.find_by_notification_id("C0ALERTS", "n-busy", oldest=first_try - 300)
    assert found is not None and found.ts == mine.ts
    pages = slack.calls("conversations.history")
    assert len(pages) >= 3 and all(float(p.params["oldest"]) <= first_try for p in pages)
    assert t.find_by_notification_id("C0ALERTS", "never-posted", oldest=first_try - 300) is None


# -- item 8: Retry-After per channel, for every message, across dispatchers -------------------------

class VirtualClock:
    def __init__(self):
        self.t = 1000.0
        self.slept: list[float] = []
        self.start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t - 1000.0)


@pytest.fixture
def queued(tmp_path, slack):
    """Three messages queued for one channel and one for another; a dispatcher factory."""
    from bot.config import Settings
    from bot.notify import outbox
    from bot.notify.dispatcher import Dispatcher
    from bot.store.db import open_database, session_scope

    engine = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    vclock = VirtualClock()
    with session_scope(engine) as session:
        for i in range(3):
            outbox.enqueue_slack(session, "C0ALERTS", f"alert {i}", kind="alert", now=vclock.now())
        outbox.enqueue_slack(session, "C0GENERAL", "elsewhere", kind="alert", now=vclock.now())
    settings = Settings(_env_file=None, slack_bot_token=slack.token, slack_api_url=slack.base_url,
                        slack_min_interval_seconds=1, dispatch_backoff_seconds=0.1)

    def dispatcher(clock: VirtualClock = vclock) -> Dispatcher:
        return Dispatcher(engine, settings, slack=transport(slack), clock=clock.clock, sleep=clock.sleep,
                          now=clock.now)

    yield engine, vclock, dispatcher
    engine.dispose()


def test_retry_after_holds_every_message_of_the_channel(slack, queued):
    engine, vclock, dispatcher = queued
    slack.fail_next("chat.postMessage", status=429, retry_after=30)
    report = dispatcher().run(budget_seconds=120)
    assert report.sent == 4 and report.dead == 0
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 5
    # after the 429, the next post to C0ALERTS came only once 30 s had passed (not 1 s later)
    assert max(vclock.slept) >= 29.9
    # and a message that Slack refused is not looked for in the history before its next try
    assert slack.calls("conversations.history") == []


def test_retry_after_reaches_another_dispatcher_through_the_database(slack, queued):
    from bot.notify.tables import OutboxRow
    from bot.store.db import read_scope
    from sqlalchemy import select

    engine, vclock, dispatcher = queued
    slack.fail_next("chat.postMessage", status=429, retry_after=30)
    dispatcher().run(budget_seconds=5)  # gives up waiting: the rest stays queued
    with read_scope(engine) as session:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.route == "C0ALERTS")))
    held = vclock.now() + timedelta(seconds=20)
    assert rows and all(r.state != "sent" and r.next_attempt_at >= held for r in rows)
    other_process = VirtualClock()
    other_process.t = vclock.t + 1
    before = len(slack.calls("chat.postMessage"))
    dispatcher(other_process).run(budget_seconds=None)  # what is due now, elsewhere: not C0ALERTS
    assert all(p.params["channel"] != "C0ALERTS" for p in slack.calls("chat.postMessage")[before:])


def test_a_message_falling_due_while_the_dispatcher_looks_is_not_left_behind(slack, tmp_path):
    """Under load, time passes between "nothing is due" and "when is the next one due": a retry
    falling due in between must still go out within the budget."""
    from bot.config import Settings
    from bot.notify import outbox
    from bot.notify.dispatcher import Dispatcher
    from bot.store.db import open_database, session_scope

    engine = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        outbox.enqueue_slack(session, "C0ALERTS", "later", kind="alert", now=start + timedelta(seconds=0.5))
    ticks = iter(range(10_000))

    def now() -> datetime:  # every look at the clock costs a second (a loaded machine)
        return start + timedelta(seconds=next(ticks))

    settings = Settings(_env_file=None, slack_bot_token=slack.token, slack_api_url=slack.base_url)
    report = Dispatcher(engine, settings, slack=transport(slack), now=now, sleep=lambda s: None).run(60)
    assert report.sent == 1 and report.left == 0
    engine.dispose()
