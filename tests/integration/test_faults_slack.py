"""Slack faults: odd bodies, Retry-After per channel, in-doubt lookup in a busy channel (issue 13,
items 3, 7 and 8), against the local fake Slack Web API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from bot.errors import RetryableDeliveryError
from bot.notify.slack import SlackTransport
from tests.fakes import running_slack_api

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
