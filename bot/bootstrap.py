"""The composition root: settings → the engine, the transports, the clock, the templates folder and
the rule set, built here and handed to the use cases as arguments.

    with bootstrap.app() as app:          # the CLI: one App per command (= per process)
        outcome = check.run_check(app.engine, app.rules(path), as_of, now=app.clock())

    Service(settings) -> bootstrap.App(settings)   # `covbot run`: one App for the process's life

Nothing else reads settings or opens an engine: the use cases (``bot.usecases``) take what they
need as arguments. The engine is opened (schema created or upgraded) on first use, once, and
disposed when the App closes. The templates folder is found once (COVBOT_TEMPLATES_DIR, then the
installed copy, then the checkout) and handed to the renderers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, load_settings
from bot.dates import utc_now
from bot.domain.rulebook import RuleSet
from bot.errors import StorageError, UsageError
from bot.notify import templates
from bot.rulefiles.loader import load_rules
from bot.store.db import make_engine, open_database, session_scope, upgrade
from bot.store.repository import facility_types

if TYPE_CHECKING:
    from bot.notify.dispatcher import DispatchReport, Dispatcher


class App:
    """What one process of covbot works with. Use as a context manager (or call ``close()``)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now):
        self.settings = settings
        self.clock = clock
        self._engine: Engine | None = None
        configured = settings.templates_dir
        templates.use_templates(lambda: templates.find_templates(configured))

    # -- the database ------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine of COVBOT_DATABASE_URL, its schema up to date (opened on first use, once)."""
        if self._engine is None:
            self._engine = open_database(self.settings.database_url)
        return self._engine

    def upgrade_schema(self) -> None:
        """Create the database or bring its schema up to date (`covbot db upgrade`)."""
        upgrade(self.engine)

    def stored_facility_types(self) -> set[str] | None:
        """The facility types of the stored book, or None when there is no database to ask yet
        (a SQLite file that does not exist is never created, nor a schema upgraded, just to look)."""
        try:
            url = make_url(self.settings.database_url)
        except Exception:  # an unusable URL is reported by the commands that need it
            return None
        if url.get_backend_name() == "sqlite" and not Path(url.database or ":memory:").is_file():
            return None
        try:
            engine = make_engine(self.settings.database_url)
            try:
                with session_scope(engine) as session:
                    return facility_types(session)
            finally:
                engine.dispose()
        except (SQLAlchemyError, StorageError):
            return None  # no schema yet, or the server is away: nothing to compare against

    def worker_engine(self) -> Callable[[], Engine]:
        """How a worker process opens its own engine (no connection crosses a fork)."""
        return functools.partial(make_engine, self.settings.database_url)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the rule set ------------------------------------------------------------------------------

    def rules_path(self, path: str | None = None) -> str:
        return path or self.settings.rules

    def rules(self, path: str | None = None) -> RuleSet:
        """The rule set of ``path`` (default COVBOT_RULES); a ``UsageError`` when it does not exist."""
        where = self.rules_path(path)
        if not Path(where).exists():
            raise UsageError(f"The rules path {where!r} does not exist; give --rules PATH or set COVBOT_RULES.")
        return load_rules(where)

    # -- delivery ----------------------------------------------------------------------------------

    def dispatcher(self) -> Dispatcher:
        """The outbox dispatcher with the configured transports (Slack and SMTP when set; the file
        outbox always)."""
        from bot.notify.dispatcher import Dispatcher, EmailTransport, FileOutbox, SlackTransport  # only to deliver

        s = self.settings
        slack = SlackTransport.from_settings(s, sdk_retries=0) if s.slack_bot_token is not None else None
        email = EmailTransport.from_settings(s) if s.smtp_host else None
        files = FileOutbox(s.outbox_path, s.email_from)
        return Dispatcher(self.engine, s, slack=slack, email=email, files=files)

    def dispatch(self, budget_seconds: float | None = None) -> DispatchReport:
        """Deliver the outbox within ``budget_seconds`` (default COVBOT_DISPATCH_BUDGET_SECONDS)."""
        budget = self.settings.dispatch_budget_seconds if budget_seconds is None else budget_seconds
        return self.dispatcher().run(budget)


@contextmanager
def app(settings: Settings | None = None) -> Iterator[App]:
    """An App for the settings (default: the environment and `.env`), closed when the block ends."""
    with App(settings or load_settings()) as built:
        yield built


def scratch_database(folder: Path) -> Engine:
    """A throw-away SQLite database in ``folder`` (rule unit tests); the caller disposes it."""
    return open_database(f"sqlite:///{folder / 'scratch.db'}")
