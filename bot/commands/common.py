"""What the command modules share: error handling and exit codes, the test date, the table/json
choice and writing an output file.

Exit codes: 0 it ran (whatever the statuses); 1 a runtime failure; 2 a usage or rule-file
error; 3 `--fail-on` found a status that bad or worse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.markup import escape

from bot.dates import parse_date, today_utc
from bot.errors import CovbotError, RuleFileError, UsageError
from bot.render.console import make_console
from bot.store.db import describe_failure

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_FAIL_ON = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class SheetFormat(str, Enum):
    """The formats of a command whose rows may also leave as a sheet."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def write_sheet(sheet, fmt: "SheetFormat", output: str | None) -> str | None:
    """Write ``sheet`` as CSV (to ``output``, else standard output) or as xlsx (``output`` required).
    Returns a line for people when a file was written (None when the CSV went to standard output)."""
    import sys

    from bot.errors import UsageError
    from bot.render.tabular import write_csv, write_xlsx

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


def check_sheet_output(fmt: SheetFormat, output: str | None) -> None:
    """``--output`` goes with csv or xlsx, and xlsx needs it (a usage error otherwise)."""
    if output is not None and fmt not in (SheetFormat.csv, SheetFormat.xlsx):
        raise UsageError("--output goes with --format csv or --format xlsx.")
    if fmt is SheetFormat.xlsx and not output:
        raise UsageError("--format xlsx writes a file: give --output FILE.xlsx")


def print_error(message: str) -> None:
    make_console(stderr=True).print(f"[bold red]error:[/bold red] {escape(message)}")


def handle_errors(fn: F) -> F:
    """Turn covbot's own errors into a sentence on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (RuleFileError, UsageError) as exc:
            print_error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        except CovbotError as exc:
            print_error(str(exc))
            raise typer.Exit(EXIT_FAILURE) from None
        except Exception as exc:  # a damaged or failing database: a sentence, not a traceback
            message = describe_failure(exc)
            if message is None:
                raise
            print_error(message)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]


def as_of_date(text: str | None) -> date:
    """The --as-of option: a date written YYYY-MM-DD, default today (UTC)."""
    return parse_date(text, "--as-of") if text else today_utc()


def write_output(path: str, text: str) -> Path:
    """Write ``text`` to ``path`` (folders created), or say in a sentence why it cannot be."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CovbotError(f"The output file {path!r} cannot be written ({exc.strerror or exc}).") from None
    return target
