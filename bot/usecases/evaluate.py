"""The one evaluation path: the stored book → the price book → a Market → every covenant.

``open_book`` reads the price book in a transaction and hands over a ``Book``: its ``market``
builds the ``Market`` for a rule set at a test date (shocked or not), its ``chunks`` stream the
facilities through the one reader of the book (``bot.store.repository.BookReader``).
``evaluations`` is check's sequence written once; stress, back-test, rule tests, explain, the
digest, the parallel dry run and the service all start from ``open_book``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cached_property
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.domain.evaluation import evaluate_facility
from bot.domain.market import Market
from bot.domain.model import FacilityData, PriceBook
from bot.domain.results import CovenantResult
from bot.domain.rulebook import Covenant, RuleSet
from bot.domain.shocks import NO_SHOCKS, Shocks
from bot.errors import UsageError
from bot.store.db import read_scope
from bot.store.repository import BookReader, load_facilities, load_price_book

CHUNK_SIZE = 2000  # facilities read and evaluated at a time: memory stays flat at any size


def market_for(prices: PriceBook, ruleset: RuleSet, as_of: date, shocks: Shocks = NO_SHOCKS) -> Market:
    """The market at ``as_of`` under the rule set's valuation and forecast settings."""
    return Market(prices, ruleset.valuation, ruleset.forecast, as_of, shocks)


class Book:
    """The stored loan book, read in one transaction: the price book (read on first use) and a
    reader of facilities."""

    def __init__(self, session: Session):
        self.session = session

    @cached_property
    def prices(self) -> PriceBook:
        return load_price_book(self.session)

    def market(self, ruleset: RuleSet, as_of: date, shocks: Shocks = NO_SHOCKS) -> Market:
        return market_for(self.prices, ruleset, as_of, shocks)

    def chunks(self, facility_ids: Iterable[str] | None = None, chunk_size: int = CHUNK_SIZE
               ) -> Iterator[list[FacilityData]]:
        """Every facility (or those named: a ``UsageError`` names any not stored), in facility_id
        order, a chunk at a time."""
        reader = BookReader(self.session)
        if facility_ids is None:
            yield from reader.chunks(chunk_size)
            return
        ids = set(facility_ids)
        loaded = self.facilities_named(ids)
        missing = ids - {d.facility_id for d in loaded}
        if missing:
            raise UsageError(f"No facility with id {', '.join(sorted(missing))} is stored.")
        yield loaded

    def facilities_named(self, facility_ids: Iterable[str]) -> list[FacilityData]:
        """Those of ``facility_ids`` that are stored, sorted by facility_id."""
        return load_facilities(self.session, facility_ids)

    def facilities(self, facility_ids: Iterable[str] | None = None) -> list[FacilityData]:
        return [data for chunk in self.chunks(facility_ids) for data in chunk]

    def between(self, first: str, last: str) -> list[FacilityData]:
        return BookReader(self.session).between(first, last)


def book_in(session: Session) -> Book:
    """The book as read in ``session`` (the caller's transaction)."""
    return Book(session)


@contextmanager
def open_book(engine: Engine, session: Session | None = None) -> Iterator[Book]:
    """The book in a read transaction (or in ``session``, to store results in the same one)."""
    scope = read_scope(engine) if session is None else nullcontext(session)
    with scope as s:
        yield Book(s)


def chosen_covenants(ruleset: RuleSet, covenant_ids: Iterable[str] | None) -> list[Covenant]:
    """The rule set's covenants, or those named (a ``UsageError`` names any unknown)."""
    covenants = list(ruleset.covenants)
    if covenant_ids is not None:
        wanted = set(covenant_ids)
        unknown = wanted - {c.id for c in covenants}
        if unknown:
            raise UsageError(f"No covenant with id {', '.join(sorted(unknown))} in the rule set.")
        covenants = [c for c in covenants if c.id in wanted]
    return covenants


def evaluate_chunks(chunks: Iterable[list[FacilityData]], market: Market, covenants: list[Covenant],
                    on_facilities: Callable[[list[FacilityData]], None] | None = None) -> Iterator[CovenantResult]:
    """Every covenant at every facility it applies to, chunk by chunk (sorted by facility, covenant)."""
    for chunk in chunks:
        if on_facilities is not None:
            on_facilities(chunk)
        for data in chunk:
            yield from evaluate_facility(data, market, covenants)


def evaluations(
    engine: Engine,
    ruleset: RuleSet,
    as_of: date,
    *,
    facility_ids: Iterable[str] | None = None,
    covenant_ids: Iterable[str] | None = None,
    on_facilities: Callable[[list[FacilityData]], None] | None = None,
    session: Session | None = None,
) -> Iterator[CovenantResult]:
    """Evaluate the book at ``as_of``, streaming chunk by chunk (reads in ``session`` when given)."""
    covenants = chosen_covenants(ruleset, covenant_ids)
    with open_book(engine, session) as book:
        yield from evaluate_chunks(book.chunks(facility_ids), book.market(ruleset, as_of), covenants, on_facilities)
