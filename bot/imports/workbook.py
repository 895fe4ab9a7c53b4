"""An Excel workbook (``.xlsx``) → the same records as the CSV files of the contract.

A second reader in front of the one validation: each sheet named like a contract file without
``.csv`` (``facilities``, ``financials``, ...; case and surrounding spaces ignored) becomes the
header and records ``bot.imports.validate`` checks, each record's line being its sheet row and
each value's column its sheet column, so every problem maps back to a cell (``financials!C7``).

Typed cells become the text the CSV contract expects, exactly:
- a whole number as itself; a floating-point cell as the shortest decimal that reads back as the
  same binary number (``Decimal(repr(f))``); more than 15 significant digits is refused, since an
  Excel number does not hold them exactly (store the value as text instead);
- a date cell (time 00:00) as ``YYYY-MM-DD``; ISO text passes as text;
- a formula as its cached value, i.e. what Excel showed when it last saved the workbook; a formula
  without one (a workbook written by a program and never opened in Excel) is refused.

The workbook is read in openpyxl's read-only (streaming) mode, twice side by side: the values as
cached, and the cells' formulas, to tell "empty" from "a formula never calculated".
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from openpyxl import load_workbook

from bot.domain.decimals import to_text
from bot.domain.suggest import did_you_mean
from bot.errors import CellLocation, ImportDataError, Location, Problem
from bot.imports.reader import CsvRecords
from bot.imports.spec import SPECS

MAX_FLOAT_DIGITS = 15  # what an Excel (IEEE double) number holds exactly
SHEETS = {name[: -len(".csv")]: name for name in SPECS}  # "financials" -> "financials.csv"


@dataclass
class WorkbookRecords:
    """What a workbook holds for the import: per contract file, its records and the cell problems."""

    name: str  # the workbook's file name, as errors show it
    records: dict[str, CsvRecords] = field(default_factory=dict)  # "financials.csv" -> records
    sheets: dict[str, str] = field(default_factory=dict)  # "financials.csv" -> the sheet's own name
    cell_problems: list[Problem] = field(default_factory=list)  # located in contract terms
    ignored: list[str] = field(default_factory=list)  # sheets that are not part of the contract
    problems: list[Problem] = field(default_factory=list)  # already located in the workbook


class _CellError(ValueError):
    pass


def cell_text(value: Any) -> str:
    """A typed cell's value as the text the CSV contract reads (``_CellError`` says why not)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return to_text(value) or ""
    return str(value)


def float_text(value: float) -> str:
    """The shortest decimal that round-trips to the float; refused beyond 15 significant digits."""
    if value != value or value in (float("inf"), float("-inf")):
        raise _CellError("this cell holds an error or an infinite number, not a value")
    exact = Decimal(repr(value)) if value else Decimal(0)  # (-0.0 is 0)
    digits = len(exact.normalize().as_tuple().digits) if exact else 1
    if digits > MAX_FLOAT_DIGITS:
        raise _CellError(
            f"the number {repr(value)} has {digits} significant digits, more than the "
            f"{MAX_FLOAT_DIGITS} an Excel number holds exactly; store it as text (format the cell as "
            "Text, or type it with a leading apostrophe) or round it"
        )
    return to_text(exact) or "0"


def read_workbook(path: str | Path, name: str | None = None) -> WorkbookRecords:
    """The contract sheets of a workbook as records; problems that stop a sheet are collected."""
    path = Path(path)
    out = WorkbookRecords(name or path.name)
    try:
        values_book, formula_book = _open(path, data_only=True), _open(path, data_only=False)
    except _CellError as exc:
        out.problems.append(Problem(Location(out.name, 1, 1), str(exc)))
        return out
    try:
        by_contract: dict[str, str] = {}
        for sheet in values_book.sheetnames:
            key = sheet.strip().lower()
            contract = SHEETS.get(key)
            if contract is None:
                hint = did_you_mean(key, SHEETS)
                out.ignored.append(f"{sheet} ({hint})" if hint else sheet)
                continue
            if contract in by_contract:
                out.problems.append(Problem(
                    CellLocation(out.name, 1, 1, sheet),
                    f"the sheets {by_contract[contract]!r} and {sheet!r} are both {key}; keep one"))
                continue
            by_contract[contract] = sheet
        for contract in SPECS:  # the contract's order
            if contract in by_contract:
                sheet = by_contract[contract]
                out.sheets[contract] = sheet
                out.records[contract] = _sheet_records(
                    out, contract, values_book[sheet], formula_book[sheet])
    finally:
        values_book.close()
        formula_book.close()
    if not out.records and not out.problems:
        out.problems.append(Problem(Location(out.name, 1, 1), (
            f"the workbook holds none of the sheets covbot imports ({', '.join(SHEETS)}); "
            f"its sheets are {', '.join(repr(s) for s in out.ignored) or 'none'}")))
    return out


def _open(path: Path, data_only: bool) -> Any:
    try:
        return load_workbook(path, read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _CellError(f"this file cannot be read as an Excel workbook (.xlsx) ({exc})") from None


def _rows(ws) -> Iterator[tuple]:
    return ws.iter_rows(values_only=True)


def _sheet_records(out: WorkbookRecords, contract: str, values_ws, formulas_ws) -> CsvRecords:
    records = CsvRecords(contract)
    rows: list[tuple[int, list[str]]] = []
    records.records = rows  # a sheet is read whole (openpyxl streams it); the CSV reader streams lines
    width = None
    for row_number, (values, formulas) in enumerate(zip(_rows(values_ws), _rows(formulas_ws)), start=1):
        if width is None:  # the header row: the first row, as in a CSV file
            header = list(values)
            while header and header[-1] in (None, ""):
                header.pop()
            if not header:
                records.problem(1, 1, "the sheet is empty or its first row is blank; the header row naming "
                                      "the columns must be on row 1")
                return records
            records.header = [cell_text(h).strip() for h in header]
            width = len(header)
            continue
        texts = []
        for column, (value, formula) in enumerate(zip(values, formulas), start=1):
            if value is None and isinstance(formula, str) and formula.startswith("="):
                where = Location(contract, row_number, column)
                out.cell_problems.append(Problem(where, (
                    f"the formula {formula} has no calculated value saved with the workbook (it was written "
                    "by a program and never opened in Excel); open and save it in Excel, or enter the value")))
                texts.append("")
                continue
            try:
                texts.append(cell_text(value))
            except _CellError as exc:
                out.cell_problems.append(Problem(Location(contract, row_number, column), str(exc)))
                texts.append(repr(value) if isinstance(value, float) else "")
        if not any(t.strip() for t in texts):
            continue  # a blank row, as a blank line in a CSV file
        if len(texts) > width:
            extra = next(i for i, t in enumerate(texts[width:], start=width + 1) if t.strip()) \
                if any(t.strip() for t in texts[width:]) else None
            if extra is not None:
                out.cell_problems.append(Problem(Location(contract, row_number, extra),
                                                 "a value outside the columns named in the header row"))
            texts = texts[:width]
        texts += [""] * (width - len(texts))
        rows.append((row_number, texts))
    if width is None:
        records.problem(1, 1, "the sheet is empty; a header row naming the columns is required on row 1")
    return records


def in_workbook(problems: list[Problem], book: WorkbookRecords) -> list[Problem]:
    """Problems found in contract terms (``financials.csv`` line 7 column 3) located in the workbook
    (``book.xlsx:financials!C7``), their wording made to speak of rows and sheets."""
    out = []
    for p in problems:
        loc = p.location
        if isinstance(loc, CellLocation) or loc.file not in book.sheets:
            out.append(p)
            continue
        message = p.message.replace(" line ", " row ").replace("line 1", "row 1")
        for contract, sheet in book.sheets.items():
            message = message.replace(f"in {contract}", f"in the {sheet} sheet").replace(contract, f"the {sheet} sheet")
        message = message.replace("facilities.csv", "the facilities sheet")
        out.append(replace(p, location=CellLocation(book.name, loc.line, loc.column, book.sheets[loc.file]),
                           message=message))
    return out


def refused(book: WorkbookRecords, problems: list[Problem]) -> ImportDataError:
    return ImportDataError(in_workbook(problems, book))
