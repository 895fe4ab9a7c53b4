"""The data of `covbot status`, read from the database (any instance, or none, may be running).

``leader`` is about the instance asked: by default the `covbot run` on this host (``pid`` picks
one when several run here); true when that instance holds the leadership now.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import col

from bot.daemon.leader import LEADER_NAME
from bot.daemon.tables import InstanceRow, JobRow, LeaderRow
from bot.notify.outbox import backlog, counts
from bot.store.db import read_scope

STALE_AFTER = timedelta(seconds=30)  # a heartbeat older than this: that process is gone


@dataclass(frozen=True)
class JobStatus:
    job: str
    last_started_at: str | None
    last_finished_at: str | None
    last_state: str | None
    last_error: str | None
    last_error_at: str | None
    next_run_at: str | None


@dataclass(frozen=True)
class ServiceStatus:
    leader: bool
    instance: dict | None  # the instance asked: host, pid, started_at, heartbeat_at, alive
    leader_host: str | None
    leader_pid: int | None
    leader_since: str | None
    leader_heartbeat_at: str | None
    leader_alive: bool
    jobs: list[JobStatus]
    rules: dict | None  # the leader's live rule set: path, files, sha256, loaded_at
    outbox: dict[str, int]
    dead_letters: list[dict]

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _instance_asked(session, now: datetime, pid: int | None, host: str) -> InstanceRow | None:
    query = select(InstanceRow).where(col(InstanceRow.host) == host, col(InstanceRow.stopped_at).is_(None))
    if pid is not None:
        query = query.where(col(InstanceRow.pid) == pid)
    rows = [r for r in session.scalars(query.order_by(col(InstanceRow.started_at).desc()))
            if now - r.heartbeat_at <= STALE_AFTER and _pid_alive(r.pid)]
    return rows[0] if rows else None


def service_status(engine: Engine, now: datetime, *, pid: int | None = None) -> ServiceStatus:
    host = socket.gethostname()
    with read_scope(engine) as session:
        lead = session.get(LeaderRow, LEADER_NAME)
        alive = lead is not None and now - lead.heartbeat_at <= STALE_AFTER
        asked = _instance_asked(session, now, pid, host)
        leader_instance = session.get(InstanceRow, lead.instance) if lead else None
        jobs = [JobStatus(r.job, _iso(r.last_started_at), _iso(r.last_finished_at), r.last_state, r.last_error,
                          _iso(r.last_error_at), _iso(r.next_run_at))
                for r in session.scalars(select(JobRow).order_by(JobRow.job))]
        rules = None
        if leader_instance is not None and leader_instance.rules_digest:
            rules = {"path": leader_instance.rules_path, "files": json.loads(leader_instance.rules_files or "[]"),
                     "sha256": leader_instance.rules_digest, "loaded_at": _iso(leader_instance.rules_loaded_at)}
        dead = [{"id": r.id, "notification_id": r.notification_id, "transport": r.transport, "route": r.route,
                 "kind": r.kind, "attempts": r.attempts, "last_error": r.last_error}
                for r in backlog(session) if r.state == "dead"]
        outbox = counts(session)
    return ServiceStatus(
        leader=bool(asked is not None and lead is not None and alive and lead.instance == asked.instance),
        instance=None if asked is None else {"host": asked.host, "pid": asked.pid, "started_at": _iso(asked.started_at),
                                             "heartbeat_at": _iso(asked.heartbeat_at)},
        leader_host=lead.host if lead else None,
        leader_pid=lead.pid if lead else None,
        leader_since=_iso(lead.since) if lead else None,
        leader_heartbeat_at=_iso(lead.heartbeat_at) if lead else None,
        leader_alive=alive,
        jobs=jobs,
        rules=rules,
        outbox=outbox,
        dead_letters=dead,
    )
