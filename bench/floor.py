"""The floor: a bare sqlite3 scan of every row `covbot check` reads, with no computation.

Reads the same columns of the same tables in the same order as the check (facilities and their
balances, financials, GPU lots and crypto holdings by facility_id, then every price), fetching in
batches and touching nothing. Nothing can read the data faster from Python, so `check ÷ floor`
is the cost of everything the check does beyond reading.

    python -m bench.floor DB_FILE      prints {"rows": ..., "seconds": ...} as JSON
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

QUERIES = (
    "SELECT facility_id, borrower, facility_type, currency, commitment, outstanding, origination_date, "
    "maturity_date, owner_email, slack_channel FROM facilities ORDER BY facility_id",
    "SELECT facility_id, as_of, outstanding FROM balances ORDER BY facility_id, as_of",
    "SELECT facility_id, period_end, revenue, opex, capex, taxes, interest, principal, cash, reported_on "
    "FROM financials ORDER BY facility_id, period_end",
    "SELECT facility_id, lot_id, gpu_model, quantity, acquired_on, unit_cost FROM gpu_lots "
    "ORDER BY facility_id, lot_id",
    "SELECT facility_id, asset, as_of, quantity FROM crypto_holdings ORDER BY facility_id, asset, as_of",
    "SELECT symbol, date, price FROM prices ORDER BY symbol, date",
)


def scan(path: str) -> int:
    """Fetch every row the check needs; returns how many."""
    rows = 0
    with sqlite3.connect(path) as conn:
        for sql in QUERIES:
            cursor = conn.execute(sql)
            while batch := cursor.fetchmany(5000):
                rows += len(batch)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m bench.floor DB_FILE")
    started = time.perf_counter()
    rows = scan(args[0])
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
