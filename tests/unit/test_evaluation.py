"""Status of covenants at a facility (DOMAIN.md "Status of one covenant", "Edge cases, decided")."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Context, InvalidOperation, Overflow, localcontext
from decimal import Decimal as D
from typing import Callable, Mapping

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.decimals import CONTEXT
from bot.domain.evaluation import evaluate_covenant, evaluate_facility
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.model import Facility, FacilityData, FinancialPeriod, PriceBook
from bot.domain.rulebook import Covenant, ForecastSettings, Step, Valuation
from bot.domain.thresholds import Threshold
from bot.domain.variables import NoData, Value

T = date(2026, 3, 31)


def facility_data(n_quarters: int = 4, facility_id: str = "F1", facility_type: str = "gpu_abl",
                  outstanding: str = "1000", cfads=("0.33", "0.33", "0.33", "0.33"),
                  debt_service="0.3") -> FacilityData:
    """Quarters whose Σ cfads / Σ debt service is 1.32 / 1.2 = 1.1 by default."""
    facility = Facility(facility_id, "Borrower", facility_type, "USD", D(2000), D(outstanding), date(2024, 1, 1),
                        date(2030, 1, 1))
    financials = tuple(
        FinancialPeriod(facility_id, T - timedelta(days=91 * i), D(cfads[i]), D(0), D(0), D(0), D(debt_service),
                        D(0), D(50))
        for i in range(n_quarters)
    )
    return FacilityData(facility, (), financials)


def market(as_of: date = T) -> Market:
    return Market(PriceBook(), Valuation(), ForecastSettings(default_rate=D(0)), as_of)


def covenant(must_be: str, metric: str | None = "dscr_ttm", warn_at: str | None = None, id: str = "c",
             steps=(), overrides=None, expr=None, expr_text=None, **kw) -> Covenant:
    return Covenant(
        id=id, must_be=Threshold.parse(must_be), metric=metric, expr=expr, expr_text=expr_text,
        warn_at=Threshold.parse(warn_at) if warn_at else None,
        steps=tuple(Step(start, Threshold.parse(t)) for start, t in steps),
        overrides={k: Threshold.parse(v) for k, v in (overrides or {}).items()}, **kw,
    )


def evaluate(c: Covenant, data: FacilityData | None = None, m: Market | None = None):
    data = data or facility_data()
    m = m or market()
    return evaluate_covenant(c, data, compute_metrics(data, m), m)


class FakeExpr:
    """Stands in for a parsed expression: the same two methods as bot.domain.expressions.Expr."""

    def __init__(self, names: tuple[str, ...], formula: Callable[..., Value]):
        self.names, self.formula = names, formula

    def variables(self) -> frozenset[str]:
        return frozenset(self.names)

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        values = [env[name] for name in self.names]
        for value in values:
            if isinstance(value, NoData):
                return value
        return self.formula(*values)


# -- statuses -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "must_be, warn_at, status",
    [
        (">= 1.1", None, "ok"),  # exactly at the threshold complies with >=
        ("> 1.1", None, "breach"),  # ... and fails >
        ("<= 1.1", None, "ok"),
        ("< 1.1", None, "breach"),
        (">= 1.0", ">= 1.2", "warning"),
        (">= 1.0", ">= 1.1", "ok"),
        (">= 1.2", ">= 1.4", "breach"),
    ],
)
def test_status_against_threshold_and_warning_band(must_be, warn_at, status):
    result = evaluate(covenant(must_be, warn_at=warn_at))
    assert result.value == D("1.1")
    assert result.status == status
    assert result.reason is None


def test_no_data_has_no_value_no_headroom_a_reason_and_the_effective_threshold():
    c = covenant(">= 1.25", steps=[(date(2026, 1, 1), ">= 1.35")])
    result = evaluate(c, facility_data(n_quarters=3))
    assert (result.status, result.value, result.headroom) == ("no_data", None, None)
    assert result.reason == "only 3 of 4 quarters reported in the 12 months to 2026-03-31 (the latest reported quarter)"
    assert str(result.threshold) == ">= 1.35"
    assert result.months_to_breach is None


# -- headroom -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "must_be, headroom",
    [(">= 1", D("0.1")), ("> 1", D("0.1")), ("<= 2.2", D("0.5")), ("< 2.2", D("0.5")), (">= 1.1", D(0))],
)
def test_headroom_is_relative_to_the_threshold(must_be, headroom):
    assert evaluate(covenant(must_be)).headroom == headroom


@pytest.mark.parametrize("must_be, headroom, status", [(">= -0.5", D("0.5"), "ok"), ("<= -0.2", D("0.25"), "ok"), ("<= -0.5", D("-0.5"), "breach")])
def test_negative_thresholds_divide_headroom_by_the_absolute_value(must_be, headroom, status):
    result = evaluate(covenant(must_be, metric="rental_deflation"), m=Market(PriceBook(), Valuation(), ForecastSettings(), T))
    assert result.value == D("-0.25")
    assert (result.headroom, result.status) == (headroom, status)


def test_threshold_0_gives_no_headroom():
    result = evaluate(covenant(">= 0", metric="cash"))
    assert (result.status, result.headroom) == ("ok", None)


def test_headroom_does_not_depend_on_the_callers_decimal_context():
    # Stored results keep the threshold text and the value, not the headroom: a reader recomputes it
    # wherever it runs, so the result must be the evaluation's to the last digit.
    t = Threshold.parse(">= 1.25")
    value = D("1.3333333333333333333333333333")
    expected = t.headroom(value)
    with localcontext(Context(prec=5, rounding=ROUND_DOWN)):
        assert t.headroom(value).as_tuple() == expected.as_tuple()
    assert expected == D("0.06666666666666666666666666664")


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from((">=", ">", "<=", "<")), sign=st.sampled_from(("", "+", "-")),
       whole=st.text("0123456789", max_size=30), point=st.booleans(), frac=st.text("0123456789", max_size=30),
       value=st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_a_threshold_comes_back_from_its_stored_text_to_the_last_digit(op, sign, whole, point, frac, value):
    number = whole + ("." + frac if point else "")
    assume(any(c.isdigit() for c in number))
    t = Threshold.parse(f"{op} {sign}{number}")
    back = Threshold.parse(str(t))  # what evaluation_results.threshold holds
    assert (back.op, back.value.as_tuple()) == (t.op, t.value.as_tuple()) or (t.value == 0 and back.value == 0)
    try:
        with localcontext(CONTEXT):
            expected = t.headroom(value)
    except (InvalidOperation, Overflow):
        return
    got = back.headroom(value)
    assert (got is None and expected is None) or got.as_tuple() == expected.as_tuple()


# -- effective threshold ---------------------------------------------------------------------------------
def test_steps_apply_in_date_order():
    c = covenant(">= 1.0", steps=[(date(2026, 1, 1), ">= 1.05"), (date(2026, 3, 31), ">= 1.2"),
                                  (date(2026, 6, 30), ">= 1.3")])
    assert str(evaluate(c, m=market(date(2025, 12, 31))).threshold) == ">= 1.0"
    at_t = evaluate(c)
    assert (str(at_t.threshold), at_t.status) == (">= 1.2", "breach")
    data = facility_data()
    before = evaluate(c, data, Market(PriceBook(), Valuation(), ForecastSettings(), T - timedelta(days=1)))
    assert str(before.threshold) == ">= 1.05"


def test_an_override_beats_steps_and_warn_at_is_unchanged():
    c = covenant(">= 1.25", warn_at=">= 1.4", steps=[(date(2026, 1, 1), ">= 1.35")], overrides={"F1": "> 1.05"})
    result = evaluate(c)
    assert (str(result.threshold), result.status) == ("> 1.05", "warning")
    other = evaluate(c, facility_data(facility_id="F2"))
    assert (str(other.threshold), other.status) == (">= 1.35", "breach")


# -- expressions -------------------------------------------------------------------------------------------
def test_an_expression_covenant_evaluates_over_the_variables():
    expr = FakeExpr(("cash", "outstanding"), lambda cash, outstanding: cash / outstanding)
    c = covenant(">= 0.04", metric=None, expr=expr, expr_text="cash / outstanding")
    data = facility_data()
    m = market()
    result = evaluate_covenant(c, data, {}, m)  # variables missing from `values` are computed
    assert (result.value, result.status, result.metric) == (D("0.05"), "ok", "cash / outstanding")
    assert result.headroom == D("0.25")


def test_an_expression_over_a_variable_without_data_is_no_data_with_its_reason():
    expr = FakeExpr(("ltv",), lambda ltv: ltv)
    result = evaluate(covenant("<= 0.7", metric=None, expr=expr, expr_text="ltv"))
    assert (result.status, result.reason) == ("no_data", "no collateral")


# -- a facility ---------------------------------------------------------------------------------------------
def test_only_covenants_that_apply_sorted_by_id():
    covenants = [
        covenant(">= 1", id="z-dscr"),
        covenant(">= 1", id="a-cash", metric="cash"),
        covenant(">= 1", id="m-miners", applies_to_types=("miner_convertible",)),
        covenant(">= 1", id="b-f1-abl", applies_to_types=("gpu_abl",), applies_to_ids=("F1",)),
        covenant(">= 1", id="c-f2-abl", applies_to_types=("gpu_abl",), applies_to_ids=("F2",)),
    ]
    results = evaluate_facility(facility_data(), market(), covenants)
    assert [r.covenant_id for r in results] == ["a-cash", "b-f1-abl", "z-dscr"]
    assert [r.months_to_breach for r in results] == [None, None, None]  # flat rate: 1.1 ≥ 1 for 60 months
    assert all(r.facility_id == "F1" and r.as_of == T for r in results)


def test_facility_results_match_single_evaluations():
    covenants = [covenant(">= 1.2", id="dscr"), covenant("<= 0.5", id="coverage", metric="crypto_coverage")]
    data, m = facility_data(), market()
    together = evaluate_facility(data, m, covenants)
    alone = [evaluate_covenant(c, data, compute_metrics(data, m), m) for c in sorted(covenants, key=lambda c: c.id)]
    assert together == alone
    assert [r.status for r in together] == ["ok", "breach"]
    assert together[1].months_to_breach == 0
