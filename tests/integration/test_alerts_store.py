"""Alert state, waivers and the outbox in the database: on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import quote

from bot.alerts import store
from bot.alerts.lifecycle import AlertState
from bot.alerts.waivers import Waiver
from bot.domain.thresholds import Threshold
from bot.notify import outbox
from bot.notify.dispatcher import backoff_seconds
from bot.store.db import session_scope
from tests.fakes import running_slack_api
from tests.support.alerts_env import make_book, rule_text

NOW = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.timezone.utc)


def test_alert_state_round_trips_exactly(engine):
    state = AlertState(
        "FAC-1", "min-dscr", state="firing", status="no_data", alert_status="breach", candidate_status="warning",
        candidate_count=1, as_of=dt.date(2026, 3, 2), fired_at=NOW, breach_since=dt.date(2026, 2, 1),
        last_notified_at=NOW, eod_sent=True, waived=True, waived_until=dt.date(2026, 4, 30),
        last_value=Decimal("1.0999999999999999999999"), threshold=Threshold.parse(">= 1.25"), headroom=Decimal("-0.12"),
    )
    with session_scope(engine) as session:
        store.save_states(session, [state], NOW)
    with session_scope(engine) as session:
        assert store.load_states(session) == {("FAC-1", "min-dscr"): state}
        assert store.load_states(session, [("FAC-1", "other")]) == {}


def test_staged_alert_changes_are_written_exactly_and_keep_the_acknowledgement(engine):
    """The daily job's workers stage alert changes per run; the check's last transaction moves them
    into alert_states (new ones inserted, known ones updated in one statement each)."""
    from dataclasses import replace

    from sqlalchemy import func, select, update

    from bot.alerts.tables import AlertStateChanges, AlertStateRow

    known = AlertState("FAC-1", "min-dscr", state="firing", status="breach", alert_status="breach",
                       as_of=dt.date(2026, 3, 1), fired_at=NOW, last_value=Decimal("1.01"),
                       threshold=Threshold.parse(">= 1.25"), headroom=Decimal("-0.192"))
    with session_scope(engine) as session:
        store.save_states(session, [known], NOW)
        session.execute(update(AlertStateRow).values(acknowledged_by="ana@bank.example", acknowledged_at=NOW,
                                                     acknowledged_user="U1", acknowledged_status="breach"))
    moved = replace(known, as_of=dt.date(2026, 3, 2), eod_sent=True, candidate_count=2,
                    last_value=Decimal("1.0999999999999999999999"), headroom=Decimal("-0.12"))
    fresh = AlertState("FAC-2", "min-dscr", state="pending", status="warning", candidate_status="warning",
                       candidate_count=1, as_of=dt.date(2026, 3, 2), waived=True, waived_until=dt.date(2026, 4, 30),
                       last_value=Decimal("1.3"), threshold=Threshold.parse(">= 1.25"), headroom=Decimal("0.04"))
    other_run = AlertState("FAC-3", "min-dscr", state="pending", status="breach", as_of=dt.date(2026, 3, 2))
    with session_scope(engine) as session:
        assert store.stage_states(session, 7, [store.state_row(fresh)], [store.state_row(moved)]) == 2
        store.stage_states(session, 8, [store.state_row(other_run)], [])
    with session_scope(engine) as session:
        store.apply_staged_states(session, 7, NOW + dt.timedelta(days=1))
    with session_scope(engine) as session:
        states = store.load_states(session)
        assert states == {("FAC-1", "min-dscr"): replace(moved, acknowledged_status="breach"),
                          ("FAC-2", "min-dscr"): fresh}
        row = session.get(AlertStateRow, ("FAC-1", "min-dscr"))
        assert row.acknowledged_by == "ana@bank.example" and row.updated_at == NOW + dt.timedelta(days=1)
        left = session.execute(select(AlertStateChanges.c.run_id, func.count()).group_by(AlertStateChanges.c.run_id))
        assert list(left) == [(8, 1)]  # another run's stage is left alone
        store.drop_staged_states(session, 8)
        assert not session.scalar(select(func.count()).select_from(AlertStateChanges))


def test_the_latest_waiver_not_withdrawn_is_in_force(engine):
    def waiver(until, by="ana@lender.example"):
        return Waiver("FAC-1", "min-dscr", until, "Amendment pending", by, NOW)

    with session_scope(engine) as session:
        store.grant_waiver(session, waiver(dt.date(2026, 3, 31)))
        store.grant_waiver(session, waiver(dt.date(2026, 4, 30)))  # extended
    with session_scope(engine) as session:
        assert store.current_waivers(session)[("FAC-1", "min-dscr")].until == dt.date(2026, 4, 30)
        assert [r.waiver.until for r in store.list_waivers(session)] == [dt.date(2026, 4, 30)]
        withdrawn = store.withdraw_waiver(session, "FAC-1", "min-dscr", "bob@lender.example", NOW)
        assert withdrawn.until == dt.date(2026, 4, 30)
    with session_scope(engine) as session:
        assert store.current_waivers(session) == {}
        assert store.withdraw_waiver(session, "FAC-1", "min-dscr", "bob@lender.example", NOW) is None
        assert len(store.list_waivers(session, include_withdrawn=True)) == 2
        kinds = [r.kind for r in store.history(session, "FAC-1")]
        assert kinds == ["waiver_granted", "waiver_granted", "waiver_withdrawn"]


def test_a_reply_waits_for_its_parent_and_a_message_is_taken_once(engine):
    alert = ("FAC-1", "min-dscr")
    with session_scope(engine) as session:
        parent = outbox.enqueue_slack(session, "#credit-alerts", "fired", kind="alert", now=NOW, alerts=[alert],
                                      thread_role="start")
        reply = outbox.enqueue_slack(session, "#credit-alerts", "worse", kind="alert", now=NOW, alerts=[alert],
                                     thread_role="reply")
        other = outbox.enqueue_email(session, ["ana@lender.example"], "s", "t", "<p>h</p>", kind="alert", now=NOW)
    with session_scope(engine) as session:
        assert [r.id for r in outbox.claim_due(session, NOW)] == [parent.id, other.id]
        lease = dt.timedelta(seconds=60)
        [row] = [r for r in outbox.claim_due(session, NOW) if r.id == parent.id]
        assert outbox.mark_sending(session, row, NOW, lease)
        assert not outbox.mark_sending(session, row, NOW, lease)  # a second dispatcher loses the race
    with session_scope(engine) as session:
        assert [r.id for r in outbox.claim_due(session, NOW)] == [other.id]  # leased, and the reply waits
        assert [r.id for r in outbox.claim_due(session, NOW + dt.timedelta(seconds=61))] == [parent.id, other.id]
        outbox.mark_sent(session, parent.id, NOW, "slack", "C0ALERTS", "1.000001")
        assert [r.id for r in outbox.claim_due(session, NOW)] == [reply.id, other.id]
        outbox.mark_dead(session, other.id, "refused")
        assert outbox.counts(session) == {"queued": 1, "sending": 0, "retry": 0, "sent": 1, "dead": 1}
        [again] = outbox.retry_dead(session, NOW, str(other.id))
        assert again.state == "queued" and again.attempts == 0


def test_backoff_doubles_with_jitter_up_to_the_cap():
    assert backoff_seconds(1, 2, 900, rng=lambda: 1.0) == 2
    assert backoff_seconds(3, 2, 900, rng=lambda: 1.0) == 8
    assert backoff_seconds(3, 2, 900, rng=lambda: 0.0) == 4  # equal jitter: at least half
    assert backoff_seconds(20, 2, 900, rng=lambda: 1.0) == 900


def test_check_and_notify_through_the_cli_on_this_database(database, tmp_path):
    url = database.url
    if database.connect_args.get("options"):
        url += "?options=" + quote(database.connect_args["options"])
    with running_slack_api(token="xoxb-store-test-token", channels=[("C0ALERTS", "credit-alerts")]) as slack:
        book = make_book(tmp_path / "book", COVBOT_DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-store-test-token",
                         COVBOT_SLACK_API_URL=slack.base_url)
        book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
        book.write_rules(rule_text())
        day = dt.date(2026, 3, 2)
        book.set_status(day, "breach")
        book.check(day)
        book.set_status(day + dt.timedelta(days=1), "ok")
        book.check(day + dt.timedelta(days=1))
        posts = slack.posted("C0ALERTS")
        assert len(posts) == 2 and posts[1].thread_ts == posts[0].ts
        assert "FAC-1" in book.ok(book.cli("history", "FAC-1")).output
