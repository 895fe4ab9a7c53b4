"""Alert events as Slack Block Kit messages: one alert, its thread parent, and a grouped flood.

Texts come from ``templates/slack/*.j2`` (macros, one per block); this module escapes every value
from data with ``slack_escape`` before a template sees it, and keeps within Slack's limits:
at most 50 blocks, 3,000 characters of section text, 150 characters of header.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence

from bot.domain.model import Facility
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import Threshold
from bot.notify.escape import slack_escape
from bot.notify.templates import template
from bot.notify.render import (
    STATUS_WORDS,
    AlertContext,
    AlertNotice,
    AlertView,
    SlackMessage,
    alert_view,
    count_summary,
    dominant_covenant,
    fit,
    format_headroom,
    format_threshold,
    format_value,
    plural,
    waive_command,
    worst_first,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT = 2000
MAX_LINE = 600  # one event line of a grouped message
MAX_GROUP_LINES = 40  # event lines shown in a grouped message before "+N more"
MAX_FALLBACK = 3000

STATUS_EMOJI = {"breach": ":red_circle:", "warning": ":large_yellow_circle:",
                "no_data": ":grey_question:", "ok": ":white_check_mark:"}
KIND_EMOJI = {"event_of_default": ":rotating_light:"}
EVENT_LABELS = {"firing": "opened", "escalated": "got worse", "improved": "improved",
                "reminder": "reminder", "resolved": "cured", "event_of_default": "event of default",
                "waived": "waived", "waiver_expired": "waiver ended"}


# the buttons on an alert's thread parent (handled by bot.slackapp; DOMAIN.md "Acting from Slack")
ACTION_ACK, ACTION_WAIVE, ACTION_EXPLAIN = "covbot_ack", "covbot_waive", "covbot_explain"
ACTIONS_BLOCK_ID = "covbot_actions"
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def emoji(kind: str, status: str) -> str:
    return KIND_EMOJI.get(kind) or STATUS_EMOJI.get(status, ":grey_question:")


# -- Block Kit pieces ----------------------------------------------------------------------------


def header_block(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": fit(text.strip(), MAX_HEADER), "emoji": True}}


def section_block(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(mrkdwn.strip(), MAX_SECTION)}}


def context_block(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(mrkdwn.strip(), MAX_CONTEXT)}]}


def actions_block(facility_id: str, covenant_id: str) -> dict:
    """Acknowledge · Waive… · Why? — each button's value the JSON {"facility_id", "covenant_id"}."""
    value = json.dumps({"facility_id": facility_id, "covenant_id": covenant_id}, ensure_ascii=False)

    def button(action_id: str, label: str, style: str | None = None) -> dict:
        out = {"type": "button", "action_id": action_id, "value": value,
               "text": {"type": "plain_text", "text": label}}
        return {**out, "style": style} if style else out

    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [
        button(ACTION_ACK, "Acknowledge", "primary"), button(ACTION_WAIVE, "Waive…"), button(ACTION_EXPLAIN, "Why?")]}


def slack_user_mention(user_id: str | None) -> str | None:
    """``<@U…>`` for a well-formed Slack user id (anything else is not shown as a mention)."""
    return f"<@{user_id}>" if user_id and _SLACK_USER_ID.match(user_id) else None


def _slack_view(event: AlertNotice, ctx: AlertContext) -> AlertView:
    view = alert_view(event, ctx).escaped(slack_escape)
    return replace(view, emoji=emoji(event.kind, event.status))


def _fallback(text: str) -> str:
    return fit(" ".join(text.split()), MAX_FALLBACK)


# -- one alert ------------------------------------------------------------------------------------


def render_slack(event: AlertNotice, ctx: AlertContext, *, actions: bool = False) -> SlackMessage:
    """One alert event as its own message (posted in the alert's thread); ``actions``: it opens
    the thread (its parent), so it carries the buttons."""
    a = _slack_view(event, ctx)
    t = template("slack/alert.j2").module
    blocks = [
        header_block(f"{a.emoji} {t.header(a)}"),
        section_block(str(t.facts(a))),
        section_block(str(t.body(a))),
    ]
    why = str(t.why(a)).strip()
    if why:
        blocks.append(section_block(why))
    hint = str(t.hint(a)).strip()
    if hint:
        blocks.append(context_block(hint))
    if actions and event.status != "ok":
        blocks.append(actions_block(event.facility_id, event.covenant_id))
    return SlackMessage(text=_fallback(f"{a.emoji} {t.fallback(a)}"), blocks=blocks)


# -- the thread parent -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadSummary:
    """Where an alert stands, for the parent message of its Slack thread."""

    facility: Facility
    covenant: Covenant
    metric: str
    status: str  # the alert's status now; "ok" once cured
    since: date  # test date from which it has held this status
    as_of: date  # latest test date
    value: Decimal | None
    threshold: Threshold | None
    headroom: Decimal | None
    last_event: str  # kind of the latest event
    last_event_on: date
    waived_until: date | None = None
    waived_by: str | None = None
    acknowledged_user: str | None = None  # Slack user id of who acknowledged the alert's status
    acknowledged_by: str | None = None  # their e-mail (or slack:<id>)
    acknowledged_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.status != "ok"

    @classmethod
    def opened(cls, event: AlertNotice, ctx: AlertContext) -> "ThreadSummary":
        """The summary of a thread that starts with ``event``."""
        if ctx.facility.facility_id != event.facility_id or ctx.covenant.id != event.covenant_id:
            raise ValueError(
                f"The alert for {event.facility_id}/{event.covenant_id} was given the context of "
                f"{ctx.facility.facility_id}/{ctx.covenant.id}."
            )
        r = event.result
        return cls(
            facility=ctx.facility, covenant=ctx.covenant, metric=r.metric, status=event.status,
            since=event.as_of, as_of=event.as_of, value=r.value, threshold=r.threshold,
            headroom=r.headroom, last_event=event.kind, last_event_on=event.as_of,
            waived_until=event.waiver.until if event.kind == "waived" and event.waiver else None,
            waived_by=event.waiver.by if event.kind == "waived" and event.waiver else None,
        )

    def after(self, event: AlertNotice) -> "ThreadSummary":
        """The summary once ``event`` (of the same alert) has happened."""
        if (event.facility_id, event.covenant_id) != (self.facility.facility_id, self.covenant.id):
            raise ValueError(
                f"An event of {event.facility_id}/{event.covenant_id} cannot update the thread of "
                f"{self.facility.facility_id}/{self.covenant.id}."
            )
        waived_until, waived_by = self.waived_until, self.waived_by
        if event.kind == "waived" and event.waiver is not None:
            waived_until, waived_by = event.waiver.until, event.waiver.by
        elif event.kind in ("waiver_expired", "resolved"):
            waived_until, waived_by = None, None
        r = event.result
        return replace(
            self, status=event.status,
            since=self.since if event.status == self.status else event.as_of,
            as_of=max(self.as_of, event.as_of), value=r.value, threshold=r.threshold,
            headroom=r.headroom, metric=r.metric, last_event=event.kind,
            last_event_on=event.as_of, waived_until=waived_until, waived_by=waived_by,
        )


def render_slack_parent(summary: ThreadSummary) -> SlackMessage:
    """The thread's parent message: current status, value, since when, last event."""
    s = _thread_view(summary)
    t = template("slack/thread.j2").module
    blocks = [
        header_block(f"{s['emoji']} {t.header(s)}"),
        section_block(str(t.facts(s))),
        context_block(str(t.footer(s))),
    ]
    if summary.open:
        blocks.append(actions_block(summary.facility.facility_id, summary.covenant.id))
    return SlackMessage(text=_fallback(f"{s['emoji']} {t.fallback(s)}"), blocks=blocks)


def render_slack_update(summary: ThreadSummary, event: AlertNotice) -> SlackMessage:
    """The parent message after ``event``, for ``chat.update`` (``summary.after(event)`` is the
    summary to keep for the next update)."""
    return render_slack_parent(summary.after(event))


def _thread_view(s: ThreadSummary) -> dict:
    currency = s.facility.currency
    status_label = "CURED" if s.status == "ok" else STATUS_WORDS.get(s.status, s.status).upper()
    if s.last_event == "event_of_default" and s.status == "breach":
        status_label = "BREACH, EVENT OF DEFAULT"
    raw = {
        "facility_id": s.facility.facility_id,
        "borrower": s.facility.borrower,
        "covenant_id": s.covenant.id,
        "covenant_title": s.covenant.title or s.covenant.id,
        "status_label": status_label,
        "since": s.since.isoformat(),
        "as_of": s.as_of.isoformat(),
        "value": format_value(s.metric, s.value, currency),
        "threshold": format_threshold(s.metric, s.threshold, currency),
        "headroom": format_headroom(s.headroom),
        "last_event": EVENT_LABELS.get(s.last_event, s.last_event),
        "last_event_on": s.last_event_on.isoformat(),
        "waived_until": s.waived_until.isoformat() if s.waived_until else None,
        "waived_by": s.waived_by,
        "acknowledged_by": s.acknowledged_by,
        "acknowledged_at": s.acknowledged_at.strftime("%Y-%m-%d %H:%M UTC") if s.acknowledged_at else None,
    }
    view = {k: slack_escape(v) if isinstance(v, str) else v for k, v in raw.items()}
    view["acknowledged_mention"] = slack_user_mention(s.acknowledged_user)
    view["emoji"] = emoji(s.last_event if s.open else "resolved", s.status)
    view["open"] = s.open
    return view


# -- many alerts at once ---------------------------------------------------------------------------


def render_slack_group(
    events_with_ctx: Sequence[tuple[AlertNotice, AlertContext]],
    channel: str,
    max_lines: int = MAX_GROUP_LINES,
) -> SlackMessage:
    """One message for many events of one evaluation: a headline, then one line per event,
    worst first, within Block Kit limits; what does not fit is counted as "+N more"."""
    if not events_with_ctx:
        raise ValueError("A grouped Slack message needs at least one alert event.")
    items = sorted(events_with_ctx, key=worst_first)
    events = [e for e, _ in items]
    as_of = max(e.as_of for e in events).isoformat()
    t = template("slack/group.j2").module

    dominant = dominant_covenant(events)
    headline = str(t.headline(
        plural(len(events), "covenant event"), count_summary(events),
        f"{slack_escape(dominant[0])} on {plural(dominant[1], 'facility', 'facilities')}" if dominant else None,
    ))
    blocks = [header_block(headline), context_block(str(t.summary(as_of, slack_escape(channel))))]
    closing = [context_block(str(t.hint(slack_escape(waive_command("FACILITY", "COVENANT")))))]
    # room for line sections: keep one block free for the "+N more" note
    room = MAX_BLOCKS - len(blocks) - len(closing) - 1

    sections, current, shown = [], "", 0
    for event, ctx in items[: max(0, max_lines)]:
        line = fit(str(t.line(_slack_view(event, ctx))).strip(), MAX_LINE)
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            if len(sections) + 1 >= room:
                break
            sections.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
        shown += 1
    if current:
        sections.append(current)
    blocks += [section_block(text) for text in sections]
    hidden = len(items) - shown
    if hidden:
        blocks.append(context_block(str(t.more(hidden, as_of))))
    blocks += closing
    return SlackMessage(text=_fallback(headline), blocks=blocks)
