"""Scheduled slots: which one is due, and claiming it so it is evaluated once across restarts.

A slot is a fire time of a job's cron trigger (e.g. 06:00 Europe/Zurich on 2026-03-02). Before a
job does a slot's work it claims the slot with a row in ``service_slots``; a slot that is ``ok`` is
never done again, by this process or any later one. A ``failed`` slot (the database was busy, the
mail server down while queuing...) is claimed again by the next try, until it succeeds or a newer
slot is due. Catch-up after downtime is the same call at start: only the latest missed slot is due
(missed slots are coalesced).

A slot left ``running`` by another instance is one whose process died mid-job (only the leader
claims slots, and there is one leader), so the new leader takes it over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.daemon.tables import SlotRow
from bot.store.db import read_scope, write_scope

# Look back this far for the latest fire time, widening until one is found (a yearly cron at most).
_WINDOWS = (timedelta(hours=2), timedelta(days=2), timedelta(days=9), timedelta(days=32), timedelta(days=367))


def latest_slot(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest fire time of ``trigger`` at or before ``now`` (None when none in a year)."""
    for window in _WINDOWS:
        fire = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while True:
            following = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
            if following is None or following > now:
                return fire
            fire = following
    return None


def claim_slot(engine: Engine, job: str, slot_at: datetime, instance: str, now: datetime) -> bool:
    """True when this instance may now do the slot's work (False: done already, or being done)."""
    try:
        with write_scope(engine) as session:
            row = session.get(SlotRow, (job, slot_at))
            if row is None:
                session.add(SlotRow(job=job, slot_at=slot_at, state="running", instance=instance, claimed_at=now))
                return True
            if row.state == "running" and row.instance != instance:
                row.instance, row.claimed_at = instance, now  # its process died mid-job
                return True
            if row.state == "failed":  # tried before and failed: try again
                row.state, row.instance, row.claimed_at, row.finished_at = "running", instance, now, None
                return True
            return False
    except IntegrityError:  # claimed by another process between our read and our insert
        return False


def finish_slot(engine: Engine, job: str, slot_at: datetime, now: datetime, error: str | None = None) -> None:
    with write_scope(engine) as session:
        row = session.get(SlotRow, (job, slot_at))
        if row is not None:
            row.state, row.finished_at, row.error = ("failed" if error else "ok"), now, error


def slot_states(engine: Engine, job: str) -> dict[datetime, str]:
    """Every recorded slot of a job and its state."""
    with read_scope(engine) as session:
        return {r.slot_at: r.state for r in session.scalars(select(SlotRow).where(col(SlotRow.job) == job))}


def has_slots(engine: Engine, job: str) -> bool:
    with read_scope(engine) as session:
        return session.scalar(select(col(SlotRow.job)).where(col(SlotRow.job) == job).limit(1)) is not None
