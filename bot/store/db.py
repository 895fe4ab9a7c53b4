"""Engines, schema upgrades and sessions.

``open_database(url)`` is what the application calls: it connects, creates or upgrades the schema
(Alembic, scripts inside this package) and returns the engine. Every failure to reach or migrate
the database becomes a ``StorageError`` whose message names the database without its password.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session

from bot.errors import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 7_325_118_041  # serialises concurrent upgrades of one PostgreSQL database


def safe_url(url: str | Any) -> str:
    """The URL as text with any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even parseable: show nothing secret
        return "<unreadable database URL>"


def error_reason(exc: BaseException, url: Any = None) -> str:
    """The first line of a driver error, with the URL's password (if any) masked."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0].strip()
    try:
        password = make_url(url).password if url is not None else None
    except Exception:
        password = None
    if password:
        first = first.replace(str(password), "***")
    return first.rstrip(".")


_DAMAGED = ("malformed", "not a database", "file is encrypted", "disk i/o error")


def describe_failure(exc: BaseException) -> str | None:
    """One sentence for a database error that escaped a command (None: not a database error).

    A damaged SQLite file (a corrupted page, a file that is not a database) says so and points at
    the backup; anything else from the driver is named by its first line."""
    import sqlite3

    if not isinstance(exc, (DBAPIError, sqlite3.DatabaseError)):
        return None
    reason = error_reason(exc)
    if any(word in reason.lower() for word in _DAMAGED):
        return (f"The database file is damaged ({reason}); covbot cannot read it. Restore it from a backup "
                "(or re-import the CSV files into a new database).")
    return f"The database failed: {reason}."


def _sqlite_pragmas(dbapi_connection, _record, *, wal: bool) -> None:
    # Own the transactions (see "begin" below) so reads and writes share one snapshot.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if wal:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, connect_args: dict | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets foreign keys on, and WAL for files; nothing connects yet."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect time
    except (ArgumentError, ValueError):
        raise StorageError("The database URL is not one covbot understands "
                           "(expected e.g. sqlite:///covbot.db or postgresql+psycopg://user@host/db).") from None
    args = dict(connect_args or {})
    if parsed.get_backend_name() == "postgresql":
        args.setdefault("connect_timeout", 10)
    try:
        engine = create_engine(parsed, connect_args=args, **kwargs)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise StorageError(f"covbot cannot use the database {safe_url(parsed)}: {error_reason(exc, parsed)}.") from None
    if engine.dialect.name == "sqlite":
        database = parsed.database or ""
        wal = database not in ("", ":memory:") and not database.startswith("file::memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, record):
            _sqlite_pragmas(dbapi_connection, record, wal=wal)

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # execution option sqlite_begin="IMMEDIATE" takes the write lock up front (imports)
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    """The schema revisions the database is at (empty for a new database)."""
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    except DBAPIError as exc:
        raise StorageError(
            f"The database {safe_url(engine.url)} cannot be reached: {error_reason(exc, engine.url)}."
        ) from None


def upgrade(engine_or_url: Engine | str) -> Engine:
    """Create the schema or bring it up to date (``alembic upgrade head``); returns the engine."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except CommandError as exc:
        raise StorageError(
            f"The database {safe_url(engine.url)} has a schema this covbot does not know ({exc}); "
            "it was probably written by a newer version."
        ) from None
    except DBAPIError as exc:
        raise StorageError(
            f"The database {safe_url(engine.url)} could not be created or upgraded: {error_reason(exc, engine.url)}."
        ) from None
    return engine


def open_database(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` whose schema is up to date (created on first use)."""
    engine = make_engine(url, **kwargs)
    if current_revisions(engine) != head_revisions():
        upgrade(engine)
    return engine


def writer(engine: Engine) -> Engine:
    """The engine for a transaction that reads and then writes (SQLite: locks at BEGIN, so a
    concurrent writer waits instead of failing half-way)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"The database {safe_url(engine.url)} failed: {error_reason(exc, engine.url)}.") from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
