"""Output of `covbot fire-sale`: the documented JSON array, or per scenario totals, the market per
GPU model and the facilities foreclosed (book LTV beside liquidation LTV)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.fire_sale import FireSaleRow, ScenarioSale
from bot.domain.stress import describe_shocks
from bot.render.console import human_number, human_percent
from bot.usecases.fire_sale import FireSaleReport

SHOWN_FACILITIES = 25  # facility rows per scenario in the table (largest loss first); JSON has them all


def fire_sale_json(rows: Iterable[FireSaleRow]) -> str:
    """The JSON array of DOMAIN.md, sorted by scenario then facility_id."""
    ordered = sorted(rows, key=lambda r: (r.scenario, r.facility_id))
    return json.dumps([r.as_json() for r in ordered], indent=2)


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(Decimal(1)):,}"


def _ltv(value: Decimal | None) -> str:
    return human_percent(value) if value is not None else "—"


def totals_lines(sale: ScenarioSale) -> list[str]:
    lines = [
        f"Foreclosed: {len(sale.rows)} facilities, exposure {_money(sale.exposure)}",
        f"Stated collateral {_money(sale.collateral_value)} → liquidation value on their own "
        f"{_money(sale.liquidation_value)} → fire-sale value together {_money(sale.fire_sale_value)}",
        f"Recovery {_money(sale.recovery)}, loss {_money(sale.loss)}, loss rate {_ltv(sale.loss_rate)}",
    ]
    if sale.unvalued:
        shown = ", ".join(sale.unvalued[:10]) + (" …" if len(sale.unvalued) > 10 else "")
        lines.append(
            f"[magenta]Not valued[/magenta] (a pledged asset has no fresh price; their GPUs still sell into the "
            f"market): {len(sale.unvalued)} facilities, exposure {_money(sale.unvalued_exposure)} ({escape(shown)}); "
            "totals and the loss rate leave them out"
        )
    return lines


def market_table(sale: ScenarioSale) -> Table:
    table = Table(title=f"GPU market under {escape(sale.scenario.name)} (every foreclosed facility selling at once)",
                  title_justify="left", header_style="bold")
    for name in ("Model", "Units to sell", "Capacity", "Orderly share", "Months to absorb", "Value", "Realised"):
        table.add_column(name, justify="left" if name == "Model" else "right")
    for m in sale.market:
        table.add_row(escape(m.gpu_model), human_number(m.units, 0), human_number(m.capacity, 0),
                      human_percent(m.orderly_share), human_number(m.months_to_absorb, 1),
                      _money(m.value), _money(m.realised))
    return table


def facilities_table(sale: ScenarioSale) -> Table:
    rows = sorted(sale.rows, key=lambda r: (-(r.loss if r.loss is not None else Decimal(-1)), r.facility_id))
    title = f"Foreclosed facilities under {escape(sale.scenario.name)}, largest loss first"
    if len(rows) > SHOWN_FACILITIES:
        title += f" ({SHOWN_FACILITIES} of {len(rows)}; --format json lists all)"
    table = Table(title=title, title_justify="left", header_style="bold")
    notes = any(r.reason for r in rows[:SHOWN_FACILITIES])
    columns = ["Facility", "Borrower", "Outstanding", "Collateral", "Book LTV", "Liquidation LTV",
               "Liquidation value", "Fire-sale value", "Loss"] + (["Note"] if notes else [])
    for name in columns:
        table.add_column(name, justify="left" if name in ("Facility", "Borrower", "Note") else "right",
                         overflow="fold", max_width=22 if name in ("Borrower", "Note") else None)
    for r in rows[:SHOWN_FACILITIES]:
        cells = [escape(r.facility_id), escape(r.borrower), _money(r.outstanding), _money(r.collateral_value),
                 _ltv(r.book_ltv), _ltv(r.liquidation_ltv), _money(r.liquidation_value),
                 _money(r.fire_sale_value), _money(r.loss)]
        table.add_row(*cells, *([escape(r.reason or "")] if notes else []))
    return table


def render_fire_sale(console: Console, report: FireSaleReport) -> None:
    who = "every facility with outstanding > 0" if report.everyone else "facilities in breach with outstanding > 0"
    console.print(f"[bold]Fire sale as of {report.as_of}[/bold] — {len(report.sales)} scenario(s), "
                  f"{report.facilities} facilities; foreclosed: {who}")
    for line in report.unmatched:
        console.print(f"[yellow]warning:[/yellow] {escape(line)}")
    for sale in report.sales:
        s = sale.scenario
        console.print()
        shocks = f" [dim]({escape(describe_shocks(s.shocks))})[/dim]" if s.shocks else ""
        console.print(f"[bold]{escape(s.name)}[/bold]: {escape(s.title or '')}{shocks}")
        if not sale.rows:
            console.print("  Nothing is foreclosed under this scenario.")
            continue
        for line in totals_lines(sale):
            console.print("  " + line)
        if sale.market:
            console.print(market_table(sale))
        console.print(facilities_table(sale))
