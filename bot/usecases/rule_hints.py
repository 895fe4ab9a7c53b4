"""Warnings about a rule set that need the stored book: facility types no facility has."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.errors import Problem, StorageError
from bot.rulefiles.facility_types import unknown_facility_types
from bot.store.db import make_engine, session_scope
from bot.store.repository import facility_types


def stored_facility_types(settings: Settings) -> set[str] | None:
    """The facility types of the stored book, or None when there is no database to ask yet
    (a SQLite file that does not exist is never created just to look)."""
    try:
        url = make_url(settings.database_url)
    except Exception:  # noqa: BLE001 - an unusable URL is reported by the commands that need it
        return None
    if url.get_backend_name() == "sqlite" and not Path(url.database or ":memory:").is_file():
        return None
    try:
        engine = make_engine(settings.database_url)
        try:
            with session_scope(engine) as session:
                return facility_types(session)
        finally:
            engine.dispose()
    except (SQLAlchemyError, StorageError):
        return None  # no schema yet, or the server is away: nothing to compare against


def facility_type_warnings(settings: Settings, rules_path: str) -> list[Problem]:
    """Facility types in ``applies_to`` that no stored facility has (none without a stored book)."""
    stored = stored_facility_types(settings)
    if not stored:
        return []
    return unknown_facility_types(rules_path, stored)
