"""A random portfolio in the CSV interchange format, rich in the edge cases DOMAIN.md decides.

`write_random_portfolio(dir, n_facilities, seed)` writes the six CSV files; `write_rules(dir)` writes
a rule folder that exercises every rule feature. Both are deterministic. The edge cases are placed
relative to `AS_OF_DATES`, the test dates the agreement tests use:

- financials: all 8 quarters of 2024-2025, one quarter dropped (3 of 4), only 2 quarters, none,
  only 2024 quarters (old), a stub period ending exactly T - 366 days; test-period edges (L = the
  latest counted period_end): a period ending exactly L - 366 (outside), L - 365 (inside: a 5th
  period in the window) or L - 300, a borrower that stopped reporting exactly 365 or 366 days
  before a test date, budget rows whose period_end is after the test date but "reported" before
  it; reporting lags of 0-200 days (so quarters ended but not yet reported at T), some empty
  reported_on, some reported after the next test date;
- DSCRs landing exactly on 1.25, 1.2, 1.4, 1.1, 1.05, 1, 1.3; zero debt service;
- GPU marks exactly 30 and 31 days old at every test date (H100 and A100 alternate), a mark dated
  on a test date, a model never marked; lots acquired after the test dates; lots of quantity 0;
- crypto holdings that drop to quantity 0, that start after a test date; BTC stale (3 days) at one
  test date and exactly 2 days old at another; ETH stale at another;
- zero outstanding balances (in facilities.csv and in balances.csv);
- RENT:<model> histories with gaps, one starting late, one with an older price of 0, one missing;
- liquidation settings with inherited keys, forced = orderly (L40S), a capacity that two lots of 512
  H200 fill exactly, and lots of 8 to 2,048 units against capacities of 600 to 1,024.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

AS_OF_DATES = (
    dt.date(2025, 3, 31),
    dt.date(2025, 6, 30),
    dt.date(2025, 9, 15),
    dt.date(2025, 12, 31),
    dt.date(2026, 2, 27),
)

FACILITY_TYPES = ("gpu_abl", "project_finance", "miner_convertible", "crypto_backed", "data_centre")
GPU_MODELS = ("H100", "A100", "H200", "B200", "L40S")
QUARTER_ENDS = tuple(
    dt.date(year, month, day)
    for year in (2024, 2025)
    for month, day in ((3, 31), (6, 30), (9, 30), (12, 31))
)
EXACT_RATIOS = ("1.25", "1.2", "1.4", "1.1", "1.05", "1", "1.3", "1.35")

FILES = {
    "facilities.csv": ["facility_id", "borrower", "facility_type", "currency", "commitment",
                       "outstanding", "origination_date", "maturity_date", "owner_email",
                       "slack_channel"],
    "balances.csv": ["facility_id", "as_of", "outstanding"],
    "financials.csv": ["facility_id", "period_end", "revenue", "opex", "capex", "taxes",
                       "interest", "principal", "cash", "reported_on"],
    "gpu_lots.csv": ["facility_id", "lot_id", "gpu_model", "quantity", "acquired_on", "unit_cost"],
    "crypto.csv": ["facility_id", "asset", "as_of", "quantity"],
    "prices.csv": ["symbol", "date", "price"],
}


def facility_id(number: int) -> str:
    return f"FAC-{number:04d}"


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 100, high * 100)) / 100


def _day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def write_csv(folder: Path, name: str, rows: list[dict]) -> None:
    with (folder / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FILES[name], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else str(value) for key, value in row.items()})


def write_random_portfolio(directory, n_facilities: int, seed: int) -> None:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = {name: [] for name in FILES}
    for number in range(1, n_facilities + 1):
        fid = facility_id(number)
        kind = FACILITY_TYPES[number % len(FACILITY_TYPES)]
        if number == 7:
            kind = "gpu_abl"  # FAC-0007 carries the min-dscr override
        _facility(rng, rows, number, fid, kind)
        _financials(rng, rows["financials.csv"], number, fid)
        _lots(rng, rows["gpu_lots.csv"], fid, kind)
        _crypto(rng, rows["crypto.csv"], fid, kind)
    rows["prices.csv"] = _prices(rng)
    for name, content in rows.items():
        write_csv(folder, name, content)


def _facility(rng, rows, number, fid, kind) -> None:
    commitment = Decimal(rng.randint(1, 60) * 1_000_000)
    outstanding = (commitment * Decimal(rng.randint(0, 110)) / 100).quantize(Decimal("0.01"))
    if number % 23 == 0:
        outstanding = Decimal(0)
    origination = _day(rng, dt.date(2022, 1, 1), dt.date(2024, 6, 30))
    rows["facilities.csv"].append({
        "facility_id": fid, "borrower": f"Borrower {number}", "facility_type": kind,
        "currency": "USD", "commitment": commitment, "outstanding": outstanding,
        "origination_date": origination,
        "maturity_date": origination + dt.timedelta(days=365 * rng.randint(3, 8)),
        "owner_email": f"owner{number}@lender.example" if number % 3 else "",
        "slack_channel": "#credit-alerts" if number % 4 else "",
    })
    if number % 5 in (1, 2):
        days = sorted(rng.sample(range(0, 800), rng.randint(1, 3)))
        for offset in days:
            amount = (commitment * Decimal(rng.randint(0, 100)) / 100).quantize(Decimal("0.01"))
            if rng.random() < 0.15:
                amount = Decimal(0)
            rows["balances.csv"].append({
                "facility_id": fid, "as_of": dt.date(2024, 1, 1) + dt.timedelta(days=offset),
                "outstanding": amount})
    taken = {row["as_of"] for row in rows["balances.csv"] if row["facility_id"] == fid}
    if number % 29 == 0 and AS_OF_DATES[number % 5] not in taken:  # zero, dated on a test date
        rows["balances.csv"].append({"facility_id": fid, "as_of": AS_OF_DATES[number % 5],
                                     "outstanding": Decimal(0)})


def _financials(rng, out, number, fid) -> None:
    profile = rng.choice(["full"] * 6 + ["missing", "missing", "sparse", "none", "old", "stub",
                                         "anchor", "stopped", "budget"])
    if number == 7:
        profile = "full"
    quarters = list(QUARTER_ENDS)
    if profile == "missing":
        quarters.remove(rng.choice(quarters[2:]))
    elif profile == "sparse":
        quarters = sorted(rng.sample(quarters, 2))
    elif profile == "none":
        quarters = []
    elif profile == "old":
        quarters = quarters[:4]
    periods = list(quarters)
    budgets: set[dt.date] = set()
    if profile == "stub":  # a period ending exactly T - 366 days
        periods.append(rng.choice(AS_OF_DATES) - dt.timedelta(days=366))
    elif profile == "anchor":  # known from period_end, so L is a quarter end at every test date
        latest = rng.choice([dt.date(2025, 3, 31), dt.date(2025, 6, 30), dt.date(2025, 12, 31)])
        periods.append(latest - dt.timedelta(days=rng.choice([366, 365, 300])))
    elif profile == "stopped":  # 4 quarters, the latest exactly 365 or 366 days before a test date
        latest = rng.choice(AS_OF_DATES) - dt.timedelta(days=rng.choice([365, 366]))
        periods = [latest - dt.timedelta(days=91 * i) for i in range(4)]
    elif profile == "budget":  # "reported" before the test dates, ending after some of them
        budgets = {rng.choice(AS_OF_DATES) + dt.timedelta(days=rng.choice([1, 45])), dt.date(2026, 6, 30)}
        periods += sorted(budgets)
    periods = sorted(set(periods))
    zero_service = number % 17 == 0
    exact = number == 7 or number % 6 == 0
    ratio = Decimal("1.1") if number == 7 else Decimal(rng.choice(EXACT_RATIOS))
    for period_end in sorted(periods):
        interest = Decimal(0) if zero_service else _money(rng, 100_000, 2_000_000)
        principal = Decimal(0) if zero_service else _money(rng, 0, 3_000_000)
        service = interest + principal
        if exact:
            cfads = service * ratio
        else:
            cfads = Decimal(rng.randint(-30, 300)) / 100 * service if service else _money(rng, -1000, 9000)
            cfads = cfads.quantize(Decimal("0.01"))
        revenue = _money(rng, 1_000_000, 30_000_000)
        capex = _money(rng, 0, 3_000_000)
        taxes = _money(rng, -200_000, 800_000)
        opex = revenue - capex - taxes - cfads  # may be negative: financial amounts may be
        lag = rng.choice([None, 0, 10, 30, 45, 45, 60, 90, 100, 130, 200])
        if profile == "anchor":
            lag = None
        rows_reported = None if lag is None else period_end + dt.timedelta(days=lag)
        if period_end in budgets:
            rows_reported = dt.date(2024, 12, 15)
        out.append({
            "facility_id": fid, "period_end": period_end, "revenue": revenue, "opex": opex,
            "capex": capex, "taxes": taxes, "interest": interest, "principal": principal,
            "cash": _money(rng, -500_000, 20_000_000), "reported_on": rows_reported,
        })


def _lots(rng, out, fid, kind) -> None:
    count = rng.choice([0, 1, 1, 2, 3, 4]) if kind != "crypto_backed" else rng.choice([0, 0, 1])
    for index in range(1, count + 1):
        acquired = _day(rng, dt.date(2021, 6, 1), dt.date(2026, 4, 30))
        if rng.random() < 0.1:
            acquired = rng.choice(AS_OF_DATES) + dt.timedelta(days=rng.choice([0, 1]))
        out.append({
            "facility_id": fid, "lot_id": f"LOT-{index}", "gpu_model": rng.choice(GPU_MODELS),
            "quantity": 0 if rng.random() < 0.05 else rng.choice([8, 64, 256, 512, 1024, 2048]),
            "acquired_on": acquired, "unit_cost": _money(rng, 8_000, 45_000),
        })


def _crypto(rng, out, fid, kind) -> None:
    if kind not in ("miner_convertible", "crypto_backed") and rng.random() > 0.15:
        return
    for asset in ("BTC", "ETH"):
        if asset == "ETH" and rng.random() < 0.5:
            continue
        dates = sorted(rng.sample(range(0, 850), rng.randint(1, 3)))
        for offset in dates:
            quantity = Decimal(rng.randint(0, 40_000_000_000)) / Decimal(10**8)
            if rng.random() < 0.2:
                quantity = Decimal(0)
            out.append({"facility_id": fid, "asset": asset,
                        "as_of": dt.date(2024, 1, 1) + dt.timedelta(days=offset),
                        "quantity": quantity})


def _prices(rng) -> list[dict]:
    rows = []
    # Spot prices, daily, with gaps that make them stale or exactly at the age limit.
    btc_skip = {AS_OF_DATES[1] - dt.timedelta(days=d) for d in (0, 1, 2)}  # latest 3 days old
    btc_skip |= {AS_OF_DATES[3] - dt.timedelta(days=d) for d in (0, 1)}  # latest 2 days old
    eth_skip = {AS_OF_DATES[2] - dt.timedelta(days=d) for d in (0, 1, 2, 3, 4)}
    eth_skip |= {AS_OF_DATES[4]}
    btc, eth = Decimal("42000"), Decimal("2300")
    day = dt.date(2024, 1, 1)
    while day <= dt.date(2026, 5, 31):
        btc = max(Decimal("1000"), btc + _money(rng, -2000, 2100))
        eth = max(Decimal("100"), eth + _money(rng, -120, 125))
        if day not in btc_skip:
            rows.append({"symbol": "BTC", "date": day, "price": btc})
        if day not in eth_skip:
            rows.append({"symbol": "ETH", "date": day, "price": eth})
        day += dt.timedelta(days=1)
    # GPU marks: H100 and A100 exactly 30 / 31 days old at each test date (alternating),
    # H200 fresh, B200 one old mark plus one dated on a test date, L40S never marked.
    for index, as_of in enumerate(AS_OF_DATES):
        fresh, stale = ("H100", "A100") if index % 2 == 0 else ("A100", "H100")
        rows.append({"symbol": f"GPU:{fresh}", "date": as_of - dt.timedelta(days=30),
                     "price": _money(rng, 9_000, 30_000)})
        rows.append({"symbol": f"GPU:{stale}", "date": as_of - dt.timedelta(days=31),
                     "price": _money(rng, 9_000, 30_000)})
        for symbol in ("GPU:H100", "GPU:A100"):
            rows.append({"symbol": symbol, "date": as_of - dt.timedelta(days=50),
                         "price": _money(rng, 9_000, 30_000)})
        rows.append({"symbol": "GPU:H200", "date": as_of - dt.timedelta(days=3),
                     "price": _money(rng, 20_000, 40_000)})
    rows.append({"symbol": "GPU:B200", "date": dt.date(2025, 1, 10), "price": Decimal("38000")})
    rows.append({"symbol": "GPU:B200", "date": AS_OF_DATES[3], "price": Decimal("36500.5")})
    # Rental prices per GPU-hour.
    month = dt.date(2023, 1, 15)
    while month <= dt.date(2026, 5, 15):
        age = (month.year - 2023) * 12 + month.month - 1
        if not dt.date(2024, 5, 1) <= month <= dt.date(2024, 9, 30):  # H100 gap
            rows.append({"symbol": "RENT:H100",
                         "date": month, "price": Decimal("9.5") - Decimal(age) * Decimal("0.19")})
        rows.append({"symbol": "RENT:A100", "date": month.replace(day=1),
                     "price": Decimal("3.2") - Decimal(age) * Decimal("0.045")})
        if month >= dt.date(2025, 3, 15):
            rows.append({"symbol": "RENT:H200", "date": month,
                         "price": Decimal("4.1") - Decimal(age - 26) * Decimal("0.07")})
        rows.append({"symbol": "RENT:L40S", "date": month,
                     "price": Decimal(0) if dt.date(2024, 8, 1) <= month <= dt.date(2024, 10, 31)
                     else Decimal("1.4") - Decimal(age) * Decimal("0.01")})
        month = month.replace(year=month.year + (month.month == 12), month=month.month % 12 + 1)
    return rows


RULE_FILES = {
    "00-valuation.yaml": """\
valuation:
  default: {useful_life_years: 4, residual: 0.05}
  models:
    H100: {useful_life_years: 5}
    A100: {residual: 0.2}
    H200: {useful_life_years: 6, residual: 0.25}
  mark_max_age_days: 30
  liquidation:
    horizon_days: 60                       # capacity = monthly_depth × 2 units
    default: {orderly: 0.55, monthly_depth: 300}
    models:
      H100: {orderly: 0.7, forced: 0.35, monthly_depth: 500}
      A100: {forced: 20%}
      H200: {monthly_depth: 512}            # two lots of 512 sit exactly at the capacity
      L40S: {orderly: 0.4, forced: 0.4}
    crypto: {default: 0.9, BTC: 0.97}
""",
    "10-forecast.yaml": """\
forecast:
  default_rate: -0.28
  rates: {H200: -0.35, L40S: -0.2}
  price_max_age_days: 30
""",
    "20-credit.yaml": """\
covenants:
  - id: min-dscr
    title: Minimum DSCR
    metric: dscr_ttm
    must_be: ">= 1.25"
    warn_at: ">= 1.4"
    applies_to: {facility_type: [gpu_abl, project_finance]}
    overrides: {FAC-0007: ">= 1.1", FAC-0011: "> 1.2"}
    steps:
      - {from: 2026-07-01, must_be: ">= 1.35"}
      - {from: 2025-06-30, must_be: ">= 1.2"}
    severity: high
  - id: miner-dscr
    metric: dscr_ttm
    must_be: ">= 1.05"
    steps:
      - {from: 2026-04-30, must_be: ">= 1.3"}
    applies_to: {facility_type: [miner_convertible, data_centre]}
  - id: dscr-raw
    expr: "cfads_ttm / debt_service_ttm"
    must_be: "> 1.25"
  - id: fwd-dscr
    metric: dscr_fwd_12m
    must_be: ">= 1"
    warn_at: ">= 1.2"
  - id: fwd-floor
    expr: "min(dscr_fwd_6m, dscr_ttm) * abs(-1)"
    must_be: ">= 1.1"
  - id: ebitda-margin
    expr: "ebitda_ttm / revenue_ttm"
    must_be: ">= 0.25"
    warn_at: ">= 0.3"
  - id: service-margin
    expr: "(cfads_ttm - debt_service_ttm) / max(revenue_ttm, 1)"
    must_be: ">= -0.05"
    warn_at: ">= 0.02"
  - id: reporting
    metric: days_since_period_end
    must_be: "<= 135"
    warn_at: "<= 100"
  - id: net-cash
    expr: "cash - 0.1 * outstanding"
    must_be: ">= 0"
  - id: deflation
    metric: rental_deflation
    must_be: "> -0.3"
    warn_at: ">= -0.2"
""",
    "30-collateral.yaml": """\
covenants:
  - id: max-ltv
    metric: ltv
    must_be: "<= 0.7"
    warn_at: "<= 0.6"
    overrides: {FAC-0010: "< 0.8"}
  - id: gross-ltv
    expr: "outstanding / (gpu_value + crypto_value)"
    must_be: "< 0.8"
  - id: crypto-cover
    expr: "crypto_value / outstanding"
    must_be: ">= 1.5"
    warn_at: ">= 2"
    applies_to: {facility_type: [miner_convertible, crypto_backed]}
  - id: crypto-margin
    metric: crypto_coverage
    must_be: ">= 1.2"
    applies_to:
      facility_type: [crypto_backed, miner_convertible]
      facility_id: [FAC-0002, FAC-0003, FAC-0004, FAC-0008, FAC-0009, FAC-0013, FAC-0014, FAC-0023]
  - id: gpu-headroom
    expr: "gpu_value / max(outstanding, 1) - 1 + -collateral_value * 0"
    must_be: "> 0.2"
  - id: min-gpus
    metric: gpu_count
    must_be: ">= 100"
    applies_to: {facility_type: [gpu_abl, data_centre]}
  - id: liq-ltv
    metric: liquidation_ltv
    must_be: "<= 1"
    warn_at: "<= 0.85"
  - id: mirage
    expr: "collateral_mirage + (gpu_liquidation_value + crypto_liquidation_value - liquidation_value) / 1000"
    must_be: "<= 0.5"
    warn_at: "<= 0.4"
  - id: utilisation
    expr: "outstanding / commitment"
    must_be: "<= 1"
    warn_at: "< 0.9"
  - id: headroom-vs-cash
    expr: "(outstanding - cash) / 1000000 - crypto_value / 1000000"
    must_be: "<= 0"
    steps:
      - {from: 2025-09-15, must_be: "<= -5"}
""",
    "40-scenarios.yaml": """\
scenarios:
  - name: crypto-winter
    title: Crypto winter with rental slump
    shocks: {BTC: "-65%", ETH: "-0.7", rent: "-30%"}
  - name: gpu-glut
    title: Next generation ships
    shocks: {gpu: "-40%", "gpu:H100": "-0.2", rent: "-0.1"}
""",
}


def write_rules(directory) -> None:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in RULE_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
