"""Rows of results out to a file people open in a spreadsheet: CSV (exact decimals) and a formatted
xlsx sheet (status colours, percentages, a frozen header and an autofilter).

A ``Sheet`` is a list of ``Column``s and rows of plain values (text, Decimal, int or None); any
command that prints a table can hand one over. CSV writes decimals exactly as the JSON output
does (plain text, no exponent); xlsx stores numbers as Excel numbers (binary floating point,
about 15 significant digits: fine to read and filter, the CSV and JSON are the exact record).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.domain.decimals import to_text
from bot.errors import CovbotError

# How a column is shown in the sheet: text, a decimal number, a fraction shown as a percentage,
# a whole number, or a status (coloured).
KINDS = ("text", "number", "money", "percent", "integer", "status")

# Excel's own "good / neutral / bad" styles, and a violet for missing data (never ok).
STATUS_FILLS = {
    "ok": ("C6EFCE", "006100"),
    "warning": ("FFEB9C", "9C5700"),
    "breach": ("FFC7CE", "9C0006"),
    "no_data": ("E4DFEC", "5B3F86"),
}
NUMBER_FORMATS = {"number": "#,##0.0000", "money": "#,##0.00", "percent": "0.0%", "integer": "0"}
_WIDTHS = {"text": 18, "number": 14, "money": 18, "percent": 11, "integer": 10, "status": 10}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    width: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:  # pragma: no cover - a programming error
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass
class Sheet:
    """One table: a title (the sheet's name), its columns and its rows."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]] = field(default_factory=list)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return to_text(value) or ""
    return str(value)


def write_csv(sheet: Sheet, out: TextIO) -> int:
    """The header and every row as CSV (empty cell for null); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in sheet.columns])
    count = 0
    for row in sheet.rows:
        writer.writerow([_csv_text(v) for v in row])
        count += 1
    return count


def write_xlsx(sheets: Sequence[Sheet], path: str | Path) -> int:
    """A workbook with one formatted worksheet per sheet; returns the number of rows written.
    Written in openpyxl's streaming mode, so memory stays flat however many rows."""
    book = Workbook(write_only=True)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="305496")
    status_styles = {
        status: (PatternFill("solid", fgColor=bg), Font(color=fg, bold=status == "breach"))
        for status, (bg, fg) in STATUS_FILLS.items()
    }
    total = 0
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        columns = list(sheet.columns)
        for i, column in enumerate(columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = column.width or max(_WIDTHS[column.kind], len(column.name) + 3)
        ws.freeze_panes = "A2"
        header = []
        for column in columns:
            cell = WriteOnlyCell(ws, value=column.name)
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(horizontal="center")
            header.append(cell)
        ws.append(header)
        count = 0
        for row in sheet.rows:
            cells = []
            for column, value in zip(columns, row):
                cell = WriteOnlyCell(ws, value=_xlsx_value(value))
                if column.kind in NUMBER_FORMATS:
                    cell.number_format = NUMBER_FORMATS[column.kind]
                elif column.kind == "status" and value in status_styles:
                    cell.fill, cell.font = status_styles[value]
                cells.append(cell)
            ws.append(cells)
            count += 1
        last = get_column_letter(max(len(columns), 1))
        ws.auto_filter.ref = f"A1:{last}{count + 1}"
        total += count
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        book.save(target)
    except OSError as exc:
        raise CovbotError(f"The output file {str(path)!r} cannot be written ({exc.strerror or exc}).") from None
    return total


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal) and not value.is_finite():  # pragma: no cover - never produced
        return to_text(value)
    return value  # a Decimal goes in as written; Excel reads it as its own number
