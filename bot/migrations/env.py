"""Alembic environment for covbot: the schema history of every package's tables.

The migration scripts live here, above the packages that own tables (store, alerts, digest,
daemon), because they know all of them; ``bot.store.db`` runs them by path, without importing
anything from here. Run programmatically by ``bot.store.db.upgrade`` (which hands over an open
connection in ``config.attributes["connection"]``), or from the command line with ``alembic -c
bot/migrations/alembic.ini`` and ``sqlalchemy.url`` / ``COVBOT_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import bot.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
import bot.alerts.tables  # noqa: F401  (alert, waiver and audit tables)
import bot.notify.tables  # noqa: F401  (outbox, delivery log and Slack thread tables)
import bot.digest.tables  # noqa: F401  (digest runs)
import bot.daemon.tables  # noqa: F401  (service slots, jobs, instances, leader)
import bot.slackapp.tables  # noqa: F401  (once-only keys of Slack actions)

config = context.config
target_metadata = SQLModel.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("COVBOT_DATABASE_URL")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("COVBOT_DATABASE_URL", "sqlite:///covbot.db")
    from bot.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure_and_run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
