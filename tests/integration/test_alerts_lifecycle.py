"""An alert's life through `covbot check --as-of`, against the fake Slack Web API.

fire → thread parent; remind; escalate in the thread + chat.update of the parent; event of default
after cure_days; cure. Also: flapping held back by pending_evaluations; a waiver suppresses and its
end re-opens the alert. The wall clock is moved with time-machine to each test date's morning.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from bot.notify.tables import OutboxRow
from bot.store.db import session_scope
from tests.fakes import running_slack_api
from tests.support.alerts_env import make_book, rule_text

TOKEN = "xoxb-alerts-test-token"


@pytest.fixture
def slack():
    with running_slack_api(token=TOKEN, channels=[("C0ALERTS", "credit-alerts"), ("C0GPU", "gpu-credit")]) as fake:
        yield fake


@pytest.fixture
def book(tmp_path, slack):
    b = make_book(tmp_path / "book", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url)
    b.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    return b


def check_on(book, day: dt.date, status: str | None = None, *extra: str):
    if status is not None:
        book.set_status(day, status)
    with time_machine.travel(dt.datetime.combine(day, dt.time(6), tzinfo=dt.timezone.utc), tick=True):
        return book.check(day, *extra)


def notification_id(message) -> str:
    return message.metadata["event_payload"]["notification_id"]


def outbox_kinds(book) -> list[tuple[str, str]]:
    with session_scope(book.engine()) as session:
        return [(r.state, r.thread_role or "") for r in session.scalars(select(OutboxRow).order_by(OutboxRow.id))]


def test_fire_remind_escalate_default_and_cure_in_one_thread(book, slack):
    book.write_rules(rule_text(remind_every="3d", cure_days=10))
    d = dt.date(2026, 3, 2)

    check_on(book, d, "warning")  # fires: the thread parent
    posts = slack.posted("C0ALERTS")
    assert len(posts) == 1 and posts[0].thread_ts is None
    parent = posts[0]
    assert "warning" in parent.text.lower()

    check_on(book, d + dt.timedelta(days=4))  # still a warning, 4 days on: reminder in the thread
    check_on(book, d + dt.timedelta(days=5), "breach")  # worse at once: escalation
    check_on(book, d + dt.timedelta(days=15))  # breach for 10 days: event of default
    check_on(book, d + dt.timedelta(days=16), "ok")  # cured

    posts = slack.posted("C0ALERTS")
    assert len(posts) == 5
    replies = posts[1:]
    assert all(m.thread_ts == parent.ts for m in replies)
    texts = [m.text.lower() for m in replies]
    assert "reminder" in texts[0]
    assert "breach" in texts[1]
    assert "default" in texts[2]
    assert "cured" in texts[3]
    # every message carries its own notification id in Slack metadata
    assert len({notification_id(m) for m in posts}) == 5
    # the parent was updated after every reply, and now shows the cure
    updates = slack.calls("chat.update")
    assert len(updates) == 4 and all(u.params["ts"] == parent.ts for u in updates)
    assert "CURED" in slack.posted("C0ALERTS")[0].text
    assert slack.posted("C0ALERTS")[0].edited
    assert outbox_kinds(book) == [("sent", "start")] + [("sent", "reply")] * 4

    history = book.cli("history", "FAC-1", "max-draw").output
    for what in ("firing", "reminder", "escalated", "event of default", "resolved", "delivered"):
        assert what in history


def test_rerunning_the_same_test_date_sends_nothing_more(book, slack):
    book.write_rules(rule_text())
    d = dt.date(2026, 3, 2)
    check_on(book, d, "breach")
    check_on(book, d)
    assert len(slack.posted("C0ALERTS")) == 1


def test_flapping_is_held_back_by_pending_evaluations(book, slack):
    book.write_rules(rule_text(pending_evaluations=2))
    d = dt.date(2026, 3, 2)
    for offset, status in enumerate(["breach", "ok", "breach", "ok", "warning"]):
        check_on(book, d + dt.timedelta(days=offset), status)
    assert slack.posted() == []  # never two bad test dates in a row

    check_on(book, d + dt.timedelta(days=5), "breach")  # warning then breach: fires, as a breach
    posts = slack.posted("C0ALERTS")
    assert len(posts) == 1
    assert "breach" in posts[0].text.lower()
    history = book.cli("history", "FAC-1").output
    assert "pending" in history


def test_a_waiver_suppresses_and_its_end_reopens_the_alert(book, slack):
    book.write_rules(rule_text(remind_every="1d", cure_days=3))
    d = dt.date(2026, 3, 2)
    check_on(book, d, "breach")
    assert len(slack.posted("C0ALERTS")) == 1

    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc), tick=True):
        book.ok(book.cli("waive", "FAC-1", "max-draw", "--until", "2026-03-06", "--reason",
                         "Sponsor equity injection agreed", "--by", "ana@lender.example", "--rules", str(book.rules)))
    waived = check_on(book, d + dt.timedelta(days=1))
    assert "waived" in waived.output  # the check output marks it
    # covered days: no reminder, no event of default (cure_days 3 would have passed)
    for offset in (2, 3, 4):
        check_on(book, d + dt.timedelta(days=offset))
    texts = [m.text.lower() for m in slack.posted("C0ALERTS")]
    assert len(texts) == 2 and "waived" in texts[1]
    assert all("default" not in t and "reminder" not in t for t in texts)

    check_on(book, d + dt.timedelta(days=5))  # 2026-03-07: the waiver has ended, still a breach
    texts = [m.text.lower() for m in slack.posted("C0ALERTS")]
    assert len(texts) == 3 and "waiver" in texts[2]
    # the cure period restarted the day after the waiver: default only on 03-07 + 3 days
    check_on(book, d + dt.timedelta(days=7))
    assert not any("default" in m.text.lower() for m in slack.posted("C0ALERTS"))
    check_on(book, d + dt.timedelta(days=8))
    assert "default" in slack.posted("C0ALERTS")[-1].text.lower()

    history = book.cli("history", "FAC-1", "max-draw").output
    assert "waiver granted" in history and "waiver expired" in history
    assert "Sponsor equity injection agreed" in history


def test_unwaive_reopens_at_the_next_check(book, slack):
    book.write_rules(rule_text())
    d = dt.date(2026, 3, 2)
    check_on(book, d, "breach")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc), tick=True):
        book.ok(book.cli("waive", "FAC-1", "max-draw", "--until", "2026-04-30", "--reason", "Amendment pending",
                         "--by", "ana@lender.example"))
        listed = book.ok(book.cli("waivers")).output
        assert "FAC-1" in listed and "Amendment pending" in listed and "in force" in listed
    check_on(book, d + dt.timedelta(days=1))
    book.ok(book.cli("unwaive", "FAC-1", "max-draw", "--by", "bob@lender.example"))
    assert "No waivers in force" in book.ok(book.cli("waivers")).output
    check_on(book, d + dt.timedelta(days=2))
    assert "waiver" in slack.posted("C0ALERTS")[-1].text.lower()
    assert len(slack.posted("C0ALERTS")) == 3


def test_waive_names_every_problem_at_once(book):
    book.write_rules(rule_text())
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc), tick=True):
        result = book.cli("waive", "FAC-9", "no-such", "--until", "2026-01-01", "--reason", " ",
                          "--by", "nobody", "--rules", str(book.rules))
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    for part in ("FAC-9", "no-such", "before today", "reason", "e-mail address"):
        assert part in said
