"""Forward-looking risk: a facility's rental deflation, forward DSCR and months to breach.

Forward DSCR h months ahead = (revenue_ttm × (1 + r)^(h/12) − (opex + capex + taxes)_ttm) / debt_service_ttm,
r = the facility's rental deflation; costs and debt service held (DOMAIN.md "Forward-looking risk").
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from bot.domain.decimals import CONTEXT, ZERO, divide
from bot.domain.market import HORIZON_MONTHS, Market
from bot.domain.model import GpuLot
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import Threshold
from bot.domain.variables import NoData, Value

# the variables a forward DSCR is built from
FORWARD_VARIABLES = frozenset({"dscr_ttm", "revenue_ttm", "cfads_ttm", "debt_service_ttm", "rental_deflation"})


@dataclass(frozen=True)
class ForwardInputs:
    """The trailing figures a forward DSCR holds or deflates."""

    revenue_ttm: Decimal
    costs_ttm: Decimal  # opex + capex + taxes = revenue − cfads
    debt_service_ttm: Decimal  # never 0 here: dscr_ttm has data
    rate: Decimal  # the facility's rental deflation


def forward_inputs(values: Mapping[str, Value]) -> ForwardInputs | NoData:
    """The inputs of a forward DSCR from the facility's variables; no data wherever dscr_ttm has none."""
    dscr = values["dscr_ttm"]
    if isinstance(dscr, NoData):
        return dscr
    revenue, cfads = values["revenue_ttm"], values["cfads_ttm"]
    debt_service, rate = values["debt_service_ttm"], values["rental_deflation"]
    assert isinstance(revenue, Decimal) and isinstance(cfads, Decimal)
    assert isinstance(debt_service, Decimal) and isinstance(rate, Decimal)
    return ForwardInputs(revenue, CONTEXT.subtract(revenue, cfads), debt_service, rate)


def rental_deflation(lots: Iterable[GpuLot], market: Market) -> Decimal:
    """The models' rates weighted by the quantity of the lots that count; none → default_rate."""
    weighted = ZERO
    total = ZERO
    for lot in lots:
        weighted += lot.quantity * market.deflation(lot.gpu_model).rate
        total += lot.quantity
    if total == 0:
        return market.forecast.default_rate
    return divide(weighted, total)


def forward_dscr(inputs: ForwardInputs, factor: Decimal) -> Decimal:
    """Forward DSCR with revenue multiplied by ``factor`` = (1 + r)^(h/12)."""
    revenue = CONTEXT.multiply(inputs.revenue_ttm, factor)
    return divide(CONTEXT.subtract(revenue, inputs.costs_ttm), inputs.debt_service_ttm)


def forward_dscr_at(inputs: ForwardInputs, months: int, market: Market) -> Decimal:
    return forward_dscr(inputs, market.growth_factors(inputs.rate)[months])


def months_to_breach(covenant: Covenant, facility_id: str, inputs: ForwardInputs, market: Market) -> int | None:
    """The smallest m in 0..60 whose forward DSCR fails the effective threshold on T + m months.

    The forward DSCR is monotone in m (one growth base, costs and debt service held), and the
    threshold only changes at a step, so within each stretch of months under one threshold the
    failing months are a prefix or a suffix: check the ends and bisect, instead of 61 divisions.
    """
    factors = market.growth_factors(inputs.rate)
    dates = market.dates_ahead
    starts = [0]
    if facility_id not in covenant.overrides:
        for step in covenant.steps:
            m = bisect_left(dates, step.start)
            if 0 < m <= HORIZON_MONTHS and m != starts[-1]:
                starts.append(m)
    ends = [s - 1 for s in starts[1:]] + [HORIZON_MONTHS]
    for first, last in zip(starts, ends):
        threshold = covenant.threshold_at(facility_id, dates[first])

        def fails(m: int, threshold: Threshold = threshold) -> bool:
            return not threshold.passes(forward_dscr(inputs, factors[m]))

        if fails(first):
            return first
        if not fails(last):
            continue  # monotone and both ends pass: every month between passes
        guess = _first_failing_guess(threshold, inputs, first, last)
        if guess is not None and fails(guess) and (guess - 1 == first or not fails(guess - 1)):
            return guess  # checked exactly: passes the month before, fails this one
        lo, hi = first, last  # passes at lo, fails at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fails(mid):
                hi = mid
            else:
                lo = mid
        return hi
    return None


def _first_failing_guess(threshold: Threshold, inputs: ForwardInputs, first: int, last: int) -> int | None:
    """A binary floating-point estimate of the first failing month in (first, last], or None.

    Only a guess to save exact fractional powers (each ~40 µs): the caller confirms it in decimal
    (it fails and the month before passes), so the answer is always the exact one.
    """
    try:
        base = float(1 + inputs.rate)
        revenue, costs = float(inputs.revenue_ttm), float(inputs.costs_ttm)
        debt_service = float(inputs.debt_service_ttm)
        for m in range(first + 1, last + 1):
            if not threshold.passes((revenue * base ** (m / 12) - costs) / debt_service):
                return m
    except (ArithmeticError, ValueError):
        return None
    return None
