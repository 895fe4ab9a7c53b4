"""Use case `covbot digest` (and the service's weekly digest): evaluate, gather, build, record or queue.

Statuses at T, at the four previous quarter ends and at the last digest's test date all come from
the one evaluation path (``bot.usecases.evaluate``), so a digest works on a database where no
check was ever stored; only the age of an open breach reads stored results. Queuing puts the
Slack message and the e-mail in the outbox in the same transaction as the digest run, so a digest
is never recorded as sent without its messages (nor the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from bot.alerts.routing import channel_key
from bot.digest.mirage import CollateralView
from bot.digest.model import Digest, DigestInputs, FacilityInfo, build_digest_model
from bot.digest.render import render_email
from bot.digest.slack import render_slack
from bot.digest.stale import PriceNeeds, price_needs, stale_prices
from bot.digest.store import breach_history, last_digest, load_waivers, record_digest_run
from bot.digest.trend import previous_quarter_ends
from bot.domain.metrics import compute_metrics
from bot.domain.model import FacilityData
from bot.domain.rulebook import RuleSet
from bot.errors import UsageError
from bot.notify.outbox import enqueue_email, enqueue_slack
from bot.store.db import read_scope, session_scope
from bot.usecases.evaluate import evaluations, open_book

QUARTERS = 4
COLLATERAL = ("outstanding", "collateral_value", "liquidation_value")
KIND = "digest"


def build_digest(engine: Engine, ruleset: RuleSet, as_of: date, generated_at: datetime) -> Digest:
    """The digest of the stored portfolio at ``as_of`` under the rule set."""
    with open_book(engine) as book:
        previous = last_digest(book.session, as_of)
        market = book.market(ruleset, as_of)

    facilities: dict[str, FacilityInfo] = {}
    needs: list[PriceNeeds] = []
    collateral: list[CollateralView] = []

    def remember(chunk: list[FacilityData]) -> None:
        for data in chunk:
            f = data.facility
            values = compute_metrics(data, market, COLLATERAL)
            outstanding = values["outstanding"]
            assert isinstance(outstanding, Decimal)  # always known: the latest balance, else the facility's
            facilities[f.facility_id] = FacilityInfo(f.facility_id, f.borrower, f.facility_type, f.currency, outstanding)
            collateral.append(CollateralView(
                f.facility_id, f.borrower, f.currency, outstanding,
                *(v if isinstance(v, Decimal) else None for v in (values["collateral_value"], values["liquidation_value"])),
            ))
            needs.append(price_needs(data, as_of))

    current = list(evaluations(engine, ruleset, as_of, on_facilities=remember))
    quarters = {d: list(evaluations(engine, ruleset, d)) for d in previous_quarter_ends(as_of, QUARTERS)}
    previous_results = []
    if previous is not None:
        previous_results = quarters.get(previous.as_of) or list(evaluations(engine, ruleset, previous.as_of))

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


def record_digest(engine: Engine, digest: Digest, sent_at: datetime | None = None) -> int:
    """Remember that a digest for ``digest.as_of`` was produced (and sent, when ``sent_at``)."""
    with session_scope(engine) as session:
        return record_digest_run(session, digest.as_of, digest.generated_at, sent_at)


@dataclass(frozen=True)
class QueuedDigest:
    run_id: int
    slack: tuple[str, ...]
    email: tuple[str, ...]

    def describe(self) -> str:
        routes = [*self.slack, *self.email]
        return "Queued the digest for " + " and ".join(routes) + "."


def default_routes(slack_channel: str | None, email: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Slack channels, e-mail addresses) of the digest; a ``UsageError`` when there is neither."""
    slack = (channel_key(slack_channel),) if slack_channel else ()
    emails = (email.strip().lower(),) if email else ()
    if not slack and not emails:
        raise UsageError(
            "The digest has nowhere to go: set COVBOT_DEFAULT_SLACK_CHANNEL or COVBOT_DEFAULT_EMAIL "
            "(or both) to send it."
        )
    return slack, emails


def queue_digest(engine: Engine, digest: Digest, routes: tuple[tuple[str, ...], tuple[str, ...]],
                 now: datetime) -> QueuedDigest:
    """Queue the digest for ``routes`` (Slack channels, e-mail addresses); record it as sent."""
    slack, email = routes
    message = render_slack(digest) if slack else None
    mail = render_email(digest) if email else None
    with session_scope(engine) as session:
        if message is not None:
            for channel in slack:
                enqueue_slack(session, channel, message.text, message.blocks, kind=KIND, now=now)
        if mail is not None:
            enqueue_email(session, email, mail.subject, mail.text, mail.html, kind=KIND, now=now)
        run_id = record_digest_run(session, digest.as_of, digest.generated_at, sent_at=now)
    return QueuedDigest(run_id, slack, email)
