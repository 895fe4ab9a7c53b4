"""Write validated rows into their table: insert new keys, update changed rows, count the rest.

Set-based for speed: the table's current rows are read once into a dict, compared in Python, and
written with executemany, never one ORM object per row. Rows are compared and written in the
form the database stores (decimals as their text, exactly as ``bot.store.types.DecimalText``
writes them), so ``1.5`` → ``1.50`` counts as an update and the stored text is always the newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import Connection, Date, Table

from bot.imports.validate import ParsedFile
from bot.store.tables import DATA_TABLES
from bot.store.types import DecimalText

Progress = Callable[[str, int, int], None]
BATCH = 10_000


@dataclass(frozen=True)
class FileSummary:
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def rows(self) -> int:
        return self.added + self.updated + self.unchanged

    def __str__(self) -> str:
        return f"{self.file}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged"


def _identity(value: Any) -> Any:
    return value


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sqlite_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _to_stored(conn: Connection, table: Table, columns: tuple[str, ...]) -> list[Callable[[Any], Any]]:
    """Per column, how a parsed value looks in the database driver's hands."""
    out: list[Callable[[Any], Any]] = []
    for name in columns:
        column = table.c[name]
        if isinstance(column.type, DecimalText):
            out.append(_decimal_text if column.nullable else str)
        elif isinstance(column.type, Date) and conn.dialect.name == "sqlite":
            # SQLAlchemy's SQLite DATE storage: YYYY-MM-DD text
            out.append(_sqlite_date if column.nullable else date.isoformat)
        else:
            out.append(_identity)
    return out


class _Sql:
    """Plain SQL for one table, in the driver's parameter style."""

    def __init__(self, conn: Connection, table: Table, keys: tuple[str, ...], values: tuple[str, ...]):
        quote = conn.dialect.identifier_preparer.quote
        mark = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
        name = quote(table.name)
        columns = keys + values
        self.select = f"SELECT {', '.join(quote(c) for c in columns)} FROM {name}"
        self.insert = (f"INSERT INTO {name} ({', '.join(quote(c) for c in columns)}) "
                       f"VALUES ({', '.join(mark for _ in columns)})")
        self.update = (f"UPDATE {name} SET {', '.join(f'{quote(c)} = {mark}' for c in values)} "
                       f"WHERE {' AND '.join(f'{quote(c)} = {mark}' for c in keys)}")


def _fetch_all(conn: Connection, statement: str) -> list[tuple]:
    """Raw rows straight from the driver, inside the connection's transaction (fast for big tables)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def apply_file(conn: Connection, parsed: ParsedFile, progress: Progress | None = None) -> FileSummary:
    spec = parsed.spec
    table = DATA_TABLES[spec.table]
    columns = spec.column_names
    n_keys = len(spec.key)
    sql = _Sql(conn, table, spec.key, spec.value_names)
    stored = {row[:n_keys]: row[n_keys:] for row in _fetch_all(conn, sql.select)}

    convert = _to_stored(conn, table, columns)
    inserts: list[tuple] = []
    updates: list[tuple] = []
    unchanged = 0
    for row in parsed.rows:
        db_row = tuple([c(v) for c, v in zip(convert, row)])
        key = db_row[:n_keys]
        old = stored.get(key)
        if old is None:
            inserts.append(db_row)
        elif old == db_row[n_keys:]:
            unchanged += 1
        else:
            updates.append(db_row[n_keys:] + key)
    del stored

    total, done = len(parsed.rows), unchanged
    if progress:
        progress(spec.name, done, total)
    for statement, rows in ((sql.insert, inserts), (sql.update, updates)):
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            conn.exec_driver_sql(statement, batch)
            done += len(batch)
            if progress:
                progress(spec.name, done, total)
    return FileSummary(spec.name, added=len(inserts), updated=len(updates), unchanged=unchanged)
