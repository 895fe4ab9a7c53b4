"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that ``slack_sdk.WebClient`` talks to.

Implements the methods covbot uses (auth.test, conversations.list, chat.postMessage, chat.update,
conversations.history, conversations.replies; for acting from Slack views.open, users.info,
chat.postEphemeral, apps.connections.open with the app token, and ``response_url`` endpoints
under ``/response/``) with Slack's shapes: HTTP 200 with ``ok: false`` for API
errors, the bearer token required, history newest first and without thread replies, metadata only
with ``include_all_metadata``. Every request is recorded; faults are queued per method.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_TEXT = 40_000


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    body: str | list | None = None  # an answer that is not Slack's: HTML text, or a JSON array


@dataclass
class StoredMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    edited: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_api(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text, "bot_id": "B0FAKE"}
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edited:
            out["edited"] = {"user": "U0FAKEBOT", "ts": self.ts}
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out


class FakeSlackApi:
    """Start with ``start()`` (or use as a context manager); point WebClient at ``base_url``."""

    def __init__(self, token: str = "xoxb-fake-test-token",
                 channels: list[tuple[str, str]] | None = None, page_size: int = 100,
                 app_token: str = "xapp-fake-test-token", users: dict[str, str | None] | None = None):
        self.token = token
        self.app_token = app_token
        self.users = dict(users or {})  # user id -> e-mail (None: a profile without e-mail)
        self.socket_url: str | None = None  # what apps.connections.open hands out (a ws:// URL)
        self.views: list[dict[str, Any]] = []  # views.open: {"trigger_id", "view"}
        self.ephemerals: list[dict[str, Any]] = []  # chat.postEphemeral params
        self.responses: list[tuple[str, dict[str, Any]]] = []  # (response_url name, JSON posted)
        self.channels = dict(channels or [("C0GENERAL", "general"), ("C0ALERTS", "credit-alerts")])
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        self.messages: list[StoredMessage] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._holds: dict[str, threading.Event] = {}
        self.held = threading.Event()  # set once a held call has been carried out (its answer withheld)
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        # Restarting binds the same port again, so a client built earlier keeps working.
        server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), _handler_for(self))
        server.daemon_threads = True
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # -- scripting and inspection --------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 200, error: str | None = None,
                  retry_after: float | None = None, times: int = 1, body: str | list | None = None) -> None:
        """Answer the next ``times`` calls of ``method`` with a fault instead of the real result.

        ``status=429`` (with ``retry_after``), ``status=500``, ``error="msg_too_long"`` (HTTP 200,
        ``ok: false``), or ``body=`` an answer that is not Slack's (HTML text, a JSON array)."""
        if status == 200 and error is None and body is None:
            raise ValueError("a fault needs a non-200 status, an error code or a body")
        with self._lock:
            self._faults[method].extend([Fault(status, error, retry_after, body)] * times)

    def hold_next(self, method: str) -> threading.Event:
        """Carry out the next call of ``method`` (a post is stored: Slack has accepted it) but withhold
        the answer until the returned event is set — the window in which a client can die between
        Slack accepting a message and recording that it did. ``held`` is set when that happens."""
        release = threading.Event()
        with self._lock:
            self._holds[method] = release
            self.held.clear()
        return release

    def response_url(self, name: str) -> str:
        """A ``response_url`` as Slack puts in payloads; what is posted there lands in ``responses``."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def answers_to(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for where, body in self.responses if where == name]

    def calls(self, method: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def posted(self, channel: str | None = None) -> list[StoredMessage]:
        with self._lock:
            return [m for m in self.messages if channel is None or m.channel == channel]

    # -- request handling (called from server threads) ------------------------------------------

    def handle(self, method: str, params: dict[str, Any], headers: dict[str, str]
               ) -> tuple[int, dict[str, str], dict[str, Any] | str]:
        with self._lock:
            self.requests.append(RecordedRequest(method, params, headers))
            fault = self._faults[method].popleft() if self._faults[method] else None
        if fault is not None:
            return _fault_response(fault)
        if method.startswith("response/"):
            with self._lock:
                self.responses.append((method.removeprefix("response/"), params))
            return 200, {}, "ok"
        expected = self.app_token if method == "apps.connections.open" else self.token
        if headers.get("authorization") != f"Bearer {expected}":
            return 200, {}, _error("invalid_auth" if "authorization" in headers else "not_authed")
        handler = _METHODS.get(method)
        if handler is None:
            return 404, {}, _error("unknown_method")
        with self._lock:
            answer = handler(self, params)
            release = self._holds.pop(method, None)
        if release is not None:
            self.held.set()
            release.wait(timeout=30)
        return 200, {}, answer

    def _next_ts(self) -> str:
        return f"{time.time():.0f}.{next(self._ts):06d}"

    def _channel(self, params: dict[str, Any]) -> str | None:
        channel = str(params.get("channel", ""))
        if channel in self.channels:
            return channel
        by_name = {name: cid for cid, name in self.channels.items()}
        return by_name.get(channel.removeprefix("#"))


def _error(code: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": code, **extra}


def _fault_response(fault: Fault) -> tuple[int, dict[str, str], dict[str, Any] | str]:
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
    if fault.body is not None:
        return fault.status, headers, fault.body
    if fault.status == 429:
        return 429, headers, _error(fault.error or "ratelimited")
    if fault.status >= 500:
        return fault.status, headers, "<html><body>Slack is having trouble</body></html>"
    return fault.status, headers, _error(fault.error or f"http_{fault.status}")


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _auth_test(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "team_id": "T0FAKE",
            "user": "covbot", "user_id": "U0FAKEBOT", "bot_id": "B0FAKE"}


def _conversations_list(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    start = int(str(params.get("cursor") or "page:0").removeprefix("page:"))
    size = min(int(params.get("limit", 100)), api.page_size)
    items = list(api.channels.items())
    page = items[start:start + size]
    next_cursor = f"page:{start + size}" if start + size < len(items) else ""
    return {"ok": True,
            "channels": [{"id": cid, "name": name, "is_channel": True, "is_archived": False}
                         for cid, name in page],
            "response_metadata": {"next_cursor": next_cursor}}


def _post_message(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    channel = api._channel(params)
    user_channel = str(params.get("channel", ""))
    if channel is None and user_channel in api.users:  # a direct message to a user
        channel = user_channel
    if channel is None:
        return _error("channel_not_found")
    text, blocks = params.get("text") or "", params.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not text and not blocks:
        return _error("no_text")
    if len(text) > MAX_TEXT:
        return _error("msg_too_long")
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if metadata is not None and not ({"event_type", "event_payload"} <= set(metadata)):
        return _error("invalid_metadata_format")
    thread_ts = params.get("thread_ts")
    if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in api.messages):
        return _error("thread_not_found")
    message = StoredMessage(channel, api._next_ts(), text, blocks, thread_ts, metadata)
    api.messages.append(message)
    return {"ok": True, "channel": channel, "ts": message.ts, "message": message.as_api(True)}


def _update(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    channel = api._channel(params)
    if channel is None:
        return _error("channel_not_found")
    found = [m for m in api.messages if m.channel == channel and m.ts == params.get("ts")]
    if not found:
        return _error("message_not_found")
    message = found[0]
    text = params.get("text") or ""
    if len(text) > MAX_TEXT:
        return _error("msg_too_long")
    blocks = params.get("blocks")
    message.text = text
    message.blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    message.edited = True
    return {"ok": True, "channel": channel, "ts": message.ts, "text": message.text}


def _history(api: FakeSlackApi, params: dict[str, Any], replies_of: str | None = None
             ) -> dict[str, Any]:
    channel = api._channel(params)
    if channel is None:
        return _error("channel_not_found")
    in_channel = [m for m in api.messages if m.channel == channel]
    if replies_of is None:
        # Like Slack: channel history shows top-level messages only, not thread replies.
        chosen = [m for m in in_channel if not m.thread_ts or m.thread_ts == m.ts]
        chosen.sort(key=lambda m: float(m.ts), reverse=True)
    else:
        if not any(m.ts == replies_of for m in in_channel):
            return _error("thread_not_found")
        chosen = [m for m in in_channel if m.ts == replies_of or m.thread_ts == replies_of]
        chosen.sort(key=lambda m: float(m.ts))
    if params.get("oldest"):
        chosen = [m for m in chosen if float(m.ts) > float(params["oldest"])]
    if params.get("latest"):
        chosen = [m for m in chosen if float(m.ts) < float(params["latest"])]
    start = int(str(params.get("cursor") or "page:0").removeprefix("page:"))
    limit = min(int(params.get("limit", 100)), api.page_size)
    page = chosen[start:start + limit]
    more = start + limit < len(chosen)
    with_metadata = _flag(params.get("include_all_metadata"))
    return {"ok": True, "messages": [m.as_api(with_metadata) for m in page], "has_more": more,
            "response_metadata": {"next_cursor": f"page:{start + limit}" if more else ""}}


def _replies(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    return _history(api, params, replies_of=str(params.get("ts", "")))


def _json_param(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _views_open(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    view = _json_param(params.get("view"))
    if not params.get("trigger_id"):
        return _error("invalid_arguments")
    if not isinstance(view, dict) or view.get("type") != "modal" or not view.get("blocks"):
        return _error("invalid_arguments")
    if len(view.get("private_metadata", "")) > 3000 or len(view["blocks"]) > 100:
        return _error("invalid_arguments")
    api.views.append({"trigger_id": params["trigger_id"], "view": view})
    return {"ok": True, "view": {"id": f"V{len(api.views):06d}", **view}}


def _users_info(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    user = str(params.get("user", ""))
    if user not in api.users:
        return _error("user_not_found")
    profile = {"real_name": f"User {user}"}
    if api.users[user]:
        profile["email"] = api.users[user]
    return {"ok": True, "user": {"id": user, "name": user.lower(), "profile": profile}}


def _post_ephemeral(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    channel = api._channel(params)
    if channel is None:
        return _error("channel_not_found")
    if str(params.get("user", "")) not in api.users:
        return _error("user_not_in_channel")
    text, blocks = params.get("text") or "", _json_param(params.get("blocks"))
    if not text and not blocks:
        return _error("no_text")
    api.ephemerals.append({**params, "channel": channel, "blocks": blocks})
    return {"ok": True, "message_ts": api._next_ts()}


def _connections_open(api: FakeSlackApi, params: dict[str, Any]) -> dict[str, Any]:
    if api.socket_url is None:
        return _error("not_allowed_token_type")
    return {"ok": True, "url": api.socket_url}


_METHODS = {
    "views.open": _views_open,
    "users.info": _users_info,
    "chat.postEphemeral": _post_ephemeral,
    "apps.connections.open": _connections_open,
    "auth.test": _auth_test,
    "conversations.list": _conversations_list,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "conversations.history": _history,
    "conversations.replies": _replies,
}


def _handler_for(api: FakeSlackApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            method = url.path.rsplit("/", 1)[-1]
            if url.path.startswith("/response/"):
                method = "response/" + method
            params: dict[str, Any] = dict(parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kind = self.headers.get("Content-Type", "")
            if body and kind.startswith("application/json"):
                params.update(json.loads(body))
            elif body:
                params.update(parse_qsl(body.decode("utf-8")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra_headers, payload = api.handle(method, params, headers)
            data = (json.dumps(payload) if isinstance(payload, (dict, list)) else payload).encode("utf-8")
            self.send_response(status)
            content_type = "application/json" if isinstance(payload, (dict, list)) else "text/html"
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
