"""Use case `covbot explain`: the inputs behind every metric of one facility, and its results."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.domain.evaluation import evaluate_facility
from bot.domain.explain import FacilityExplanation, explain_facility
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.usecases.evaluate import open_book


def explain(engine: Engine, ruleset: RuleSet, facility_id: str, as_of: date, *, session: Session | None = None
            ) -> tuple[FacilityData, FacilityExplanation, list[CovenantResult]]:
    """One facility, its explanation and its results at ``as_of`` (read in ``session`` when given)."""
    with open_book(engine, session) as book:
        found = book.facilities_named([facility_id])
        if not found:
            raise UsageError(f"No facility with id {facility_id!r} is stored; import it first.")
        market = book.market(ruleset, as_of)
    data = found[0]
    covenants = list(ruleset.covenants)
    return data, explain_facility(data, market, covenants), evaluate_facility(data, market, covenants)
