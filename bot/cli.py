"""The `covbot` command line: parse arguments, call a service, print, pick an exit code.

Exit codes: 0 it ran (whatever the statuses); 1 a runtime failure; 2 a usage or rule-file
error; 3 `--fail-on` found a status that bad or worse.
"""

from __future__ import annotations

import functools
import sys
from datetime import date
from enum import Enum
from typing import Optional

import typer
from rich.markup import escape

from bot import __version__
from bot.commands.common import OutputFormat, SheetFormat, write_sheet
from bot.config import load_settings
from bot.dates import parse_date, today_utc
from bot.errors import CovbotError, RuleFileError, UsageError
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

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_FAIL_ON = 0, 1, 2, 3


class FailOn(str, Enum):
    breach = "breach"
    warning = "warning"


def _err(message: str) -> None:
    make_console(stderr=True).print(f"[bold red]error:[/bold red] {escape(message)}")


def handle_errors(fn):
    """Turn covbot's own errors into a sentence on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (RuleFileError, UsageError) as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_USAGE)
        except CovbotError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_FAILURE)
        except Exception as exc:  # a damaged or failing database: a sentence, not a traceback
            from bot.store.db import describe_failure

            message = describe_failure(exc)
            if message is None:
                raise
            _err(message)
            raise typer.Exit(EXIT_FAILURE)

    return wrapper


def _as_of(text: Optional[str]) -> date:
    return parse_date(text, "--as-of") if text else today_utc()


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
    from bot.usecases import check as services
    from bot.render.imports import ProgressReporter, render_summary

    settings = load_settings()
    console = make_console()
    with ProgressReporter(console) as progress:
        summary = services.import_data(settings, path, progress=progress)
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
    from bot.usecases import check as services
    from bot.domain.results import SEVERITY_ORDER
    from bot.render.console import results_json, results_table, summary_line

    settings = load_settings()
    if output is not None and fmt not in (SheetFormat.csv, SheetFormat.xlsx):
        raise UsageError("--output goes with --format csv or --format xlsx.")
    if fmt is SheetFormat.xlsx and not output:
        raise UsageError("--format xlsx writes a file: give --output FILE.xlsx")
    if fmt is SheetFormat.json:  # rows printed as computed: flat memory, alerts advanced chunk by chunk
        _check_json_streaming(services, settings, rules, as_of, facility, covenant, dry_run, fail_on,
                              notify=not (dry_run or no_notify))
        return
    outcome = services.run_check(
        settings, rules_path=rules, as_of=_as_of(as_of), facility_ids=facility,
        covenant_ids=covenant, dry_run=dry_run,
    )
    notify_report = None
    if not (dry_run or no_notify):
        notify_report = services.notify_after_check(settings, outcome)
    if fmt is SheetFormat.json:
        typer.echo(results_json(outcome.results))
    elif fmt in (SheetFormat.csv, SheetFormat.xlsx):
        from bot.render.check_sheet import check_sheet

        borrowers = {fid: f.borrower for fid, f in outcome.facilities.items()}
        wrote = write_sheet(check_sheet(outcome.results, borrowers), fmt, output)
        err = make_console(stderr=True)
        if wrote:
            err.print(escape(wrote))
        if notify_report is not None:
            err.print(notify_report)
    else:
        console = make_console()
        borrowers = {fid: f.borrower for fid, f in outcome.facilities.items()}
        console.print(results_table(outcome.results, f"Covenant check as of {outcome.as_of}", borrowers,
                                    outcome.waived))
        console.print(summary_line(outcome.counts()))
        if notify_report is not None:
            console.print(notify_report)
    if fail_on is not None:
        limit = SEVERITY_ORDER[fail_on.value]
        if any(SEVERITY_ORDER[r.status] >= limit for r in outcome.results):
            raise typer.Exit(EXIT_FAIL_ON)


def _check_json_streaming(services, settings, rules, as_of, facility, covenant, dry_run, fail_on,
                          notify: bool = False) -> None:
    """`check --format json`: rows printed as computed, memory flat at any size (with ``notify``,
    alerts advanced and notifications queued and sent as `check` does)."""
    from bot.domain.results import SEVERITY_ORDER
    from bot.render.console import ROW_SEPARATOR, JsonRowsWriter, json_row

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

        if notify:
            services.stream_check_and_alert(settings, on_result, rules_path=rules, as_of=_as_of(as_of),
                                            facility_ids=facility, covenant_ids=covenant)
        else:
            services.stream_check(settings, on_result, rules_path=rules, as_of=_as_of(as_of),
                                  facility_ids=facility, covenant_ids=covenant, dry_run=dry_run,
                                  rendered=services.RenderedRows(json_row, ROW_SEPARATOR, on_rows))
    out.flush()
    if fail_on is not None and worst >= SEVERITY_ORDER[fail_on.value]:
        raise typer.Exit(EXIT_FAIL_ON)


@app.command()
@handle_errors
def explain(
    facility_id: str = typer.Argument(..., help="The facility to explain."),
    rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
) -> None:
    """Show the inputs behind every metric of one facility: quarters, marks, prices."""
    from bot.usecases import check as services
    from bot.render.explain import render_explanation

    settings = load_settings()
    t = _as_of(as_of)
    data, explanation, results = services.explain(settings, rules_path=rules, facility_id=facility_id, as_of=t)
    render_explanation(make_console(), data, explanation, results, t)


@rules_app.command("validate")
@handle_errors
def rules_validate(
    path: Optional[str] = typer.Argument(None, help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
) -> None:
    """Check rule files; exit 0 when valid, 2 with every problem as file:line:column."""
    from bot.usecases import check as services

    from bot.usecases.rule_hints import facility_type_warnings

    settings = load_settings()
    ruleset = services.load_ruleset(settings, path)
    typer.echo(
        f"OK: {len(ruleset.covenants)} covenants, {len(ruleset.scenarios)} scenarios in "
        f"{len(ruleset.files)} file(s) (sha256 {ruleset.digest[:12]})."
    )
    for warning in facility_type_warnings(settings, path or settings.rules):
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
    from bot.usecases import check as services
    from bot.usecases.plan import plan_rules
    from bot.usecases.rule_hints import facility_type_warnings
    from bot.render.plan import plan_json, render_plan

    settings = load_settings()
    t = _as_of(as_of)
    new_rules = services.load_ruleset(settings, new)  # read first: an invalid NEW is the usual exit 2
    current_rules = services.load_ruleset(settings, current)
    plan = plan_rules(services.open_engine(settings), current_rules, new_rules, t)
    plan.current_path, plan.new_path = current or settings.rules, new
    plan.warnings = facility_type_warnings(settings, new)
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
    from bot.usecases.ruletests import run_rule_tests, render_rule_test_report

    report = run_rule_tests(files)
    render_rule_test_report(make_console(), report)
    if not report.passed:
        raise typer.Exit(EXIT_FAILURE)


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Create the database or bring its schema up to date."""
    from bot.store.db import make_engine, upgrade

    settings = load_settings()
    upgrade(make_engine(settings.database_url))
    typer.echo("The database schema is up to date.")


# --- registered command modules ---
from bot.commands import risk as _risk  # noqa: E402

_risk.register(app)

from bot.commands import alerts as _alerts  # noqa: E402

_alerts.register(app)


from bot.commands import digest as _digest  # noqa: E402

_digest.register(app)

from bot.commands import service as _service  # noqa: E402

_service.register(app)

from bot.commands import slack as _slack  # noqa: E402

_slack.register(app)



def main() -> None:  # console-script entry point
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
