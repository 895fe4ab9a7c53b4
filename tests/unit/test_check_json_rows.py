"""`check --format json` rows: the template of ``json_row`` writes exactly what json.dumps writes."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.results import STATUSES, CovenantResult
from bot.domain.thresholds import OPERATORS, Threshold
from bot.render.console import ROW_SEPARATOR, JsonRowsWriter, json_row

decimals = st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False), st.just(Decimal("-0")),
                     st.just(Decimal("1.5E+7")), st.just(Decimal("-0.000001")))
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(
    facility_id=texts, covenant_id=texts, metric=texts, value=decimals, headroom=decimals,
    op=st.sampled_from(OPERATORS), limit=st.decimals(allow_nan=False, allow_infinity=False),
    status=st.sampled_from(STATUSES), reason=st.one_of(st.none(), texts),
    months=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)
def test_a_row_is_byte_for_byte_what_json_dumps_writes(facility_id, covenant_id, metric, value, headroom, op,
                                                          limit, status, reason, months):
    result = CovenantResult(facility_id, covenant_id, metric, date(2026, 6, 30), value, Threshold(op, limit),
                            status, headroom, reason, months)
    assert json_row(result) == json.dumps(result.as_json())


def test_a_threshold_text_is_that_of_its_own_object_even_when_equal_thresholds_differ_in_text():
    one = CovenantResult("F", "c", "ltv", date(2026, 6, 30), Decimal(1), Threshold("<=", Decimal("0.70")), "breach",
                         None, None)
    other = CovenantResult("F", "c", "ltv", date(2026, 6, 30), Decimal(1), Threshold("<=", Decimal("0.7")), "breach",
                           None, None)
    assert json.loads(json_row(one))["threshold"] == "<= 0.70"
    assert json.loads(json_row(other))["threshold"] == "<= 0.7"


def _result(facility_id: str) -> CovenantResult:
    return CovenantResult(facility_id, "c", "ltv", date(2026, 6, 30), Decimal("0.5"), Threshold("<=", Decimal("0.7")),
                          "ok", Decimal("0.2857"), None)


def test_rows_written_one_by_one_or_rendered_in_runs_make_the_same_array():
    results = [_result(f"F{i}") for i in range(5)]
    one_by_one, in_runs = io.StringIO(), io.StringIO()
    with JsonRowsWriter(one_by_one) as writer:
        for r in results:
            writer.write(r)
    with JsonRowsWriter(in_runs) as writer:
        writer.write_rendered("", 0)  # an empty run (facilities with no covenant) writes nothing
        writer.write_rendered(ROW_SEPARATOR.join(json_row(r) for r in results[:2]), 2)
        writer.write_rendered(ROW_SEPARATOR.join(json_row(r) for r in results[2:]), 3)
    assert in_runs.getvalue() == one_by_one.getvalue()
    assert json.loads(in_runs.getvalue()) == [r.as_json() for r in results]
    assert in_runs.getvalue().count("\n") == 7  # "[", one line per row, "]"


def test_no_rows_make_an_empty_array():
    out = io.StringIO()
    with JsonRowsWriter(out) as writer:
        writer.write_rendered("", 0)
    assert out.getvalue() == "[]\n"
