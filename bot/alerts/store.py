"""Alert state, waivers and the audit trail in the database.

Functions take an open session and never commit: callers (``bot.alerts.advance``, the CLI commands)
decide the transaction, so a state change, its audit rows and its outbox messages commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import bindparam, delete, insert, literal, select, tuple_, update
from sqlalchemy.orm import Session

from bot.alerts.lifecycle import ANNOTATIONS, AlertState
from bot.alerts.tables import AlertEpochRow, AlertStateChanges, AlertStateRow, AuditRow, WaiverRow
from bot.alerts.waivers import Waiver
from bot.domain.thresholds import Threshold
from bot.notify import outbox
from bot.store.db import insert_many
from bot.store.types import UTCDateTime
from bot.store.tables import EvaluationResultRow, EvaluationRun

Key = tuple[str, str]  # (facility_id, covenant_id)
STATUS_CHANGES = ("firing", "escalated", "improved")  # events that change the alert's status

_STATE_FIELDS = (
    "state", "status", "alert_status", "candidate_status", "candidate_count", "as_of", "fired_at",
    "breach_since", "last_notified_at", "eod_sent", "waived", "waived_until", "last_value", "headroom",
)


# -- alert state ---------------------------------------------------------------------------------


def _where_keys(column_a, column_b, keys: Iterable[Key] | None):
    if keys is None:
        return None
    return tuple_(column_a, column_b).in_(list(keys))


def _chunks(keys: Iterable[Key] | None, size: int = 400):
    if keys is None:
        yield None
        return
    items = list(keys)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def load_states(session: Session, keys: Iterable[Key] | None = None) -> dict[Key, AlertState]:
    """The stored alert states (all, or those of ``keys``)."""
    out: dict[Key, AlertState] = {}
    for chunk in _chunks(keys):
        if chunk == []:
            continue
        query = select(AlertStateRow)
        where = _where_keys(AlertStateRow.facility_id, AlertStateRow.covenant_id, chunk)
        if where is not None:
            query = query.where(where)
        for row in session.scalars(query):
            out[(row.facility_id, row.covenant_id)] = _state_of(row)
    return out


def _state_of(row: AlertStateRow) -> AlertState:
    values = {name: getattr(row, name) for name in _STATE_FIELDS}
    values["acknowledged_status"] = row.acknowledged_status  # read here, written by bot.slackapp only
    threshold = Threshold.parse(row.threshold) if row.threshold else None
    return AlertState(row.facility_id, row.covenant_id, threshold=threshold, **values)


def save_states(session: Session, states: Iterable[AlertState], now: datetime) -> None:
    """Write the alert states, new ones INSERTed and known ones UPDATEd (``write_states``)."""
    wanted = {(s.facility_id, s.covenant_id): state_row(s) for s in states}
    known: set[Key] = set()
    for chunk in _chunks(list(wanted)):
        if chunk:
            where = _where_keys(AlertStateRow.facility_id, AlertStateRow.covenant_id, chunk)
            known.update((f, c) for f, c in session.execute(
                select(AlertStateRow.facility_id, AlertStateRow.covenant_id).where(where)))
    write_states(session, [row for key, row in wanted.items() if key not in known],
                 [row for key, row in wanted.items() if key in known], now)
    clear_stale_acknowledgements(session)


def clear_stale_acknowledgements(session: Session) -> None:
    """An acknowledgement holds until the alert's status changes (or the alert closes): clear the
    ones whose status moved on. Set-based, so an acknowledgement that arrived while a check ran is
    judged against the status that check wrote."""
    session.execute(
        update(AlertStateRow)
        .where(AlertStateRow.acknowledged_at.is_not(None),
               (AlertStateRow.state != "firing") | AlertStateRow.alert_status.is_(None)
               | (AlertStateRow.alert_status != AlertStateRow.acknowledged_status))
        .values(acknowledged_at=None, acknowledged_by=None, acknowledged_user=None, acknowledged_status=None)
        .execution_options(synchronize_session=False)
    )


# -- the alert epoch -----------------------------------------------------------------------------


def alert_epoch(session: Session) -> int:
    """How many checks have advanced the alerts so far (read when a check starts)."""
    return session.scalar(select(AlertEpochRow.__table__.c.epoch).where(AlertEpochRow.__table__.c.id == 1)) or 0


def claim_epoch(session: Session, seen: int) -> bool:
    """Bump the epoch in the transaction that writes a check's alert changes (locking its row, so
    checks that finish together take turns); True when it was still ``seen``, False when another
    check advanced the alerts since this one read them."""
    table = AlertEpochRow.__table__
    current = session.scalar(select(table.c.epoch).where(table.c.id == 1).with_for_update())
    if current is None:  # the row is missing: put it back
        session.connection().execute(insert(table).values(id=1, epoch=seen + 1))
        return seen == 0
    session.connection().execute(update(table).where(table.c.id == 1).values(epoch=current + 1))
    return current == seen


# -- waivers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaiverRecord:
    id: int
    waiver: Waiver
    withdrawn_at: datetime | None
    withdrawn_by: str | None


def _waiver_of(row: WaiverRow) -> Waiver:
    return Waiver(row.facility_id, row.covenant_id, row.until, row.reason, row.granted_by, row.created_at)


def current_waivers(session: Session, keys: Iterable[Key] | None = None) -> dict[Key, Waiver]:
    """The waiver in force (or last in force) per alert: the latest one granted and not withdrawn."""
    out: dict[Key, tuple[int, Waiver]] = {}
    for chunk in _chunks(keys):
        if chunk == []:
            continue
        query = select(WaiverRow).where(WaiverRow.withdrawn_at.is_(None))
        where = _where_keys(WaiverRow.facility_id, WaiverRow.covenant_id, chunk)
        if where is not None:
            query = query.where(where)
        for row in session.scalars(query):
            key = (row.facility_id, row.covenant_id)
            if key not in out or row.id > out[key][0]:
                out[key] = (row.id, _waiver_of(row))
    return {key: waiver for key, (_, waiver) in out.items()}


def grant_waiver(session: Session, waiver: Waiver, *, actor: str | None = None) -> int:
    """Store a waiver (it replaces any earlier one of the same alert) and audit it (``actor``:
    who the audit trail names, default the waiver's ``by``)."""
    row = WaiverRow(facility_id=waiver.facility_id, covenant_id=waiver.covenant_id, until=waiver.until,
                    reason=waiver.reason, granted_by=waiver.by, created_at=waiver.created_at)
    session.add(row)
    session.flush()
    audit(session, "waiver_granted", waiver.created_at, waiver.facility_id, waiver.covenant_id,
          actor=actor or waiver.by, detail=f"until {waiver.until.isoformat()}: {waiver.reason}")
    return row.id


def withdraw_waiver(session: Session, facility_id: str, covenant_id: str, by: str, now: datetime
                    ) -> Waiver | None:
    """Withdraw the waiver in force; ``None`` when there was none."""
    rows = session.scalars(
        select(WaiverRow).where(WaiverRow.facility_id == facility_id, WaiverRow.covenant_id == covenant_id,
                                WaiverRow.withdrawn_at.is_(None))
    ).all()
    if not rows:
        return None
    for row in rows:
        row.withdrawn_at, row.withdrawn_by = now, by
    latest = max(rows, key=lambda r: r.id)
    audit(session, "waiver_withdrawn", now, facility_id, covenant_id, actor=by,
          detail=f"waiver until {latest.until.isoformat()} withdrawn")
    return _waiver_of(latest)


def list_waivers(session: Session, *, include_withdrawn: bool = False) -> list[WaiverRecord]:
    query = select(WaiverRow).order_by(WaiverRow.facility_id, WaiverRow.covenant_id, WaiverRow.id)
    if not include_withdrawn:
        query = query.where(WaiverRow.withdrawn_at.is_(None))
    rows = session.scalars(query).all()
    if not include_withdrawn:  # only the latest per alert is in force
        latest = {(r.facility_id, r.covenant_id): r for r in rows}
        rows = [r for r in rows if latest[(r.facility_id, r.covenant_id)] is r]
    return [WaiverRecord(r.id, _waiver_of(r), r.withdrawn_at, r.withdrawn_by) for r in rows]


# -- audit trail ---------------------------------------------------------------------------------


def audit(
    session: Session,
    kind: str,
    at: datetime,
    facility_id: str | None = None,
    covenant_id: str | None = None,
    *,
    as_of: date | None = None,
    status: str | None = None,
    actor: str | None = None,
    notification_id: str | None = None,
    detail: str | None = None,
) -> None:
    session.add(AuditRow(at=at, facility_id=facility_id, covenant_id=covenant_id, kind=kind, as_of=as_of,
                         status=status, actor=actor, notification_id=notification_id, detail=detail))


AUDIT_COLUMNS = ("at", "kind", "facility_id", "covenant_id", "as_of", "status", "actor", "notification_id", "detail")


def audit_rows(session: Session, rows: Sequence[tuple]) -> None:
    """Many audit rows, a batch per INSERT (each a tuple in ``AUDIT_COLUMNS`` order)."""
    _insert_batched(session, AuditRow.__table__, AUDIT_COLUMNS, rows, tuple)


def history(session: Session, facility_id: str, covenant_id: str | None = None,
            limit: int | None = None) -> list[AuditRow]:
    """The audit trail of one facility (or one alert), oldest first (the latest ``limit`` rows):
    its state changes and waivers, and the delivery steps of every message about it (from notify's
    delivery log, joined through the notification ids of its ``queued`` rows; rows not stored)."""
    query = select(AuditRow).where(AuditRow.facility_id == facility_id)
    if covenant_id is not None:
        query = query.where(AuditRow.covenant_id == covenant_id)
    query = query.order_by(AuditRow.id.desc())
    if limit:
        query = query.limit(limit)
    rows = list(reversed(session.scalars(query).all()))
    about: dict[str, list[str]] = {}
    for row in rows:  # an event's own row names its first message, "queued" rows any further one
        if row.notification_id:
            covenants = about.setdefault(row.notification_id, [])
            if row.covenant_id not in covenants:
                covenants.append(row.covenant_id)
    steps = [AuditRow(at=step.at, facility_id=facility_id, covenant_id=cid, kind=step.kind, actor="covbot",
                      notification_id=step.notification_id, detail=step.detail)
             for step in outbox.delivery_log(session, about) for cid in about[step.notification_id]]
    merged = sorted(((r.at, 0, i, r) for i, r in enumerate(rows)), key=lambda t: t[:3])
    merged += [(s.at, 1, i, s) for i, s in enumerate(steps)]
    ordered = [r for *_, r in sorted(merged, key=lambda t: t[:3])]
    return ordered[-limit:] if limit else ordered


def status_since(session: Session, facility_id: str, covenant_id: str) -> date | None:
    """The test date of the alert's latest status change (firing, escalated, improved)."""
    return session.scalar(
        select(AuditRow.as_of)
        .where(AuditRow.facility_id == facility_id, AuditRow.covenant_id == covenant_id,
               AuditRow.kind.in_(STATUS_CHANGES))
        .order_by(AuditRow.id.desc()).limit(1)
    )


def recent_values(session: Session, keys: Iterable[Key], as_of: date, limit: int = 24,
                  window_days: int = 1100) -> dict[Key, list[Decimal]]:
    """Per alert, the covenant's stored values at the facility on test dates up to ``as_of`` (at
    most ``window_days`` back), one per test date (its latest run), oldest first, the last ``limit``."""
    by_key: dict[Key, dict[date, Decimal | None]] = {}
    oldest = as_of - timedelta(days=window_days)
    for chunk in _chunks(list(dict.fromkeys(keys))):
        if not chunk:
            continue
        rows = session.execute(
            select(EvaluationResultRow.facility_id, EvaluationResultRow.covenant_id, EvaluationResultRow.as_of,
                   EvaluationResultRow.value)
            .where(_where_keys(EvaluationResultRow.facility_id, EvaluationResultRow.covenant_id, chunk),
                   EvaluationResultRow.as_of <= as_of, EvaluationResultRow.as_of > oldest)
            .order_by(EvaluationResultRow.id.desc())
        )
        for facility_id, covenant_id, day, value in rows:  # newest run of each test date wins
            by_key.setdefault((facility_id, covenant_id), {}).setdefault(day, value)
    return {key: [v for _, v in sorted(days.items()) if v is not None][-limit:] for key, days in by_key.items()}


_LIFECYCLE_FIELDS = tuple(name for name in _STATE_FIELDS if name not in ANNOTATIONS or name == "as_of")


def load_states_between(session: Session, first: str, last: str) -> dict[Key, AlertState]:
    """The stored alert states of the facilities ``first`` … ``last`` (ids in order): one range
    query, for a chunk of the book evaluated in facility_id order. What the lifecycle needs only:
    the annotations of the last evaluation (value, threshold, headroom) are left out; the daily job
    writes a state back only when more than those changed (``bot.alerts.lifecycle.changed``)."""
    table = AlertStateRow.__table__
    columns = [table.c.facility_id, table.c.covenant_id, table.c.acknowledged_status,
               *(table.c[name] for name in _LIFECYCLE_FIELDS)]
    rows = session.connection().execute(
        select(*columns).where(table.c.facility_id >= first, table.c.facility_id <= last)).all()
    return {(fid, cid): AlertState(fid, cid, acknowledged_status=acknowledged, **dict(zip(_LIFECYCLE_FIELDS, values)))
            for fid, cid, acknowledged, *values in rows}


_ROW_FIELDS = ("facility_id", "covenant_id", *_STATE_FIELDS, "threshold")
_WRITE_BATCH = 2000  # alert states per executemany


def _insert_batched(session: Session, table, columns: Sequence[str], rows: Sequence[Any],
                    values: Callable[[Any], tuple]) -> None:
    """INSERT ``values(row)`` of each row, ``_WRITE_BATCH`` per executemany (``insert_many``): the
    parameters of one batch at a time in memory."""
    for start in range(0, len(rows), _WRITE_BATCH):
        insert_many(session, table, columns, [values(row) for row in rows[start:start + _WRITE_BATCH]])


def state_row(state: AlertState) -> tuple:
    """An alert state as the daily job keeps it until it is written: a plain tuple (a fraction of
    the object's memory; the first day of a large book keeps tens of thousands)."""
    return (state.facility_id, state.covenant_id, *[getattr(state, name) for name in _STATE_FIELDS],
            str(state.threshold) if state.threshold is not None else None)


def write_states(session: Session, fresh: Sequence[tuple], changed: Sequence[tuple], now: datetime) -> None:
    """New alerts INSERTed, changed ones UPDATEd by primary key (``state_row`` tuples), through Core
    executemany a batch at a time (the ORM's bulk path would group rows by the columns they set)."""
    table = AlertStateRow.__table__
    conn = session.connection()
    _insert_batched(session, table, (*_ROW_FIELDS, "updated_at"), fresh, lambda row: (*row, now))
    if not changed:
        return
    names = (*_STATE_FIELDS, "threshold", "updated_at")
    stmt = (update(table)
            .where(table.c.facility_id == bindparam("_fid"), table.c.covenant_id == bindparam("_cid"))
            .values({name: bindparam(name) for name in names}))
    for start in range(0, len(changed), _WRITE_BATCH):
        rows = []
        for row in changed[start:start + _WRITE_BATCH]:
            values = dict(zip(_ROW_FIELDS, row))
            values["_fid"], values["_cid"] = values.pop("facility_id"), values.pop("covenant_id")
            values["updated_at"] = now
            rows.append(values)
        conn.execute(stmt, rows)


# -- alert changes staged by the daily job's workers ------------------------------------------------


def stage_states(session: Session, run_id: int, fresh: Sequence[tuple], changed: Sequence[tuple]) -> int:
    """Stage the alert changes of one run of facilities (``state_row`` tuples; ``fresh`` ones are
    new alerts) for the check ``run_id``; ``apply_staged_states`` writes them. Returns how many."""
    columns = ("run_id", "is_new", *_ROW_FIELDS)
    _insert_batched(session, AlertStateChanges, columns, fresh, lambda row: (run_id, True, *row))
    _insert_batched(session, AlertStateChanges, columns, changed, lambda row: (run_id, False, *row))
    return len(fresh) + len(changed)


def apply_staged_states(session: Session, run_id: int, now: datetime) -> None:
    """Write the alert changes staged for the check ``run_id`` into alert_states (new alerts
    INSERTed, known ones UPDATEd, each in one statement) and drop them from the stage."""
    table, staged = AlertStateRow.__table__, AlertStateChanges
    names = (*_STATE_FIELDS, "threshold")
    at = literal(now, UTCDateTime())
    conn = session.connection()
    conn.execute(insert(table).from_select(
        [*_ROW_FIELDS, "updated_at"],
        select(*(staged.c[name] for name in _ROW_FIELDS), at)
        .where(staged.c.run_id == run_id, staged.c.is_new.is_(True))))
    conn.execute(
        update(table)
        .where(table.c.facility_id == staged.c.facility_id, table.c.covenant_id == staged.c.covenant_id,
               staged.c.run_id == run_id, staged.c.is_new.is_(False))
        .values({**{name: staged.c[name] for name in names}, "updated_at": at}))
    drop_staged_states(session, run_id)


def drop_staged_states(session: Session, run_id: int) -> None:
    """Forget the alert changes staged for the check ``run_id`` (it failed, or another check
    advanced the alerts first and this one advances them again)."""
    session.connection().execute(delete(AlertStateChanges).where(AlertStateChanges.c.run_id == run_id))


def drop_abandoned_staged_states(session: Session) -> None:
    """Forget alert changes staged by checks that will never finish them: their run is gone (a
    crashed check's unfinished run, pruned) or finished (the daily prune calls this)."""
    runs = EvaluationRun.__table__
    unfinished = select(runs.c.id).where(runs.c.finished_at.is_(None))
    session.connection().execute(delete(AlertStateChanges).where(AlertStateChanges.c.run_id.not_in(unfinished)))
