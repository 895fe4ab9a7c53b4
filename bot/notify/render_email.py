"""Alert e-mails: one per recipient per evaluation, grouping its alerts, as text and HTML.

Both parts come from ``templates/email/``; the HTML template autoescapes every value (Jinja2
``select_autoescape``) and its stylesheet is inlined with premailer, since mail clients drop
``<style>`` blocks.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Sequence

import premailer

from bot.alerts.lifecycle import AlertEvent
from bot.notify.render import (
    AlertContext,
    EmailContent,
    alert_view,
    count_summary,
    fit,
    plural,
    worst_first,
)
from bot.notify.templates import template

MAX_SUBJECT = 200

STATUS_EMOJI = {"breach": "🔴", "warning": "🟡", "no_data": "❔", "ok": "✅"}
KIND_EMOJI = {"event_of_default": "🚨"}


def render_email(
    recipient: str,
    events_with_ctx: Sequence[tuple[AlertEvent, AlertContext]],
    as_of: date,
) -> EmailContent:
    """The one e-mail ``recipient`` gets for the alerts of one evaluation, worst first."""
    if not events_with_ctx:
        raise ValueError(f"An alert e-mail to {recipient} needs at least one alert event.")
    items = sorted(events_with_ctx, key=worst_first)
    events = [e for e, _ in items]
    alerts = [
        replace(alert_view(e, ctx), emoji=KIND_EMOJI.get(e.kind) or STATUS_EMOJI.get(e.status, "❔"))
        for e, ctx in items
    ]
    if len(alerts) == 1:
        a = alerts[0]
        headline = f"{a.kind_title}: {a.facility_id} ({a.borrower}) — {a.covenant_title}"
    else:
        headline = f"{plural(len(alerts), 'covenant alert')}: {count_summary(events)}"
    subject = _subject(f"[covbot] {headline} ({as_of.isoformat()})")
    values = {"subject": subject, "headline": headline, "alerts": alerts,
              "as_of": as_of.isoformat(), "recipient": recipient}
    text = template("email/alerts.txt.j2").render(values).strip() + "\n"
    html = inline_css(template("email/alerts.html.j2").render(values))
    return EmailContent(subject=subject, text=text, html=html)


def inline_css(html: str) -> str:
    """The page with its ``<style>`` rules moved into ``style`` attributes (and the block removed)."""
    return premailer.transform(
        html,
        keep_style_tags=False,
        allow_network=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
    )


def _subject(text: str) -> str:
    """One header line: no line breaks or control characters (no header injection), bounded."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    return fit(" ".join(flat.split()), MAX_SUBJECT)
