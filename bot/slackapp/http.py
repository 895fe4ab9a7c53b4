"""Request URL mode: ``POST /slack/events`` as a WSGI app, served by waitress.

Every request is verified with slack-sdk's ``SignatureVerifier``: ``X-Slack-Request-Timestamp``
within 5 minutes of now and ``X-Slack-Signature`` = ``v0=`` + HMAC-SHA256 of
``v0:{timestamp}:{raw body}``, compared in constant time. Anything else is HTTP 401 and changes
nothing. A verified request gets HTTP 200 with the handler's immediate answer (JSON) or an empty
body (also one covbot cannot use: it came from Slack). Bodies and headers are never logged (a slash command's body carries a token).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Callable, Iterable

from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from bot.slackapp.handler import SlackApp
from bot.slackapp.requests import BadRequest, from_form

log = logging.getLogger("covbot.slack")

PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are far smaller


def wsgi_app(app: SlackApp, verifier: SignatureVerifier) -> Callable:
    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def answer(status: str, body: bytes = b"", kind: str = "text/plain; charset=utf-8") -> list[bytes]:
            start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
            return [body]

        if environ.get("PATH_INFO") != PATH:
            return answer("404 Not Found", b"not found\n")
        if environ.get("REQUEST_METHOD") != "POST":
            return answer("405 Method Not Allowed", b"POST only\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return answer("413 Payload Too Large", b"too large\n")
        body = environ["wsgi.input"].read(length) if length else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not timestamp or not signature or not verifier.is_valid(body, timestamp, signature):
            log.warning("refused a request to %s with a missing, stale or wrong signature (HTTP 401)", PATH)
            return answer("401 Unauthorized", b"invalid signature\n")
        if (environ.get("CONTENT_TYPE") or "").startswith("application/json"):
            return answer("200 OK", *_json_body(body))  # Events API (not used): the URL check only
        try:
            request = from_form(body)
        except (BadRequest, UnicodeDecodeError) as exc:  # signed by Slack, so still a 200: nothing to do
            log.warning("ignored a signed request that is not a slash command or an interaction: %s", exc)
            return answer("200 OK")
        retry = environ.get("HTTP_X_SLACK_RETRY_NUM")
        if retry:
            log.info("Slack retry %s of a %s request (acted on once at most)", retry, request.kind)
        reply = app.handle(request)
        if reply is None:
            return answer("200 OK")
        return answer("200 OK", json.dumps(reply, ensure_ascii=False).encode("utf-8"),
                      "application/json; charset=utf-8")

    return application


def _json_body(body: bytes) -> tuple[bytes, str]:
    """The answer to a signed JSON body: Slack's ``url_verification`` challenge echoed (so the
    URL can be saved in the app's Event Subscriptions too), else nothing."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("type") == "url_verification" and isinstance(data.get("challenge"), str):
        return json.dumps({"challenge": data["challenge"]}).encode(), "application/json; charset=utf-8"
    return b"", "text/plain; charset=utf-8"


class HttpListener:
    """waitress on ``host:port`` in a thread of its own; ``port`` is the bound one (0 picks a free one)."""

    def __init__(self, app: SlackApp, signing_secret: str, host: str, port: int, *, threads: int = 8):
        self.server = create_server(wsgi_app(app, SignatureVerifier(signing_secret)), host=host, port=port,
                                    threads=threads, ident="covbot", clear_untrusted_proxy_headers=True,
                                    asyncore_loop_timeout=0.2,  # how soon stop() is noticed
                                    _start=True)
        self.host = host
        self.port = self.server.effective_port
        self._thread = threading.Thread(target=self._serve, name="covbot-slack-http", daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:  # closed while stopping
            pass

    def start(self) -> "HttpListener":
        self._thread.start()
        log.info("listening for Slack on http://%s:%s%s", self.host, self.port, PATH)
        return self

    def stop(self) -> None:
        self.server.close()
        self._thread.join(timeout=5)
