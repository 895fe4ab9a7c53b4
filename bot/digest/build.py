"""The digest use case: evaluate, load what the digest needs from the store, build the model.

Statuses at T, at the four previous quarter ends and at the last digest's test date all come from
the engine (``bot.usecases.check.iter_evaluations``), so a digest works on a database where no check was
ever stored; only the age of an open breach reads stored results.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from bot.config import Settings
from bot.dates import utc_now
from bot.digest.mirage import CollateralView
from bot.digest.model import Digest, DigestInputs, FacilityInfo, build_digest_model
from bot.digest.stale import PriceNeeds, price_needs, stale_prices
from bot.digest.store import breach_history, last_digest, load_waivers, record_digest_run
from bot.digest.trend import previous_quarter_ends
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.rulebook import RuleSet

QUARTERS = 4
COLLATERAL = ("outstanding", "collateral_value", "liquidation_value")


def build_digest(settings: Settings, *, rules_path: str | None, as_of: date, now: datetime | None = None) -> Digest:
    """The digest of the stored portfolio at ``as_of`` under the rule files."""
    from bot.usecases import check as services

    ruleset = services.load_ruleset(settings, rules_path)
    return digest_from_engine(services.open_engine(settings), ruleset, as_of, now or utc_now())


def digest_from_engine(engine, ruleset: RuleSet, as_of: date, generated_at: datetime) -> Digest:
    from bot.usecases.check import iter_evaluations
    from bot.store.db import read_scope
    from bot.store.repository import load_price_book

    with read_scope(engine) as session:
        previous = last_digest(session, as_of)
        market = Market(load_price_book(session), ruleset.valuation, ruleset.forecast, as_of)

    facilities: dict[str, FacilityInfo] = {}
    needs: list[PriceNeeds] = []
    collateral: list[CollateralView] = []

    def remember(chunk) -> None:
        for data in chunk:
            f = data.facility
            values = compute_metrics(data, market, COLLATERAL)
            outstanding = values["outstanding"]
            facilities[f.facility_id] = FacilityInfo(f.facility_id, f.borrower, f.facility_type, f.currency, outstanding)
            collateral.append(CollateralView(
                f.facility_id, f.borrower, f.currency, outstanding,
                *(v if isinstance(v, Decimal) else None for v in (values["collateral_value"], values["liquidation_value"])),
            ))
            needs.append(price_needs(data, as_of))

    current = list(iter_evaluations(engine, ruleset, as_of, on_facilities=remember))
    quarters = {d: list(iter_evaluations(engine, ruleset, d)) for d in previous_quarter_ends(as_of, QUARTERS)}
    previous_results = []
    if previous is not None:
        previous_results = quarters.get(previous.as_of) or list(iter_evaluations(engine, ruleset, previous.as_of))

    breached = [(r.facility_id, r.covenant_id) for r in current if r.status == "breach"]
    with read_scope(engine) as session:
        history = breach_history(session, breached, as_of)
        waivers = load_waivers(session)

    return build_digest_model(DigestInputs(
        as_of=as_of,
        generated_at=generated_at,
        facilities=facilities,
        covenants=ruleset.covenants,
        current=current,
        quarters=quarters,
        previous=previous,
        previous_results=previous_results,
        breach_history=history,
        waivers=waivers,
        stale=stale_prices(needs, market),
        collateral=collateral,
    ))


def record_digest(settings: Settings, digest: Digest, sent_at: datetime | None = None) -> int:
    """Remember that a digest for ``digest.as_of`` was produced (and sent, when ``sent_at``)."""
    from bot.usecases import check as services
    from bot.store.db import session_scope

    with session_scope(services.open_engine(settings)) as session:
        return record_digest_run(session, digest.as_of, digest.generated_at, sent_at)
