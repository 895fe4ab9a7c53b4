"""The digest as one text in a format of `covbot digest --format`."""

from __future__ import annotations

import json

from bot.digest.model import Digest
from bot.digest.render import render_email, render_html, render_markdown
from bot.digest.slack import render_slack

FORMATS = ("markdown", "html", "email", "slack")


def render(digest: Digest, fmt: str) -> str:
    """The digest as one text in ``fmt``: markdown, html, email (the HTML part), slack (JSON)."""
    if fmt == "markdown":
        return render_markdown(digest)
    if fmt == "html":
        return render_html(digest)
    if fmt == "email":
        return render_email(digest).html
    if fmt == "slack":
        message = render_slack(digest)
        return json.dumps({"text": message.text, "blocks": message.blocks}, indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
