"""Waivers: the lender formally excuses a covenant's bad status at one facility, until a date.

Pure: the caller passes ``today`` in; nothing here reads the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from bot.errors import UsageError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SLACK_USER = re.compile(r"^slack:[UW][A-Z0-9]+$")  # granted from Slack by a user without an e-mail


@dataclass(frozen=True)
class Waiver:
    facility_id: str
    covenant_id: str
    until: date  # last test date the waiver covers (inclusive)
    reason: str
    by: str  # e-mail address of the person who granted it
    created_at: datetime

    def active_on(self, as_of: date) -> bool:
        """True while the waiver covers the test date: ``as_of <= until``."""
        return as_of <= self.until

    def covers(self, facility_id: str, covenant_id: str) -> bool:
        return self.facility_id == facility_id and self.covenant_id == covenant_id


def waiver_problems(
    facility_id: str, covenant_id: str, until: date, reason: str, by: str, today: date
) -> list[str]:
    """Every reason the waiver cannot be granted, as sentences (empty when it is acceptable)."""
    problems: list[str] = []
    if not facility_id.strip():
        problems.append("A waiver needs the facility it applies to.")
    if not covenant_id.strip():
        problems.append("A waiver needs the covenant it applies to.")
    if until < today:
        problems.append(
            f"The waiver would end on {until.isoformat()}, which is before today ({today.isoformat()}); "
            "give an end date of today or later."
        )
    if not reason.strip():
        problems.append("A waiver needs a reason, for the audit trail.")
    if not (_EMAIL.match(by.strip()) or _SLACK_USER.match(by.strip())):
        problems.append(
            f"The waiver must say who granted it as an e-mail address (such as analyst@lender.example), got {by!r}."
        )
    return problems


def make_waiver(
    facility_id: str,
    covenant_id: str,
    until: date,
    reason: str,
    by: str,
    created_at: datetime,
    today: date | None = None,
) -> Waiver:
    """A validated waiver; raises UsageError naming every problem at once.

    ``today`` defaults to ``created_at``'s date (the day the waiver is granted).
    """
    day = today if today is not None else created_at.date()
    problems = waiver_problems(facility_id, covenant_id, until, reason, by, day)
    if problems:
        raise UsageError("The waiver was not recorded: " + " ".join(problems))
    return Waiver(facility_id.strip(), covenant_id.strip(), until, reason.strip(), by.strip(), created_at)
