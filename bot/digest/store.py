"""What the digest reads from and writes to the database besides loan data.

* digest runs: the last digest before a test date, and recording a new one;
* the stored status history of covenants in breach (for the age of a breach);
* waivers, when the alerts tables are there (``None`` otherwise, so the digest degrades).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable

from sqlalchemy import inspect, insert, select
from sqlalchemy.orm import Session

from bot.alerts.store import current_waivers
from bot.alerts.tables import WaiverRow
from bot.alerts.waivers import Waiver
from bot.digest.model import Key, PastDigest
from bot.digest.tables import DIGEST_RUNS
from bot.store.db import inserted_id
from bot.store.repository import RESULTS, RUNS
from bot.store.types import table_of

_IN_CHUNK = 500


def last_digest(session: Session, before: date) -> PastDigest | None:
    """The last digest for a test date before ``before``: the latest sent one, else the latest one."""
    base = select(DIGEST_RUNS.c.as_of, DIGEST_RUNS.c.sent_at).where(DIGEST_RUNS.c.as_of < before)
    order = (DIGEST_RUNS.c.as_of.desc(), DIGEST_RUNS.c.id.desc())
    row = session.execute(base.where(DIGEST_RUNS.c.sent_at.is_not(None)).order_by(*order).limit(1)).first()
    if row is None:
        row = session.execute(base.order_by(*order).limit(1)).first()
    return PastDigest(row.as_of, row.sent_at) if row else None


def record_digest_run(session: Session, as_of: date, generated_at: datetime, sent_at: datetime | None = None) -> int:
    """Store one digest run; returns its id."""
    stmt = insert(DIGEST_RUNS).values(as_of=as_of, generated_at=generated_at, sent_at=sent_at)
    return inserted_id(session.execute(stmt))


def breach_history(session: Session, keys: Iterable[Key], before: date) -> dict[Key, list[tuple[date, str]]]:
    """Per (facility, covenant), the stored statuses before ``before``, newest first, one per test
    date (the latest finished run of that date wins)."""
    wanted = set(keys)
    by_facility = sorted({fid for fid, _ in wanted})
    out: dict[Key, list[tuple[date, str]]] = {}
    for start in range(0, len(by_facility), _IN_CHUNK):
        part = by_facility[start:start + _IN_CHUNK]
        stmt = (
            select(RESULTS.c.facility_id, RESULTS.c.covenant_id, RESULTS.c.as_of, RESULTS.c.status)
            .join(RUNS, RUNS.c.id == RESULTS.c.run_id)
            .where(RESULTS.c.facility_id.in_(part), RESULTS.c.as_of < before, RUNS.c.finished_at.is_not(None))
            .order_by(RESULTS.c.facility_id, RESULTS.c.covenant_id, RESULTS.c.as_of.desc(), RESULTS.c.run_id.desc())
        )
        for fid, cid, as_of, status in session.execute(stmt):
            key = (fid, cid)
            if key not in wanted:
                continue
            rows = out.setdefault(key, [])
            if not rows or rows[-1][0] != as_of:
                rows.append((as_of, status))
    return out


def load_waivers(session: Session) -> list[Waiver] | None:
    """The waiver in force (or last in force) per alert; ``None`` when no waivers are kept."""
    if not inspect(session.connection()).has_table(table_of(WaiverRow).name):
        return None
    return sorted(current_waivers(session).values(), key=lambda w: (w.until, w.facility_id, w.covenant_id))
