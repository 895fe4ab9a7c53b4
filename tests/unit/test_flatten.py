"""The file outbox writes an e-mail with its own generator: byte for byte what the standard one writes."""

from __future__ import annotations

from email.message import EmailMessage

from bot.notify.email import EmailTransport
from bot.notify.file_outbox import flatten
from bot.notify.messages import Attachment


class _Mail:
    to = ["ana@lender.example"]
    subject = "3 breaches — Ürün Capital"
    message_id = "abc@covbot"
    text = "Breach: FAC-001 ↘ 0.98x\n" * 500
    html = "<table><tr><td style='padding:6px'>é</td></tr></table>\n" * 800
    attachments = (Attachment("covbot-alerts-2026-06-30.csv", "text/csv", "a,b\r\nc,d\r\n".encode() * 300),)


def test_an_alert_email_flattens_to_the_same_bytes_as_the_standard_generator():
    mime = EmailTransport("localhost", security="none").build(_Mail())
    assert flatten(mime) == bytes(mime)
    assert b"\r\n" not in flatten(mime)  # the file outbox writes plain newlines, as before


def test_bodies_with_carriage_returns_or_other_line_ends_flatten_the_same():
    for body in ("one\r\ntwo\r\n", "mixed\rends\n\r\nhere", "", "no newline at the end"):
        message = EmailMessage()
        message["Subject"] = "s"
        message.set_content(body, cte="8bit" if body.isascii() else "base64")
        assert flatten(message) == bytes(message), body
        crlf = message.policy.clone(linesep="\r\n")
        message.policy = crlf
        assert flatten(message) == message.as_bytes(policy=crlf), body
