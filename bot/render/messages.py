"""Show a stored notification in the terminal as a person would read it (`covbot outbox show`)."""

from __future__ import annotations

import json
import re

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule

_MRKDWN_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _mrkdwn(text: str) -> str:
    """Slack mrkdwn as rich markup: *bold* shown bold, Slack's HTML entities shown as characters."""
    shown = escape(text)
    shown = _MRKDWN_BOLD.sub(lambda m: f"[bold]{m.group(1)}[/bold]", shown)
    for entity, char in _ENTITIES:
        shown = shown.replace(entity, char)
    return shown


def _text_of(obj: dict | None) -> str:
    if not obj:
        return ""
    return _mrkdwn(obj.get("text", "")) if obj.get("type") == "mrkdwn" else escape(obj.get("text", ""))


def slack_lines(blocks: list[dict]) -> list:
    """Block Kit blocks as printable rich renderables, in order."""
    out: list = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            out.append(f"[bold]{_text_of(block.get('text'))}[/bold]")
        elif kind == "section":
            if block.get("text"):
                out.append(_text_of(block["text"]))
            for field in block.get("fields", []):
                out.append("  " + _text_of(field).replace("\n", "  "))
        elif kind == "context":
            out.append("[dim]" + "  ".join(_text_of(e) for e in block.get("elements", [])) + "[/dim]")
        elif kind == "divider":
            out.append(Rule(style="dim"))
        elif kind == "actions":
            labels = [_text_of(e.get("text")) for e in block.get("elements", []) if isinstance(e, dict)]
            out.append("[dim]buttons: [/dim]" + " · ".join(f"[reverse] {label} [/reverse]" for label in labels))
        else:
            out.append(f"[dim]({escape(str(kind))} block)[/dim]")
    return out


def show_message(console: Console, row, alerts: list[tuple[str, str]]) -> None:
    payload = json.loads(row.payload)
    where = f"{row.transport} to {row.route}"
    state = row.state + (f" via {row.sent_via}" if row.sent_via else "")
    about = ", ".join(f"{f} · {c}" for f, c in alerts[:5]) + (f" +{len(alerts) - 5} more" if len(alerts) > 5 else "")
    console.print(f"[bold]Message {row.id}[/bold] ({escape(row.kind)}, {escape(where)}, {escape(state)})"
                  + (f" — {escape(about)}" if about else ""))
    if row.transport == "slack":
        console.print(f"[dim]fallback text:[/dim] {escape(payload.get('text', ''))}")
        body = slack_lines(payload.get("blocks", []))
        console.print(Panel(Group(*body), title="Slack", title_align="left", expand=False))
    else:
        console.print(f"[dim]To:[/dim] {escape(', '.join(payload.get('to', [])))}")
        console.print(f"[dim]Subject:[/dim] {escape(payload.get('subject', ''))}")
        console.print(Panel(escape(payload.get("text", "")), title="e-mail (text part)", title_align="left",
                            expand=False))
