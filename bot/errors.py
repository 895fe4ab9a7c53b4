"""Every error covbot raises on purpose, in one tree.

    CovbotError
    ├── UsageError                 bad command-line input (exit 2)
    ├── RuleFileError              rule-file author mistakes (exit 2); holds every RuleProblem
    ├── ImportDataError            CSV import refused; holds every DataProblem (exit 1)
    ├── StorageError               database unreachable or not migratable (exit 1)
    └── DeliveryError              a notification could not be delivered
        ├── RetryableDeliveryError     worth trying again (429, 5xx, connection refused)
        └── PermanentDeliveryError     never worth retrying (bad channel, auth, msg_too_long)

Messages are sentences a credit analyst understands; locations are `file:line:column`.
"""

from __future__ import annotations

from dataclasses import dataclass


class CovbotError(Exception):
    """Base of every error covbot raises on purpose."""


class UsageError(CovbotError):
    """The command line asked for something that cannot be done."""


@dataclass(frozen=True)
class Location:
    """A place in a file people edit: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class CellLocation(Location):
    """A cell of a workbook's sheet, shown as Excel names it: ``book.xlsx:financials!C7``
    (``line`` is the sheet row, ``column`` the 1-based column)."""

    sheet: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.sheet}!{column_letter(self.column)}{self.line}"


def column_letter(column: int) -> str:
    """Excel's name of a 1-based column: 1 → A, 27 → AA."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, with where it is."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class _ProblemsError(CovbotError):
    headline = "problems found"

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.headline} ({len(self.problems)}):"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class RuleFileError(_ProblemsError):
    """The rule files are not valid; nothing was loaded."""

    headline = "The rule files are not valid; the rule set was not changed"


class ImportDataError(_ProblemsError):
    """The CSV files were refused; nothing was stored."""

    headline = "The import was refused and nothing was stored"


class StorageError(CovbotError):
    """The database cannot be reached or brought up to date."""


class DeliveryError(CovbotError):
    """A notification could not be delivered."""

    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None, not_sent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.not_sent = not_sent  # True: certainly not delivered (so no need to ask before the next try)


class RetryableDeliveryError(DeliveryError):
    retryable = True


class PermanentDeliveryError(DeliveryError):
    retryable = False
