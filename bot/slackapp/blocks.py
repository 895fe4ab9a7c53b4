"""Block Kit for answers from Slack: the waive modal, and long text cut to Slack's limits. Pure."""

from __future__ import annotations

from datetime import date

from bot.notify.escape import slack_escape
from bot.slackapp.requests import alert_value

WAIVE_CALLBACK = "covbot_waive"
MAX_SECTION = 3000  # characters of one section's text
MAX_BLOCKS = 50
MAX_TEXT = 3000  # the notification fallback ``text``
MAX_REASON = 2000


def waive_modal(facility_id: str, covenant_id: str, borrower: str | None, today: date) -> dict:
    """The modal ``covbot_waive`` opens: a datepicker ``until`` and a plain-text ``reason``."""
    who = f"*{slack_escape(facility_id)}*" + (f" ({slack_escape(borrower)})" if borrower else "")
    return {
        "type": "modal",
        "callback_id": WAIVE_CALLBACK,
        "private_metadata": alert_value(facility_id, covenant_id),
        "title": {"type": "plain_text", "text": "Waive a covenant"},
        "submit": {"type": "plain_text", "text": "Waive"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": fit(
                f"Waive *{slack_escape(covenant_id)}* at {who}. While the waiver lasts the alert sends "
                "no reminders and no event of default; a cure is still announced. It is recorded in the "
                "audit trail with your name.", MAX_SECTION)}},
            {"type": "input", "block_id": "until", "label": {"type": "plain_text", "text": "Waived until (inclusive)"},
             "element": {"type": "datepicker", "action_id": "until", "initial_date": today.isoformat()}},
            {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
             "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                         "max_length": MAX_REASON}},
        ],
    }


def submitted(view: dict, block_id: str) -> str | None:
    """The value of the modal's input ``block_id`` (action id the same), or None when empty."""
    values = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    element = values.get(block_id) or {}
    value = element.get("selected_date") if element.get("type") == "datepicker" or "selected_date" in element \
        else element.get("value")
    return value if isinstance(value, str) and value.strip() else None


def fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_message(mrkdwn: str, *, code: str | None = None) -> dict:
    """An ephemeral answer: mrkdwn sections, then ``code`` (plain text, e.g. tables) in code blocks,
    cut into sections of at most 3,000 characters and 50 blocks ("… cut" when it does not fit)."""
    blocks: list[dict] = [section(part) for part in _pieces(mrkdwn, MAX_SECTION)]
    if code:
        room = MAX_BLOCKS - len(blocks)
        pieces = _pieces(slack_escape(code.replace("```", "'''")), MAX_SECTION - 8)
        if len(pieces) > room:
            pieces = pieces[: room - 1] + ["… cut here: the rest does not fit in one Slack message; "
                                           "`covbot explain` on the server prints all of it."]
            blocks += [section(f"```{p}```") for p in pieces[:-1]] + [context(pieces[-1])]
        else:
            blocks += [section(f"```{p}```") for p in pieces]
    return {"text": fit(" ".join(mrkdwn.split()), MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}


def section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(mrkdwn, MAX_SECTION)}}


def context(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(mrkdwn, 2000)}]}


def _pieces(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at line ends where possible."""
    text = text.strip("\n")
    if not text:
        return []
    pieces, current = [], ""
    for line in text.split("\n"):
        while len(line) > size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:size])
            line = line[size:]
        if current and len(current) + 1 + len(line) > size:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces
