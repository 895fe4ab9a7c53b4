"""Slack transport: renders nothing, only sends, and says whether a failure is worth retrying.

Delivery-level retries with backoff belong to the outbox dispatcher. The SDK's own retry handlers are
kept small (one quick retry by default, and a rate-limit wait only when Slack asks for a short one);
every failure that is left becomes a ``RetryableDeliveryError`` or a ``PermanentDeliveryError``.
The bot token is never put in an error message, and exceptions are raised ``from None`` so the SDK's
request objects (which carry the Authorization header) do not travel in tracebacks.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from typing import Any, Iterator, Sequence
from urllib.error import URLError

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import Block
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from bot.notify.messages import SLACK_EVENT_TYPE, PostedMessage, SlackPost

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000

# Slack error codes (HTTP 200, ok:false) that are worth trying again; every other code is permanent.
_RETRYABLE_CODES = {"ratelimited", "rate_limited", "internal_error", "fatal_error",
                    "service_unavailable", "request_timeout"}

_EXPLANATIONS = {
    "channel_not_found": "the channel does not exist or the bot cannot see it",
    "not_in_channel": "the bot is not a member of the channel; invite it first",
    "is_archived": "the channel is archived",
    "msg_too_long": "the message text is too long for Slack",
    "invalid_blocks": "Slack rejected the message layout (blocks)",
    "invalid_auth": "the Slack bot token is not valid",
    "not_authed": "no Slack bot token was sent",
    "token_revoked": "the Slack bot token has been revoked",
    "account_inactive": "the Slack bot account is deactivated",
    "missing_scope": "the Slack app lacks a permission it needs",
    "message_not_found": "the message to update no longer exists",
    "cant_update_message": "the bot may only update its own messages",
    "ratelimited": "Slack is rate limiting covbot",
}


class _ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """Retry a 429 inside the SDK only when Slack asks for a short wait; longer waits go back to
    the dispatcher as ``RetryableDeliveryError(retry_after=...)``."""

    def __init__(self, max_retry_count: int, max_wait_seconds: float):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = _retry_after(response.headers)
        return wait is None or wait <= self.max_wait_seconds

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        wait = _retry_after(response.headers) if response is not None else None
        state.next_attempt_requested = True
        time.sleep(min(wait if wait is not None else 1.0, self.max_wait_seconds))
        state.increment_current_attempt()


def _retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (dict of str or of lists, any case)."""
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, (list, tuple)) else value
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


class SlackTransport:
    """Posts, updates and finds covbot messages through the Slack Web API."""

    def __init__(
        self,
        token: SecretStr,
        base_url: str = "https://slack.com/api/",
        *,
        timeout: float = 10.0,
        sdk_retries: int = 1,
        max_sdk_wait_seconds: float = 2.0,
    ):
        self._secret = token.get_secret_value()
        self._client = WebClient(
            token=self._secret,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=int(max(1, round(timeout))),
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=sdk_retries),
                _ShortRateLimitRetry(sdk_retries, max_sdk_wait_seconds),
                ServerErrorRetryHandler(max_retry_count=sdk_retries),
            ],
        )
        self._channel_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SlackTransport:
        if settings.slack_bot_token is None:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        return cls(settings.slack_bot_token, settings.slack_base_url, **kwargs)

    def __repr__(self) -> str:
        return f"SlackTransport(base_url={self._client.base_url!r}, token=**********)"

    # -- channels ------------------------------------------------------------------------------

    def resolve_channel(self, name_or_id: str) -> str:
        """The channel id for ``#name``, ``name`` or an id (ids pass through untouched)."""
        wanted = name_or_id.strip()
        if _CHANNEL_ID.match(wanted):
            return wanted
        name = wanted.removeprefix("#").lower()
        with self._lock:
            if name in self._channel_ids:
                return self._channel_ids[name]
        for channel in self._list_channels():
            with self._lock:
                self._channel_ids[channel["name"].lower()] = channel["id"]
            if channel["name"].lower() == name:
                return channel["id"]
        raise PermanentDeliveryError(
            f"Slack has no channel named #{name} that the bot can see; "
            "check the channel name or invite the bot to it."
        )

    def _list_channels(self) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            response = self._call(
                "look up Slack channels", self._client.conversations_list,
                types="public_channel,private_channel", exclude_archived=True,
                limit=200, cursor=cursor,
            )
            yield from response.get("channels", [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    # -- messages ------------------------------------------------------------------------------

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PostedMessage:
        """Post a message (fallback ``text`` always sent); ``metadata`` becomes its event payload."""
        _check_message(text, blocks)
        channel_id = self.resolve_channel(channel)
        kwargs: dict[str, Any] = {"channel": channel_id, "text": text,
                                  "unfurl_links": False, "unfurl_media": False}
        if blocks:
            kwargs["blocks"] = list(blocks)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata is not None:
            kwargs["metadata"] = {"event_type": SLACK_EVENT_TYPE, "event_payload": dict(metadata)}
        response = self._call(f"post to Slack channel {channel}",
                              self._client.chat_postMessage, **kwargs)
        return PostedMessage(channel_id=response["channel"], ts=response["ts"])

    def send(self, post: SlackPost) -> PostedMessage:
        """Post a ``SlackPost``; its notification id is carried in the message metadata."""
        return self.post(post.channel, post.text, post.blocks, post.thread_ts, post.metadata())

    def update(
        self,
        channel_id: str,
        ts: str,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
    ) -> PostedMessage:
        """Replace the text and blocks of a message covbot posted earlier."""
        _check_message(text, blocks)
        channel_id = self.resolve_channel(channel_id)
        kwargs: dict[str, Any] = {"channel": channel_id, "ts": ts, "text": text}
        if blocks is not None:
            kwargs["blocks"] = list(blocks)
        response = self._call(f"update the Slack message {ts} in channel {channel_id}",
                              self._client.chat_update, **kwargs)
        return PostedMessage(channel_id=response["channel"], ts=response["ts"])

    def find_by_notification_id(
        self,
        channel_id: str,
        notification_id: str,
        oldest: float | None = None,
        limit: int | None = None,
        thread_ts: str | None = None,
    ) -> PostedMessage | None:
        """The message whose metadata carries ``notification_id``, posted after ``oldest`` (the
        message's first try less a margin): every page of that window is read, however busy the
        channel (``limit`` caps the count only when given); ``None`` when it was never posted.

        Slack's channel history leaves out thread replies: pass ``thread_ts`` to search a thread.
        """
        channel_id = self.resolve_channel(channel_id)
        for message in self._history(channel_id, oldest, limit, thread_ts):
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if (meta.get("event_type") == SLACK_EVENT_TYPE
                    and str(payload.get("notification_id")) == str(notification_id)):
                return PostedMessage(channel_id=channel_id, ts=message["ts"])
        return None

    def _history(self, channel_id: str, oldest: float | None, limit: int | None,
                 thread_ts: str | None) -> Iterator[dict[str, Any]]:
        seen, cursor = 0, None
        limit = limit if limit is not None else float("inf")
        while seen < limit:
            kwargs: dict[str, Any] = {"channel": channel_id, "limit": int(min(200, limit - seen)),
                                      "include_all_metadata": True, "cursor": cursor}
            if oldest is not None:
                kwargs["oldest"] = f"{oldest:.6f}"
            if thread_ts:
                method, kwargs["ts"] = self._client.conversations_replies, thread_ts
            else:
                method = self._client.conversations_history
            response = self._call(f"read the history of Slack channel {channel_id}",
                                  method, **kwargs)
            messages = response.get("messages", [])
            for message in messages[: int(min(len(messages), limit - seen))]:
                yield message
            seen += len(messages)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not messages:
                return

    # -- errors --------------------------------------------------------------------------------

    def _call(self, action: str, method, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            response = method(**kwargs)
            if not isinstance(response.data, dict):  # a JSON array, say: a proxy's or a broken answer
                raise _NotSlack(response.status_code, type(response.data).__name__)
            return response
        except _NotSlack as exc:
            error = _not_slack(action, exc.status, exc.what)
        except AttributeError:  # slack_sdk reading a body that is JSON but not an object (an array)
            error = _not_slack(action, 200, "JSON that is not an object")
        except SlackApiError as exc:
            error = self._api_error(action, exc)
        except (URLError, http.client.HTTPException, socket.timeout, TimeoutError,
                ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            refused = isinstance(exc, ConnectionRefusedError) or isinstance(reason, ConnectionRefusedError)
            error = RetryableDeliveryError(f"Could not {action}: Slack could not be reached ({reason}).",
                                           not_sent=refused)
        except OSError as exc:
            error = RetryableDeliveryError(
                f"Could not {action}: the connection to Slack failed ({exc.__class__.__name__}).")
        except SlackClientError as exc:
            error = PermanentDeliveryError(f"Could not {action}: {exc}.")
        raise self._redacted(error) from None

    def _api_error(self, action: str, exc: SlackApiError) -> DeliveryError:
        response = exc.response
        status = getattr(response, "status_code", 200)
        raw = getattr(response, "data", None)
        if status < 400 and (not isinstance(raw, dict) or "ok" not in raw
                             or str(raw.get("error", "")).startswith(_SDK_NOT_JSON)):  # HTML from a gateway...
            return _not_slack(action, status, "HTML or text" if not isinstance(raw, list) else "a JSON array")
        data = raw if isinstance(raw, dict) else {}
        code = str(data.get("error") or f"HTTP {status}")
        why = _EXPLANATIONS.get(code, code)
        detail = _details(data)
        if status == 429 or code in ("ratelimited", "rate_limited"):
            wait = _retry_after(response.headers)
            after = f"; Slack asks to wait {wait:g} s" if wait is not None else ""
            return RetryableDeliveryError(f"Could not {action}: {why}{after}.", retry_after=wait, not_sent=True)
        if status >= 500 or status == 408:
            return RetryableDeliveryError(f"Could not {action}: Slack had a temporary failure (HTTP {status}).")
        if code in _RETRYABLE_CODES:  # an ok:false answer: Slack did not take the message
            return RetryableDeliveryError(f"Could not {action}: Slack had a temporary failure ({code}).",
                                          not_sent=status == 200)
        if status != 200:
            return PermanentDeliveryError(f"Could not {action}: Slack answered HTTP {status} ({code}).")
        return PermanentDeliveryError(f"Could not {action}: {why} ({code}){detail}.", not_sent=True)

    def _redacted(self, error: DeliveryError) -> DeliveryError:
        message = str(error)
        if len(self._secret) >= 8 and self._secret in message:
            return type(error)(message.replace(self._secret, "**********"), retry_after=error.retry_after,
                               not_sent=error.not_sent)
        return error


_SDK_NOT_JSON = "Received a response in a non-JSON format"  # slack_sdk's words for a body it cannot parse


class _NotSlack(Exception):
    def __init__(self, status: int, what: str):
        self.status, self.what = status, what


def _not_slack(action: str, status: int, what: str) -> DeliveryError:
    """An answer that is not a Slack API answer (HTML from a proxy, a JSON array): something between
    covbot and Slack misbehaved, which passes; worth trying again, never a dead letter at once."""
    return RetryableDeliveryError(
        f"Could not {action}: the answer (HTTP {status}, {what}) was not a Slack API answer; "
        "a proxy or gateway may be in the way.")


def _details(data: dict[str, Any]) -> str:
    """Slack's own explanations (e.g. which block is invalid, which scope is needed)."""
    parts = list((data.get("response_metadata") or {}).get("messages") or [])
    if data.get("needed"):
        parts.append(f"needed: {data['needed']}")
    return (": " + "; ".join(str(p) for p in parts)) if parts else ""


def _check_message(text: str, blocks: Sequence[dict[str, Any]] | None) -> None:
    problems = [] if text and text.strip() else ["the fallback text is empty"]
    problems += check_blocks(blocks or [])
    if problems:
        raise PermanentDeliveryError(
            "The Slack message was not sent because it breaks Slack's limits: " + "; ".join(problems) + "."
        )


def check_blocks(blocks: Sequence[dict[str, Any]]) -> list[str]:
    """Every Block Kit problem in ``blocks`` (empty list when Slack would accept them)."""
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"it has {len(blocks)} blocks and Slack allows at most {MAX_BLOCKS}")
    for number, raw in enumerate(blocks, start=1):
        if not isinstance(raw, dict) or "type" not in raw:
            problems.append(f"block {number} has no type")
            continue
        text = raw.get("text")
        text = text.get("text") if isinstance(text, dict) else text
        if raw["type"] == "section" and isinstance(text, str) and len(text) > MAX_SECTION_TEXT:
            problems.append(f"block {number} (section) has {len(text)} characters of text "
                            f"and Slack allows at most {MAX_SECTION_TEXT}")
            continue
        try:
            block = Block.parse(raw)
            if block is None:
                problems.append(f"block {number} has an unknown type {raw['type']!r}")
            else:
                block.validate_json()
        except Exception as exc:  # the SDK raises several types for malformed blocks
            problems.append(f"block {number} ({raw['type']}) is malformed: {exc}")
    return problems
