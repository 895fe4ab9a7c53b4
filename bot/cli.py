"""The `covbot` command line: parse arguments, build the App (``bot.bootstrap``), call one use
case, print, pick an exit code (``bot.commands.common``: 0 it ran, 1 a runtime failure, 2 a usage
or rule-file error, 3 `--fail-on` found a status that bad or worse).

Imports of the use cases sit inside the commands so that `covbot --help` starts fast.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from typing import Optional

import typer
from rich.markup import escape

from bot import __version__
from bot.commands.common import (
    EXIT_FAIL_ON,
    EXIT_FAILURE,
    OutputFormat,
    SheetFormat,
    as_of_date,
    check_sheet_output,
    handle_errors,
    write_sheet,
)
from bot.domain.results import Status
from bot.render.console import make_console

app = typer.Typer(
    name="covbot",
    help="Covenant monitoring for compute-backed loans: evaluate covenant rules against stored loan data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Validate, unit-test and plan rule files.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(db_app, name="db")


class FailOn(str, Enum):
    breach = "breach"
    warning = "warning"

    @property
    def status(self) -> Status:
        return "breach" if self is FailOn.breach else "warning"


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"covbot {__version__}")
        raise typer.Exit()


@app.command("import")
@handle_errors
def import_cmd(
    path: str = typer.Argument(..., help="A folder of CSV files in the interchange contract, one CSV file, or an Excel workbook (.xlsx) with a sheet per file."),
) -> None:
    """Load CSV files or an Excel workbook into the database (all or nothing; re-importing is idempotent)."""
    from bot import bootstrap
    from bot.render.imports import ProgressReporter, render_summary
    from bot.usecases.imports import import_data

    console = make_console()
    with bootstrap.app() as app, ProgressReporter(console) as progress:
        summary = import_data(app.engine, path, progress=progress)
    render_summary(console, summary)


@app.command()
@handle_errors
def check(
    rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
    fmt: SheetFormat = typer.Option(SheetFormat.table, "--format", help="table, json, csv or xlsx (with --output)."),
    output: Optional[str] = typer.Option(None, "--output", help="With --format csv or xlsx: the file to write (csv default: standard output)."),
    facility: Optional[list[str]] = typer.Option(None, "--facility", help="Only this facility (repeatable)."),
    covenant: Optional[list[str]] = typer.Option(None, "--covenant", help="Only this covenant (repeatable)."),
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Exit 3 when any status is this bad or worse."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Store results but send nothing and leave alert state alone."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Store nothing and send nothing."),
) -> None:
    """Evaluate every covenant against every facility it applies to at the test date."""
    from bot import bootstrap

    check_sheet_output(fmt, output)
    t = as_of_date(as_of)
    with bootstrap.app() as app:
        if not (dry_run or no_notify):
            worst = _check_and_notify(app, rules, t, facility, covenant, fmt, output)
        elif fmt is SheetFormat.json:
            worst = _check_json_streaming(app, rules, t, facility, covenant, dry_run)
        else:
            worst = _check(app, rules, t, facility, covenant, fmt, output, dry_run)
    if fail_on is not None and worst is not None:
        from bot.domain.results import SEVERITY_ORDER

        if SEVERITY_ORDER[worst] >= SEVERITY_ORDER[fail_on.status]:
            raise typer.Exit(EXIT_FAIL_ON)


def _check(app, rules, as_of, facility, covenant, fmt, output, dry_run) -> Optional[Status]:
    """`check --dry-run` or `--no-notify` as a table or sheet: the results kept; returns the worst status."""
    from bot.usecases.check import run_check

    outcome = run_check(app.engine, app.rules(rules), as_of, now=app.clock(), facility_ids=facility,
                        covenant_ids=covenant, dry_run=dry_run)
    borrowers = {fid: f.borrower for fid, f in outcome.facilities.items()}
    _print_check(fmt, output, outcome.results, borrowers, outcome.as_of, outcome.counts(), {}, None)
    return outcome.worst()


def _check_and_notify(app, rules, as_of, facility, covenant, fmt, output) -> Optional[Status]:
    """`check` with notifications (the daily job): results stored and alerts advanced as they are
    computed, then the outbox dispatched. JSON streams (memory flat at any size); a table or sheet
    keeps the results it shows. Returns the worst status."""
    from bot.alerts.advance import describe_notifications
    from bot.render.console import ROW_SEPARATOR, JsonRowsWriter, json_row
    from bot.usecases.check import RenderedRows
    from bot.usecases.notify import check_and_notify

    ruleset = app.rules(rules)
    run = functools.partial(check_and_notify, app.engine, ruleset, as_of, now=app.clock(), routing=app.settings,
                            deliver=app.dispatch, facility_ids=facility, covenant_ids=covenant,
                            worker_engine=app.worker_engine())
    if fmt is SheetFormat.json:
        with JsonRowsWriter(sys.stdout) as writer:
            checked = run(on_result=writer.write, rendered=RenderedRows(
                json_row, ROW_SEPARATOR, lambda text, rows, _worst: writer.write_rendered(text, rows)))
        sys.stdout.flush()
        return checked.worst()
    results: list = []
    borrowers: dict[str, str] = {}

    def remember(facilities) -> None:
        borrowers.update((f.facility_id, f.borrower) for f in facilities)

    checked = run(on_result=results.append, on_facilities=remember)
    report = describe_notifications(checked.alerts, checked.delivery, app.settings)
    _print_check(fmt, output, results, borrowers, as_of, checked.counts(), checked.waived, report)
    return checked.worst()


def _print_check(fmt, output, results, borrowers, as_of, counts, waived, notify_report) -> None:
    """The check's results as a table (with the notifications report) or a sheet."""
    from bot.render.console import results_table, summary_line

    if fmt in (SheetFormat.csv, SheetFormat.xlsx):
        from bot.render.check_sheet import check_sheet

        wrote = write_sheet(check_sheet(results, borrowers), fmt, output)
        err = make_console(stderr=True)
        if wrote:
            err.print(escape(wrote))
        if notify_report is not None:
            err.print(notify_report)
    else:
        console = make_console()
        console.print(results_table(results, f"Covenant check as of {as_of}", borrowers, waived))
        console.print(summary_line(counts))
        if notify_report is not None:
            console.print(notify_report)


def _check_json_streaming(app, rules, as_of, facility, covenant, dry_run) -> Optional[Status]:
    """`check --format json` with nothing to notify: rows printed as computed, memory flat at any
    size; returns the worst status."""
    from bot.domain.results import SEVERITY_ORDER, STATUSES_BY_SEVERITY
    from bot.render.console import ROW_SEPARATOR, JsonRowsWriter, json_row
    from bot.usecases.check import RenderedRows, stream_check

    ruleset = app.rules(rules)
    worst = -1
    out = sys.stdout
    with JsonRowsWriter(out) as writer:

        def on_result(result) -> None:
            nonlocal worst
            writer.write(result)
            worst = max(worst, SEVERITY_ORDER[result.status])

        def on_rows(text: str, rows: int, run_worst: int) -> None:
            nonlocal worst
            writer.write_rendered(text, rows)
            worst = max(worst, run_worst)

        stream_check(app.engine, ruleset, as_of, on_result, now=app.clock(), facility_ids=facility,
                     covenant_ids=covenant, dry_run=dry_run,
                     rendered=RenderedRows(json_row, ROW_SEPARATOR, on_rows), worker_engine=app.worker_engine())
    out.flush()
    return STATUSES_BY_SEVERITY[worst] if worst >= 0 else None


@app.command()
@handle_errors
def explain(
    facility_id: str = typer.Argument(..., help="The facility to explain."),
    rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
) -> None:
    """Show the inputs behind every metric of one facility: quarters, marks, prices."""
    from bot import bootstrap
    from bot.render.explain import render_explanation
    from bot.usecases.explain import explain as explain_facility

    t = as_of_date(as_of)
    with bootstrap.app() as app:
        data, explanation, results = explain_facility(app.engine, app.rules(rules), facility_id, t)
    render_explanation(make_console(), data, explanation, results, t)


@rules_app.command("validate")
@handle_errors
def rules_validate(
    path: Optional[str] = typer.Argument(None, help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
) -> None:
    """Check rule files; exit 0 when valid, 2 with every problem as file:line:column."""
    from bot import bootstrap
    from bot.usecases.rule_hints import facility_type_warnings

    with bootstrap.app() as app:
        ruleset = app.rules(path)
        typer.echo(
            f"OK: {len(ruleset.covenants)} covenants, {len(ruleset.scenarios)} scenarios in "
            f"{len(ruleset.files)} file(s) (sha256 {ruleset.digest[:12]})."
        )
        warnings = facility_type_warnings(app.stored_facility_types(), app.rules_path(path))
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)  # one line each, never wrapped: editors jump to it


@rules_app.command("plan")
@handle_errors
def rules_plan(
    new: str = typer.Argument(..., help="The edited rule file or folder."),
    current: Optional[str] = typer.Option(None, "--current", help="The rules in force (default: COVBOT_RULES, else rules/)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
) -> None:
    """What a rule edit would change: covenants and every facility × covenant status (exit 3 when any moves)."""
    from bot.usecases.plan import plan_rules
    from bot.usecases.rule_hints import facility_type_warnings
    from bot.render.plan import plan_json, render_plan

    from bot import bootstrap

    t = as_of_date(as_of)
    with bootstrap.app() as app:
        new_rules = app.rules(new)  # read first: an invalid NEW is the usual exit 2
        current_rules = app.rules(current)
        plan = plan_rules(app.engine, current_rules, new_rules, t)
        plan.current_path, plan.new_path = app.rules_path(current), new
        plan.warnings = facility_type_warnings(app.stored_facility_types(), new)
    if fmt is OutputFormat.json:
        typer.echo(plan_json(plan))
        for warning in plan.warnings:
            typer.echo(f"warning: {warning}", err=True)
    else:
        render_plan(make_console(), plan)
    if plan.changes:
        raise typer.Exit(EXIT_FAIL_ON)


@rules_app.command("test")
@handle_errors
def rules_test(
    files: list[str] = typer.Argument(..., help="Rule test files (YAML)."),
) -> None:
    """Run rule unit tests: data, test dates and the statuses you expect."""
    from bot import bootstrap
    from bot.render.ruletests import render_rule_test_report
    from bot.usecases.ruletests import run_rule_tests

    report = run_rule_tests(files, bootstrap.scratch_database)
    render_rule_test_report(make_console(), report)
    if not report.passed:
        raise typer.Exit(EXIT_FAILURE)


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Create the database or bring its schema up to date."""
    from bot import bootstrap

    with bootstrap.app() as app:
        app.upgrade_schema()
    typer.echo("The database schema is up to date.")


# --- registered command modules ---
from bot.commands import alerts as _alerts, digest as _digest, risk as _risk, service as _service, slack as _slack  # noqa: E402,E501

for _module in (_risk, _alerts, _digest, _service, _slack):
    _module.register(app)


def main() -> None:  # console-script entry point
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
