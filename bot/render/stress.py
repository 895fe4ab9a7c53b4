"""Output of `covbot stress`: the documented JSON array, or tables with a summary per scenario."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from bot.domain.decimals import fixed
from bot.domain.market import Deflation
from bot.domain.stress import ScenarioSummary, StressRow, describe_shocks, row_key
from bot.render.console import STATUS_LABEL, STATUS_STYLE, human_number, human_percent
from bot.usecases.stress import StressReport

DOUBLE = "double leverage"


def stress_json(rows: Iterable[StressRow]) -> str:
    """The JSON array of DOMAIN.md, sorted by scenario, facility_id, covenant_id."""
    return json.dumps([r.as_json() for r in sorted(rows, key=row_key)], indent=2)


def _status(status: str) -> str:
    style = STATUS_STYLE[status]
    return f"[{style}]{STATUS_LABEL[status]}[/{style}]"


def _money(value: Decimal) -> str:
    return fixed(value, 0, grouping=True)


def deflation_table(deflations: list[Deflation]) -> Table:
    table = Table(title="Rental deflation per GPU model (a year of RENT:<model> prices)", title_justify="left",
                  header_style="bold")
    table.add_column("Model")
    table.add_column("Rate / year", justify="right")
    table.add_column("Source")
    table.add_column("Basis", overflow="fold", max_width=70)
    for d in deflations:
        table.add_row(escape(d.gpu_model), human_percent(d.rate), d.source, escape(d.note))
    return table


def changes_table(summary: ScenarioSummary, report: StressReport) -> Table:
    s = summary.scenario
    table = Table(title=f"Status changes under {escape(s.name)}", title_justify="left", header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("Facility", "left"), ("Borrower", "left"), ("Covenant", "left"), ("Threshold", "right"),
        ("Base", "right"), ("", "left"), ("Stressed", "right"), ("", "left"), ("Flag", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold", max_width=28 if name == "Borrower" else None)
    for r in summary.changed:
        exposure = report.exposures.get(r.facility_id)
        table.add_row(
            escape(r.facility_id),
            escape(exposure.borrower if exposure else ""),
            escape(r.covenant_id),
            str(r.threshold),
            human_number(r.base.value),
            _status(r.base.status),
            human_number(r.stressed.value),
            _status(r.stressed.status),
            f"[bold]{DOUBLE}[/bold]" if exposure and exposure.double_leverage else "",
        )
    return table


def summary_lines(summary: ScenarioSummary) -> list[str]:
    newly = summary.newly_breached
    lines = [
        f"New covenant breaches: {summary.new_breaches}",
        f"Facilities newly in breach (no covenant in breach before): {len(newly)}"
        + (f" ({escape(', '.join(newly))})" if newly else "")
        + f", outstanding exposure {_money(summary.exposure_newly_breached)}",
    ]
    if summary.worst is not None:
        w = summary.worst
        lines.append(
            f"Worst stressed headroom: {human_percent(w.stressed.headroom)} "
            f"({escape(w.facility_id)} {escape(w.covenant_id)}, {human_number(w.stressed.value)} vs {w.threshold})"
        )
    if summary.failing_most:
        lines.append("Covenants failing most: " + ", ".join(f"{escape(c)} ({n})" for c, n in summary.failing_most))
    else:
        lines.append("Covenants failing most: none breached under this scenario")
    if summary.double_leverage:
        lines.append(f"[bold]Double leverage[/bold] among the newly breached: {escape(', '.join(summary.double_leverage))}")
    return lines


def render_stress(console: Console, report: StressReport) -> None:
    console.print(f"[bold]Stress test as of {report.as_of}[/bold] — {len(report.scenarios)} scenario(s), "
                  f"{len(report.exposures)} facilities")
    for line in report.unmatched:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}")
    if report.deflations:
        console.print(deflation_table(report.deflations))
    double = report.double_leverage
    if double:
        console.print(
            f"[bold]{DOUBLE.capitalize()}[/bold] (crypto collateral and GPU rental income at once): "
            + escape(", ".join(e.facility_id for e in double))
        )
    for summary in report.summaries:
        s = summary.scenario
        console.print()
        console.print(f"[bold]{escape(s.name)}[/bold]: {escape(s.title or '')} [dim]({escape(describe_shocks(s.shocks))})[/dim]")
        if summary.changed:
            console.print(changes_table(summary, report))
        else:
            console.print(f"No status changes across {summary.rows} facility × covenant results.")
        for line in summary_lines(summary):
            console.print("  " + line)
