"""Use case `covbot explain` (and Slack's "Why?"): the inputs behind every metric of one facility,
and its results."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from bot.domain.evaluation import evaluate_facility
from bot.domain.explain import FacilityExplanation, explain_facility
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.usecases.evaluate import Book, open_book

Explained = tuple[FacilityData, FacilityExplanation, list[CovenantResult]]


def explain(engine: Engine, ruleset: RuleSet, facility_id: str, as_of: date) -> Explained:
    with open_book(engine) as book:
        return explain_in(book, ruleset, facility_id, as_of)


def explain_in(book: Book, ruleset: RuleSet, facility_id: str, as_of: date) -> Explained:
    """One facility of ``book``, its explanation and its results at ``as_of``."""
    found = book.facilities_named([facility_id])
    if not found:
        raise UsageError(f"No facility with id {facility_id!r} is stored; import it first.")
    market = book.market(ruleset, as_of)
    data = found[0]
    covenants = list(ruleset.covenants)
    return data, explain_facility(data, market, covenants), evaluate_facility(data, market, covenants)
