"""`covbot slack serve`: listen to Slack without the scheduler (a deployment that separates the
listener from `covbot run`; `covbot run` listens too when Slack is configured)."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from bot import bootstrap
    from bot.commands.common import handle_errors

    slack_app = typer.Typer(help="Acting from Slack: buttons on alerts, the waive form, the slash command.",
                            no_args_is_help=True)
    app.add_typer(slack_app, name="slack")

    @slack_app.command("serve")
    @handle_errors
    def serve(
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
    ) -> None:
        """Answer Slack (request URL mode and/or Socket Mode, as configured) until SIGTERM or Ctrl-C."""
        import signal
        import threading

        from bot.config import load_settings
        from bot.daemon.logging import configure_logging
        from bot.slackapp.listener import SlackListener

        app = bootstrap.App(load_settings())
        settings = app.settings
        configure_logging(settings.log_format, settings.log_level)
        app.rules(rules)  # a broken rules path is an error now, not at the first click
        listener = SlackListener(settings, app.engine, rules=lambda: app.rules(rules))
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        listener.start()
        modes: list[str] = ([f"request URL mode on http://{settings.slack_listen}/slack/events"] if listener.http else []) + (
            ["Socket Mode"] if listener.socket else [])
        typer.echo(f"covbot is listening to Slack: {' and '.join(modes)}. Ctrl-C stops it.")
        try:
            while not done.wait(1):
                pass
        finally:
            listener.stop()
            app.close()
