"""E-mail transport: builds a text + HTML message and hands it to an SMTP server.

It only sends, and says whether a failure is worth retrying: connection failures, timeouts and 4xx
replies are retryable; 5xx replies and refused credentials are permanent. The password never appears
in an error, and errors are raised ``from None``.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Callable, Iterable, Protocol

from pydantic import SecretStr

from bot.config import Settings
from bot.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class EmailLike(Protocol):
    to: str | Iterable[str]
    subject: str
    text: str
    html: str
    message_id: str


class EmailTransport:
    """Sends e-mail through one SMTP server (STARTTLS, implicit TLS or plain)."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        user: str | None = None,
        password: SecretStr | None = None,
        security: str = "starttls",
        timeout: float = 30.0,
        sender: str = "covbot@localhost",
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        if security not in DEFAULT_PORTS:
            raise ValueError("SMTP_SECURITY must be starttls, ssl or none")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.user = user
        self._password = password
        self.security = security
        self.timeout = timeout
        self.sender = sender
        self._ssl_context = ssl_context
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, ssl_context: ssl.SSLContext | None = None
                      ) -> EmailTransport:
        if not settings.smtp_host:
            raise ValueError("SMTP_HOST is not set")
        return cls(settings.smtp_host, settings.smtp_port, user=settings.smtp_user,
                   password=settings.smtp_password, security=settings.smtp_security,
                   timeout=settings.smtp_timeout_seconds, sender=settings.email_from,
                   ssl_context=ssl_context)

    def __repr__(self) -> str:
        return (f"EmailTransport(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"user={self.user!r}, password=**********)")

    def build(self, message: EmailLike) -> EmailMessage:
        """The MIME message: multipart/alternative with text then HTML, stable Message-ID."""
        recipients = _recipients(message.to)
        if not recipients:
            raise PermanentDeliveryError("The e-mail has no recipient.")
        mime = EmailMessage()
        mime["Subject"] = " ".join(message.subject.split())
        mime["From"] = self.sender
        mime["To"] = ", ".join(recipients)
        mime["Date"] = format_datetime(self._clock().astimezone(timezone.utc))
        mime["Message-ID"] = _bracketed(message.message_id)
        # base64 (what the 1 MB cap assumes, alert_list.encoded_size): the standard library's
        # quoted-printable encoder is pure Python and costs several times as much per e-mail
        mime.set_content(message.text, cte="base64")
        mime.add_alternative(message.html, subtype="html", cte="base64")
        for attachment in getattr(message, "attachments", ()):
            maintype, _, subtype = attachment.content_type.partition("/")
            mime.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        for part in mime.walk():  # a boundary of our own: the generator would search a megabyte of
            if part.is_multipart():  # body for each one it makes up (every part is base64 or short)
                part.set_boundary(f"covbot-{uuid.uuid4().hex}")
        return mime

    def send(self, message: EmailLike) -> None:
        """Deliver ``message`` or raise a ``RetryableDeliveryError`` / ``PermanentDeliveryError``."""
        mime = self.build(message)
        recipients = _recipients(message.to)
        try:
            with self._connect() as smtp:
                self._secure_and_login(smtp)
                refused = smtp.send_message(mime, from_addr=self.sender, to_addrs=recipients)
        except DeliveryError as exc:
            error = exc
        except smtplib.SMTPRecipientsRefused as exc:
            error = _refused(exc.recipients, delivered_to=[])
        except smtplib.SMTPAuthenticationError as exc:
            error = _by_code(exc.smtp_code, f"the mail server refused the login for user {self.user!r}",
                             exc.smtp_error)
        except smtplib.SMTPResponseException as exc:
            error = _by_code(exc.smtp_code, "the mail server refused the message", exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            error = PermanentDeliveryError(f"The e-mail was not sent: the mail server does not support "
                                           f"what covbot asked for ({exc}).")
        except smtplib.SMTPServerDisconnected:
            error = RetryableDeliveryError(
                f"The e-mail was not sent: the mail server {self.host}:{self.port} closed the connection.")
        except ssl.SSLCertVerificationError as exc:
            error = PermanentDeliveryError(
                f"The e-mail was not sent: the certificate of {self.host} is not trusted ({exc.verify_message}).")
        except (OSError, smtplib.SMTPException) as exc:
            error = RetryableDeliveryError(
                f"The e-mail was not sent: the mail server {self.host}:{self.port} could not be reached "
                f"({_reason(exc)}).")
        else:
            if refused:
                error = _refused(refused, delivered_to=[r for r in recipients if r not in refused])
            else:
                return
        raise self._redacted(error) from None

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self._context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _secure_and_login(self, smtp: smtplib.SMTP) -> None:
        if self.security == "starttls":
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise PermanentDeliveryError(
                    f"The e-mail was not sent: the mail server {self.host} does not offer STARTTLS; "
                    "set SMTP_SECURITY to ssl or none if that is intended.")
            smtp.starttls(context=self._context())
            smtp.ehlo()
        if self.user:
            if self._password is None:
                raise PermanentDeliveryError("The e-mail was not sent: SMTP_USER is set but SMTP_PASSWORD is not.")
            smtp.login(self.user, self._password.get_secret_value())

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _redacted(self, error: DeliveryError) -> DeliveryError:
        """The error without credentials: a server may echo the AUTH command (base64 of the user
        and password) in its refusal, and a careless one the password itself."""
        message = redact_auth(str(error), self.user, self._password.get_secret_value() if self._password else "")
        if message != str(error):
            return type(error)(message, retry_after=error.retry_after)
        return error


_AUTH_ARGUMENT = re.compile(r"(\bAUTH[ \t]+[A-Za-z0-9_-]+)[ \t]+[A-Za-z0-9+/=]+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_auth(text: str, user: str | None, password: str) -> str:
    """``text`` with every AUTH argument and every form of the password (plain, base64 alone, base64
    of AUTH PLAIN's ``\\0user\\0password``) replaced by ``[redacted]``."""
    text = _AUTH_ARGUMENT.sub(rf"\1 {REDACTED}", text)
    if password:
        forms = [base64.b64encode(password.encode()).decode()]
        if user:
            forms += [base64.b64encode(f"{authz}\0{user}\0{password}".encode()).decode() for authz in ("", user)]
        if len(password) >= 8:  # a shorter plain one would garble ordinary words
            forms.append(password)
        for form in forms:
            text = text.replace(form, REDACTED)
    return text


def _recipients(to: str | Iterable[str]) -> list[str]:
    items = [to] if isinstance(to, str) else list(to)
    return [addr.strip() for item in items for addr in item.split(",") if addr.strip()]


def _bracketed(message_id: str) -> str:
    message_id = message_id.strip()
    if "@" not in message_id or any(c.isspace() for c in message_id):
        raise PermanentDeliveryError(f"The e-mail has an unusable Message-ID {message_id!r}.")
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _by_code(code: int, what: str, reply: bytes | str) -> DeliveryError:
    if 400 <= code < 500:
        return RetryableDeliveryError(f"The e-mail was not sent yet: {what} for now ({code} {_text(reply)}).")
    return PermanentDeliveryError(f"The e-mail was not sent: {what} ({code} {_text(reply)}).")


def _refused(refused: dict[str, tuple[int, bytes]], delivered_to: list[str]) -> DeliveryError:
    reasons = "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in refused.items())
    if delivered_to:
        # Part of it went out: retrying would send it twice to the others, so this is final.
        return PermanentDeliveryError(
            f"The e-mail reached {', '.join(delivered_to)} but the mail server refused {reasons}.")
    if all(400 <= code < 500 for code, _ in refused.values()):
        return RetryableDeliveryError(f"The e-mail was not sent yet: the mail server deferred {reasons}.")
    return PermanentDeliveryError(f"The e-mail was not sent: the mail server refused {reasons}.")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return getattr(exc, "strerror", None) or exc.__class__.__name__
