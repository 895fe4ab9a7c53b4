"""Where an alert goes: Slack channels and e-mail addresses.

Routes of an alert = the covenant's ``notify`` targets + the facility's ``slack_channel`` and
``owner_email``. Only when that gives no route of a kind does the default of that kind apply, and
then the event's severity decides:

* ``COVBOT_DEFAULT_SLACK_CHANNEL`` for every severity (the team channel sees everything unrouted);
* ``COVBOT_DEFAULT_EMAIL`` for every severity but ``low`` (a low-severity covenant without an owner
  stays in Slack rather than fill an inbox; every event of default is critical, so it is mailed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from bot.domain.rulebook import Covenant

DEFAULT_EMAIL_SEVERITIES = ("medium", "high", "critical")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Routes:
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


def channel_key(channel: str) -> str:
    """A channel as covbot routes it: an id untouched, a name as ``#name`` in lower case."""
    channel = channel.strip()
    if not channel or _CHANNEL_ID.match(channel):
        return channel
    return "#" + channel.lstrip("#").lower()


def _unique(items: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        if item and item.strip():
            seen.setdefault(item.strip(), None)
    return tuple(seen)


def routes_for(
    covenant: Covenant,
    facility_slack_channel: str | None,
    facility_owner_email: str | None,
    severity: str,
    default_slack_channel: str | None = None,
    default_email: str | None = None,
) -> Routes:
    """The routes of one alert event (see the module docstring for the defaults)."""
    slack = _unique(channel_key(c) for c in (*covenant.notify.slack, facility_slack_channel or ""))
    email = _unique(a.lower() for a in (*covenant.notify.email, facility_owner_email or ""))
    if not slack and default_slack_channel:
        slack = (channel_key(default_slack_channel),)
    if not email and default_email and severity in DEFAULT_EMAIL_SEVERITIES:
        email = (default_email.strip().lower(),)
    return Routes(slack, email)
