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
    from bot.commands.common import as_of_date, handle_errors
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

        from bot import bootstrap
        from bot.digest.formats import render
        from bot.usecases.digest import build_digest, default_routes, queue_digest, record_digest

        t = as_of_date(as_of)
        with bootstrap.app() as app:
            routes = None
            if send:  # refuse before any work when there is nowhere to send it
                routes = default_routes(app.settings.default_slack_channel, app.settings.default_email)
            now = app.clock()
            result = build_digest(app.engine, app.rules(rules), t, now)
            text = render(result, fmt.value)
            console = make_console()
            if output:
                written = write_output(output, text)
                console.print(f"The {fmt.value} digest for {result.as_of} is in {escape(str(written))}")
            else:
                typer.echo(text, nl=False)
            if routes is not None:
                queued = queue_digest(app.engine, result, routes, now)
                report = app.dispatch()
                console = make_console(stderr=not output)
                console.print(escape(queued.describe()))
                console.print(report.summary(app.settings))
            else:
                record_digest(app.engine, result)
