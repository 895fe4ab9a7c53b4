"""A fake mail server: aiosmtpd on 127.0.0.1 that stores what it receives.

Supports AUTH LOGIN/PLAIN against one test account, STARTTLS or implicit TLS when given a server
``ssl.SSLContext``, stopping and restarting on the same port ("mail server down, then up"), and
scripted refusals (a 4xx or 5xx reply) for the next messages, at RCPT or DATA time, and (with
``echo_auth``) a careless server that repeats the AUTH command, credentials and all, in its refusal.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


@dataclass(frozen=True)
class Refusal:
    reply: str
    stage: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, server: FakeSmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.server._take_refusal("rcpt")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = self.server._take_refusal("data")
        if refusal is not None:
            return refusal
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.server._lock:
            self.server.received.append(ReceivedMail(
                envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content), login))
        return "250 Message accepted for delivery"


class FakeSmtpServer:
    """``start()`` / ``stop()`` / ``restart()``; ``received`` lists every accepted message."""

    def __init__(self, *, user: str | None = None, password: str | None = None,
                 security: str = "none", server_context: ssl.SSLContext | None = None,
                 echo_auth: bool = False):
        if security != "none" and server_context is None:
            raise ValueError("STARTTLS and SSL need a server_context with a certificate")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user, self.password = user, password
        self.security = security
        self._context = server_context
        self.received: list[ReceivedMail] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.echo_auth = echo_auth
        self._refusals: deque[Refusal] = deque()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> FakeSmtpServer:
        kwargs: dict = {}
        if self.user is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.security == "starttls")
        if self.security == "starttls":
            kwargs.update(tls_context=self._context, require_starttls=True)
        elif self.security == "ssl":
            kwargs.update(ssl_context=self._context)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      server_hostname="fake-smtp.test", **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> FakeSmtpServer:
        self.stop()
        return self.start()

    def __enter__(self) -> FakeSmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def refuse_next(self, reply: str, *, times: int = 1, stage: str = "data") -> None:
        """Answer ``reply`` (e.g. ``"451 4.3.0 Try again later"``) to the next ``times`` messages,
        at ``stage`` ``"rcpt"`` or ``"data"``."""
        if stage not in ("rcpt", "data") or reply[:1] not in ("4", "5"):
            raise ValueError("a refusal is a 4xx or 5xx reply at the rcpt or data stage")
        with self._lock:
            self._refusals.extend([Refusal(reply, stage)] * times)

    def _take_refusal(self, stage: str) -> str | None:
        with self._lock:
            if self._refusals and self._refusals[0].stage == stage:
                return self._refusals.popleft().reply
        return None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (auth_data.login.decode() == self.user and auth_data.password.decode() == self.password)
        with self._lock:
            self.auth_attempts.append((auth_data.login.decode(), ok))
        if not ok and self.echo_auth:  # what a careless server says: the client's line, echoed
            login, password = auth_data.login, auth_data.password
            sent = (base64.b64encode(b"\0" + login + b"\0" + password) if mechanism == "PLAIN"
                    else base64.b64encode(password))
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 Authentication failed for AUTH {mechanism} {sent.decode()}")
        # handled=False lets aiosmtpd answer 535 itself on failure
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
