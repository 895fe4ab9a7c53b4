"""`covbot import`: a progress bar for large files and the per-file summary."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

# Files smaller than this import too fast for a progress bar to help.
PROGRESS_MIN_ROWS = 20_000


class ProgressReporter:
    """A callable(file_name, rows_done, rows_total) that shows a bar per large file."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> "ProgressReporter":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, file_name: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_ROWS:
            return
        if file_name not in self._tasks:
            self._tasks[file_name] = self._progress.add_task(f"importing {file_name}", total=total)
        self._progress.update(self._tasks[file_name], completed=done)


def render_summary(console: Console, summary) -> None:
    source = getattr(summary, "source", None)
    table = Table(title=f"Import of {source}" if source else "Import", title_justify="left", header_style="bold")
    table.add_column("Sheet" if source else "File")
    for col in ("Added", "Updated", "Unchanged"):
        table.add_column(col, justify="right")
    for f in summary.files:
        table.add_row(f.file, f"{f.added:,}", f"{f.updated:,}", f"{f.unchanged:,}")
    console.print(table)
    console.print(
        f"Imported {summary.rows:,} rows: {summary.added:,} added, {summary.updated:,} updated, "
        f"{summary.unchanged:,} unchanged."
    )
    if getattr(summary, "ignored", ()):
        console.print(f"Sheets ignored (not part of the contract): {escape(', '.join(summary.ignored))}.")
