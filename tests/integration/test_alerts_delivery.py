"""Reliable delivery through the outbox: the fake Slack Web API and the fake SMTP server.

429 with Retry-After then success; 500 × N → dead letter → `covbot outbox retry` delivers once;
SMTP down then up → delivered once; hostile borrower names escaped; 40 facilities breaching at
once → one grouped message per channel within Slack's limits; no token / SMTP host → files.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from email import message_from_bytes, policy

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot.notify.tables import DeliveryLogRow, OutboxRow
from bot.notify.slack import check_blocks
from bot.store.db import session_scope
from tests.fakes import running_slack_api, running_smtp
from tests.support.alerts_env import make_book, rule_text

TOKEN = "xoxb-delivery-test-token"
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def slack():
    with running_slack_api(token=TOKEN, channels=[("C0ALERTS", "credit-alerts"), ("C0GPU", "gpu-credit")]) as fake:
        yield fake


def slack_book(tmp_path, slack, facilities=None, **env):
    book = make_book(tmp_path / "book", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url, **env)
    book.write_facilities(facilities or [("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    book.write_rules(rule_text())
    return book


def outbox_rows(book) -> list[OutboxRow]:
    with session_scope(book.engine()) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def with_id(slack, notification_id: str):
    return [m for m in slack.posted() if (m.metadata or {}).get("event_payload", {}).get("notification_id")
            == notification_id]


def test_rate_limited_post_waits_for_retry_after_then_succeeds(tmp_path, slack):
    book = slack_book(tmp_path, slack)
    book.set_status(DAY, "breach")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    output = book.check(DAY).output

    assert time.monotonic() - started >= 1.0  # Slack's Retry-After was honoured
    assert len(slack.calls("chat.postMessage")) == 2
    [row] = outbox_rows(book)
    assert row.state == "sent" and row.attempts == 2
    assert len(with_id(slack, row.notification_id)) == 1
    assert "Delivered 1" in output


def test_server_errors_make_a_dead_letter_that_retry_delivers_once(tmp_path, slack):
    book = slack_book(tmp_path, slack, COVBOT_DISPATCH_MAX_ATTEMPTS="3")
    book.set_status(DAY, "breach")
    slack.fail_next("chat.postMessage", status=500, times=3)

    output = book.check(DAY).output
    assert "dead letter" in output
    [row] = outbox_rows(book)
    assert row.state == "dead" and row.attempts == 3
    assert slack.posted() == []
    listing = book.ok(book.cli("outbox")).output
    assert "1 dead" in listing and "HTTP 500" in listing

    retried = book.ok(book.cli("outbox", "retry", str(row.id)))
    assert "Delivered 1" in retried.output
    [row] = outbox_rows(book)
    assert row.state == "sent"
    assert len(with_id(slack, row.notification_id)) == 1
    # the message had been tried before: Slack's history was searched before posting again
    assert slack.calls("conversations.history")
    history = book.cli("history", "FAC-1").output
    assert "dead letter" in history and "delivery attempt" in history and "delivered" in history


def test_permanent_failure_is_dead_at_once(tmp_path, slack):
    book = slack_book(tmp_path, slack)
    book.set_status(DAY, "breach")
    slack.fail_next("chat.postMessage", error="not_in_channel")
    book.check(DAY)
    [row] = outbox_rows(book)
    assert row.state == "dead" and row.attempts == 1
    assert "invite it" in row.last_error


def test_retry_needs_an_id_or_all(tmp_path, slack):
    book = slack_book(tmp_path, slack)
    assert book.cli("outbox", "retry").exit_code == 2
    assert book.cli("outbox", "retry", "7", "--all").exit_code == 2
    assert book.cli("outbox", "retry", "7").exit_code == 2  # no such message


def test_mail_server_down_then_up_delivers_once(tmp_path):
    with running_smtp() as smtp:
        book = make_book(tmp_path / "book", SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port), SMTP_SECURITY="none",
                         COVBOT_DISPATCH_BUDGET_SECONDS="0.1", COVBOT_DISPATCH_BACKOFF_SECONDS="0.3",
                         COVBOT_DISPATCH_BACKOFF_MAX_SECONDS="0.3")
        book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "ana@lender.example", "")])
        book.write_rules(rule_text(slack="", severity="high"))
        book.set_status(DAY, "breach")
        smtp.stop()

        output = book.check(DAY).output
        assert "to retry" in output
        [row] = outbox_rows(book)
        assert row.state == "retry" and row.transport == "email"

        smtp.start()
        dispatched = book.ok(book.cli("outbox", "dispatch", "--budget", "5"))
        assert "Delivered 1" in dispatched.output
        book.ok(book.cli("outbox", "dispatch", "--budget", "0.5"))  # nothing left: nothing sent again
        assert len(smtp.received) == 1
        mail = smtp.received[0].parsed()
        assert mail["Message-ID"] == f"<{row.notification_id}@covbot>"
        assert mail["To"] == "ana@lender.example"
        assert "FAC-1" in mail["Subject"]


def test_hostile_borrower_name_arrives_escaped(tmp_path, slack):
    hostile = "<!channel> & <b>"
    with running_smtp() as smtp:
        book = slack_book(tmp_path, slack, [("FAC-1", hostile, "ana@lender.example", "")],
                          SMTP_HOST=smtp.host, SMTP_PORT=str(smtp.port), SMTP_SECURITY="none")
        book.set_status(DAY, "breach")
        book.check(DAY)
        [posted] = slack.posted("C0ALERTS")
        raw = json.dumps({"text": posted.text, "blocks": posted.blocks}, ensure_ascii=False)
        assert "<!channel>" not in raw and "<b>" not in raw
        assert "&lt;!channel&gt; &amp; &lt;b&gt;" in raw
        [mail] = smtp.received
        html = mail.parsed().get_body(("html",)).get_content()
        assert "<!channel>" not in html and "<b>" not in html
        assert "&lt;!channel&gt; &amp; &lt;b&gt;" in html


def test_forty_breaches_at_once_go_as_one_message_per_channel(tmp_path, slack):
    facilities = [(f"MIN-{i:03d}", f"Miner {i} Hash Corp.", "", "#gpu-credit" if i % 2 else "")
                  for i in range(40)]
    book = slack_book(tmp_path, slack, facilities)
    book.set_status(DAY, "breach", [f for f, *_ in facilities])

    output = book.check(DAY).output

    all_in = slack.posted("C0ALERTS")  # the covenant routes every facility here
    half = slack.posted("C0GPU")  # and odd facilities to their own channel too (20 > 10)
    assert len(all_in) == 1 and len(half) == 1
    for message in (all_in[0], half[0]):
        assert len(message.blocks) <= 50
        assert check_blocks(message.blocks) == []
        for raw in message.blocks:
            Block.parse(raw).validate_json()
    assert "40" in all_in[0].text and "20" in half[0].text
    rows = outbox_rows(book)
    assert [r.kind for r in rows] == ["alert_group", "alert_group"]
    assert "2 Slack message(s)" in output
    # the delivery log keeps one line per message and step, not one per alert of the group
    with session_scope(book.engine()) as session:
        steps = session.scalars(select(DeliveryLogRow)).all()
        assert sorted(s.kind for s in steps) == ["delivered", "delivered", "delivery_attempt", "delivery_attempt"]
        assert {s.notification_id for s in steps} == {r.notification_id for r in rows}
    # ... and each facility's history still shows the delivery of the group it was in
    history = book.cli("history", "MIN-007").output
    assert "queued" in history and "delivered" in history and "delivery attempt" in history


def test_without_token_or_mail_server_messages_are_files(tmp_path):
    book = make_book(tmp_path / "book")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "ana@lender.example", "#credit-alerts")])
    book.write_rules(rule_text())
    book.set_status(DAY, "breach")

    output = " ".join(book.check(DAY).output.split())

    assert f"wrote 2 to files under {book.outbox_dir}" in output
    assert "no SLACK_BOT_TOKEN or SMTP_HOST set" in output
    rows = {r.transport: r for r in outbox_rows(book)}
    assert {r.state for r in rows.values()} == {"sent"} and {r.sent_via for r in rows.values()} == {"file"}
    slack_file = book.outbox_dir / "slack" / f"{rows['slack'].notification_id}.json"
    posted = json.loads(slack_file.read_text())
    assert posted["channel"] == "#credit-alerts" and posted["blocks"]
    assert posted["metadata"]["event_payload"]["notification_id"] == rows["slack"].notification_id
    eml = book.outbox_dir / "email" / f"{rows['email'].notification_id}.eml"
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["Message-ID"] == f"<{rows['email'].notification_id}@covbot>"
    assert (book.outbox_dir / "email" / f"{rows['email'].notification_id}.html").read_text().lstrip().startswith("<")


def test_notify_test_posts_to_a_channel(tmp_path, slack):
    book = slack_book(tmp_path, slack)
    result = book.ok(book.cli("notify", "test", "--slack", "#credit-alerts"))
    assert "Delivered 1" in result.output and "Test message None" not in result.output
    [posted] = slack.posted("C0ALERTS")
    assert posted.text.startswith("[TEST]") and "TEST-001" in posted.text
    assert book.cli("notify", "test").exit_code == 2


def test_default_routes_apply_only_without_other_routes_and_by_severity(tmp_path):
    book = make_book(tmp_path / "book", COVBOT_DEFAULT_SLACK_CHANNEL="#credit-alerts",
                     COVBOT_DEFAULT_EMAIL="risk@lender.example")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", ""), ("FAC-2", "Other LLC", "", "#gpu-credit")])
    book.write_rules(rule_text(slack="", severity="medium"))
    book.set_status(DAY, "breach", ["FAC-1", "FAC-2"])
    book.check(DAY)
    routes = sorted((r.transport, r.route) for r in outbox_rows(book))
    # no e-mail route of their own: both take the default address (one e-mail, grouping both);
    # FAC-2 has its own channel, FAC-1 takes the default channel
    assert routes == [("email", "risk@lender.example"), ("slack", "#credit-alerts"), ("slack", "#gpu-credit")]


def test_a_low_severity_covenant_without_an_owner_stays_out_of_the_default_inbox(tmp_path):
    book = make_book(tmp_path / "book", COVBOT_DEFAULT_SLACK_CHANNEL="#credit-alerts",
                     COVBOT_DEFAULT_EMAIL="risk@lender.example")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    book.write_rules(rule_text(slack="", severity="low"))
    book.set_status(DAY, "breach", ["FAC-1"])
    book.check(DAY)
    assert sorted((r.transport, r.route) for r in outbox_rows(book)) == [("slack", "#credit-alerts")]


def test_file_outbox_marks_what_it_wrote_sent_even_when_a_later_write_fails(tmp_path):
    """Messages written to files are marked sent a batch at a time; a write that fails leaves the
    earlier ones sent (with their delivery log line) and the rest queued for the next dispatch."""
    from bot.config import load_settings
    from bot.notify import outbox
    from bot.notify.dispatcher import Dispatcher
    from bot.notify.file_outbox import FileOutbox

    book = make_book(tmp_path / "book")
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])  # a schema and a book
    engine = book.engine()
    now = dt.datetime(2026, 3, 2, 9, tzinfo=dt.timezone.utc)
    with session_scope(engine) as session:
        for n in range(3):
            outbox.enqueue_slack(session, "#credit-alerts", f"message {n}", kind="test", now=now)

    class FullDisk(FileOutbox):
        writes = 0

        def write_slack(self, *args, **kwargs):
            FullDisk.writes += 1
            if FullDisk.writes == 2:
                raise OSError(28, "No space left on device")
            return super().write_slack(*args, **kwargs)

    with book.environment():
        settings = load_settings()
    with pytest.raises(OSError):
        Dispatcher(engine, settings, files=FullDisk(book.outbox_dir, settings.email_from)).run()
    rows = outbox_rows(book)
    assert [r.state for r in rows] == ["sent", "queued", "queued"]
    with session_scope(engine) as session:
        logged = list(session.scalars(select(DeliveryLogRow.notification_id).where(DeliveryLogRow.kind == "delivered")))
    assert logged == [rows[0].notification_id]
    report = Dispatcher(engine, settings, files=FullDisk(book.outbox_dir, settings.email_from)).run()
    assert report.written == 2 and [r.state for r in outbox_rows(book)] == ["sent"] * 3
