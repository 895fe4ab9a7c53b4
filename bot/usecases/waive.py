"""Granting a waiver: what `covbot waive` and the Slack modal both do (one code path).

Every problem is collected and reported at once; nothing is stored unless all is well.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Sequence

from sqlalchemy.orm import Session

from bot.alerts import make_waiver, store
from bot.alerts.waivers import Waiver
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.store.repository import facility_exists

NOT_RECORDED = "The waiver was not recorded: "


def grant(
    session: Session,
    facility_id: str,
    covenant_id: str,
    until: date | None,
    reason: str,
    by: str,
    now: datetime,
    *,
    today: date,
    ruleset: RuleSet | None,
    problems: Sequence[str] = (),
    actor: str | None = None,
) -> Waiver:
    """Validate and store a waiver (the caller commits); raises ``UsageError`` naming every problem.

    ``until`` None: the caller could not read the date (its problem is in ``problems``).
    ``ruleset`` None: no rule set at hand to check the covenant id against. ``actor``: how the
    audit trail names who granted it (default ``by``)."""
    found = list(problems)
    if ruleset is not None and ruleset.covenant(covenant_id) is None:
        found.append(f"No covenant with id {covenant_id!r} in the rule set.")
    if not facility_exists(session, facility_id):
        found.append(f"No facility with id {facility_id!r} is stored.")
    waiver = None
    if until is not None:
        try:
            waiver = make_waiver(facility_id, covenant_id, until, reason, by, now, today=today)
        except UsageError as exc:
            found.append(str(exc).removeprefix(NOT_RECORDED))
    if found or waiver is None:
        raise UsageError(NOT_RECORDED + " ".join(found))
    store.grant_waiver(session, waiver, actor=actor)
    return waiver
