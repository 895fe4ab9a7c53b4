"""SlackTransport against the fake Slack Web API (a real HTTP server on 127.0.0.1)."""

import time
import traceback

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.errors import PermanentDeliveryError, RetryableDeliveryError
from bot.notify.messages import SLACK_EVENT_TYPE, PostedMessage, SlackPost
from bot.notify.slack import SlackTransport
from tests.fakes import FakeSlackApi, failures_for, running_slack_api

TOKEN = "xoxb-1234-secret-test-token"
CHANNELS = [("C0AAA", "general"), ("C0BBB", "random"), ("C0CCC", "credit-alerts"),
            ("C0DDD", "ops"), ("C0EEE", "miners-book")]
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*DSCR* breached"}}


@pytest.fixture
def slack_api():
    with running_slack_api(token=TOKEN, channels=CHANNELS, page_size=2) as fake:
        yield fake


def transport_for(fake: FakeSlackApi, token: str = TOKEN, **kwargs) -> SlackTransport:
    kwargs.setdefault("sdk_retries", 0)
    return SlackTransport(SecretStr(token), fake.base_url, timeout=5, **kwargs)


def everything_said(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


# -- the shared "failure → retryable or not" table ------------------------------------------------

@pytest.mark.parametrize("case", failures_for("slack"), ids=lambda c: c.name)
def test_failure_is_classified(slack_api, case):
    token = TOKEN
    if case.action == "fault":
        slack_api.fail_next("chat.postMessage", **case.fault)
    elif case.action == "server_down":
        slack_api.stop()
    elif case.action == "bad_credentials":
        token = "xoxb-9999-wrong-token"
    transport = transport_for(slack_api, token)

    with pytest.raises((RetryableDeliveryError, PermanentDeliveryError)) as caught:
        transport.post("C0CCC", "DSCR breached", [SECTION])

    error = caught.value
    assert error.retryable is case.retryable
    assert isinstance(error, RetryableDeliveryError if case.retryable else PermanentDeliveryError)
    assert error.retry_after == case.retry_after
    assert token not in everything_said(error)


def test_rate_limit_message_says_how_long_to_wait(slack_api):
    slack_api.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(RetryableDeliveryError, match="wait 1 s"):
        transport_for(slack_api).post("C0CCC", "x")


def test_sdk_retries_a_short_rate_limit_itself(slack_api):
    slack_api.fail_next("chat.postMessage", status=429, retry_after=1)
    transport = transport_for(slack_api, sdk_retries=1, max_sdk_wait_seconds=1)
    started = time.monotonic()

    posted = transport.post("C0CCC", "DSCR breached")

    assert time.monotonic() - started >= 1.0
    assert len(slack_api.calls("chat.postMessage")) == 2
    assert [m.ts for m in slack_api.posted("C0CCC")] == [posted.ts]


def test_sdk_leaves_a_long_rate_limit_to_the_dispatcher(slack_api):
    slack_api.fail_next("chat.postMessage", status=429, retry_after=30)
    transport = transport_for(slack_api, sdk_retries=2, max_sdk_wait_seconds=1)

    with pytest.raises(RetryableDeliveryError) as caught:
        transport.post("C0CCC", "DSCR breached")

    assert caught.value.retry_after == 30
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_sdk_retries_a_server_error_once_then_delivers(slack_api):
    slack_api.fail_next("chat.postMessage", status=503)
    posted = transport_for(slack_api, sdk_retries=1).post("C0CCC", "DSCR breached")
    assert len(slack_api.calls("chat.postMessage")) == 2
    assert slack_api.posted("C0CCC")[0].ts == posted.ts


def test_real_overlong_text_is_permanent_msg_too_long(slack_api):
    with pytest.raises(PermanentDeliveryError, match="too long"):
        transport_for(slack_api).post("C0CCC", "x" * 40_001)
    assert slack_api.posted() == []


def test_token_never_appears_in_errors_even_when_auth_fails(slack_api):
    wrong = "xoxb-5555-leaked-if-you-see-this"
    transport = transport_for(slack_api, wrong)
    with pytest.raises(PermanentDeliveryError) as caught:
        transport.resolve_channel("#general")
    assert "not valid" in str(caught.value)
    assert wrong not in everything_said(caught.value)
    assert wrong not in repr(transport)
    # the fake did receive it, so the check above is meaningful
    assert slack_api.requests[0].headers["authorization"] == f"Bearer {wrong}"


# -- channels -------------------------------------------------------------------------------------

def test_channel_names_resolve_through_pages_and_are_cached(slack_api):
    transport = transport_for(slack_api)

    assert transport.resolve_channel("#miners-book") == "C0EEE"   # on the third page of two
    pages = len(slack_api.calls("conversations.list"))
    assert pages == 3
    assert [c.params.get("cursor") for c in slack_api.calls("conversations.list")] == \
        [None, "page:2", "page:4"]

    assert transport.resolve_channel("miners-book") == "C0EEE"
    assert transport.resolve_channel("#general") == "C0AAA"        # seen during the same pass
    assert len(slack_api.calls("conversations.list")) == pages


def test_channel_ids_pass_through_without_a_lookup(slack_api):
    assert transport_for(slack_api).resolve_channel("C0123ABC") == "C0123ABC"
    assert slack_api.calls("conversations.list") == []


def test_unknown_channel_name_is_permanent(slack_api):
    with pytest.raises(PermanentDeliveryError, match="no channel named #nowhere"):
        transport_for(slack_api).resolve_channel("#nowhere")


def test_post_by_name_resolves_once_and_uses_the_id(slack_api):
    transport = transport_for(slack_api)
    transport.post("#credit-alerts", "first")
    transport.post("#credit-alerts", "second")
    assert len(slack_api.calls("conversations.list")) == 2      # one pass over two pages
    assert [c.params["channel"] for c in slack_api.calls("chat.postMessage")] == ["C0CCC", "C0CCC"]


# -- posting, updating, finding -------------------------------------------------------------------

def test_post_sends_text_blocks_thread_and_metadata(slack_api):
    transport = transport_for(slack_api)
    parent = transport.post("C0CCC", "Facility A: DSCR breached", [SECTION],
                            metadata={"notification_id": "n-1"})
    reply = transport.post("C0CCC", "Facility A: still breached", [SECTION],
                           thread_ts=parent.ts, metadata={"notification_id": "n-2", "kind": "repeat"})

    assert parent == PostedMessage("C0CCC", parent.ts)
    stored_parent, stored_reply = slack_api.posted("C0CCC")
    assert stored_parent.text == "Facility A: DSCR breached"
    assert stored_parent.blocks == [SECTION]
    assert stored_parent.metadata == {"event_type": SLACK_EVENT_TYPE,
                                      "event_payload": {"notification_id": "n-1"}}
    assert stored_reply.thread_ts == parent.ts and reply == PostedMessage("C0CCC", stored_reply.ts)
    assert stored_reply.metadata["event_payload"] == {"notification_id": "n-2", "kind": "repeat"}
    assert slack_api.calls("chat.postMessage")[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_send_carries_the_notification_id_of_a_slack_post(slack_api):
    posted = transport_for(slack_api).send(
        SlackPost(channel="#ops", text="hello", notification_id="n-9"))
    assert slack_api.posted("C0DDD")[0].metadata["event_payload"] == {"notification_id": "n-9"}
    assert posted.channel_id == "C0DDD"


def test_update_replaces_text_and_blocks(slack_api):
    transport = transport_for(slack_api)
    posted = transport.post("C0CCC", "DSCR breached", [SECTION])
    resolved = {"type": "section", "text": {"type": "mrkdwn", "text": "~DSCR breached~ resolved"}}

    assert transport.update(posted.channel_id, posted.ts, "DSCR resolved", [resolved]) == posted

    (stored,) = slack_api.posted("C0CCC")
    assert (stored.text, stored.blocks, stored.edited) == ("DSCR resolved", [resolved], True)


def test_update_of_a_missing_message_is_permanent(slack_api):
    with pytest.raises(PermanentDeliveryError, match="no longer exists"):
        transport_for(slack_api).update("C0CCC", "1.000001", "x")


def test_find_by_notification_id_finds_an_earlier_post(slack_api):
    transport = transport_for(slack_api)
    wanted = transport.post("C0CCC", "wanted", metadata={"notification_id": "n-42"})
    for i in range(4):
        transport.post("C0CCC", f"later {i}", metadata={"notification_id": f"n-{100 + i}"})
    transport.post("C0CCC", "no metadata")

    assert transport.find_by_notification_id("C0CCC", "n-42") == wanted
    # the fake pages two messages at a time, so this walked the cursor
    history = slack_api.calls("conversations.history")
    assert len(history) == 3
    assert all(c.params["include_all_metadata"] in ("1", "true", True) for c in history)


def test_find_by_notification_id_returns_none_for_an_unknown_id(slack_api):
    transport = transport_for(slack_api)
    transport.post("C0CCC", "other", metadata={"notification_id": "n-1"})
    assert transport.find_by_notification_id("C0CCC", "n-unknown") is None


def test_find_by_notification_id_respects_oldest_and_limit(slack_api):
    transport = transport_for(slack_api)
    first = transport.post("C0CCC", "first", metadata={"notification_id": "n-1"})
    for i in range(5):
        transport.post("C0CCC", f"later {i}", metadata={"notification_id": f"n-{10 + i}"})

    assert transport.find_by_notification_id("C0CCC", "n-1", oldest=float(first.ts)) is None
    assert transport.find_by_notification_id("C0CCC", "n-1", limit=3) is None
    assert transport.find_by_notification_id("C0CCC", "n-1", limit=6) == first


def test_thread_replies_are_found_only_in_their_thread(slack_api):
    transport = transport_for(slack_api)
    parent = transport.post("C0CCC", "breach", metadata={"notification_id": "n-1"})
    reply = transport.post("C0CCC", "resolved", thread_ts=parent.ts,
                           metadata={"notification_id": "n-2"})

    assert transport.find_by_notification_id("C0CCC", "n-2") is None   # like Slack's history
    assert transport.find_by_notification_id("C0CCC", "n-2", thread_ts=parent.ts) == reply


# -- Block Kit limits, checked before any HTTP call -----------------------------------------------

@pytest.mark.parametrize("blocks, expected", [
    ([SECTION] * 51, "51 blocks and Slack allows at most 50"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
     "3001 characters of text and Slack allows at most 3000"),
    ([{"type": "no_such_block"}], "unknown type 'no_such_block'"),
    ([{"text": "no type"}], "block 1 has no type"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "block 1 (header)"),
])
def test_block_limit_violations_are_refused_before_sending(slack_api, blocks, expected):
    with pytest.raises(PermanentDeliveryError, match="breaks Slack's limits") as caught:
        transport_for(slack_api).post("#credit-alerts", "fallback", blocks)
    assert expected in str(caught.value)
    assert slack_api.requests == []


def test_every_block_problem_is_reported_at_once(slack_api):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}, {"type": "bogus"}]
    with pytest.raises(PermanentDeliveryError) as caught:
        transport_for(slack_api).update("C0CCC", "1.1", "", blocks)
    message = str(caught.value)
    assert "fallback text is empty" in message and "block 1" in message and "block 2" in message
    assert slack_api.requests == []


def test_fifty_blocks_of_3000_characters_are_accepted(slack_api):
    full = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}
    transport_for(slack_api).post("C0CCC", "fallback", [full] * 50)
    assert len(slack_api.posted("C0CCC")[0].blocks) == 50


def test_built_from_settings_talks_to_the_configured_api(slack_api):
    settings = Settings(SLACK_BOT_TOKEN=TOKEN, COVBOT_SLACK_API_URL=slack_api.base_url.rstrip("/"))
    transport = SlackTransport.from_settings(settings, sdk_retries=0)
    assert transport.resolve_channel("#general") == "C0AAA"
    assert slack_api.calls("conversations.list")[0].headers["authorization"] == f"Bearer {TOKEN}"
