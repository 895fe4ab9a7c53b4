"""Rich tables for `covbot check` and friends."""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote
from typing import Iterable, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.decimals import fixed, percent, to_text
from bot.domain.results import CovenantResult, Status

STATUS_STYLE = {"ok": "green", "warning": "yellow", "breach": "bold red", "no_data": "magenta"}
STATUS_LABEL = {"ok": "ok", "warning": "WARNING", "breach": "BREACH", "no_data": "NO DATA"}


def human_number(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "—"
    return fixed(value, places, grouping=True)


def human_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{percent(value)}%"


def results_json(results: Iterable[CovenantResult]) -> str:
    rows = sorted((r.as_json() for r in results), key=lambda r: (r["facility_id"], r["covenant_id"]))
    return json.dumps(rows, indent=2)


ROW_SEPARATOR = ",\n  "
_threshold_texts: dict[int, tuple[object, str]] = {}  # id(threshold) -> (threshold, its text)


def _json_text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def json_row(result: CovenantResult) -> str:
    """One result as its one-line `check --format json` object: exactly
    ``json.dumps(result.as_json())``, written through a template (a third of the cost; the
    thresholds' texts are cached, as every result of a covenant shares its threshold objects)."""
    threshold = result.threshold
    cached = _threshold_texts.get(id(threshold))
    if cached is None or cached[0] is not threshold:
        if len(_threshold_texts) > 10_000:  # rule sets reloaded many times: start again
            _threshold_texts.clear()
        cached = _threshold_texts[id(threshold)] = (threshold, _quote(str(threshold)))
    months = result.months_to_breach
    return (
        f'{{"facility_id": {_quote(result.facility_id)}, "covenant_id": {_quote(result.covenant_id)}, '
        f'"metric": {_quote(result.metric)}, "value": {_json_text(to_text(result.value))}, '
        f'"threshold": {cached[1]}, "status": {_quote(result.status)}, '
        f'"headroom": {_json_text(to_text(result.headroom))}, "reason": {_json_text(result.reason)}, '
        f'"months_to_breach": {"null" if months is None else int.__repr__(months)}}}'
    )


class JsonRowsWriter:
    """`check --format json` written as the results come (already sorted): a JSON array with one
    object per line, never the whole list in memory. Use as a context manager around the rows."""

    def __init__(self, out: TextIO):
        self.out = out
        self.rows = 0

    def __enter__(self) -> "JsonRowsWriter":
        return self  # "[" goes out with the first row, so a check refused before any row prints nothing

    def write(self, result: CovenantResult) -> None:
        self.write_rendered(json_row(result), 1)

    def write_rendered(self, text: str, rows: int) -> None:
        """``rows`` rows already rendered by ``json_row`` and joined with ROW_SEPARATOR."""
        if rows:
            self.out.write(("[\n  " if self.rows == 0 else ROW_SEPARATOR) + text)
            self.rows += rows

    def __exit__(self, exc_type, *exc) -> None:
        if self.rows:
            self.out.write("\n]\n")  # closed even on an error mid-way: what was printed stays valid JSON
        elif exc_type is None:
            self.out.write("[]\n")


def results_table(results: list[CovenantResult], title: str, borrowers: dict[str, str] | None = None,
                  waived: dict | None = None) -> Table:
    """One row per facility × covenant; ``waived`` maps (facility_id, covenant_id) to the waiver's end."""
    borrowers = borrowers or {}
    waived = waived or {}
    table = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    table.add_column("Facility", no_wrap=True)
    table.add_column("Borrower", overflow="fold", max_width=26)
    table.add_column("Covenant", no_wrap=True)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Threshold", justify="right", no_wrap=True)
    table.add_column("Headroom", justify="right", no_wrap=True)
    table.add_column("Status")
    table.add_column("Breach in", justify="right", no_wrap=True)
    table.add_column("Why", overflow="fold", min_width=20, max_width=60)
    for r in sorted(results, key=lambda r: (r.facility_id, r.covenant_id)):
        style = STATUS_STYLE[r.status]
        mtb = "—" if r.months_to_breach is None else ("now" if r.months_to_breach == 0 else f"~{r.months_to_breach} mo")
        table.add_row(
            escape(r.facility_id),
            escape(borrowers.get(r.facility_id, "")),
            escape(r.covenant_id),
            human_number(r.value),
            str(r.threshold),
            human_percent(r.headroom),
            f"[{style}]{STATUS_LABEL[r.status]}[/{style}]"
            + (f" [cyan](waived to {waived[(r.facility_id, r.covenant_id)]})[/cyan]"
               if (r.facility_id, r.covenant_id) in waived else ""),
            mtb,
            escape(r.reason or ""),
        )
    return table


def summary_line(counts: dict[Status, int]) -> str:
    parts = []
    order: tuple[Status, ...] = ("breach", "warning", "no_data", "ok")
    for status in order:
        style = STATUS_STYLE[status]
        parts.append(f"[{style}]{counts.get(status, 0)} {STATUS_LABEL[status].lower().replace('_', ' ')}[/{style}]")
    return " · ".join(parts)


def make_console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (pipes, CI, `make demo` logs) use a wide page."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal and console.width < 160:
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=160)
    return console
