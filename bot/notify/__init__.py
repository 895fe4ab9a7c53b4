"""Notification transports: each one only renders-and-sends and says whether a failure is retryable.

Pipeline stages (outbox, dispatch with backoff, notification log) live beside them and call these.
"""

from bot.notify.email import DEFAULT_PORTS, EmailTransport
from bot.notify.escape import html_escape, slack_escape
from bot.notify.messages import (
    SLACK_EVENT_TYPE,
    OutgoingEmail,
    PostedMessage,
    SlackPost,
    email_message_id,
)
from bot.notify.slack import SlackTransport, check_blocks

__all__ = [
    "DEFAULT_PORTS",
    "EmailTransport",
    "OutgoingEmail",
    "PostedMessage",
    "SLACK_EVENT_TYPE",
    "SlackPost",
    "SlackTransport",
    "check_blocks",
    "email_message_id",
    "html_escape",
    "slack_escape",
]
