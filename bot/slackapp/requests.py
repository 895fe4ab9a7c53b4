"""What Slack sent, in one shape for both modes: a slash command or an interaction payload.

Request URL mode posts ``application/x-www-form-urlencoded`` bodies: a slash command's fields, or
one ``payload`` field holding the interaction's JSON. Socket Mode delivers the same content as
JSON envelopes (``slash_commands`` / ``interactive``). Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


class BadRequest(ValueError):
    """The body is not a Slack request covbot understands (answered 400 over HTTP)."""


@dataclass(frozen=True)
class SlackRequest:
    kind: str  # "command" | "block_actions" | "view_submission" | another interaction type
    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    text: str = ""  # the slash command's text
    action_id: str | None = None  # block_actions: the first action's id
    value: str | None = None  # block_actions: the first action's value
    message_ts: str | None = None  # block_actions: the message whose button was clicked
    view: dict[str, Any] = field(default_factory=dict)  # view_submission: the view

    @property
    def callback_id(self) -> str | None:
        return self.view.get("callback_id")


def from_form(body: bytes | str) -> SlackRequest:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in fields:
        try:
            payload = json.loads(fields["payload"])
        except ValueError:
            raise BadRequest("the payload field is not JSON") from None
        return from_interaction(payload)
    return from_command(fields)


def from_command(fields: dict[str, Any]) -> SlackRequest:
    user = fields.get("user_id")
    if not user or "command" not in fields:
        raise BadRequest("not a slash command: user_id or command missing")
    return SlackRequest(
        kind="command", user_id=str(user), team_id=fields.get("team_id"), channel_id=fields.get("channel_id"),
        response_url=fields.get("response_url"), trigger_id=fields.get("trigger_id"),
        text=str(fields.get("text") or ""),
    )


def from_interaction(payload: Any) -> SlackRequest:
    if not isinstance(payload, dict) or not isinstance(payload.get("user"), dict) or "type" not in payload:
        raise BadRequest("not an interaction payload: type or user missing")
    user = payload["user"].get("id")
    if not user:
        raise BadRequest("the interaction names no user")
    actions = payload.get("actions") or [{}]
    first = actions[0] if isinstance(actions[0], dict) else {}
    container = payload.get("container") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
    message = payload.get("message") or {}
    return SlackRequest(
        kind=str(payload["type"]), user_id=str(user), team_id=(payload.get("team") or {}).get("id"),
        channel_id=channel, response_url=payload.get("response_url"), trigger_id=payload.get("trigger_id"),
        action_id=first.get("action_id"), value=first.get("value"),
        message_ts=container.get("message_ts") or message.get("ts"),
        view=payload.get("view") or {},
    )


def alert_key(value: str | None) -> tuple[str, str]:
    """The (facility_id, covenant_id) of a button's value or a modal's private_metadata."""
    try:
        data = json.loads(value or "")
        facility_id, covenant_id = data["facility_id"], data["covenant_id"]
    except (ValueError, TypeError, KeyError):
        raise BadRequest("the value is not {\"facility_id\", \"covenant_id\"} JSON") from None
    if not isinstance(facility_id, str) or not isinstance(covenant_id, str) or not facility_id or not covenant_id:
        raise BadRequest("facility_id and covenant_id must be non-empty strings")
    return facility_id, covenant_id


def alert_value(facility_id: str, covenant_id: str) -> str:
    """The JSON a button's value and the modal's private_metadata carry."""
    return json.dumps({"facility_id": facility_id, "covenant_id": covenant_id}, ensure_ascii=False)
