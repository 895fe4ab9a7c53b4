"""`covbot explain`: the inputs behind every metric of one facility, for a credit analyst."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.decimals import fixed
from bot.domain.explain import FacilityExplanation, TestPeriodNote
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.variables import VARIABLES, NoData
from bot.render.console import human_number, human_percent, results_table


def _money(value: Decimal | None) -> str:
    return human_number(value, 2)


def describe_test_period(tp: TestPeriodNote) -> str:
    """Which quarters the `*_ttm` variables stand on, and when the next report is due (rich markup)."""
    if tp.complete:
        ends = sorted(tp.period_ends)
        text = (f"[bold]Test period[/bold]: the {len(ends)} quarters ended {ends[0]} to {ends[-1]}, "
                f"the latest reported quarters (they stand until the next report arrives).")
    else:
        text = f"[bold]Test period[/bold]: none — {escape(tp.missing.reason if tp.missing else '')}."
    if tp.next_report_due is not None and tp.latest is not None:
        late = " [red](overdue)[/red]" if tp.next_report_due < tp.as_of else ""
        text += (f" Next report due by {tp.next_report_due}{late}: {tp.latest} + {tp.reporting_limit_days} days "
                 f"({escape(tp.reporting_covenant or '')}).")
    return text


def render_explanation(
    console: Console, data: FacilityData, ex: FacilityExplanation, results: list[CovenantResult], as_of: date
) -> None:
    f = data.facility
    console.print(
        f"[bold]{escape(f.facility_id)}[/bold] — {escape(f.borrower)} "
        f"({escape(f.facility_type)}, {escape(f.currency)}), explained as of {as_of}"
    )

    console.print(describe_test_period(ex.test_period))
    periods = Table(title="Financial periods (latest first)", title_justify="left", header_style="bold")
    for col in ("Period end", "Reported", "Revenue", "CFADS", "Debt service", "Cash", "Counted"):
        periods.add_column(col, justify="right" if col not in ("Period end", "Reported", "Counted") else "left")
    for note in ex.periods:
        p = note.period
        periods.add_row(
            str(p.period_end), str(p.reported_on or f"{p.period_end} (period end)"),
            _money(p.revenue), _money(p.cfads), _money(p.debt_service), _money(p.cash),
            "[green]in the test period[/green]" if note.in_test_period else f"[dim]{escape(note.reason or '')}[/dim]",
        )
    if not ex.periods:
        periods.add_row("—", "—", "—", "—", "—", "—", "no financials stored")
    console.print(periods)

    lots = Table(title="GPU lots", title_justify="left", header_style="bold")
    for col in ("Lot", "Model", "Qty", "Acquired", "Unit value", "Lot value", "How valued"):
        lots.add_column(col, justify="right" if col in ("Qty", "Unit value", "Lot value") else "left")
    for n in ex.lots:
        if not n.counted:
            how = f"[dim]{escape(n.mark_note or '')}[/dim]"
        elif n.mark is not None:
            how = f"mark GPU:{escape(n.gpu_model)} {_money(n.mark.price)} dated {n.mark.date}"
        else:
            b = n.book
            how = f"{escape(n.mark_note or 'no mark')}; book value" + (
                f": age {fixed(b.age_years, 2)}y of {b.useful_life_years}y life, "
                f"factor {fixed(b.factor, 4)} (residual floor {b.residual})" if b else ""
            )
        if n.multiplier != 1:
            how += f" × shock {n.multiplier}"
        lots.add_row(escape(n.lot_id), escape(n.gpu_model), human_number(n.quantity, 0), str(n.acquired_on),
                     _money(n.unit_value), _money(n.value), how)
    if not ex.lots:
        lots.add_row("—", "—", "—", "—", "—", "—", "no GPU lots pledged")
    console.print(lots)

    if ex.crypto:
        crypto = Table(title="Crypto collateral", title_justify="left", header_style="bold")
        for col in ("Asset", "Quantity", "Holding as of", "Spot used", "Value", "Note"):
            crypto.add_column(col, justify="right" if col in ("Quantity", "Value") else "left")
        for c in ex.crypto:
            spot = f"{_money(c.price.price)} on {c.price.date}" if c.price else "—"
            crypto.add_row(escape(c.asset), human_number(c.quantity, 4), str(c.holding_as_of or "—"), spot,
                           _money(c.value), escape(c.note or ""))
        console.print(crypto)

    if ex.deflation:
        dt = Table(title="Rental deflation per GPU model", title_justify="left", header_style="bold")
        for col in ("Model", "GPUs", "Rate / yr", "Source"):
            dt.add_column(col)
        for d in ex.deflation:
            dt.add_row(escape(d.gpu_model), human_number(d.quantity, 0), human_percent(d.deflation.rate),
                       escape(d.deflation.note if d.deflation.note.startswith(d.deflation.source)
                              else f"{d.deflation.source}: {d.deflation.note}"))
        console.print(dt)

    if ex.sales or ex.crypto_sales:
        console.print(liquidation_table(ex))

    mt = Table(title="Metrics", title_justify="left", header_style="bold")
    mt.add_column("Variable")
    mt.add_column("Value", justify="right")
    mt.add_column("Meaning / why no data", overflow="fold")
    for name in VARIABLES:
        v = ex.metrics.get(name)
        if v is None:
            continue
        if isinstance(v, NoData):
            mt.add_row(name, "[magenta]no data[/magenta]", escape(v.reason))
        else:
            places = 0 if name in ("gpu_count", "days_since_period_end") and v == v.to_integral_value() else 4
            mt.add_row(name, human_number(v, places), escape(VARIABLES[name]))
    console.print(mt)
    console.print(results_table(results, "Covenants", {f.facility_id: f.borrower}))


def liquidation_table(ex: FacilityExplanation) -> Table:
    """Per GPU model: units, capacity over the horizon, orderly share, orderly and forced values;
    per crypto asset: the share of spot a sale realises."""
    table = Table(title="Liquidation value (the facility sold on its own)", title_justify="left", header_style="bold")
    for col in ("Collateral", "Units", "Capacity", "Orderly share", "Value", "Orderly part", "Forced part",
                "Realised", "Terms"):
        table.add_column(col, justify="left" if col in ("Collateral", "Terms") else "right")
    for s in ex.sales:
        t = s.terms
        table.add_row(
            f"GPU {escape(s.gpu_model)}", human_number(s.units, 0), human_number(s.capacity, 0),
            human_percent(s.orderly_share), _money(s.value), _money(s.orderly_value), _money(s.forced_value),
            _money(s.realised),
            f"orderly {human_percent(t.orderly)}, forced {human_percent(t.forced)}, "
            f"depth {human_number(t.monthly_depth, 0)}/month; {human_number(s.months_to_absorb, 1)} months to absorb",
        )
    for c in ex.crypto_sales:
        table.add_row(escape(c.asset), human_number(c.quantity, 4), "—", "—", _money(c.value), "—", "—",
                      _money(c.realised), f"share of spot realised {human_percent(c.share)}")
    return table
