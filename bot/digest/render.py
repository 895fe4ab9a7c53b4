"""The digest laid out: Markdown, a self-contained HTML page, an e-mail, Slack Block Kit.

Layouts live in ``templates/digest/``. The HTML templates autoescape every value (Jinja2); the
Markdown template passes every value from data through ``md_escape``; Slack text is escaped with
``slack_escape`` (``bot.digest.slack``).
"""

from __future__ import annotations

from bot.digest.model import Digest, OpenBreach, ReportingDeadline
from bot.digest.view import FMT, md_escape
from bot.notify.render import EmailContent
from bot.notify.templates import template
from bot.notify.render_email import inline_css

EMAIL_LIMIT = 20  # lines per list in the e-mail before "+N more" (mail clients clip long messages)


def title(digest: Digest) -> str:
    return f"Covenant digest — {digest.as_of.isoformat()}"


def intro(digest: Digest) -> str:
    b = digest.count("breach")
    parts = [
        f"Test date {digest.as_of.isoformat()}: {FMT.plural(digest.facilities_total, 'facility', 'facilities')}, "
        f"{FMT.money(digest.exposure_total)} outstanding; "
        f"{FMT.plural(b.facilities, 'facility', 'facilities')} in breach ({FMT.money(b.exposure)})."
    ]
    if digest.previous:
        sent = " (sent)" if digest.previous.sent_at else ""
        parts.append(f"Changes are since the last digest, for {digest.previous.as_of.isoformat()}{sent}.")
    else:
        parts.append("This is the first digest: there is no earlier one to compare with.")
    return " ".join(parts)


def quarters_text(digest: Digest) -> str:
    return ", ".join(d.isoformat() for d in digest.quarter_ends) or "no earlier quarter end"


def cure_text(b: OpenBreach) -> str:
    if b.waived_until is not None:
        return f"waived until {b.waived_until.isoformat()}"
    if b.cure_deadline is None:
        return "no cure period"
    if b.days_to_cure is not None and b.days_to_cure < 0:
        return f"ended {b.cure_deadline.isoformat()} ({FMT.days(-b.days_to_cure)} ago): event of default"
    return f"{b.cure_deadline.isoformat()} ({FMT.days(b.days_to_cure)} left)"


def deadline_text(r: ReportingDeadline) -> str:
    if r.due is None:
        return r.line.result.reason or "nothing reported"
    latest = f"latest period ended {r.period_end.isoformat()}" if r.period_end else ""
    if r.days_left is not None and r.days_left < 0:
        return f"due {r.due.isoformat()}, {FMT.days(-r.days_left)} overdue ({latest})"
    when = "today" if r.days_left == 0 else f"in {FMT.days(r.days_left)}"
    return f"due {r.due.isoformat()}, {when} ({latest})"


def _values(digest: Digest) -> dict:
    return {
        "d": digest,
        "fmt": FMT,
        "title": title(digest),
        "intro": intro(digest),
        "quarters_text": quarters_text(digest),
        "generated": digest.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        "cure_text": cure_text,
        "deadline_text": deadline_text,
        "email_limit": EMAIL_LIMIT,
    }


def render_markdown(digest: Digest) -> str:
    values = _values(digest)
    values["md"] = md_escape
    values["intro"] = md_escape(values["intro"])
    return template("digest/digest.md.j2").render(values).strip() + "\n"


def render_html(digest: Digest) -> str:
    return template("digest/digest.html.j2").render(_values(digest))


def render_email(digest: Digest) -> EmailContent:
    """Subject, plain text (the Markdown) and HTML with its CSS inlined."""
    b, w = digest.count("breach"), digest.count("warning")
    subject = (f"[covbot] Covenant digest {digest.as_of.isoformat()}: "
               f"{FMT.plural(b.facilities, 'facility', 'facilities')} in breach, "
               f"{len(digest.new_breaches)} new, {len(digest.cures)} cured, {w.facilities} warning")
    html = inline_css(template("digest/digest.email.html.j2").render(_values(digest)))
    return EmailContent(subject=subject, text=render_markdown(digest), html=html)
