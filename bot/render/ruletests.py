"""`covbot rules test`: the report of rule unit tests for people (rich markup)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from bot.usecases.ruletests import RuleTestReport


def render_rule_test_report(console: Console, report: RuleTestReport) -> None:
    for problem in report.problems:
        console.print(f"[bold red]ERROR[/bold red] {escape(problem)}")
    for m in report.mismatches:
        e = m.expectation
        console.print(f"[bold red]FAIL[/bold red] {e.location}  as of {m.as_of}  {escape(e.facility)} × {escape(e.covenant)}")
        for line in m.lines:
            style = "red" if line.startswith("-") else "green"
            console.print(f"    [{style}]{escape(line)}[/{style}]")
    verdict = "[green]PASS[/green]" if report.passed else "[bold red]FAIL[/bold red]"
    console.print(
        f"{verdict}: {report.checked} expectation(s) in {len(report.files)} file(s), "
        f"{len(report.mismatches)} mismatch(es), {len(report.problems)} file(s) could not run."
    )
