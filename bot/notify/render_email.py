"""Alert e-mails: one per recipient per evaluation, grouping its alerts, as text and HTML.

Readable at any scale: the e-mail shows the ``MAX_SHOWN`` worst alerts (the ``MAX_DETAILED`` worst
in full, with trend, inputs and outlook; the others one table row each), counts every alert by
status and by covenant, and attaches the whole list as CSV (``bot.notify.alert_list``); the
message never exceeds ``MAX_EMAIL_BYTES`` (1 MB). Both parts come from ``templates/email/``; the HTML template autoescapes every value (Jinja2
``select_autoescape``) and its stylesheet is inlined with premailer, since mail clients drop
``<style>`` blocks.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import Sequence

import premailer

from bot.notify.inline import NotClassOnly, inline_classes
from bot.notify.alert_list import HEADER_ALLOWANCE, MAX_EMAIL_BYTES, alert_list, csv_bytes, encoded_size
from bot.notify.render import (
    AlertContext,
    AlertNotice,
    EmailContent,
    alert_view,
    count_summary,
    fit,
    plural,
    worst_first,
)
from bot.notify.templates import template

MAX_SUBJECT = 200
MAX_SHOWN = 50  # alerts shown in one e-mail; the rest are counted and in the attachment
MAX_DETAILED = 10  # of those, the worst shown in full (trend, inputs, outlook); the others one row each
MIN_ATTACHMENT_ROOM = 150_000  # encoded bytes kept for the attachment when the body is cut down

STATUS_EMOJI = {"breach": "🔴", "warning": "🟡", "no_data": "❔", "ok": "✅"}
KIND_EMOJI = {"event_of_default": "🚨"}


def render_email(
    recipient: str,
    events_with_ctx: Sequence[tuple[AlertNotice, AlertContext]],
    as_of: date,
    max_shown: int = MAX_SHOWN,
    max_detailed: int = MAX_DETAILED,
) -> EmailContent:
    """The one e-mail ``recipient`` gets for the alerts of one evaluation, worst first: the worst
    ``max_shown`` (the worst ``max_detailed`` of them in full, the others a row each), counts of
    all, and (for more than one alert) the full list attached."""
    if not events_with_ctx:
        raise ValueError(f"An alert e-mail to {recipient} needs at least one alert event.")
    items = sorted(events_with_ctx, key=worst_first)
    events = [e for e, _ in items]
    total = len(items)
    if total == 1:
        e, ctx = items[0]
        a = alert_view(e, ctx)
        headline = f"{a.kind_title}: {a.facility_id} ({a.borrower}) — {a.covenant_title}"
    else:
        headline = f"{plural(total, 'covenant alert')}: {count_summary(events)}"
    subject = _subject(f"[covbot] {headline} ({as_of.isoformat()})")
    by_covenant = _by_covenant(items) if total > 1 else []
    listed = f"covbot-alerts-{as_of.isoformat()}.csv" if total > 1 else None
    shown = min(total, max(1, max_shown))
    while True:
        text, html = _bodies(items[:shown], max_detailed, total, subject, headline, as_of, recipient, by_covenant,
                             listed)
        body = encoded_size(text) + encoded_size(html) + HEADER_ALLOWANCE
        if shown == 1 or MAX_EMAIL_BYTES - body >= (MIN_ATTACHMENT_ROOM if total > 1 else 0):
            break
        shown = max(1, shown // 2)  # unusually long alerts: show fewer in full
    if total == 1:
        return EmailContent(subject=subject, text=text, html=html)
    attachment, rows, _ = alert_list(csv_bytes(items), as_of, MAX_EMAIL_BYTES - body)
    if rows < total or attachment.filename != listed:  # zipped or cut: the body says so (a few bytes more)
        note = (f"The attachment holds the {rows:,} worst of {total:,} alerts (the e-mail is capped at 1 MB)."
                if rows < total else None)
        text, html = _bodies(items[:shown], max_detailed, total, subject, headline, as_of, recipient, by_covenant,
                             attachment.filename, note)
    return EmailContent(subject=subject, text=text, html=html, attachments=(attachment,))


def _bodies(items, detailed: int, total: int, subject: str, headline: str, as_of: date, recipient: str,
            by_covenant: list[dict], attachment: str | None = None, note: str | None = None) -> tuple[str, str]:
    """The text and HTML of ``items`` (worst first): the first ``detailed`` in full, the rest as rows."""
    views = [
        replace(alert_view(e, ctx), emoji=KIND_EMOJI.get(e.kind) or STATUS_EMOJI.get(e.status, "❔"))
        for e, ctx in items
    ]
    detailed = max(1, detailed)
    values = {"subject": subject, "headline": headline, "alerts": views[:detailed], "rows": views[detailed:],
              "as_of": as_of.isoformat(), "recipient": recipient, "total": total, "shown": len(views),
              "by_covenant": by_covenant, "attachment": attachment, "attachment_note": note}
    text = template("email/alerts.txt.j2").render(values).strip() + "\n"
    page = template("email/alerts.html.j2").render(values)
    try:
        html = inline_classes(page)  # the stylesheet is class-only: fast
    except NotClassOnly:  # a customised stylesheet (COVBOT_TEMPLATES_DIR): premailer handles any CSS
        html = inline_css(page)
    return text, html


def _by_covenant(items) -> list[dict]:
    """Per covenant (most alerts first): its title, id, number of alerts and their counts by status."""
    groups: dict[str, list] = {}
    titles: dict[str, str] = {}
    for e, ctx in items:
        groups.setdefault(e.covenant_id, []).append(e)
        titles[e.covenant_id] = ctx.covenant.title or e.covenant_id
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [{"covenant_id": cid, "title": titles[cid], "count": len(evs), "summary": count_summary(evs)}
            for cid, evs in ordered]


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
