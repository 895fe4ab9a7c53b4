"""Acting from Slack, end to end: signed HTTP requests to `POST /slack/events` (waitress) and a
Socket Mode websocket, against the fake Slack Web API and a real database.

Signed and forged requests, a stale timestamp, each button, the waive modal's errors and success,
refusals (audited), retries and double submits (one waiver), the slash command, a Socket Mode
round trip, and an answer that does not wait for a database held by an evaluation.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.alerts.tables import AlertStateRow, AuditRow, WaiverRow
from bot.config import load_settings
from bot.dates import today_utc
from bot.notify.slack import check_blocks
from bot.slackapp.listener import SlackListener
from bot.store.db import session_scope
from tests.fakes import running_slack_api
from tests.fakes.slack_socket import FakeSocketMode
from tests.support.alerts_env import make_book, rule_text

TOKEN = "xoxb-slack-app-test-token"
APP_TOKEN = "xapp-1-slack-app-test-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DAY = dt.date(2026, 3, 2)
APPROVER, READER = "U0APPROVER", "U0READER"
USERS = {APPROVER: "ana@lender.example", READER: "rob@lender.example", "U0NOMAIL": None}


@pytest.fixture
def slack():
    with running_slack_api(token=TOKEN, app_token=APP_TOKEN, users=USERS,
                           channels=[("C0ALERTS", "credit-alerts")]) as fake:
        yield fake


@pytest.fixture
def book(tmp_path, slack):
    book = make_book(tmp_path / "book", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url,
                     SLACK_SIGNING_SECRET=SECRET, COVBOT_SLACK_LISTEN="127.0.0.1:0",
                     COVBOT_SLACK_APPROVERS=f"{APPROVER},someone@lender.example", SLACK_APP_TOKEN="")
    book.write_facilities([("FAC-1", "Hashers <Inc> & Co", "", "")])
    book.write_rules(rule_text())
    book.set_status(DAY, "breach")
    book.check(DAY)  # the alert fires: its thread parent is posted with the buttons
    return book


@contextmanager
def listening(book, **env):
    book.env.update(env)
    with book.environment():
        settings = load_settings()
    listener = SlackListener(settings, book.engine()).start()
    try:
        yield listener
    finally:
        listener.stop()


def signed(body: str, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def post(listener, body: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{listener.port}/slack/events", data=body.encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def interaction(payload: dict) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


VALUE = json.dumps({"facility_id": "FAC-1", "covenant_id": "max-draw"})


def click(slack, action: str, user: str, name: str, trigger: str = "trig-1", ts: str = "1.000001") -> str:
    return interaction({
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T0FAKE"}, "trigger_id": trigger,
        "response_url": slack.response_url(name), "channel": {"id": "C0ALERTS"},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": ts},
        "actions": [{"type": "button", "action_id": action, "block_id": "covbot_actions", "value": VALUE}],
    })


def submission(user: str, until: str | None, reason: str | None, view_id: str = "V0001") -> str:
    values = {"until": {"until": {"type": "datepicker", "selected_date": until}},
              "reason": {"reason": {"type": "plain_text_input", "value": reason}}}
    return interaction({"type": "view_submission", "user": {"id": user}, "team": {"id": "T0FAKE"},
                        "view": {"id": view_id, "callback_id": "covbot_waive", "private_metadata": VALUE,
                                 "state": {"values": values}}})


def command(slack, text: str, user: str, name: str) -> str:
    return urllib.parse.urlencode({"command": "/covbot", "text": text, "user_id": user, "channel_id": "C0ALERTS",
                                   "team_id": "T0FAKE", "response_url": slack.response_url(name),
                                   "trigger_id": "trig-cmd", "token": "legacy-verification-token"})


def audit(book, kind: str) -> list[AuditRow]:
    with session_scope(book.engine()) as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.kind == kind).order_by(AuditRow.id)))


def waivers(book) -> list[WaiverRow]:
    with session_scope(book.engine()) as session:
        return list(session.scalars(select(WaiverRow)))


def alert_state(book) -> AlertStateRow:
    with session_scope(book.engine()) as session:
        return session.get(AlertStateRow, ("FAC-1", "max-draw"))


def parent(slack):
    return next(m for m in slack.posted("C0ALERTS") if not m.thread_ts)


def all_text(blocks) -> str:
    return json.dumps(blocks or [], ensure_ascii=False)


# -- the alert message ---------------------------------------------------------------------------


def test_the_thread_parent_carries_the_three_buttons(book, slack):
    assert check_blocks(parent(slack).blocks) == []
    actions = [b for b in parent(slack).blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["covbot_ack", "covbot_waive", "covbot_explain"]
    assert {json.loads(e["value"])["covenant_id"] for e in actions[0]["elements"]} == {"max-draw"}


# -- signatures ----------------------------------------------------------------------------------


def test_forged_and_stale_requests_get_401_and_change_nothing(book, slack):
    with listening(book) as listener:
        body = click(slack, "covbot_ack", APPROVER, "forged")
        assert post(listener, body, signed(body, secret="not-the-secret"))[0] == 401
        assert post(listener, body, signed(body, at=time.time() - 6 * 60))[0] == 401
        assert post(listener, body, {})[0] == 401
        tampered = signed(body)
        assert post(listener, body.replace("covbot_ack", "covbot_waive"), tampered)[0] == 401
        listener.app.drain()
    assert alert_state(book).acknowledged_at is None and audit(book, "acknowledged") == []
    assert slack.answers_to("forged") == [] and slack.calls("users.info") == []


def test_a_signed_body_covbot_cannot_use_still_gets_200_and_the_url_check_is_answered(book, slack):
    with listening(book) as listener:
        body = "text=no+command+or+user"
        assert post(listener, body, signed(body)) == (200, b"")
        check = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
        request = urllib.request.Request(f"http://127.0.0.1:{listener.port}/slack/events", data=check.encode(),
                                         headers={"Content-Type": "application/json", **signed(check)})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["challenge"].startswith("3eZbrw1")
        unsigned = urllib.request.Request(f"http://127.0.0.1:{listener.port}/slack/events", data=check.encode(),
                                          headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(unsigned, timeout=10)
        assert refused.value.code == 401


def test_slack_serve_without_a_secret_or_app_token_is_a_usage_error(book):
    book.env.update(SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="")
    result = book.cli("slack", "serve")
    assert result.exit_code == 2 and "SLACK_SIGNING_SECRET" in result.output
    book.env.update(SLACK_APP_TOKEN="xoxb-not-an-app-token")
    result = book.cli("slack", "serve")
    assert result.exit_code == 2 and "SLACK_APP_TOKEN must be an app-level token" in result.output
    assert "xoxb-not-an-app-token" not in result.output


# -- acknowledge ---------------------------------------------------------------------------------


def test_an_approver_acknowledges_once_audited_and_shown_on_the_parent(book, slack):
    with listening(book) as listener:
        body = click(slack, "covbot_ack", APPROVER, "ack")
        status, answer = post(listener, body, signed(body))
        assert (status, answer) == (200, b"")
        listener.app.drain()
        # Slack retries the same request, and the user double-clicks: nothing more is recorded
        retry = {**signed(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        assert post(listener, body, retry)[0] == 200
        second = click(slack, "covbot_ack", APPROVER, "ack-again", trigger="trig-2")
        assert post(listener, second, signed(second))[0] == 200
        listener.app.drain()
    state = alert_state(book)
    assert (state.acknowledged_by, state.acknowledged_user, state.acknowledged_status) == (
        "ana@lender.example", APPROVER, "breach")
    rows = audit(book, "acknowledged")
    assert len(rows) == 1 and rows[0].actor == "ana@lender.example (Slack U0APPROVER)"
    assert "You acknowledged" in all_text(slack.answers_to("ack")[0]["blocks"])
    assert slack.answers_to("ack")[0]["response_type"] == "ephemeral"
    assert "already acknowledged by <@U0APPROVER>" in all_text(slack.answers_to("ack-again")[0]["blocks"])
    shown = parent(slack)
    assert shown.edited and "Acknowledged* by <@U0APPROVER> (ana@lender.example)" in all_text(shown.blocks)
    history = book.cli("history", "FAC-1").output
    assert "acknowledged" in history and "U0APPROVER" in history


def test_an_acknowledgement_ends_when_the_status_changes(book, slack):
    with listening(book) as listener:
        body = click(slack, "covbot_ack", APPROVER, "ack")
        post(listener, body, signed(body))
        listener.app.drain()
    assert alert_state(book).acknowledged_status == "breach"
    # still a breach, now waived: still acknowledged, and the parent the dispatcher updates says both
    until = (today_utc() + dt.timedelta(days=3)).isoformat()
    book.ok(book.cli("waive", "FAC-1", "max-draw", "--until", until, "--reason", "cure agreed",
                     "--by", "bob@lender.example"))
    book.check(DAY + dt.timedelta(days=1))
    assert alert_state(book).acknowledged_status == "breach"
    shown = all_text(parent(slack).blocks)
    assert "Acknowledged* by <@U0APPROVER>" in shown and f"*Waived* until {until} by bob@lender.example" in shown
    book.set_status(DAY + dt.timedelta(days=2), "warning")
    book.check(DAY + dt.timedelta(days=2))
    state = alert_state(book)
    assert state.alert_status == "warning" and state.acknowledged_at is None and state.acknowledged_status is None


def test_anyone_not_an_approver_is_refused_ephemerally_audited_and_nothing_changes(book, slack):
    with listening(book) as listener:
        for action, name in (("covbot_ack", "r-ack"), ("covbot_waive", "r-waive")):
            body = click(slack, action, READER, name)
            assert post(listener, body, signed(body))[0] == 200
        body = submission(READER, (today_utc() + dt.timedelta(days=30)).isoformat(), "trust me")
        assert post(listener, body, signed(body))[0] == 200
        listener.app.drain()
    assert alert_state(book).acknowledged_at is None and waivers(book) == [] and slack.views == []
    for name in ("r-ack", "r-waive"):
        assert ":no_entry:" in all_text(slack.answers_to(name)[0]["blocks"])
    refusals = audit(book, "slack_refused")
    assert len(refusals) == 3 and {r.actor for r in refusals} == {"rob@lender.example (Slack U0READER)"}
    assert all("COVBOT_SLACK_APPROVERS" in r.detail for r in refusals)
    assert any(e["user"] == READER for e in slack.ephemerals)  # the modal's refusal: no response_url


def test_unset_approvers_means_nobody_may_act(book, slack):
    with listening(book, COVBOT_SLACK_APPROVERS="") as listener:
        body = click(slack, "covbot_ack", APPROVER, "ack")
        post(listener, body, signed(body))
        listener.app.drain()
    assert alert_state(book).acknowledged_at is None and len(audit(book, "slack_refused")) == 1


# -- waive ---------------------------------------------------------------------------------------


def test_waive_opens_the_modal_and_its_submission_waives_once(book, slack):
    until = today_utc() + dt.timedelta(days=30)
    with listening(book) as listener:
        body = click(slack, "covbot_waive", APPROVER, "waive", trigger="trig-waive")
        assert post(listener, body, signed(body)) == (200, b"")
        listener.app.drain()
        opened = slack.views[0]
        assert opened["trigger_id"] == "trig-waive" and opened["view"]["callback_id"] == "covbot_waive"
        assert json.loads(opened["view"]["private_metadata"]) == {"facility_id": "FAC-1", "covenant_id": "max-draw"}
        assert check_blocks(opened["view"]["blocks"]) == []

        body = submission(APPROVER, until.isoformat(), "Sponsor equity cure agreed on the call")
        assert post(listener, body, signed(body)) == (200, b"")  # empty 200: the modal closes
        assert post(listener, body, {**signed(body), "X-Slack-Retry-Num": "1"})[0] == 200
        again = submission(APPROVER, until.isoformat(), "Sponsor equity cure agreed on the call", view_id="V0002")
        assert post(listener, again, signed(again))[0] == 200  # a second modal, same waiver
        listener.app.drain()
    granted = waivers(book)
    assert len(granted) == 1
    assert (granted[0].until, granted[0].granted_by) == (until, "ana@lender.example")
    assert [r.actor for r in audit(book, "waiver_granted")] == ["ana@lender.example (Slack U0APPROVER)"]
    replies = [m for m in slack.posted("C0ALERTS") if m.thread_ts]
    reply = [m for m in replies if "waived" in m.text]
    assert len(reply) == 1 and reply[0].thread_ts == parent(slack).ts
    assert "<@U0APPROVER>" in reply[0].text and until.isoformat() in reply[0].text and "Sponsor equity" in reply[0].text
    assert f"*Waived* until {until.isoformat()} by ana@lender.example" in all_text(parent(slack).blocks)
    assert check_blocks(parent(slack).blocks) == []
    assert "in force" in book.cli("waivers").output


def test_the_modal_refuses_a_past_date_or_an_empty_reason_and_creates_nothing(book, slack):
    with listening(book) as listener:
        body = submission(APPROVER, (today_utc() - dt.timedelta(days=1)).isoformat(), "")
        status, answer = post(listener, body, signed(body))
        listener.app.drain()
    assert status == 200
    reply = json.loads(answer)
    assert reply["response_action"] == "errors" and set(reply["errors"]) == {"until", "reason"}
    assert "before today" in reply["errors"]["until"]
    assert waivers(book) == [] and audit(book, "waiver_granted") == []


def test_a_user_without_an_email_waives_as_slack_id(book, slack):
    with listening(book, COVBOT_SLACK_APPROVERS="U0NOMAIL") as listener:
        body = submission("U0NOMAIL", today_utc().isoformat(), "Interim waiver")
        post(listener, body, signed(body))
        listener.app.drain()
    assert [w.granted_by for w in waivers(book)] == ["slack:U0NOMAIL"]


# -- explain and the slash command -----------------------------------------------------------------


def test_explain_button_answers_ephemerally_with_the_explain_of_that_covenant(book, slack):
    with listening(book) as listener:
        body = click(slack, "covbot_explain", READER, "why")
        assert post(listener, body, signed(body)) == (200, b"")
        listener.app.drain()
    answer = slack.answers_to("why")[0]
    text = all_text(answer["blocks"])
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "Financial periods" in text and "max-draw" in text and "Hashers &lt;Inc&gt; &amp; Co" in text
    assert check_blocks(answer["blocks"]) == []


def test_slash_command_status_facility_explain_waivers_and_help(book, slack, caplog):
    caplog.set_level("DEBUG")
    with listening(book) as listener:
        for text, name in (("status", "s"), ("facility FAC-1", "f"), ("explain FAC-1 max-draw", "e"),
                           ("waivers", "w"), ("facility NOPE", "n")):
            body = command(slack, text, READER, name)
            assert post(listener, body, signed(body)) == (200, b"")
        body = command(slack, "what is this", READER, "h")
        status, answer = post(listener, body, signed(body))
        listener.app.drain()
    assert status == 200
    assert json.loads(answer)["response_type"] == "ephemeral" and "`status`" in json.loads(answer)["text"]
    assert "1 breach" in all_text(slack.answers_to("s")[0]["blocks"])
    assert "FAC-1" in all_text(slack.answers_to("s")[0]["blocks"])
    assert "max-draw" in all_text(slack.answers_to("f")[0]["blocks"])
    assert "Financial periods" in all_text(slack.answers_to("e")[0]["blocks"])
    assert "No waivers in force" in all_text(slack.answers_to("w")[0]["blocks"])
    assert "No facility with id" in all_text(slack.answers_to("n")[0]["blocks"])
    assert all(a["response_type"] == "ephemeral" for _, a in slack.responses)
    for secret in (SECRET, TOKEN, "legacy-verification-token"):  # never logged, even at DEBUG
        assert secret not in caplog.text


def test_readers_can_be_limited_and_the_refusal_is_audited(book, slack):
    with listening(book, COVBOT_SLACK_READERS="someone@lender.example") as listener:
        body = command(slack, "explain FAC-1", READER, "e")
        post(listener, body, signed(body))
        listener.app.drain()
    assert ":no_entry:" in all_text(slack.answers_to("e")[0]["blocks"])
    refusal = audit(book, "slack_refused")
    assert len(refusal) == 1 and refusal[0].facility_id == "FAC-1" and "COVBOT_SLACK_READERS" in refusal[0].detail


# -- answering within Slack's 3 seconds ------------------------------------------------------------


def test_an_accepted_click_is_answered_while_the_database_is_held_by_an_evaluation(book, slack):
    database = book.env["COVBOT_DATABASE_URL"].removeprefix("sqlite:///")
    with listening(book) as listener:
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # what an evaluation writing its results holds
        try:
            body = click(slack, "covbot_ack", APPROVER, "ack")
            assert post(listener, body, signed(body)) == (200, b"")  # answered without the database
            assert slack.answers_to("ack") == []  # the work itself waits for the writer
        finally:
            holder.execute("COMMIT")
            holder.close()
        listener.app.drain()
    assert alert_state(book).acknowledged_user == APPROVER
    assert "You acknowledged" in all_text(slack.answers_to("ack")[0]["blocks"])


def test_covbot_run_answers_slack_beside_its_jobs(book, slack):
    from bot.bootstrap import App
    from bot.daemon.scheduler import Service

    with book.environment():
        settings = load_settings()
    service = Service(App(settings), str(book.rules))
    service.start()
    try:
        assert service.slack is not None and service.slack.port
        body = command(slack, "help", READER, "h")
        status, answer = post(service.slack, body, signed(body))
        assert status == 200 and "`facility ID`" in json.loads(answer)["text"]
    finally:
        service.stop()
    assert service.slack is None


def test_the_waive_form_opens_while_database_work_waits_for_an_evaluation(book, slack):
    database = book.env["COVBOT_DATABASE_URL"].removeprefix("sqlite:///")
    with listening(book) as listener:
        holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        try:
            for n in range(6):  # more acknowledgements than workers, all waiting for the database
                body = click(slack, "covbot_ack", APPROVER, f"ack-{n}", trigger=f"trig-ack-{n}")
                assert post(listener, body, signed(body)) == (200, b"")
            body = click(slack, "covbot_waive", APPROVER, "waive", trigger="trig-form")
            assert post(listener, body, signed(body)) == (200, b"")
            deadline = time.monotonic() + 20  # a bound for a loaded machine, not a speed target
            while not slack.views and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [v["trigger_id"] for v in slack.views] == ["trig-form"]  # opened while the lock is held
        finally:
            holder.execute("COMMIT")
            holder.close()
        listener.app.drain()
    assert len(audit(book, "acknowledged")) == 1


# -- Socket Mode -----------------------------------------------------------------------------------


def test_socket_mode_round_trip(book, slack, caplog):
    caplog.set_level("DEBUG")
    socket = FakeSocketMode().start()
    slack.socket_url = socket.url
    try:
        with listening(book, SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN=APP_TOKEN) as listener:
            assert listener.http is None and socket.connected.wait(10)
            help_id = socket.send("slash_commands", {"command": "/covbot", "text": "help", "user_id": READER,
                                                     "channel_id": "C0ALERTS", "response_url": slack.response_url("h")})
            ack = socket.ack_of(help_id)
            assert "`explain ID [COVENANT]`" in ack["payload"]["text"]
            click_id = socket.send("interactive", json.loads(urllib.parse.parse_qs(
                click(slack, "covbot_ack", APPROVER, "sock-ack"))["payload"][0]))
            assert socket.ack_of(click_id)["envelope_id"] == click_id
            listener.app.drain()
        assert alert_state(book).acknowledged_user == APPROVER
        assert "You acknowledged" in all_text(slack.answers_to("sock-ack")[0]["blocks"])
        assert slack.calls("apps.connections.open")[0].headers["authorization"] == f"Bearer {APP_TOKEN}"
        assert APP_TOKEN not in caplog.text and TOKEN not in caplog.text
    finally:
        socket.stop()


# -- two instances on one database (PostgreSQL HA) -------------------------------------------------


def test_two_instances_given_the_same_actions_act_once(database, tmp_path, slack):
    from sqlalchemy.engine import make_url

    from bot.slackapp.handler import SlackApp
    from bot.slackapp.requests import from_form

    url = database.url
    if database.backend == "postgresql":  # the test's own schema, in the URL so the CLI uses it too
        schema = database.connect_args["options"].removeprefix("-csearch_path=")
        url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    book = make_book(tmp_path / "ha", SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack.base_url,
                     COVBOT_DATABASE_URL=url, COVBOT_SLACK_APPROVERS=APPROVER)
    book.write_facilities([("FAC-1", "Lambda-ish Cloud LLC", "", "")])
    book.write_rules(rule_text())
    book.set_status(DAY, "breach")
    book.check(DAY)
    with book.environment():
        settings = load_settings()
    instances = [SlackApp(settings, book.engine()) for _ in range(2)]
    until = (today_utc() + dt.timedelta(days=10)).isoformat()
    bodies = [submission(APPROVER, until, "Covenant reset signed"), click(slack, "covbot_ack", APPROVER, "ack")]
    try:
        for body in bodies:
            start = threading.Barrier(2)

            def serve(app, body=body, start=start):
                start.wait()
                app.handle(from_form(body))

            threads = [threading.Thread(target=serve, args=(app,)) for app in instances]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for app in instances:
                assert app.drain()
    finally:
        for app in instances:
            app.close()
    assert len(waivers(book)) == 1 and len(audit(book, "waiver_granted")) == 1
    assert len(audit(book, "acknowledged")) == 1
    assert len([m for m in slack.posted("C0ALERTS") if m.thread_ts and "waived" in m.text]) == 1
