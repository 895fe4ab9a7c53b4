"""Dates at the edge of the program: parsing user input and today's date in UTC."""

from __future__ import annotations

from datetime import date, datetime, timezone

from bot.errors import UsageError


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def today_utc() -> date:
    return utc_now().date()


# Dates a command line may name: wide enough for any loan, narrow enough that a year of look-back
# and five years of look-ahead never leave the calendar Python can count.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def parse_date(text: str, what: str = "date") -> date:
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a date written YYYY-MM-DD, got {text!r}") from None
    if not EARLIEST <= day <= LATEST:
        raise UsageError(f"{what} must be a date between {EARLIEST} and {LATEST}, got {text}")
    return day
