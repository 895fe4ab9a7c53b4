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
from bot.domain.results import CovenantResult, Status
from bot.domain.rulebook import Covenant
from bot.domain.variables import NoData, Value

DSCR = "dscr_ttm"


_NEEDED: dict[int, tuple[Covenant, frozenset[str]]] = {}  # id(covenant) -> (covenant, names)


def _needed(covenant: Covenant) -> frozenset[str]:
    found = _NEEDED.get(id(covenant))
    if found is None or found[0] is not covenant:  # computed once per covenant object, not per result
        if len(_NEEDED) > 10_000:  # rule sets reloaded many times: start again
            _NEEDED.clear()
        names = covenant.variables()
        found = _NEEDED[id(covenant)] = (covenant, names | FORWARD_VARIABLES if covenant.metric == DSCR else names)
    return found[1]


def evaluate_covenant(
    covenant: Covenant, data: FacilityData, values: Mapping[str, Value], market: Market
) -> CovenantResult:
    """One covenant at one facility at market.as_of; variables missing from ``values`` are computed."""
    missing = _needed(covenant) - values.keys()
    if missing:
        values = {**values, **compute_metrics(data, market, missing)}
    with localcontext(CONTEXT):
        return _evaluate(covenant, data.facility_id, values, market)


def _evaluate(covenant: Covenant, facility_id: str, values: Mapping[str, Value], market: Market) -> CovenantResult:
    """evaluate_covenant with every needed variable in ``values``, in the CONTEXT already set."""
    as_of = market.as_of
    threshold = covenant.threshold_at(facility_id, as_of)
    if covenant.metric is not None:
        value = values[covenant.metric]
    else:
        assert covenant.expr is not None  # a covenant has a metric or an expression (rule files)
        value = covenant.expr.evaluate(values)
    if isinstance(value, NoData):
        return CovenantResult(
            facility_id, covenant.id, covenant.metric_label, as_of, None, threshold, "no_data", None, value.reason
        )
    assert isinstance(value, Decimal)
    status: Status
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


class _Plans:
    """The covenants that apply, and the variables they need, per facility type, for the last
    covenant sequence seen (one sequence serves a whole check); only when no covenant names ids."""

    covenants: object = None
    by_type: dict[str, tuple[list[Covenant], frozenset[str]]] | None = None

    def get(self, data: FacilityData, covenants: Sequence[Covenant]) -> tuple[list[Covenant], frozenset[str]]:
        if covenants is not self.covenants:
            self.covenants = covenants
            self.by_type = None if any(c.applies_to_ids is not None for c in covenants) else {}
        if self.by_type is None:
            return _plan(data, covenants)
        kind = data.facility.facility_type
        found = self.by_type.get(kind)
        if found is None:
            found = self.by_type[kind] = _plan(data, covenants)
        return found


def _plan(data: FacilityData, covenants: Sequence[Covenant]) -> tuple[list[Covenant], frozenset[str]]:
    chosen = applicable(data, covenants)
    needed: set[str] = set()
    for covenant in chosen:
        needed |= _needed(covenant)
    return chosen, frozenset(needed)


_plans = _Plans()


def evaluate_facility(data: FacilityData, market: Market, covenants: Sequence[Covenant]) -> list[CovenantResult]:
    """Every covenant that applies to the facility, sorted by covenant id; variables computed once."""
    chosen, needed = _plans.get(data, covenants)
    if not chosen:
        return []
    values = compute_metrics(data, market, needed)
    facility_id = data.facility_id
    with localcontext(CONTEXT):
        return [_evaluate(c, facility_id, values, market) for c in chosen]
