"""Delivery to files, for demos and for setups without Slack or a mail server.

With no ``SLACK_BOT_TOKEN`` a Slack message is written as ``slack/<notification-id>.json`` (the
exact ``chat.postMessage`` arguments); with no ``SMTP_HOST`` an e-mail is written as
``email/<notification-id>.eml`` (the MIME message as it would be sent) plus ``.html`` (its HTML part,
to open in a browser). Files are named by the notification id, so writing one twice is harmless.
"""

from __future__ import annotations

import io
import json
import os
from email.generator import BytesGenerator
from email.message import Message
from pathlib import Path
from typing import Any

from bot.notify.email import EmailTransport
from bot.notify.messages import SLACK_EVENT_TYPE, OutgoingEmail


class FileOutbox:
    """Writes rendered messages under one folder (``COVBOT_OUTBOX_DIR``)."""

    def __init__(self, folder: Path | str, sender: str = "covbot@localhost"):
        self.folder = Path(folder)
        self._mime = EmailTransport("localhost", security="none", sender=sender)

    def write_slack(self, notification_id: str, channel: str, text: str,
                    blocks: list[dict[str, Any]], thread_of: str | None = None) -> Path:
        body = {"channel": channel, "text": text, "blocks": blocks,
                "metadata": {"event_type": SLACK_EVENT_TYPE,
                             "event_payload": {"notification_id": notification_id}}}
        if thread_of:
            body["thread_of"] = thread_of  # the alert whose thread it would go into
        path = self.folder / "slack" / f"{notification_id}.json"
        _write(path, json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8"))
        return path

    def write_email(self, message: OutgoingEmail, notification_id: str) -> list[Path]:
        eml = self.folder / "email" / f"{notification_id}.eml"
        html = eml.with_suffix(".html")
        _write(eml, flatten(self._mime.build(message)))
        _write(html, message.html.encode("utf-8"))
        return [eml, html]


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _WholeBodies(BytesGenerator):
    """The standard library's generator, writing a body in one piece when its lines end in plain
    newlines: the same bytes, without its loop over every line (a 700 KB e-mail has ten thousand
    lines of base64, and that loop cost more than building the message)."""

    def _write_lines(self, lines: str) -> None:
        newline = self._NL  # type: ignore[attr-defined]
        if "\r" in lines:
            super()._write_lines(lines)  # type: ignore[misc]
        else:
            self.write(lines if newline == "\n" else lines.replace("\n", newline))


def flatten(message: Message) -> bytes:
    """``bytes(message)``, faster for large bodies (``_WholeBodies``)."""
    out = io.BytesIO()
    _WholeBodies(out, mangle_from_=False, policy=message.policy).flatten(message, unixfrom=False)
    return out.getvalue()
