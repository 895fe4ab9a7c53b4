"""The Slack Web API calls the handlers make, through slack-sdk (``WebClient``, ``WebhookClient``).

Errors become ``SlackCallFailed`` with Slack's error code only: never a token, never a body.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.slackapp.access import SlackUser

log = logging.getLogger("covbot.slack")
USER_CACHE_SECONDS = 600
TIMEOUT_SECONDS = 10


class SlackCallFailed(Exception):
    """A Web API call or a response_url post failed (the message names the method and Slack's code)."""


class SlackWeb:
    def __init__(self, token: str | None, base_url: str, *, clock: Callable[[], float] = time.monotonic):
        self.client = WebClient(token=token, base_url=base_url, timeout=TIMEOUT_SECONDS) if token else None
        self.clock = clock
        self._users: dict[str, tuple[float, SlackUser]] = {}
        self._lock = threading.Lock()

    def _call(self, method: str, **params: Any) -> dict:
        if self.client is None:
            raise SlackCallFailed(f"{method}: SLACK_BOT_TOKEN is not set")
        try:
            return self.client.api_call(method, json=params).data  # type: ignore[return-value]
        except SlackApiError as exc:
            raise SlackCallFailed(f"{method}: {exc.response.get('error', 'failed')}") from None
        except (SlackClientError, OSError) as exc:
            raise SlackCallFailed(f"{method}: {type(exc).__name__}") from None

    def user(self, user_id: str) -> SlackUser:
        """The user with the e-mail of their Slack profile (``users.info``; cached a few minutes).
        Without the e-mail (no token, no ``users:read.email`` scope, none set) the e-mail is None."""
        with self._lock:
            cached = self._users.get(user_id)
            if cached is not None and self.clock() - cached[0] < USER_CACHE_SECONDS:
                return cached[1]
        email = None
        try:
            if self.client is None:
                raise SlackCallFailed("users.info: SLACK_BOT_TOKEN is not set")
            try:
                data = self.client.users_info(user=user_id).data
            except SlackApiError as exc:
                raise SlackCallFailed(f"users.info: {exc.response.get('error', 'failed')}") from None
            except (SlackClientError, OSError) as exc:
                raise SlackCallFailed(f"users.info: {type(exc).__name__}") from None
            profile = ((data if isinstance(data, dict) else {}).get("user") or {}).get("profile") or {}
            email = (profile.get("email") or "").strip() or None
        except SlackCallFailed as exc:
            log.warning("could not read the e-mail of Slack user %s: %s", user_id, exc)
            return SlackUser(user_id, None)  # not cached: try again next time
        found = SlackUser(user_id, email)
        with self._lock:
            self._users[user_id] = (self.clock(), found)
        return found

    def open_view(self, trigger_id: str, view: dict) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def post(self, channel: str, text: str, blocks: list | None = None, thread_ts: str | None = None) -> dict:
        params: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            params["blocks"] = blocks
        if thread_ts:
            params["thread_ts"] = thread_ts
        return self._call("chat.postMessage", **params)

    def post_ephemeral(self, channel: str, user: str, text: str, blocks: list | None = None,
                       thread_ts: str | None = None) -> None:
        params: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            params["blocks"] = blocks
        if thread_ts:
            params["thread_ts"] = thread_ts
        self._call("chat.postEphemeral", **params)

    def update(self, channel: str, ts: str, text: str, blocks: list | None) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])

    @staticmethod
    def respond(response_url: str, message: dict) -> None:
        """An ephemeral answer through the payload's ``response_url``."""
        try:
            response = WebhookClient(response_url, timeout=TIMEOUT_SECONDS).send_dict(
                {"response_type": "ephemeral", "replace_original": False, **message})
        except (SlackClientError, OSError) as exc:
            raise SlackCallFailed(f"response_url: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SlackCallFailed(f"response_url: HTTP {response.status_code}")
