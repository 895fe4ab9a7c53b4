"""What several command modules share: the table/json choice and writing an output file."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

from typing import TYPE_CHECKING

from bot.errors import CovbotError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from bot.render.tabular import Sheet


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class SheetFormat(str, Enum):
    """The formats of a command whose rows may also leave as a sheet."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def write_sheet(sheet: "Sheet", fmt: SheetFormat, output: str | None) -> str | None:
    """Write ``sheet`` as CSV (to ``output``, else standard output) or as xlsx (``output`` required).
    Returns a line for people when a file was written (None when the CSV went to standard output)."""
    from bot.render.tabular import write_csv, write_xlsx  # openpyxl: loaded only by a command that writes a sheet

    if fmt is SheetFormat.xlsx:
        if not output:
            raise UsageError("--format xlsx writes a file: give --output FILE.xlsx")
        rows = write_xlsx([sheet], output)
        return f"Wrote {rows} rows to {output}."
    if output is None:
        write_csv(sheet, sys.stdout)
        sys.stdout.flush()
        return None
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as out:
            rows = write_csv(sheet, out)
    except OSError as exc:
        raise CovbotError(f"The output file {output!r} cannot be written ({exc.strerror or exc}).") from None
    return f"Wrote {rows} rows to {output}."


def write_output(path: str, text: str) -> Path:
    """Write ``text`` to ``path`` (folders created), or say in a sentence why it cannot be."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CovbotError(f"The output file {path!r} cannot be written ({exc.strerror or exc}).") from None
    return target
