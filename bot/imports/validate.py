"""One CSV file → validated rows for its table, collecting every problem with file:line:column.

Checks the header (every column present, none extra or repeated), each value against its column
(``bot.imports.fields``), and that no key appears twice in the file. References to facilities are
checked later (``references.py``), when every file of the import and the database are known.

Rows are tuples in the contract's column order (``spec.column_names``), the key first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from bot.errors import ImportDataError, Location, Problem
from bot.imports.fields import FieldError
from bot.imports.reader import CsvRecords, read_records
from bot.imports.spec import SPECS, FileSpec


@dataclass
class ParsedFile:
    spec: FileSpec
    rows: list[tuple] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)          # the line each row starts on
    problems: list[Problem] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # column name -> 1-based position

    @property
    def name(self) -> str:
        return self.spec.name

    def as_dicts(self) -> list[dict]:
        names = self.spec.column_names
        return [dict(zip(names, row)) for row in self.rows]


def _check_header(spec: FileSpec, csv: CsvRecords) -> dict[str, int] | None:
    expected = spec.column_names
    positions: dict[str, int] = {}
    ok = True
    for index, name in enumerate(csv.header, start=1):
        if name in positions:
            csv.problem(1, index, f"the column {name!r} appears twice in the header "
                                  f"(columns {positions[name]} and {index})")
            ok = False
        elif name not in expected:
            label = repr(name) if name else "without a name"
            csv.problem(1, index, f"unexpected column {label}; {spec.name} has exactly the columns "
                                  f"{', '.join(expected)}")
            ok = False
        else:
            positions[name] = index
    missing = [name for name in expected if name not in positions]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        csv.problem(1, 1, f"missing column{plural} {', '.join(missing)}; {spec.name} needs the columns "
                          f"{', '.join(expected)} (only optional values may be empty)")
        ok = False
    return positions if ok else None


def _as_given(parser, value: str) -> str:
    """The value a parser sees: stripped, except for parsers that judge the spaces themselves."""
    return value if getattr(parser, "unstripped", False) else value.strip()


def _row_problems(spec: FileSpec, line: int, values: list[str], order: list[int]) -> list[Problem]:
    """Every value problem of one row (the slow path, taken only when the row is invalid)."""
    problems = []
    for (name, parser), index in zip(spec.columns, order):
        try:
            parser(_as_given(parser, values[index]))
        except FieldError as error:
            problems.append(Problem(Location(spec.name, line, index + 1), f"{name}: {error}"))
    return problems


def header_positions(spec: FileSpec, csv: CsvRecords) -> dict[str, int] | None:
    """The 1-based position of every column, or None (with the problems in ``csv.problems``)."""
    return None if csv.problems else _check_header(spec, csv)


def iter_rows(spec: FileSpec, csv: CsvRecords, positions: dict[str, int],
              problems: list[Problem]) -> Iterator[tuple[int, tuple]]:
    """The valid rows of a file as ``(line, row)``, one at a time; every problem goes to ``problems``.

    The reusable core of every reader (CSV here; any reader that yields ``(line, values)`` records
    and a header): value parsing, and a key repeated within the file reported at its second line.
    Keys seen are kept as compact text, so a file of a million rows is checked in bounded memory."""
    width = len(csv.header)
    order = [positions[name] - 1 for name in spec.column_names]
    in_order = order == list(range(width))
    parsers = [parser for _, parser in spec.columns]
    raw = [getattr(parser, "unstripped", False) for parser in parsers]
    n_keys = len(spec.key)
    seen: dict[str, int] = {}
    for line, values in csv.records:
        if len(values) != width:
            problems.append(Problem(Location(spec.name, line, min(len(values), width) + 1),
                                    f"this row has {len(values)} values but the header has {width} columns"))
            continue
        ordered = values if in_order else [values[i] for i in order]
        try:
            row = tuple([parse(value if keep else value.strip())
                         for parse, keep, value in zip(parsers, raw, ordered)])
        except FieldError:
            problems += _row_problems(spec, line, values, order)
            continue
        key = row[:n_keys]
        first = seen.setdefault("\x1f".join(map(str, key)), line)
        if first != line:
            problems.append(Problem(
                Location(spec.name, line, positions[spec.key[0]]),
                f"{', '.join(spec.key)}: {', '.join(map(str, key))} is on line {first} and again on "
                f"line {line}; each key may appear only once in a file",
            ))
            continue
        yield line, row
    problems += csv.problems  # a file that stops being readable part-way (bad UTF-8, quoting)


def parse_records(spec: FileSpec, csv: CsvRecords) -> ParsedFile:
    """Validate the records read from one file of the contract (all rows kept in memory)."""
    out = ParsedFile(spec)
    positions = header_positions(spec, csv)
    if positions is None:
        out.problems = list(csv.problems)
        return out
    out.positions = positions
    for line, row in iter_rows(spec, csv, positions, out.problems):
        out.rows.append(row)
        out.lines.append(line)
    return out


def parse_file(name: str, data: bytes) -> ParsedFile:
    """Read and validate one file of the contract by its name (e.g. ``"financials.csv"``)."""
    return parse_records(SPECS[name], read_records(name, data))


def read_rows(name: str, data: bytes) -> list[dict]:
    """The validated rows of one file as dicts, or ``ImportDataError`` with every problem in it."""
    parsed = parse_file(name, data)
    if parsed.problems:
        raise ImportDataError(parsed.problems)
    return parsed.as_dicts()
