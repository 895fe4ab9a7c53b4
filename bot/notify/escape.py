"""Make untrusted text (facility names, borrower names, notes) safe to show in Slack and e-mail.

Slack mrkdwn treats ``<...>`` as control sequences (``<!channel>``, ``<@U123>``, ``<https://x|label>``),
so the three characters ``& < >`` are escaped as Slack documents. Bare ``@here``, ``@channel`` and
``@everyone`` are defused with a zero-width space after the ``@`` so nobody gets paged by a name.
"""

from __future__ import annotations

import re

from markupsafe import escape

ZERO_WIDTH_SPACE = "\u200b"

_BROADCASTS = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def slack_escape(text: str) -> str:
    """Text safe to place inside Slack mrkdwn: no mentions, no links, no broadcasts."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCASTS.sub(lambda m: "@" + ZERO_WIDTH_SPACE + m.group(1), escaped)


def html_escape(text: str) -> str:
    """Text safe to place in HTML e-mail bodies and attributes (markupsafe rules).

    A ``markupsafe.Markup`` value is trusted and returned unchanged, as in Jinja2.
    """
    return str(escape(text))
