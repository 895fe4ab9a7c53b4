"""Rich tables for `covbot check` and friends."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.decimals import to_text
from bot.domain.results import CovenantResult

STATUS_STYLE = {"ok": "green", "warning": "yellow", "breach": "bold red", "no_data": "magenta"}
STATUS_LABEL = {"ok": "ok", "warning": "WARNING", "breach": "BREACH", "no_data": "NO DATA"}


def human_number(value: Decimal | None, places: int = 4) -> str:
    if value is None:
        return "—"
    q = Decimal(1).scaleb(-places)
    try:
        return f"{value.quantize(q):,}"
    except Exception:  # pragma: no cover - huge values
        return to_text(value) or "—"


def human_percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


def results_json(results: Iterable[CovenantResult]) -> str:
    rows = sorted((r.as_json() for r in results), key=lambda r: (r["facility_id"], r["covenant_id"]))
    return json.dumps(rows, indent=2)


class JsonRowsWriter:
    """`check --format json` written as the results come (already sorted): a JSON array with one
    object per line, never the whole list in memory. Use as a context manager around the rows."""

    def __init__(self, out: TextIO):
        self.out = out
        self.rows = 0
        self._encode = json.JSONEncoder(ensure_ascii=True).encode

    def __enter__(self) -> "JsonRowsWriter":
        self.out.write("[")
        return self

    def write(self, result: CovenantResult) -> None:
        self.out.write(("\n  " if self.rows == 0 else ",\n  ") + self._encode(result.as_json()))
        self.rows += 1

    def __exit__(self, *exc) -> None:
        self.out.write("\n]\n" if self.rows else "]\n")


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


def summary_line(counts: dict[str, int]) -> str:
    parts = []
    for status in ("breach", "warning", "no_data", "ok"):
        style = STATUS_STYLE[status]
        parts.append(f"[{style}]{counts.get(status, 0)} {STATUS_LABEL[status].lower().replace('_', ' ')}[/{style}]")
    return " · ".join(parts)


def make_console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (pipes, CI, `make demo` logs) use a wide page."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal and console.width < 160:
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, width=160)
    return console
