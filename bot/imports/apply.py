"""Write validated rows into their table: insert new keys, update changed rows, count the rest.

Set-based for speed, in batches for memory: per batch of rows, the stored rows sharing their keys'
first column are read into a dict, compared in Python, and written with executemany, never one ORM
object per row. Rows are compared and written in the
form the database stores (decimals as their text, exactly as ``bot.store.types.DecimalText``
writes them), so ``1.5`` → ``1.50`` counts as an update and the stored text is always the newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Date, Table

from bot.imports.spec import FileSpec
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


def _fetch(conn: Connection, statement: str, params: tuple = ()) -> list[tuple]:
    """Raw rows straight from the driver, inside the connection's transaction (fast for big tables)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement, params)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


_LOOKUP = 500  # first-key values per SELECT of stored rows


def apply_rows(conn: Connection, spec: FileSpec, rows: Iterable[tuple], progress: Progress | None = None,
               total: int = 0, writing: Callable[[], bool] = lambda: True) -> FileSummary:
    """Upsert ``rows`` (validated, in the contract's column order) batch by batch, in the caller's
    transaction: memory stays flat whatever the file's size. Each batch reads only the stored rows
    that share its keys' first column. Once ``writing()`` turns false (a problem was found and the
    import will be refused) the remaining rows are only consumed, so validation still runs to the end."""
    table = DATA_TABLES[spec.table]
    n_keys = len(spec.key)
    sql = _Sql(conn, table, spec.key, spec.value_names)
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle in ("qmark", "numeric") else "%s"
    convert = _to_stored(conn, table, spec.column_names)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    done = 0

    def flush(batch: list[tuple]) -> None:
        db_rows = [tuple([c(v) for c, v in zip(convert, row)]) for row in batch]
        firsts = sorted({r[0] for r in db_rows})
        stored: dict[tuple, tuple] = {}
        for start in range(0, len(firsts), _LOOKUP):
            part = tuple(firsts[start:start + _LOOKUP])
            statement = f"{sql.select} WHERE {quote(spec.key[0])} IN ({', '.join(mark for _ in part)})"
            stored.update((r[:n_keys], r[n_keys:]) for r in _fetch(conn, statement, part))
        inserts, updates = [], []
        for db_row in db_rows:
            old = stored.get(db_row[:n_keys])
            if old is None:
                inserts.append(db_row)
            elif old == db_row[n_keys:]:
                counts["unchanged"] += 1
            else:
                updates.append(db_row[n_keys:] + db_row[:n_keys])
        if inserts:
            conn.exec_driver_sql(sql.insert, inserts)
        if updates:
            conn.exec_driver_sql(sql.update, updates)
        counts["added"] += len(inserts)
        counts["updated"] += len(updates)

    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            if writing():
                flush(batch)
            done += len(batch)
            batch = []
            if progress:
                progress(spec.name, done, max(total, done))
    if batch and writing():
        flush(batch)
    done += len(batch)
    if progress:
        progress(spec.name, done, done)  # the end: every row counted
    return FileSummary(spec.name, **counts)


def apply_file(conn: Connection, parsed: ParsedFile, progress: Progress | None = None) -> FileSummary:
    """Upsert the rows of a file validated in memory (``parse_file``)."""
    return apply_rows(conn, parsed.spec, parsed.rows, progress, len(parsed.rows))
