"""`covbot digest`: the portfolio at a glance for a portfolio manager.

Evaluates the rule set at the test date and at the four previous quarter ends, renders the digest in
one format (to a file or standard output), records the run, and with ``--send`` queues it to the
default Slack channel and e-mail address through the outbox and delivers it.
"""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from bot.commands.common import write_output


class DigestFormat(str, Enum):
    markdown = "markdown"
    html = "html"
    email = "email"
    slack = "slack"


def register(app: typer.Typer) -> None:
    from bot.cli import _as_of, handle_errors
    from bot.config import load_settings
    from bot.render.console import make_console

    @app.command()
    @handle_errors
    def digest(
        as_of: Optional[str] = typer.Option(None, "--as-of", help="Test date YYYY-MM-DD (default: today, UTC)."),
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
        fmt: DigestFormat = typer.Option(
            DigestFormat.markdown, "--format",
            help="markdown (terminals, wikis), html (one self-contained page), email (the HTML e-mail body) "
                 "or slack (Block Kit JSON).",
        ),
        output: Optional[str] = typer.Option(None, "--output", help="Write the digest to this file instead of standard output."),
        send: bool = typer.Option(
            False, "--send",
            help="Also queue it to COVBOT_DEFAULT_SLACK_CHANNEL and COVBOT_DEFAULT_EMAIL through the outbox, and deliver it.",
        ),
    ) -> None:
        """Status digest: statuses and exposure, worst headroom, trends, new breaches and cures, deadlines."""
        from rich.markup import escape

        from bot.dates import utc_now
        from bot.digest.build import build_digest, record_digest
        from bot.digest.render import render

        settings = load_settings()
        now = utc_now()
        if send:
            from bot.digest.send import default_routes

            default_routes(settings)  # refuse before any work when there is nowhere to send it
        result = build_digest(settings, rules_path=rules, as_of=_as_of(as_of), now=now)
        text = render(result, fmt.value)
        console = make_console()
        if output:
            written = write_output(output, text)
            console.print(f"The {fmt.value} digest for {result.as_of} is in {escape(str(written))}")
        else:
            typer.echo(text, nl=False)
        if send:
            from bot.digest.send import queue_digest
            from bot.notify.dispatcher import dispatch

            queued = queue_digest(settings, result, now)
            report = dispatch(settings, budget_seconds=settings.dispatch_budget_seconds)
            console = make_console(stderr=not output)
            console.print(escape(queued.describe()))
            console.print(report.summary(settings))
        else:
            record_digest(settings, result)
