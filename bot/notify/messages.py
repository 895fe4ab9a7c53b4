"""Transport-neutral message types: what a transport is handed, and what it hands back.

The pipeline (outbox, dispatcher) renders notifications into these; transports only send them.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

# Slack message-metadata event type carried by every covbot post; its payload holds
# ``notification_id`` so a post can be found again after a crash (exactly-once check).
SLACK_EVENT_TYPE = "covbot_notification"


@dataclass(frozen=True)
class PostedMessage:
    """Where a Slack message landed: a channel id and the message timestamp (its id in Slack)."""

    channel_id: str
    ts: str


@dataclass(frozen=True)
class SlackPost:
    """A Slack message ready to send. ``text`` is the fallback shown in notifications."""

    channel: str
    text: str
    blocks: tuple[dict[str, Any], ...] = ()
    thread_ts: str | None = None
    notification_id: str | None = None
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any] | None:
        if self.notification_id is None and not self.extra_metadata:
            return None
        payload = dict(self.extra_metadata)
        if self.notification_id is not None:
            payload["notification_id"] = self.notification_id
        return payload


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (the full alert list as CSV, or zipped)."""

    filename: str
    content_type: str  # "text/csv" or "application/zip"
    data: bytes

    def stored(self) -> dict[str, str]:
        """As kept in the outbox payload: text as text, anything else in base64."""
        if self.content_type.startswith("text/"):
            return {"filename": self.filename, "content_type": self.content_type, "text": self.data.decode("utf-8")}
        return {"filename": self.filename, "content_type": self.content_type,
                "base64": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_stored(cls, stored: dict[str, str]) -> "Attachment":
        data = (stored["text"].encode("utf-8") if "text" in stored
                else base64.b64decode(stored["base64"].encode("ascii")))
        return cls(stored["filename"], stored["content_type"], data)


@dataclass(frozen=True)
class OutgoingEmail:
    """An e-mail ready to send: plain text and HTML alternatives of the same content.

    ``message_id`` is chosen by the caller and stays the same across resends, so a duplicate
    delivery is recognisable by the receiving side.
    """

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    attachments: tuple[Attachment, ...] = ()


_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._\-+=]")


def email_message_id(notification_id: str, sender: str) -> str:
    """A stable RFC 5322 Message-ID for a notification: ``<covbot.ID@sender-domain>``."""
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    local = _UNSAFE_ID_CHARS.sub("-", str(notification_id))
    return f"<covbot.{local}@{domain}>"
