"""Start whichever ways of listening to Slack are configured; what ``covbot run`` and
``covbot slack serve`` call.

- ``SLACK_SIGNING_SECRET`` set → request URL mode on ``COVBOT_SLACK_LISTEN`` (default 127.0.0.1:3000)
- ``SLACK_APP_TOKEN`` set → Socket Mode
Both may be on at once; the same ``SlackApp`` serves both.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import Engine

from bot.config import Settings
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.slackapp.handler import SlackApp
from bot.slackapp.http import HttpListener
from bot.slackapp.socket import SocketListener

log = logging.getLogger("covbot.slack")


def configured(settings: Settings) -> bool:
    return settings.slack_signing_secret is not None or settings.slack_app_token is not None


class SlackListener:
    def __init__(self, settings: Settings, engine: Engine, *,
                 rules: Callable[[], RuleSet | None] | None = None):
        if not configured(settings):
            raise UsageError("Slack is not configured: set SLACK_SIGNING_SECRET (request URL mode) and/or "
                             "SLACK_APP_TOKEN (Socket Mode).")
        if settings.slack_bot_token is None:
            log.warning("SLACK_BOT_TOKEN is not set: covbot can answer slash commands but cannot open the "
                        "waive form, update alert messages or read users' e-mails")
        self.settings = settings
        self.app = SlackApp(settings, engine, rules=rules)
        self.http: HttpListener | None = None
        self.socket: SocketListener | None = None

    @property
    def port(self) -> int | None:
        return self.http.port if self.http is not None else None

    def start(self) -> "SlackListener":
        s = self.settings
        try:
            if s.slack_signing_secret is not None:
                host, _, port = s.slack_listen.rpartition(":")
                try:
                    self.http = HttpListener(self.app, s.slack_signing_secret.get_secret_value(),
                                             host.strip("[]"), int(port)).start()
                except OSError as exc:
                    raise UsageError(f"covbot cannot listen for Slack on COVBOT_SLACK_LISTEN={s.slack_listen}: "
                                     f"{exc.strerror or exc}.") from None
            if s.slack_app_token is not None:
                self.socket = SocketListener(self.app, s.slack_app_token.get_secret_value(),
                                             s.slack_base_url).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.stop()
            self.socket = None
        if self.http is not None:
            self.http.stop()
            self.http = None
        self.app.drain(timeout=10)
        self.app.close()
