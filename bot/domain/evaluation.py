"""The status of covenants at one facility on one test date (DOMAIN.md "Status of one covenant").

breach: fails the effective threshold; warning: passes it but fails warn_at; ok: passes both;
no_data: the value cannot be computed (never ok). Months to breach only for `dscr_ttm` covenants.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Mapping, Sequence

from bot.domain.decimals import CONTEXT
from bot.domain.forecast import FORWARD_VARIABLES, forward_inputs, months_to_breach
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.rulebook import Covenant
from bot.domain.variables import NoData, Value

DSCR = "dscr_ttm"


def _needed(covenant: Covenant) -> frozenset[str]:
    names = covenant.variables()
    return names | FORWARD_VARIABLES if covenant.metric == DSCR else names


def evaluate_covenant(
    covenant: Covenant, data: FacilityData, values: Mapping[str, Value], market: Market
) -> CovenantResult:
    """One covenant at one facility at market.as_of; variables missing from ``values`` are computed."""
    facility_id = data.facility_id
    as_of = market.as_of
    missing = _needed(covenant) - values.keys()
    if missing:
        values = {**values, **compute_metrics(data, market, missing)}
    threshold = covenant.threshold_at(facility_id, as_of)
    with localcontext(CONTEXT):
        value = values[covenant.metric] if covenant.metric is not None else covenant.expr.evaluate(values)
        if isinstance(value, NoData):
            return CovenantResult(
                facility_id, covenant.id, covenant.metric_label, as_of, None, threshold, "no_data", None, value.reason
            )
        assert isinstance(value, Decimal)
        if not threshold.passes(value):
            status = "breach"
        elif covenant.warn_at is not None and not covenant.warn_at.passes(value):
            status = "warning"
        else:
            status = "ok"
        months = rate = None
        if covenant.metric == DSCR:
            inputs = forward_inputs(values)
            if not isinstance(inputs, NoData):
                months = months_to_breach(covenant, facility_id, inputs, market)
                rate = inputs.rate
        return CovenantResult(
            facility_id,
            covenant.id,
            covenant.metric_label,
            as_of,
            value,
            threshold,
            status,
            threshold.headroom(value),
            None,
            months,
            rate,
        )


def applicable(data: FacilityData, covenants: Sequence[Covenant]) -> list[Covenant]:
    """The covenants that apply to the facility, sorted by covenant id."""
    facility = data.facility
    chosen = [c for c in covenants if c.applies_to(facility.facility_id, facility.facility_type)]
    return sorted(chosen, key=lambda c: c.id)


def evaluate_facility(data: FacilityData, market: Market, covenants: Sequence[Covenant]) -> list[CovenantResult]:
    """Every covenant that applies to the facility, sorted by covenant id; variables computed once."""
    chosen = applicable(data, covenants)
    if not chosen:
        return []
    needed: set[str] = set()
    for covenant in chosen:
        needed |= _needed(covenant)
    values = compute_metrics(data, market, needed)
    return [evaluate_covenant(c, data, values, market) for c in chosen]
