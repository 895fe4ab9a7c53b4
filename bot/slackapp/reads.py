"""What readers ask from Slack: status, one facility today, explain, waivers, help.

Each returns an ephemeral message (``text`` and ``blocks``) within Slack's limits; every value
from data is escaped for mrkdwn. ``explain`` is the text of ``covbot explain`` itself (the same
renderer, printed to a recording console), limited to the covenant asked about.
"""

from __future__ import annotations

import io
from datetime import date

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts import store
from bot.alerts.tables import AlertStateRow
from bot.domain.explain import FacilityExplanation
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.notify.escape import slack_escape
from bot.notify.render import (
    STATUS_WORDS,
    format_headroom,
    format_threshold,
    format_value,
)
from bot.render.explain import render_explanation
from bot.slackapp.blocks import text_message
from bot.store.repository import latest_run, status_counts
from bot.usecases.evaluate import book_in
from bot.usecases.explain import explain_in

EXPLAIN_WIDTH = 110  # characters per line of the explain tables (they wrap in Slack beyond that)
MAX_LISTED = 25  # open breaches listed by `status`

HELP = (
    "*covbot* — covenant monitoring. Ask me:\n"
    "• `status` — alerts by status, and the open breaches\n"
    "• `facility ID` — that facility's covenants today\n"
    "• `explain ID [COVENANT]` — the inputs behind its metrics (as `covbot explain`)\n"
    "• `waivers` — the waivers in force\n"
    "• `help` — this text\n"
    "On an alert's message: *Acknowledge* (no reminders until its status changes), *Waive…* and *Why?*."
)


def help_message() -> dict:
    return text_message(HELP)


def _e(text: object) -> str:
    return slack_escape(str(text))


def status_message(session: Session) -> dict:
    run = latest_run(session)  # the latest check: an alert at rest has no stored state to count
    if run is None:
        return text_message("No covenant has been evaluated with alerts yet (run `covbot check` or `covbot run`).")
    counts = status_counts(session, run.id)
    latest = run.as_of
    order = ("breach", "no_data", "warning", "ok")
    parts = [f"{counts.get(s, 0)} {STATUS_WORDS[s]}" for s in order if counts.get(s)]
    breaches = session.scalars(
        select(AlertStateRow).where(col(AlertStateRow.state) == "firing", col(AlertStateRow.alert_status) == "breach")
        .order_by(col(AlertStateRow.facility_id), col(AlertStateRow.covenant_id))).all()
    lines = [f"*Covenants by status* (latest test date {latest}): " + ", ".join(parts) + "."]
    if breaches:
        lines.append(f"*Open breaches ({len(breaches)})*")
        for row in breaches[:MAX_LISTED]:
            notes = []
            if row.waived and row.waived_until:
                notes.append(f"waived until {row.waived_until}")
            if row.acknowledged_at is not None:
                notes.append(f"acknowledged by {_e(row.acknowledged_by)}")
            since = f" since {row.breach_since}" if row.breach_since else ""
            lines.append(f"• `{_e(row.facility_id)}` · {_e(row.covenant_id)}{since}"
                         + (f" ({', '.join(notes)})" if notes else ""))
        if len(breaches) > MAX_LISTED:
            lines.append(f"… and {len(breaches) - MAX_LISTED} more (`covbot check --no-notify` lists every covenant).")
    else:
        lines.append("No open breach.")
    return text_message("\n".join(lines))


def _evaluate(session: Session, ruleset: RuleSet, facility_id: str, today: date
              ) -> tuple[FacilityData, FacilityExplanation, list[CovenantResult]]:
    """What `covbot explain` computes (the same use case), in the caller's session."""
    return explain_in(book_in(session), ruleset, facility_id, today)


def facility_message(session: Session, ruleset: RuleSet, facility_id: str, today: date) -> dict:
    data, _, results = _evaluate(session, ruleset, facility_id, today)
    f = data.facility
    lines = [f"*{_e(f.facility_id)}* — {_e(f.borrower)} ({_e(f.facility_type)}, {_e(f.currency)}): "
             f"covenants as of {today.isoformat()}"]
    if not results:
        lines.append("No covenant of the rule set applies to it.")
    for r in results:
        lines.append(f"• *{_e(STATUS_WORDS.get(r.status, r.status))}* {_e(r.covenant_id)}: "
                     f"{_e(format_value(r.metric, r.value, f.currency))} against "
                     f"{_e(format_threshold(r.metric, r.threshold, f.currency))}, headroom "
                     f"{_e(format_headroom(r.headroom))}" + (f" — _{_e(r.reason)}_" if r.reason else ""))
    lines.append(f"`explain {_e(f.facility_id)} COVENANT` shows the inputs behind one of them.")
    return text_message("\n".join(lines))


def explain_message(session: Session, ruleset: RuleSet, facility_id: str, covenant_id: str | None,
                    today: date) -> dict:
    data, explanation, results = _evaluate(session, ruleset, facility_id, today)
    if covenant_id is not None:
        results = [r for r in results if r.covenant_id == covenant_id]
        if not results:
            raise UsageError(f"The covenant {covenant_id!r} does not apply to {facility_id} "
                             "(or is not in the rule set).")
    console = Console(file=io.StringIO(), record=True, width=EXPLAIN_WIDTH, highlight=False, soft_wrap=False,
                      color_system=None)
    render_explanation(console, data, explanation, results, today)
    what = f"{_e(facility_id)} · {_e(covenant_id)}" if covenant_id else _e(facility_id)
    return text_message(f"*Why:* {what} as of {today.isoformat()} (the same as `covbot explain`)",
                        code=console.export_text())


def waivers_message(session: Session, today: date) -> dict:
    records = store.list_waivers(session)
    lines = []
    for r in records:
        w = r.waiver
        state = "expired" if w.until < today else f"until {w.until.isoformat()}"
        lines.append(f"• `{_e(w.facility_id)}` · {_e(w.covenant_id)} {state}, by {_e(w.by)}: _{_e(w.reason)}_")
    if not lines:
        return text_message("No waivers in force.")
    return text_message("*Waivers*\n" + "\n".join(lines))
