"""Dates at the edge of the program: parsing user input and today's date in UTC."""

from __future__ import annotations

from datetime import date, datetime, timezone

from bot.errors import UsageError


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def today_utc() -> date:
    return utc_now().date()


def parse_date(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a date written YYYY-MM-DD, got {text!r}") from None
