"""The digest as one Slack Block Kit message, within Slack's limits whatever the portfolio size.

At most a dozen blocks; every section's text is at most 3,000 characters: lists stop early and end
with "+N more". Every value from data is escaped with ``slack_escape``.
"""

from __future__ import annotations

from typing import Sequence

from bot.digest.model import Digest, FacilityLine
from bot.digest.render import cure_text, deadline_text, intro, title
from bot.digest.view import FMT
from bot.notify.escape import slack_escape
from bot.notify.render import SlackMessage, fit
from bot.notify.render_slack import STATUS_EMOJI, context_block, header_block, section_block

MAX_SECTION = 3000
MAX_LINE = 400
MAX_FALLBACK = 3000
WORST_FACILITIES = 15  # facilities listed by headroom before "+N more"
STATUS_TITLES = {"breach": "Breach", "no_data": "No data", "warning": "Warning", "ok": "OK"}


def esc(text: str) -> str:
    return slack_escape(str(text))


def fit_lines(heading: str, lines: Sequence[str], limit: int = MAX_SECTION, max_lines: int | None = None,
              empty: str = "None.") -> str:
    """``heading`` and as many ``lines`` as fit in ``limit`` characters, then "+N more"."""
    if not lines:
        return f"{heading}\n{empty}"
    shown: list[str] = []
    cap = len(lines) if max_lines is None else min(max_lines, len(lines))
    for i, line in enumerate(lines[:cap]):
        line = fit(line, MAX_LINE)
        rest = len(lines) - i - 1
        more = f"\n_+{rest} more_" if rest else ""
        candidate = "\n".join([heading, *shown, line]) + more
        if len(candidate) > limit:
            break
        shown.append(line)
    rest = len(lines) - len(shown)
    text = "\n".join([heading, *shown])
    return text + (f"\n_+{rest} more_" if rest else "")


def _who(facility) -> str:
    return f"*{esc(facility.facility_id)}* {esc(facility.borrower)}"


def _glance(digest: Digest) -> str:
    rows = []
    for c in digest.counts:
        rows.append(f"{STATUS_EMOJI[c.status]} *{STATUS_TITLES[c.status]}*: "
                    f"{FMT.plural(c.facilities, 'facility', 'facilities')} · {esc(FMT.money(c.exposure))} "
                    f"({FMT.plural(c.covenants, 'test')})")
    rows.append(f"*All*: {FMT.plural(digest.facilities_total, 'facility', 'facilities')} · "
                f"{esc(FMT.money(digest.exposure_total))} outstanding")
    return "\n".join(rows)


def _change_lines(changes, cured: bool) -> list[str]:
    out = []
    for c in changes:
        cur = c.facility.currency
        tail = (f"now {FMT.status(c.line.result.status)}" if cured
                else f"{FMT.headroom(c.line.result.headroom)}, was {FMT.status(c.before)}")
        out.append(f"• {_who(c.facility)} — {esc(c.line.title)}: {esc(FMT.value(c.line, cur))} "
                   f"vs {esc(FMT.threshold(c.line, cur))} ({tail})")
    return out


def _changes_section(digest: Digest, heading: str, changes, cured: bool) -> dict:
    if digest.previous is None:
        return section_block(f"{heading}\nNo earlier digest to compare with.")
    return section_block(fit_lines(f"{heading} ({len(changes)})", _change_lines(changes, cured)))


def _breach_lines(digest: Digest) -> list[str]:
    return [
        f"• {_who(b.facility)} — {esc(b.line.title)}: {esc(FMT.value(b.line, b.facility.currency))} "
        f"({FMT.headroom(b.line.result.headroom)}) since {FMT.date(b.since)} ({FMT.days(b.age_days)}); "
        f"cure: {esc(cure_text(b))}"
        for b in digest.open_breaches
    ]


def _deadline_lines(digest: Digest) -> list[str]:
    overdue = [f"• :warning: {_who(r.facility)} — {esc(deadline_text(r))}" for r in digest.deadlines_overdue]
    due = [f"• {_who(r.facility)} — {esc(deadline_text(r))}" for r in digest.deadlines_due]
    return overdue + due


def _waiver_section(digest: Digest) -> dict:
    heading = f"*Waivers expiring in the next {FMT.days(digest.window_days)}*"
    if digest.waivers_expiring is None:
        return section_block(f"{heading}\nWaivers are not tracked in this database.")
    lines = [f"• *{esc(w.facility_id)}* {esc(w.borrower or '')} — {esc(w.title)}: until {FMT.date(w.until)} "
             f"({FMT.days(w.days_left)} left), by {esc(w.granted_by)}"
             for w in digest.waivers_expiring]
    return section_block(fit_lines(f"{heading} ({len(lines)})", lines))


def _stale_lines(digest: Digest) -> list[str]:
    out = []
    for s in digest.stale:
        age = f"{FMT.days(s.age_days)} old" if s.age_days is not None else "none stored"
        out.append(f"• `{esc(s.symbol)}` {s.kind}: {age} (limit {FMT.days(s.max_age_days)}), "
                   f"{FMT.plural(len(s.facility_ids), 'facility', 'facilities')}: "
                   f"{esc(FMT.ids(s.facility_ids))} — {s.effect}")
    return out


def _mirage_lines(digest: Digest) -> list[str]:
    m = digest.mirage
    out = [f"• Book-wide {esc(t.currency)}: stated {FMT.number(t.stated)}, a sale would realise "
           f"{FMT.number(t.liquidation)} ({FMT.ltv(t.mirage)} not realised)" for t in m.totals]
    out += [f"• *{esc(v.facility_id)}* {esc(v.borrower)}: liquidation LTV {FMT.ltv(v.liquidation_ltv)} "
            f"(book {FMT.ltv(v.book_ltv)})" for v in m.worst[:5]]
    return out


def _facility_line(f: FacilityLine) -> str:
    worst = f.covenants[0]
    cur = f.facility.currency
    return (f"`{FMT.spark(worst.history)}` {FMT.arrow(worst.since_last)} {_who(f.facility)} — "
            f"{esc(worst.title)} {esc(FMT.value(worst, cur))} vs {esc(FMT.threshold(worst, cur))} "
            f"({FMT.headroom(worst.result.headroom)}, {FMT.status(worst.result.status)})")


def fallback_text(digest: Digest) -> str:
    b = digest.count("breach")
    text = (f"Covenant digest {digest.as_of.isoformat()}: {FMT.plural(b.facilities, 'facility', 'facilities')} "
            f"in breach ({FMT.money(b.exposure)}), {len(digest.new_breaches)} new breaches, "
            f"{len(digest.cures)} cures, {len(digest.deadlines_overdue)} reports overdue.")
    return fit(esc(text), MAX_FALLBACK)


def render_slack(digest: Digest) -> SlackMessage:
    blocks = [
        header_block(title(digest)),
        context_block(esc(intro(digest))),
        section_block(_glance(digest)),
        {"type": "divider"},
        _changes_section(digest, "*New breaches since the last digest*", digest.new_breaches, cured=False),
        _changes_section(digest, "*Cures since the last digest*", digest.cures, cured=True),
        section_block(fit_lines(f"*Open breaches* ({len(digest.open_breaches)})", _breach_lines(digest))),
        section_block(fit_lines(
            f"*Reporting deadlines* ({len(digest.deadlines_overdue)} overdue, "
            f"{len(digest.deadlines_due)} due in {FMT.days(digest.window_days)})",
            _deadline_lines(digest))),
        _waiver_section(digest),
        section_block(fit_lines(f"*Stale prices* ({len(digest.stale)})", _stale_lines(digest),
                                empty="Every GPU mark and crypto price in use is within its age limit.")),
        section_block(fit_lines("*Collateral mirage* (worst liquidation LTV, book LTV beside it)",
                                _mirage_lines(digest), empty="No facility has collateral to value.")),
        {"type": "divider"},
        section_block(fit_lines(
            "*Worst headroom* (sparkline: headroom at the last 4 quarter ends and today)",
            [_facility_line(f) for f in digest.facilities], max_lines=WORST_FACILITIES)),
        context_block("Arrows compare headroom since the last digest: ↑ improving, ↓ deteriorating, "
                      "→ steady, · nothing to compare. "
                      f"Generated {digest.generated_at.strftime('%Y-%m-%d %H:%M UTC')}."),
    ]
    return SlackMessage(text=fallback_text(digest), blocks=blocks)
