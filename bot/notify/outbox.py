"""The transactional outbox: rendered messages waiting for delivery, in the database.

A message is queued in the same transaction as the alert state that caused it, so a state change
is never committed without its notification (nor the other way round). The dispatcher then moves
each row through::

    queued ──▶ sending ──▶ sent
       ▲          │
       │          ├──▶ retry ──▶ sending ...   (retryable failure: backoff, Retry-After)
       │          └──▶ dead                     (permanent failure, or too many tries)
       └──────── dead  (``covbot outbox retry``)

``sending`` is committed before the network call and carries a lease (``next_attempt_at``): a
row left ``sending`` by a crashed process is taken up again once the lease has run out, and the
dispatcher first asks Slack whether the message arrived. Functions take an open session and do
not commit, except where a dispatcher stage needs its own transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.notify.messages import Attachment
from bot.notify.tables import DeliveryLogRow, OutboxRow, SlackThreadRow
from bot.store.types import Packed

UNFINISHED = ("queued", "sending", "retry")
STATES = ("queued", "sending", "retry", "sent", "dead")

Key = tuple[str, str]


def new_notification_id() -> str:
    return str(uuid.uuid4())


def payload_of(row: OutboxRow) -> dict[str, Any]:
    return json.loads(row.payload)


def alerts_of(row: OutboxRow) -> list[Key]:
    """The alerts a message is about (one for an alert notice, many for a grouped one)."""
    return [tuple(k) for k in payload_of(row).get("alerts", [])]


def _add(session: Session, *, transport: str, route: str, kind: str, payload: dict[str, Any] | Packed,
         now: datetime, thread_role: str | None = None, alert: Key | None = None,
         notification_id: str | None = None) -> OutboxRow:
    row = OutboxRow(
        notification_id=notification_id or new_notification_id(), transport=transport, route=route, kind=kind,
        thread_role=thread_role, facility_id=alert[0] if alert else None,
        covenant_id=alert[1] if alert else None,
        payload=payload if isinstance(payload, Packed) else json.dumps(payload, ensure_ascii=False),
        state="queued", attempts=0, created_at=now, next_attempt_at=now,
    )
    session.add(row)
    # written now: the session keeps no strong reference to a flushed row, so a check queuing a
    # hundred large e-mails does not hold them all until it commits
    session.flush()
    return row


def enqueue_slack(
    session: Session,
    channel: str,
    text: str,
    blocks: Sequence[dict[str, Any]] = (),
    *,
    kind: str,
    now: datetime,
    alerts: Iterable[Key] = (),
    thread_role: str | None = None,
    parent_update: tuple[str, Sequence[dict[str, Any]]] | None = None,
    notification_id: str | None = None,
) -> OutboxRow:
    """Queue a Slack message. ``thread_role`` (alert notices only): ``start`` opens the alert's
    thread in the channel, ``reply`` goes into it (and ``parent_update`` replaces the parent)."""
    keys = [list(k) for k in alerts]
    if thread_role not in (None, "start", "reply"):
        raise ValueError(f"unknown thread role {thread_role!r}")
    if thread_role is not None and len(keys) != 1:
        raise ValueError("a threaded Slack message belongs to exactly one alert")
    payload: dict[str, Any] = {"text": text, "blocks": list(blocks), "alerts": keys}
    if parent_update is not None:
        payload["parent_update"] = {"text": parent_update[0], "blocks": list(parent_update[1])}
    alert = tuple(keys[0]) if thread_role is not None else None
    return _add(session, transport="slack", route=channel, kind=kind, payload=payload, now=now,
                thread_role=thread_role, alert=alert, notification_id=notification_id)


def enqueue_email(
    session: Session,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    *,
    kind: str,
    now: datetime,
    alerts: Iterable[Key] = (),
    attachments: Sequence[Attachment] = (),
) -> OutboxRow:
    """Queue one e-mail (sent with the stable Message-ID ``<notification-id@covbot>``). ``alerts``:
    the alerts it shows (a long list is counted in it and attached, not listed here)."""
    recipients, payload = email_payload(to, subject, text, html, alerts=alerts, attachments=attachments)
    return _add(session, transport="email", route=", ".join(recipients), kind=kind, payload=payload, now=now)


def email_payload(to: Sequence[str], subject: str, text: str, html: str, *, alerts: Iterable[Key] = (),
                  attachments: Sequence[Attachment] = ()) -> tuple[list[str], dict[str, Any]]:
    """(recipients, the payload an e-mail is queued with)."""
    recipients = [a.strip() for a in to if a and a.strip()]
    if not recipients:
        raise ValueError("an e-mail needs at least one recipient")
    payload: dict[str, Any] = {"to": recipients, "subject": subject, "text": text, "html": html,
                               "alerts": [list(k) for k in alerts]}
    if attachments:
        payload["attachments"] = [a.stored() for a in attachments]
    return recipients, payload


def pack_email(to: Sequence[str], subject: str, text: str, html: str, *, alerts: Iterable[Key] = (),
               attachments: Sequence[Attachment] = ()) -> tuple[list[str], Packed]:
    """An e-mail's payload ready to store (``enqueue_packed_email``): serialised and compressed
    wherever it was rendered, e.g. on a worker process, so the process that queues a large book's
    e-mails only writes them."""
    recipients, payload = email_payload(to, subject, text, html, alerts=alerts, attachments=attachments)
    return recipients, Packed.of(json.dumps(payload, ensure_ascii=False))


def enqueue_packed_email(session: Session, recipients: Sequence[str], payload: Packed, *, kind: str,
                         now: datetime, notification_id: str | None = None) -> OutboxRow:
    """Queue one e-mail made by ``pack_email`` (under ``notification_id`` when it was chosen as it
    was made)."""
    return _add(session, transport="email", route=", ".join(recipients), kind=kind, payload=payload, now=now,
                notification_id=notification_id)


# -- the dispatcher's side --------------------------------------------------------------------------


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[OutboxRow]:
    """Rows whose turn has come, oldest first. A threaded Slack message waits until every earlier
    message of the same alert and channel is sent or dead, so replies never overtake their parent."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.state.in_(UNFINISHED), OutboxRow.next_attempt_at <= now)
        .order_by(OutboxRow.id).limit(limit)
    ).all()
    first_open = {
        (route, facility_id, covenant_id): first
        for route, facility_id, covenant_id, first in session.execute(
            select(OutboxRow.route, OutboxRow.facility_id, OutboxRow.covenant_id, func.min(OutboxRow.id))
            .where(OutboxRow.state.in_(UNFINISHED), OutboxRow.thread_role.is_not(None))
            .group_by(OutboxRow.route, OutboxRow.facility_id, OutboxRow.covenant_id)
        )
    }
    return [r for r in rows
            if r.thread_role is None or first_open.get((r.route, r.facility_id, r.covenant_id)) == r.id]


def next_due_at(session: Session, after: datetime | None = None) -> datetime | None:
    """When the earliest unfinished message (due later than ``after``) becomes due; None if none."""
    query = select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.state.in_(UNFINISHED))
    if after is not None:
        query = query.where(OutboxRow.next_attempt_at > after)
    return session.scalar(query)


def attempted_before(row: OutboxRow) -> bool:
    """True when a send may already have reached the service (so ask before sending again)."""
    return row.state == "sending" or row.attempts > 0 or row.last_attempt_at is not None


def mark_sending(session: Session, row: OutboxRow, now: datetime, lease: timedelta) -> bool:
    """Take the row for one attempt; False when another dispatcher took it first."""
    taken = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.state == row.state, OutboxRow.attempts == row.attempts)
        .values(state="sending", attempts=row.attempts + 1, last_attempt_at=now, next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)  # compare with what this caller saw
    ).rowcount
    return taken == 1


def mark_sent(session: Session, row_id: int, now: datetime, via: str,
              channel_id: str | None = None, ts: str | None = None) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(
        state="sent", sent_at=now, sent_via=via, channel_id=channel_id, ts=ts, last_error=None))


def mark_retry(session: Session, row_id: int, retry_at: datetime, error: str) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(
        state="retry", next_attempt_at=retry_at, last_error=error))


def mark_dead(session: Session, row_id: int, error: str) -> None:
    session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(state="dead", last_error=error))


def retry_dead(session: Session, now: datetime, ref: str | None = None) -> list[OutboxRow]:
    """Put dead letters back in the queue with a fresh count of tries: one (by id or notification
    id) or all (``ref`` None). Their earlier attempts still make the dispatcher check Slack first."""
    query = select(OutboxRow).where(OutboxRow.state == "dead")
    if ref is not None:
        ref = ref.strip()
        query = query.where((OutboxRow.notification_id == ref) | (OutboxRow.id == (int(ref) if ref.isdigit() else -1)))
    rows = session.scalars(query.order_by(OutboxRow.id)).all()
    for row in rows:
        row.state, row.attempts, row.next_attempt_at = "queued", 0, now
    return list(rows)


def find_message(session: Session, ref: str) -> OutboxRow | None:
    ref = ref.strip()
    if ref.isdigit():
        found = session.get(OutboxRow, int(ref))
        if found is not None:
            return found
    return session.scalar(select(OutboxRow).where(OutboxRow.notification_id == ref))


def latest_message(session: Session, *, facility_id: str | None = None,
                   transport: str | None = None) -> OutboxRow | None:
    """The newest message (any state), optionally about a facility (alone or in a group) and by transport."""
    query = select(OutboxRow).order_by(OutboxRow.id.desc())
    if transport is not None:
        query = query.where(OutboxRow.transport == transport)
    for row in session.scalars(query):
        if facility_id is None or any(f == facility_id for f, _ in alerts_of(row)):
            return row
    return None


def backlog(session: Session, *, include_dead: bool = True) -> list[OutboxRow]:
    states = UNFINISHED + (("dead",) if include_dead else ())
    return list(session.scalars(select(OutboxRow).where(OutboxRow.state.in_(states)).order_by(OutboxRow.id)))


def counts(session: Session) -> dict[str, int]:
    """Messages per state (every state present, 0 when none): for `covbot status` and metrics."""
    out = {state: 0 for state in STATES}
    for state, n in session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)):
        out[state] = n
    return out


# -- the delivery log --------------------------------------------------------------------------------


def log_delivery(session: Session, notification_id: str, kind: str, at: datetime, detail: str) -> None:
    """Record one delivery step of a message (attempt, delivered, failed, dead letter, ...)."""
    session.add(DeliveryLogRow(at=at, notification_id=notification_id, kind=kind, detail=detail))


def delivery_log(session: Session, notification_ids: Iterable[str]) -> list[DeliveryLogRow]:
    """The delivery steps of these messages, oldest first."""
    ids = sorted(set(notification_ids))
    rows: list[DeliveryLogRow] = []
    for start in range(0, len(ids), 500):
        rows += session.scalars(select(DeliveryLogRow).where(
            DeliveryLogRow.notification_id.in_(ids[start:start + 500]))).all()
    return sorted(rows, key=lambda r: r.id)


# -- Slack threads --------------------------------------------------------------------------------


def thread_of(session: Session, facility_id: str, covenant_id: str, channel_id: str) -> SlackThreadRow | None:
    return session.get(SlackThreadRow, (facility_id, covenant_id, channel_id))


def save_thread(session: Session, facility_id: str, covenant_id: str, channel_id: str, ts: str,
                notification_id: str, now: datetime) -> None:
    """Make the message at ``ts`` the parent of the alert's thread in the channel."""
    row = thread_of(session, facility_id, covenant_id, channel_id)
    if row is None:
        session.add(SlackThreadRow(facility_id=facility_id, covenant_id=covenant_id, channel_id=channel_id,
                                   ts=ts, notification_id=notification_id, created_at=now))
    else:
        row.ts, row.notification_id, row.created_at = ts, notification_id, now
