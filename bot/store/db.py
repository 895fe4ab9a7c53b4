"""Engines, schema upgrades and sessions.

``open_database(url)`` is what the composition root (``bot.bootstrap``) calls: it connects, creates
or upgrades the schema (Alembic, the scripts in bot/migrations) and returns the engine. Every failure to reach or migrate
the database becomes a ``StorageError`` whose message names the database without its password.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import CursorResult, Engine, Result, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from bot.errors import StorageError
from bot.store import sqlite_locking
from bot.store.sqlite_locking import reader, writer

# The Alembic scripts (bot/migrations) know every package's tables, so they sit above the store;
# they are run by path, never imported from here.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
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
        sqlite_locking.install(engine, wal=wal)  # writers take the lock up front (see there)
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
        with writer(engine).begin() as conn:  # SQLite: a concurrent first start waits, then finds it done
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


def inserted_id(result: Result[Any]) -> int:
    """The primary key of the row an INSERT statement's ``result`` added."""
    key = cast(CursorResult[Any], result).inserted_primary_key
    if key is None:
        raise ValueError("not the result of an INSERT of one row")
    return int(key[0])


def insert_many(session: OrmSession, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """INSERT many rows (tuples in ``columns`` order) in one driver-level executemany; returns how many.

    Each value goes through its column type's own conversion (a ``TypeDecorator``'s included), as
    SQLAlchemy would, but without its per-row parameter processing, which costs more than the
    database on the daily job's hundreds of thousands of rows (results, alert states, audit)."""
    rows = list(rows)
    conn = session.connection()
    dialect = conn.dialect
    processors = [_repeated(table.c[name].type, table.c[name].type._cached_bind_processor(dialect))  # noqa: SLF001
                  for name in columns]
    converted = [(i, convert) for i, convert in enumerate(processors) if convert is not None]
    params = [tuple(row) for row in rows] if not converted else [_converted(row, converted) for row in rows]
    if not params:
        return 0
    if dialect.paramstyle == "qmark":
        marks = ", ".join("?" for _ in columns)
    elif dialect.paramstyle in ("format", "pyformat"):
        marks = ", ".join("%s" for _ in columns)
    else:  # pragma: no cover - another driver: SQLAlchemy's own path
        conn.execute(table.insert(), [dict(zip(columns, row)) for row in rows])
        return len(params)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", params)
    return len(params)


def _converted(row: Sequence[Any], converted: list[tuple[int, Callable[[Any], Any]]]) -> tuple[Any, ...]:
    """The row with the values of the columns that have a conversion converted (None stays None):
    most columns have none, and skipping them halves the cost of a bulk insert."""
    out = list(row)
    for i, convert in converted:
        value = out[i]
        if value is not None:
            out[i] = convert(value)
    return tuple(out)


def _repeated(column_type: Any, convert: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """A date or time column's conversion, remembered per value: the rows of one bulk insert share
    a handful of them (the test date, the time of the check), and converting each again costs more
    than the database's own work."""
    try:
        kind = column_type.python_type
    except NotImplementedError:  # pragma: no cover - a type that does not say
        return convert
    if convert is None or kind not in (date, datetime):
        return convert
    return functools.lru_cache(maxsize=64)(convert)


@contextmanager
def session_scope(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A unit of work: a session that commits when the block ends and rolls back when it raises.

    On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``, waiting and retrying while
    another writer holds it; ``bot.store.sqlite_locking``), so a read-then-write never fails half-way
    with "database is locked". Pass ``read_only=True`` (or use ``read_scope``) for work that only
    reads: it never waits for writers."""
    session = Session(reader(engine) if read_only else writer(engine), expire_on_commit=False)
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


write_scope = session_scope  # the name to use where "this writes" should be read at a glance


def read_scope(engine: Engine) -> AbstractContextManager[Session]:
    """A read-only unit of work (deferred BEGIN on SQLite: a snapshot that never blocks writers)."""
    return session_scope(engine, read_only=True)
