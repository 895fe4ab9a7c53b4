"""`covbot stress`, `covbot fire-sale` and `covbot backtest`: forward-looking risk on the stored portfolio.

Both only read: nothing is stored, no alert state moves, nothing is sent.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer
from rich.markup import escape

from bot.commands.common import OutputFormat, SheetFormat, check_sheet_output, write_output, write_sheet
from bot.domain.backtest import BacktestInputError
from bot.errors import CovbotError, UsageError


class BacktestFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


def register(app: typer.Typer) -> None:
    from bot import bootstrap
    from bot.commands.common import as_of_date, handle_errors
    from bot.dates import parse_date
    from bot.render.console import make_console

    @app.command()
    @handle_errors
    def stress(
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
        scenario: Optional[list[str]] = typer.Option(
            None, "--scenario", help="Run this scenario of the rule files (repeatable; default: every scenario)."
        ),
        shock: Optional[list[str]] = typer.Option(
            None, "--shock",
            help="An ad hoc shock KEY=CHANGE, e.g. BTC=-65%, rent=-0.30, gpu=-20%, gpu:H100=-40% "
                 "(repeatable; together they form the scenario 'adhoc').",
        ),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
        fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    ) -> None:
        """Re-evaluate every covenant at the test date under stress scenarios (crypto, rent, GPU values)."""
        from bot.render.stress import render_stress, stress_json
        from bot.usecases.stress import run_stress

        t = as_of_date(as_of)
        with bootstrap.app() as app:
            report = run_stress(app.engine, app.rules(rules), t,
                                scenario_names=scenario or [], shock_options=shock or [])
        if fmt is OutputFormat.json:
            typer.echo(stress_json(report.rows))
            for line in report.unmatched:
                make_console(stderr=True).print(f"[yellow]warning:[/yellow] {escape(line)}")
        else:
            render_stress(make_console(), report)

    @app.command("fire-sale")
    @handle_errors
    def fire_sale(
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
        scenario: Optional[list[str]] = typer.Option(
            None, "--scenario", help="Foreclose under this scenario of the rule files (repeatable; default: base, no shocks)."
        ),
        shock: Optional[list[str]] = typer.Option(
            None, "--shock",
            help="An ad hoc shock KEY=CHANGE, e.g. BTC=-65%, gpu:H100=-40% (repeatable; together the scenario 'adhoc').",
        ),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
        everyone: bool = typer.Option(False, "--all", help="Foreclose every facility with outstanding > 0, not only those in breach."),
        fmt: SheetFormat = typer.Option(SheetFormat.table, "--format", help="table, json, csv or xlsx (with --output)."),
        output: Optional[str] = typer.Option(None, "--output", help="With --format csv or xlsx: the file to write (csv default: standard output)."),
    ) -> None:
        """What foreclosing at once would recover: facilities in breach sell their GPUs into one thin market."""
        from bot.render.fire_sale import fire_sale_json, render_fire_sale
        from bot.usecases.fire_sale import run_fire_sale

        check_sheet_output(fmt, output)
        t = as_of_date(as_of)
        with bootstrap.app() as app:
            report = run_fire_sale(app.engine, app.rules(rules), t,
                                   scenario_names=scenario or [], shock_options=shock or [], everyone=everyone)
        if fmt is SheetFormat.json:
            typer.echo(fire_sale_json(report.rows))
        elif fmt in (SheetFormat.csv, SheetFormat.xlsx):
            from bot.render.fire_sale_sheet import fire_sale_sheet

            wrote = write_sheet(fire_sale_sheet(report.rows), fmt, output)
            if wrote:
                make_console(stderr=True).print(escape(wrote))
        else:
            render_fire_sale(make_console(), report)
        if fmt is not SheetFormat.table:
            for line in report.unmatched:
                make_console(stderr=True).print(f"[yellow]warning:[/yellow] {escape(line)}")

    @app.command()
    @handle_errors
    def backtest(
        start: str = typer.Option(..., "--from", help="First test date YYYY-MM-DD."),
        end: str = typer.Option(..., "--to", help="Last test date YYYY-MM-DD (included when a step lands on it)."),
        every: str = typer.Option("1m", "--every", help="Step between test dates: 1w, 1m or 1q (months keep the day, clamped)."),
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
        fmt: BacktestFormat = typer.Option(BacktestFormat.table, "--format", help="table, json, csv or html."),
        output: Optional[str] = typer.Option(None, "--output", help="Write to this file instead of the terminal."),
    ) -> None:
        """Evaluate covenants point in time at each date: first warning, breach, cure, and the lead time."""
        from bot.usecases.backtest import run_backtest
        from bot.render.backtest import DateProgress, backtest_csv, backtest_html, backtest_json, render_backtest

        first, last = parse_date(start, "--from"), parse_date(end, "--to")
        with bootstrap.app() as app:
            ruleset = app.rules(rules)
            try:
                with DateProgress(make_console(stderr=True), "Back-testing test dates") as progress:
                    report = run_backtest(app.engine, ruleset, start=first, end=last, every=every, progress=progress)
            except BacktestInputError as exc:
                option = {"every": "--every", "end": "--to"}.get(exc.field or "")
                raise UsageError(f"{option}: {exc}" if option else str(exc)) from None
        if fmt is BacktestFormat.table:
            if output:
                with open_console(output) as console:
                    render_backtest(console, report)
            else:
                render_backtest(make_console(), report)
        else:
            render = {BacktestFormat.json: backtest_json, BacktestFormat.csv: backtest_csv,
                      BacktestFormat.html: backtest_html}[fmt]
            text = render(report)
            if output:
                write_output(output, text)
            else:
                typer.echo(text, nl=not text.endswith("\n"))
        if output:
            make_console(stderr=True).print(f"Back-test written to {output}.", markup=False)


class open_console:
    """A plain-text rich Console writing to a file, closed afterwards."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        from rich.console import Console

        try:
            self.file = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise CovbotError(f"The output file {self.path!r} cannot be written ({exc.strerror or exc}).") from None
        return Console(file=self.file, width=160, no_color=True, highlight=False, soft_wrap=False)

    def __exit__(self, *exc) -> None:
        self.file.close()
