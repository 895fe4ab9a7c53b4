"""Local fakes of the services covbot talks to, plus the shared "failure → retry or not" table.

Fixtures are defined by the test modules (or a conftest) from these plain factories::

    @pytest.fixture
    def slack_api():
        with running_slack_api() as fake:
            yield fake
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tests.fakes.slack_api import FakeSlackApi, RecordedRequest, StoredMessage
from tests.fakes.smtp import FakeSmtpServer, ReceivedMail, free_port

__all__ = [
    "DELIVERY_FAILURES", "DeliveryFailure", "FakeSlackApi", "FakeSmtpServer", "ReceivedMail",
    "RecordedRequest", "StoredMessage", "failures_for", "free_port", "running_slack_api",
    "running_smtp", "self_signed_tls",
]


@contextmanager
def running_slack_api(**kwargs: Any) -> Iterator[FakeSlackApi]:
    """A started fake Slack Web API, stopped afterwards (kwargs go to ``FakeSlackApi``)."""
    fake = FakeSlackApi(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


@contextmanager
def running_smtp(**kwargs: Any) -> Iterator[FakeSmtpServer]:
    """A started fake SMTP server, stopped afterwards (kwargs go to ``FakeSmtpServer``)."""
    fake = FakeSmtpServer(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed_tls(directory: Path) -> TlsFiles | None:
    """A throw-away certificate for 127.0.0.1 made with the openssl CLI; None when it is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(files.key), "-out", str(files.cert)],
        check=True, capture_output=True, timeout=30,
    )
    return files


@dataclass(frozen=True)
class DeliveryFailure:
    """One row of the shared table: how a fake is made to fail, and what a transport must say.

    ``action`` is ``"fault"`` (``fake.fail_next(**fault)`` / ``fake.refuse_next(**fault)``),
    ``"server_down"`` (the fake is stopped) or ``"bad_credentials"`` (the transport uses a wrong
    token or password)."""

    transport: str
    name: str
    action: str
    retryable: bool
    retry_after: float | None = None
    fault: dict[str, Any] = field(default_factory=dict)


DELIVERY_FAILURES: tuple[DeliveryFailure, ...] = (
    DeliveryFailure("slack", "rate limited with Retry-After", "fault", True, 1.0,
                    {"status": 429, "retry_after": 1}),
    DeliveryFailure("slack", "server error 500", "fault", True, None, {"status": 500}),
    DeliveryFailure("slack", "server error 503", "fault", True, None, {"status": 503}),
    DeliveryFailure("slack", "msg_too_long", "fault", False, None, {"error": "msg_too_long"}),
    DeliveryFailure("slack", "channel_not_found", "fault", False, None, {"error": "channel_not_found"}),
    DeliveryFailure("slack", "not_in_channel", "fault", False, None, {"error": "not_in_channel"}),
    DeliveryFailure("slack", "invalid_blocks", "fault", False, None, {"error": "invalid_blocks"}),
    DeliveryFailure("slack", "internal_error (ok:false)", "fault", True, None, {"error": "internal_error"}),
    DeliveryFailure("slack", "server stopped", "server_down", True),
    DeliveryFailure("slack", "bad token", "bad_credentials", False),
    DeliveryFailure("email", "server stopped", "server_down", True),
    DeliveryFailure("email", "451 at DATA", "fault", True, None,
                    {"reply": "451 4.3.0 Mail server busy, try again later", "stage": "data"}),
    DeliveryFailure("email", "450 at RCPT", "fault", True, None,
                    {"reply": "450 4.2.1 Mailbox busy", "stage": "rcpt"}),
    DeliveryFailure("email", "550 at RCPT", "fault", False, None,
                    {"reply": "550 5.1.1 No such recipient", "stage": "rcpt"}),
    DeliveryFailure("email", "554 at DATA", "fault", False, None,
                    {"reply": "554 5.7.1 Message rejected as spam", "stage": "data"}),
    DeliveryFailure("email", "bad password", "bad_credentials", False),
)


def failures_for(transport: str) -> list[DeliveryFailure]:
    return [row for row in DELIVERY_FAILURES if row.transport == transport]
