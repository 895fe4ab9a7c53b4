"""Write the demo portfolio as one Excel workbook, ``bot/demo/portfolio.xlsx``, from its CSV files.

    python -m bot.demo.make_workbook            # (re)write bot/demo/portfolio.xlsx
    python -m bot.demo.make_workbook --check    # exit 1 when the shipped workbook is out of date

One sheet per CSV file, named like the file without ``.csv``, the header on row 1, and typed cells
as an analyst's workbook holds them: dates as date cells, whole numbers as numbers, decimals as
numbers when a float holds them exactly as written (else as text, so nothing is rounded), empty
optional values as empty cells, everything else as text. The CSV files stay the source of truth;
`covbot import bot/demo/portfolio.xlsx` stores the same book (the test suite pins it).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.imports import fields
from bot.imports.spec import SPECS


HERE = Path(__file__).resolve().parent
PORTFOLIO = HERE / "portfolio"
WORKBOOK = HERE / "portfolio.xlsx"
_NUMBERS = (fields.decimal, fields.non_negative_decimal)
_DATES = (fields.iso_date, fields.optional_date)
_FIXED_TIME = datetime(2026, 1, 1)  # the workbook's own timestamps, so the file is reproducible


def typed(value: str, parser) -> object:
    """The cell value an analyst's workbook would hold for one CSV value of a column."""
    if value == "":
        return None
    if parser in _DATES:
        return datetime.combine(fields.iso_date(value), datetime.min.time())
    if parser in _NUMBERS:
        if value.lstrip("+-").isdigit():
            return int(value)
        number = float(value)
        if Decimal(repr(number)) == Decimal(value):
            return number
    return value


def build(folder: Path = PORTFOLIO):
    """The workbook (an openpyxl Workbook) of the CSV files in ``folder``."""
    book = Workbook()
    book.remove(book.active)
    book.properties.created = book.properties.modified = _FIXED_TIME
    for name, spec in SPECS.items():
        path = folder / name
        if not path.exists():
            continue
        ws = book.create_sheet(name[: -len(".csv")])
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
        header = next(rows)
        parsers = dict(spec.columns)
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            if row:
                ws.append([typed(v, parsers[h]) for h, v in zip(header, row)])
        for column, name_ in zip(ws.iter_cols(min_row=1, max_row=1), header):
            if parsers[name_] in _DATES:
                for cell in ws[column[0].column_letter][1:]:
                    cell.number_format = "yyyy-mm-dd"
        ws.freeze_panes = "A2"
    return book


def workbook_bytes(folder: Path = PORTFOLIO) -> bytes:
    out = io.BytesIO()
    build(folder).save(out)
    return _normalised(out.getvalue())


def _normalised(data: bytes) -> bytes:
    """The same workbook with fixed zip timestamps and document times, so a rebuild is byte-identical."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = _fixed_times(content)
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return out.getvalue()


def _fixed_times(core: bytes) -> bytes:
    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>2026-01-01T00:00:00Z\g<2>", core)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped workbook is current")
    parser.add_argument("--out", type=Path, default=WORKBOOK, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    data = workbook_bytes()
    if args.check:
        current = args.out.exists() and args.out.read_bytes() == data
        print(f"{args.out} is {'up to date' if current else 'out of date: run python -m bot.demo.make_workbook'}")
        return 0 if current else 1
    args.out.write_bytes(data)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
