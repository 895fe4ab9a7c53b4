"""SQLite: one writer at a time, and waiting for the write lock instead of failing.

A SQLite transaction that begins deferred (plain ``BEGIN``), reads, and then writes must upgrade
its lock when it writes. In WAL mode that upgrade fails at once with "database is locked" when
another connection wrote in between — the busy timeout does not apply to it. So covbot follows one
rule on SQLite:

* every unit of work that may write (``bot.store.db.session_scope`` / ``write_scope``, imports,
  schema upgrades) begins with ``BEGIN IMMEDIATE``: it takes the write lock up front, waits for it
  up to the busy timeout, and when that runs out tries again with backoff (``RETRY_DELAYS``);
* a read-only unit of work (``read_scope``) begins deferred and never blocks the writers.

``install(engine, wal=...)`` attaches this to an engine (SQLAlchemy event hooks): call it once
wherever the engine is built. ``writer(engine)`` is the same engine marked for ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Callable

from sqlalchemy import Engine, event

log = logging.getLogger("covbot.store")

BUSY_TIMEOUT_MS = 10_000  # how long one BEGIN IMMEDIATE waits for the lock inside SQLite
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # then again, after these pauses (seconds)
_OPTION = "sqlite_begin"


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database table is locked" (worth waiting for)."""
    orig = getattr(exc, "orig", None) or exc
    return isinstance(orig, sqlite3.OperationalError) and "locked" in str(orig).lower()


def writer(engine: Engine) -> Engine:
    """``engine`` for a unit of work that may write: on SQLite it begins with ``BEGIN IMMEDIATE``."""
    return engine.execution_options(**{_OPTION: "IMMEDIATE"})


def reader(engine: Engine) -> Engine:
    """``engine`` for a read-only unit of work: a deferred ``BEGIN`` (a consistent snapshot)."""
    return engine.execution_options(**{_OPTION: ""})


def begin_immediate(execute: Callable[[str], object], sleep: Callable[[float], None] = time.sleep,
                    delays: tuple[float, ...] | None = None) -> None:
    """``BEGIN IMMEDIATE``, retried with backoff (``RETRY_DELAYS``) while the database stays locked."""
    for attempt, delay in enumerate((*(RETRY_DELAYS if delays is None else delays), None)):
        try:
            execute("BEGIN IMMEDIATE")
            return
        except Exception as exc:
            if delay is None or not is_busy(exc):
                raise
            log.warning("the database is locked by another writer; trying again in %.2g s (try %d)",
                        delay, attempt + 1)
            sleep(delay)


def install(engine: Engine, *, wal: bool) -> None:
    """Pragmas on every new connection, and the BEGIN of every transaction, for a SQLite engine."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # covbot issues BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(_OPTION) == "IMMEDIATE":
            begin_immediate(conn.exec_driver_sql)
        else:
            conn.exec_driver_sql("BEGIN")
