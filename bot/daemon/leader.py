"""Who may act: only the leader evaluates, dispatches, sends digests and reads the inbox.

* PostgreSQL (high availability): every instance tries ``pg_try_advisory_lock`` on a dedicated
  connection; the one that gets it leads for as long as that connection lives. When the leader's
  process dies its connection closes, the server releases the lock, and a standby (retrying every
  few seconds) takes over. The lock key is derived from the schema, so two databases (or two
  schemas of one database) never share a leader.
* SQLite (single instance): an exclusive lock file beside the database file (symlinks resolved)
  and one named after the file's device and inode. A second
  ``covbot run`` on the same file refuses to start and says which process holds it.

The leader is recorded in ``service_leader`` (host, pid, heartbeat) for ``covbot status``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from bot.dates import utc_now
from bot.errors import CovbotError
from bot.daemon.tables import InstanceRow, LeaderRow
from bot.store.db import write_scope

log = logging.getLogger("covbot.leader")
LEADER_NAME = "covbot"


class AlreadyRunningError(CovbotError):
    """Another `covbot run` already uses this SQLite database."""


@dataclass(frozen=True)
class Instance:
    """This process, as other processes see it."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: datetime = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.started_at.strftime('%Y%m%dT%H%M%S.%f')}"


def _record_leader(engine: Engine, me: Instance, now: datetime, *, taking_over: bool) -> None:
    with write_scope(engine) as session:
        row = session.get(LeaderRow, LEADER_NAME)
        if row is None:
            session.add(LeaderRow(name=LEADER_NAME, instance=me.id, host=me.host, pid=me.pid, since=now, heartbeat_at=now))
        elif taking_over or row.instance != me.id:
            row.instance, row.host, row.pid, row.since, row.heartbeat_at = me.id, me.host, me.pid, now, now
        else:
            row.heartbeat_at = now


class SqliteLeadership:
    """The single instance on a SQLite file: leader from start to stop, or refused at start.

    Two locks, both ``flock`` (released by the kernel however the process ends): ``<file>.lock``
    beside the database file with symlinks resolved (it names the holder), and one named after the
    file's device and inode in the temporary folder, so neither a symlink nor a hard link to the
    same database gets a second instance."""

    def __init__(self, engine: Engine, me: Instance):
        self.engine, self.me = engine, me
        database = make_url(engine.url).database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        self.database = None if in_memory else Path(database).resolve()
        self.lock_path = None if self.database is None else self.database.with_name(self.database.name + ".lock")
        self._fds: list[int] = []
        self.is_leader = False

    def _inode_lock_path(self) -> Path | None:
        if self.database is None:
            return None
        try:
            st = os.stat(self.database)
        except OSError:  # not created yet: the path lock alone serves
            return None
        return Path(tempfile.gettempdir()) / f"covbot-sqlite-{st.st_dev}-{st.st_ino}.lock"

    def acquire_at_start(self) -> None:
        if self.lock_path is not None:
            for path in (self.lock_path, self._inode_lock_path()):
                if path is not None:
                    self._lock(path)
        self.is_leader = True
        _record_leader(self.engine, self.me, utc_now(), taking_over=True)

    def _lock(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            self.release()
            raise AlreadyRunningError(
                f"Another covbot run ({holder}) already uses the SQLite database {self.database}; "
                "on SQLite covbot runs as a single instance. Stop the other one first, or use PostgreSQL "
                "(COVBOT_DATABASE_URL) to run a standby."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {self.me.pid} on {self.me.host}\n".encode(), 0)
        self._fds.append(fd)

    def tick(self, now: datetime) -> bool:
        _record_leader(self.engine, self.me, now, taking_over=False)
        return True

    def release(self) -> None:
        self.is_leader = False
        while self._fds:
            fd = self._fds.pop()
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PostgresLeadership:
    """Leader while holding a session-level advisory lock on a connection of its own."""

    def __init__(self, engine: Engine, me: Instance):
        self.engine, self.me = engine, me
        self._conn: Connection | None = None
        self._key: int | None = None
        self.is_leader = False

    def acquire_at_start(self) -> None:
        self.tick(utc_now())

    def _lock_key(self, conn) -> int:
        if self._key is None:
            where = f"covbot-leader:{conn.execute(text('SELECT current_database()')).scalar()}:" \
                    f"{conn.execute(text('SELECT current_schema()')).scalar()}"
            self._key = int.from_bytes(hashlib.sha256(where.encode()).digest()[:8], "big", signed=True)
        return self._key

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # the connection is already gone
                pass
        self._conn = None

    def tick(self, now: datetime) -> bool:
        """Heartbeat as leader, or try to become one. Never raises for a lost database."""
        try:
            if self.is_leader and self._conn is not None:
                self._conn.execute(text("SELECT 1"))  # the lock lives exactly as long as this connection
                _record_leader(self.engine, self.me, now, taking_over=False)
                return True
            conn = self._conn
            if conn is None:
                conn = self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key(conn)}).scalar()
            if got:
                self.is_leader = True
                _record_leader(self.engine, self.me, now, taking_over=True)
                log.info("this instance is now the leader", extra={"host": self.me.host, "pid": self.me.pid})
            return self.is_leader
        except Exception as exc:  # connection lost: we are no longer (or not yet) the leader
            if self.is_leader:
                log.error("lost the leader lock (%s); standing by", str(exc).splitlines()[0] if str(exc) else exc)
            self.is_leader = False
            self._drop_connection()
            return False

    def release(self) -> None:
        if self.is_leader and self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            except Exception:
                pass
        self.is_leader = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def leadership_for(engine: Engine, me: Instance) -> SqliteLeadership | PostgresLeadership:
    if engine.dialect.name == "postgresql":
        return PostgresLeadership(engine, me)
    return SqliteLeadership(engine, me)


# -- the instance's own row ----------------------------------------------------------------------


def register_instance(engine: Engine, me: Instance, rules_path: str) -> None:
    with write_scope(engine) as session:
        session.merge(InstanceRow(instance=me.id, host=me.host, pid=me.pid, started_at=me.started_at,
                                  heartbeat_at=me.started_at, rules_path=rules_path))


def instance_heartbeat(engine: Engine, me: Instance, now: datetime, *, stopped: bool = False) -> None:
    with write_scope(engine) as session:
        row = session.get(InstanceRow, me.id)
        if row is not None:
            row.heartbeat_at = now
            if stopped:
                row.stopped_at = now


def record_rules(engine: Engine, me: Instance, files: list[str], digest: str, loaded_at: datetime) -> None:
    with write_scope(engine) as session:
        row = session.get(InstanceRow, me.id)
        if row is not None:
            row.rules_files, row.rules_digest, row.rules_loaded_at = json.dumps(files), digest, loaded_at
