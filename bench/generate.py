"""A deterministic synthetic portfolio of N facilities in the CSV interchange contract.

Per facility: one facilities.csv row, 8 quarters of financials (a few reported late, so some
facilities have 3 of 4 quarters at the test date), 1-3 GPU lots, a principal history for half of
them, and BTC/ETH holdings for miners and crypto-backed loans. prices.csv holds two years of
daily BTC, ETH, GPU marks and rental prices up to ``AS_OF``. Same N and seed → same bytes.

    python -m bench.generate DIR --facilities 10000 [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2026, 6, 30)  # the test date the benchmark checks at
FIRST_PRICE_DAY = AS_OF - timedelta(days=729)  # two years of daily prices
QUARTER_ENDS = tuple(
    date(y, m, d) for y, m, d in (
        (2024, 9, 30), (2024, 12, 31), (2025, 3, 31), (2025, 6, 30),
        (2025, 9, 30), (2025, 12, 31), (2026, 3, 31), (2026, 6, 30),
    )
)
TYPES = ("gpu_abl", "gpu_abl", "project_finance", "miner_convertible", "crypto_backed")
MODELS = ("H100", "H100", "A100", "H200", "B200")  # B200 is never marked: book value
MARKED = {"H100": 21000, "A100": 7000, "H200": 27000}
RENT = {"H100": 290, "A100": 110, "H200": 380, "B200": 520}  # cents per GPU-hour, two years ago
SPOT = {"BTC": 62000, "ETH": 3300}

HEADERS = {
    "facilities.csv": ("facility_id", "borrower", "facility_type", "currency", "commitment", "outstanding",
                       "origination_date", "maturity_date", "owner_email", "slack_channel"),
    "balances.csv": ("facility_id", "as_of", "outstanding"),
    "financials.csv": ("facility_id", "period_end", "revenue", "opex", "capex", "taxes", "interest",
                       "principal", "cash", "reported_on"),
    "gpu_lots.csv": ("facility_id", "lot_id", "gpu_model", "quantity", "acquired_on", "unit_cost"),
    "crypto.csv": ("facility_id", "asset", "as_of", "quantity"),
    "prices.csv": ("symbol", "date", "price"),
}


def facility_id(number: int) -> str:
    return f"BF-{number:07d}"


def _iso(day: date) -> str:
    return day.isoformat()


def _prices(rng: random.Random) -> list[tuple]:
    rows = []
    days = [FIRST_PRICE_DAY + timedelta(days=i) for i in range(730)]
    for symbol, start in SPOT.items():
        level = start * 100
        for day in days:
            level = max(100, level + rng.randint(-level // 40, level // 38))
            rows.append((symbol, _iso(day), f"{level // 100}.{level % 100:02d}"))
    for model, start in MARKED.items():
        level = start
        for day in days:
            level = max(500, level - rng.randint(0, 12))  # resale values drift down
            rows.append((f"GPU:{model}", _iso(day), str(level)))
    for model, cents in RENT.items():
        level = cents * 100
        for day in days:
            level = max(50, level - rng.randint(0, 2 * level // 1000))  # about −30 % a year
            rows.append((f"RENT:{model}", _iso(day), f"{level // 10000}.{level % 10000:04d}"))
    return rows


def portfolio_rows(n: int, seed: int = 7):
    """Yield (file name, row) for a portfolio of ``n`` facilities; prices come last."""
    rng = random.Random(seed)
    randint = rng.randint
    for number in range(1, n + 1):
        fid = facility_id(number)
        kind = TYPES[number % len(TYPES)]
        commitment = randint(20, 400) * 1_000_000
        outstanding = commitment * randint(30, 95) // 100
        origination = date(2023, 1, 1) + timedelta(days=randint(0, 540))
        yield "facilities.csv", (
            fid, f"Borrower {number}", kind, "USD", str(commitment), str(outstanding), _iso(origination),
            _iso(origination + timedelta(days=365 * randint(4, 8))),
            f"owner{number % 97}@lender.example" if number % 3 else "",
            f"#cov-{number % 50}" if number % 4 else "",
        )
        if number % 2:
            for offset, share in ((-200, 100), (-20, 96)):
                yield "balances.csv", (fid, _iso(AS_OF + timedelta(days=offset)),
                                       str(outstanding * (share - randint(0, 5)) // 100))
        # quarterly figures sized so debt service is ~ outstanding / 16 a quarter; DSCR around 0.9-2.0
        debt_service = outstanding // 16
        revenue = debt_service * randint(180, 330) // 100
        late = number % 11 == 0  # the latest quarters of one facility in 11 are reported late
        for q, end in enumerate(QUARTER_ENDS):
            revenue = revenue * randint(94, 104) // 100
            interest = debt_service * randint(30, 45) // 100
            lag = randint(25, 60) + (120 if late and q >= 6 else 0)
            reported = "" if number % 7 == 0 and q < 6 else _iso(end + timedelta(days=lag))
            yield "financials.csv", (
                fid, _iso(end), str(revenue), str(revenue * randint(28, 40) // 100),
                str(revenue * randint(3, 8) // 100), str(revenue * randint(1, 3) // 100),
                str(interest), str(debt_service - interest),
                str(debt_service * randint(80, 220) // 100), reported,
            )
        for lot in range(1, 1 + randint(1, 3)):
            model = MODELS[randint(0, len(MODELS) - 1)]
            acquired = origination + timedelta(days=randint(0, 900))
            yield "gpu_lots.csv", (fid, f"L{lot}", model, str(randint(2, 64) * 64), _iso(acquired),
                                   str(randint(9, 32) * 1000))
        if kind in ("miner_convertible", "crypto_backed"):
            btc = outstanding // randint(30_000, 70_000)
            yield "crypto.csv", (fid, "BTC", _iso(AS_OF - timedelta(days=400)), str(btc))
            yield "crypto.csv", (fid, "BTC", _iso(AS_OF - timedelta(days=randint(10, 90))),
                                 str(btc * randint(80, 120) // 100))
            if number % 3 == 0:
                yield "crypto.csv", (fid, "ETH", _iso(AS_OF - timedelta(days=300)), str(randint(100, 9000)))
    for row in _prices(rng):
        yield "prices.csv", row


def write_portfolio(directory: str | Path, n: int, seed: int = 7) -> dict[str, int]:
    """Write the six CSV files into ``directory``; returns the data rows written per file."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    handles = {name: (folder / name).open("w", newline="", encoding="utf-8") for name in HEADERS}
    counts = dict.fromkeys(HEADERS, 0)
    try:
        writers = {name: csv.writer(h, lineterminator="\n") for name, h in handles.items()}
        for name, header in HEADERS.items():
            writers[name].writerow(header)
        for name, row in portfolio_rows(n, seed):
            writers[name].writerow(row)
            counts[name] += 1
    finally:
        for h in handles.values():
            h.close()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="Folder to write the CSV files into.")
    parser.add_argument("--facilities", type=int, default=10_000, help="How many facilities.")
    parser.add_argument("--seed", type=int, default=7, help="Random seed (same seed, same files).")
    args = parser.parse_args(argv)
    counts = write_portfolio(args.directory, args.facilities, args.seed)
    print(", ".join(f"{name}: {rows}" for name, rows in counts.items()))


if __name__ == "__main__":
    main()
