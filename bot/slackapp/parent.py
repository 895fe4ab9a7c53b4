"""An alert's thread parents in Slack, rendered again from the database after an action there.

The parent shows the alert as the dispatcher keeps it (``render_slack_parent``) plus who
acknowledged it and who waived it; every channel holding a thread of the alert is updated.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.alerts import store
from bot.alerts.lifecycle import EVENT_KINDS
from bot.alerts.tables import AlertStateRow, AuditRow
from bot.notify.tables import SlackThreadRow
from bot.domain.rulebook import RuleSet
from bot.notify.render_slack import ThreadSummary, render_slack_parent
from bot.store.repository import latest_result, load_facilities


def threads_of(session: Session, facility_id: str, covenant_id: str) -> list[tuple[str, str]]:
    """(channel id, parent ts) of every Slack thread of the alert."""
    rows = session.scalars(select(SlackThreadRow).where(col(SlackThreadRow.facility_id) == facility_id,
                                                        col(SlackThreadRow.covenant_id) == covenant_id))
    return [(r.channel_id, r.ts) for r in rows]


def summary_of(session: Session, facility_id: str, covenant_id: str, ruleset: RuleSet,
               today: date) -> ThreadSummary | None:
    """Where the alert stands now, or None when covbot has nothing to show for it."""
    state = session.get(AlertStateRow, (facility_id, covenant_id), populate_existing=True)
    covenant = ruleset.covenant(covenant_id)
    found = load_facilities(session, [facility_id])
    result = latest_result(session, facility_id, covenant_id)
    if state is None or covenant is None or not found or result is None:
        return None
    firing = state.state == "firing" and state.alert_status is not None
    last = session.scalars(
        select(AuditRow).where(col(AuditRow.facility_id) == facility_id, col(AuditRow.covenant_id) == covenant_id,
                               col(AuditRow.kind).in_(EVENT_KINDS))
        .order_by(col(AuditRow.id).desc()).limit(1)).first()
    waiver = store.current_waivers(session, [(facility_id, covenant_id)]).get((facility_id, covenant_id))
    in_force = waiver if waiver is not None and waiver.until >= today and firing else None
    since = store.status_since(session, facility_id, covenant_id) or result.as_of
    return ThreadSummary(
        facility=found[0].facility, covenant=covenant, metric=result.metric,
        status=state.alert_status or "ok" if firing else "ok", since=since, as_of=result.as_of, value=result.value,
        threshold=result.threshold, headroom=result.headroom,
        last_event=last.kind if last is not None else "firing",
        last_event_on=(last.as_of if last is not None and last.as_of else result.as_of),
        waived_until=in_force.until if in_force else None, waived_by=in_force.by if in_force else None,
        acknowledged_user=state.acknowledged_user if firing else None,
        acknowledged_by=state.acknowledged_by if firing else None,
        acknowledged_at=state.acknowledged_at if firing else None,
    )


def parent_message(summary: ThreadSummary) -> tuple[str, list[dict]]:
    message = render_slack_parent(summary)
    return message.text, list(message.blocks)
