"""The naive evaluation: a per-facility ORM loop, one query per facility and table.

What a first implementation would do: list the facilities, then for each one query its row, its
balances, financials, GPU lots, crypto holdings and the prices it needs (its GPU models' marks and
rents, its crypto spots) as ORM objects, build the valuation context for that facility, and
evaluate the covenants with the same domain code as `covbot check`. That is the issue's "one
query per facility and table", and none of the check's work done once per test date.

``--shared-market`` is a more generous baseline: prices are loaded and the ``Market`` built once
per run (as the check does), so `naive ÷ check` then measures the set-based loading only.

    python -m bench.naive DB_URL RULES AS_OF [--limit N]   prints {"facilities", "results", "seconds"}

With ``--limit`` only the first N facilities are evaluated (the benchmark extrapolates).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

from sqlmodel import Session, select

from bot.domain.evaluation import evaluate_facility
from bot.domain.market import Market
from bot.domain.model import Balance, CryptoHolding, Facility, FacilityData, FinancialPeriod, GpuLot, Price, PriceBook
from bot.domain.shocks import NO_SHOCKS
from bot.rulefiles.loader import load_rules
from bot.store.db import open_database
from bot.store.tables import BalanceRow, CryptoRow, FacilityRow, FinancialRow, GpuLotRow, PriceRow


def _record(record_type, row):
    return record_type(**{name: getattr(row, name) for name in record_type.__dataclass_fields__})


def _facility_market(session: Session, ruleset, as_of: date, data: FacilityData) -> Market:
    symbols = {f"{kind}:{lot.gpu_model}" for lot in data.gpu_lots for kind in ("GPU", "RENT")}
    symbols |= {holding.asset for holding in data.crypto}
    rows = session.exec(select(PriceRow).where(PriceRow.symbol.in_(sorted(symbols)))).all() if symbols else []
    book = PriceBook.from_prices([_record(Price, p) for p in rows])
    return Market(book, ruleset.valuation, ruleset.forecast, as_of, NO_SHOCKS)


def evaluate_naively(session: Session, ruleset, as_of: date, limit: int | None = None,
                     shared_market: bool = False) -> tuple[int, int]:
    """(facilities evaluated, results) for the first ``limit`` facilities (all when None)."""
    ids = session.exec(select(FacilityRow.facility_id).order_by(FacilityRow.facility_id)).all()
    if limit is not None:
        ids = ids[:limit]
    covenants = list(ruleset.covenants)
    market = None
    if shared_market:
        prices = [_record(Price, p) for p in session.exec(select(PriceRow)).all()]
        market = Market(PriceBook.from_prices(prices), ruleset.valuation, ruleset.forecast, as_of, NO_SHOCKS)
    session.expunge_all()
    results = 0
    for fid in ids:
        facility = _record(Facility, session.exec(select(FacilityRow).where(FacilityRow.facility_id == fid)).one())
        children = {}
        for attr, record_type, table, order in (
            ("balances", Balance, BalanceRow, BalanceRow.as_of),
            ("financials", FinancialPeriod, FinancialRow, FinancialRow.period_end),
            ("gpu_lots", GpuLot, GpuLotRow, GpuLotRow.lot_id),
            ("crypto", CryptoHolding, CryptoRow, CryptoRow.as_of),
        ):
            rows = session.exec(select(table).where(table.facility_id == fid).order_by(order)).all()
            children[attr] = tuple(_record(record_type, r) for r in rows)
        data = FacilityData(facility, **children)
        facility_market = market or _facility_market(session, ruleset, as_of, data)
        results += len(evaluate_facility(data, facility_market, covenants))
        session.expunge_all()
    return len(ids), results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Per-facility ORM evaluation (the naive baseline).")
    parser.add_argument("url", help="Database URL, e.g. sqlite:///bench.db")
    parser.add_argument("rules", help="Rule file or folder.")
    parser.add_argument("as_of", help="Test date YYYY-MM-DD.")
    parser.add_argument("--limit", type=int, default=None, help="Evaluate only the first N facilities.")
    parser.add_argument("--shared-market", action="store_true",
                        help="Load prices and build the Market once per run (a more generous baseline).")
    args = parser.parse_args(argv)
    ruleset = load_rules(args.rules)
    engine = open_database(args.url)
    started = time.perf_counter()
    with Session(engine) as session:
        facilities, results = evaluate_naively(session, ruleset, date.fromisoformat(args.as_of), args.limit,
                                                 args.shared_market)
    print(json.dumps({"facilities": facilities, "results": results, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
