"""Import CSV files (streamed: validated and written batch by batch) or a workbook (validated in
memory first), in one transaction either way.

One bad value anywhere rejects the whole import (``ImportDataError`` with every problem found, up
to a thousand for a streamed file, each at file:line:column) and nothing is stored: the transaction
is rolled back. Otherwise every file is upserted on its keys in that single transaction, so
re-importing the same files changes nothing. CSV files of any size are read in flat memory (a
million rows well under 500 MB).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterator, Mapping

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from bot.errors import ImportDataError, Location, Problem, StorageError, UsageError
from bot.imports.apply import FileSummary, apply_file, apply_rows
from bot.imports.reader import stream_records
from bot.imports.references import facility_ids, unknown_facilities
from bot.imports.spec import SPECS
from bot.imports.validate import ParsedFile, header_positions, iter_rows, parse_records
from bot.imports.workbook import read_workbook, refused
from bot.store.db import error_reason, safe_url, writer
from bot.store.tables import DATA_TABLES

Progress = Callable[[str, int, int], None]
FILE_NAMES = tuple(SPECS)


@dataclass(frozen=True)
class ImportSummary:
    files: tuple[FileSummary, ...] = field(default_factory=tuple)
    ignored: tuple[str, ...] = ()  # sheets of a workbook that are not part of the contract
    source: str | None = None  # the workbook's name (None for CSV files)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.files)

    @property
    def unchanged(self) -> int:
        return sum(f.unchanged for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def for_file(self, name: str) -> FileSummary | None:
        return next((f for f in self.files if f.file == name), None)

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.files)


def _not_a_contract_file(name: str) -> Problem:
    return Problem(
        Location(name, 1, 1),
        f"covbot does not import a file named {name!r}; the files it reads are {', '.join(FILE_NAMES)}",
    )


def import_files(engine: Engine, files: Mapping[str, bytes], progress: Progress | None = None) -> ImportSummary:
    """Import files given by name and content (names as in the contract, e.g. ``prices.csv``)."""
    return import_sources(engine, {name: _bytes_source(data) for name, data in files.items()}, progress)


Source = Callable[[], ContextManager[BinaryIO]]  # opens one file's bytes, read line by line


def _bytes_source(data: bytes) -> Source:
    return lambda: io.BytesIO(data)


def _path_source(path: Path) -> Source:
    return lambda: path.open("rb")


def _line_count(source: Source) -> int:
    """Rows a file holds, roughly (its newlines), for the progress bar: one fast pass in binary."""
    with source() as handle:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)


def import_sources(engine: Engine, sources: Mapping[str, Source], progress: Progress | None = None
                   ) -> ImportSummary:
    """Validate and write each file as a stream, batch by batch, in ONE transaction: memory stays
    flat at any size. Files are taken in the contract's order (facilities first); a row naming a
    facility must name one stored or written before it in this import. The first problem stops the
    writing (validation goes on, to report every problem) and the transaction is rolled back, so
    nothing of a refused import is stored."""
    problems: list[Problem] = [_not_a_contract_file(name) for name in sorted(sources) if name not in SPECS]
    names = [name for name in FILE_NAMES if name in sources]
    if not names and not problems:
        problems.append(Problem(Location("(import)", 1, 1),
                                f"there is nothing to import; expected any of {', '.join(FILE_NAMES)}"))
    summaries: list[FileSummary] = []
    unknown: list[Problem] = []  # rows naming an unknown facility: reported once every value is valid
    try:
        with writer(engine).begin() as conn:
            known: set[str] | None = None
            for name in names:
                spec = SPECS[name]
                total = _line_count(sources[name]) if progress else 0
                with sources[name]() as handle:
                    csv = stream_records(name, handle)
                    positions = header_positions(spec, csv)
                    if positions is None:
                        problems.extend(csv.problems)
                        continue
                    rows = iter_rows(spec, csv, positions, problems)
                    if spec.refers_to_facility:
                        if known is None:
                            table = DATA_TABLES["facilities"]
                            known = set(conn.execute(select(table.c.facility_id)).scalars())
                        rows = _known_only(spec, rows, known, positions["facility_id"], unknown)
                    summaries.append(apply_rows(conn, spec, (row for _, row in rows), progress, total,
                                                writing=lambda: not (problems or unknown)))
                    if len(problems) > MAX_PROBLEMS:
                        break
            if problems or unknown:
                raise ImportDataError(_in_order(problems or unknown)[:MAX_PROBLEMS])
    except DBAPIError as exc:
        raise StorageError(
            f"The import could not be written to the database {safe_url(engine.url)}: "
            f"{error_reason(exc, engine.url)}. Nothing was stored."
        ) from None
    return ImportSummary(tuple(summaries))


MAX_PROBLEMS = 1000  # a refused file of a million bad rows reports its first thousand problems


def _known_only(spec, rows: Iterator[tuple[int, tuple]], known: set[str], column: int,
                problems: list[Problem]) -> Iterator[tuple[int, tuple]]:
    index = spec.column_names.index("facility_id")
    for line, row in rows:
        if row[index] in known:
            yield line, row
        else:
            problems.append(Problem(
                Location(spec.name, line, column),
                f"facility_id: there is no facility {row[index]!r} in facilities.csv of this import "
                "or in the database; add it to facilities.csv",
            ))




def import_parsed(engine: Engine, parsed: list[ParsedFile], problems: list[Problem],
                  progress: Progress | None = None) -> ImportSummary:
    """The common end of every reader (CSV files, a workbook): refuse the whole import on any
    problem (``ImportDataError``, in contract terms), else apply every file in one transaction."""
    problems = list(problems)
    for p in parsed:
        problems += p.problems
    if not parsed and not problems:
        problems.append(Problem(Location("(import)", 1, 1),
                                f"there is nothing to import; expected any of {', '.join(FILE_NAMES)}"))
    try:
        with writer(engine).begin() as conn:
            if not any(p.problems for p in parsed if p.spec.table == "facilities"):
                # (with a refused facilities row, a reference to it would be reported wrongly)
                problems += unknown_facilities(parsed, _known_facilities(conn, parsed))
            if problems:
                raise ImportDataError(_in_order(problems))
            summaries = tuple(apply_file(conn, p, progress) for p in parsed)
    except DBAPIError as exc:
        raise StorageError(
            f"The import could not be written to the database {safe_url(engine.url)}: "
            f"{error_reason(exc, engine.url)}. Nothing was stored."
        ) from None
    return ImportSummary(summaries)


def _known_facilities(conn, parsed: list[ParsedFile]) -> set[str]:
    known: set[str] = set()
    if not any(p.spec.refers_to_facility and p.rows for p in parsed):
        return known
    for p in parsed:
        if p.spec.table == "facilities":
            known.update(facility_ids(p))
    table = DATA_TABLES["facilities"]
    known.update(conn.execute(select(table.c.facility_id)).scalars())
    return known


def _in_order(problems: list[Problem]) -> list[Problem]:
    rank = {name: i for i, name in enumerate(FILE_NAMES)}
    return sorted(problems, key=lambda p: (rank.get(p.location.file, -1), p.location.line, p.location.column))


def import_directory(engine: Engine, path: str | Path, progress: Progress | None = None) -> ImportSummary:
    """Import whichever contract files the folder holds (or one file, when ``path`` is a file).

    Any other ``*.csv`` in the folder is an error (a misspelt name must not be skipped silently);
    files that are not CSV are ignored.
    """
    folder = Path(path)
    if folder.is_file():
        return import_file(engine, folder, progress)
    if not folder.is_dir():
        raise UsageError(f"{str(folder)!r} is neither a folder of CSV files nor a CSV file.")
    files = {
        p.name: _path_source(p)
        for p in sorted(folder.iterdir())
        if p.is_file() and (p.name in SPECS or p.suffix.lower() == ".csv")
    }
    if not files:
        raise ImportDataError([Problem(
            Location(folder.name or str(folder), 1, 1),
            f"the folder holds none of the files covbot imports ({', '.join(FILE_NAMES)})",
        )])
    return import_sources(engine, files, progress)


def import_file(engine: Engine, path: str | Path, progress: Progress | None = None) -> ImportSummary:
    """Import one CSV file, recognised by its name (e.g. an inbox drop of ``prices.csv``), or one
    Excel workbook (``*.xlsx``, a sheet per contract file: ``bot.imports.workbook``)."""
    file = Path(path)
    if file.suffix.lower() == ".xlsx":
        return import_workbook(engine, file, progress)
    if file.name not in SPECS:
        raise ImportDataError([_not_a_contract_file(file.name)])
    return import_sources(engine, {file.name: _path_source(file)}, progress)


def import_workbook(engine: Engine, path: str | Path, progress: Progress | None = None) -> ImportSummary:
    """Import the contract sheets of an Excel workbook: the same validation, transaction and
    idempotency as the CSV files; every problem located at its cell (``book.xlsx:financials!C7``)."""
    book = read_workbook(path)
    if book.problems:
        raise ImportDataError(book.problems)
    parsed = [parse_records(SPECS[name], records) for name, records in book.records.items()]
    said = {(p.location.file, p.location.line, p.location.column) for p in book.cell_problems}
    for p in parsed:  # a cell already refused (an uncalculated formula...) is not refused twice
        p.problems = [q for q in p.problems if (q.location.file, q.location.line, q.location.column) not in said]
    try:
        summary = import_parsed(engine, parsed, book.cell_problems, progress)
    except ImportDataError as exc:
        raise refused(book, exc.problems) from None
    files = tuple(replace(f, file=book.sheets.get(f.file, f.file)) for f in summary.files)
    return ImportSummary(files, ignored=tuple(book.ignored), source=book.name)
