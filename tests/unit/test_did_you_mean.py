""""Did you mean …?" in rule-file errors: close matches only, still at file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.suggest import close_matches, did_you_mean
from bot.rulefiles.facility_types import unknown_facility_types
from bot.rulefiles.loader import validate_rules

CASES = [
    # a misspelt variable as metric:
    ("covenants:\n  - id: c1\n    metric: ltvv\n    must_be: '<= 0.7'\n",
     "3:13: metric: unknown variable 'ltvv'; did you mean 'ltv'?"),
    # ... and inside an expression (capitals too)
    ("covenants:\n  - id: c1\n    expr: \"LTV * 2\"\n    must_be: '<= 1'\n",
     "3:12: expr: unknown variable 'LTV'; did you mean 'ltv'?"),
    # a misspelt key of a covenant, of a step and at the top level
    ("covenants:\n  - id: c1\n    metric: ltv\n    must_be: '<= 0.7'\n    warn_on: '<= 0.6'\n",
     "5:5: warn_on: unknown key in a covenant; did you mean warn_at?"),
    ("covenants:\n  - id: c1\n    metric: ltv\n    must_be: '<= 0.7'\n    steps: [{form: 2027-01-01, must_be: '<= 0.6'}]\n",
     "5:14: form: unknown key in a step; did you mean from?"),
    ("covenans: []\n", "1:1: covenans: unknown key in a rule file; did you mean covenants?"),
    # a severity
    ("covenants:\n  - id: c1\n    metric: ltv\n    must_be: '<= 0.7'\n    severity: hihg\n",
     '5:15: severity: expected one of low, medium, high, critical, got "hihg"; did you mean high?'),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[1].split(":")[2].strip() for c in CASES])
def test_a_close_misspelling_gets_a_suggestion_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert f"{path}:{expected}" in [str(p) for p in validate_rules(path)]


def test_nothing_close_gets_the_list_not_a_guess(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("covenants:\n  - id: c1\n    metric: zebra\n    must_be: '<= 0.7'\n    qqq: 1\n")
    found = [str(p) for p in validate_rules(path)]
    assert found[0].startswith(f"{path}:3:13: metric: expected one of the variables dscr_ttm, cfads_ttm")
    assert found[1] == f"{path}:5:5: qqq: unknown key in a covenant; expected one of id, title, metric, expr, " \
                       "must_be, warn_at, applies_to, overrides, steps, severity, notify, pending_evaluations, " \
                       "keep_firing_evaluations, remind_every, cure_days, notify_on"
    assert not any("did you mean" in p for p in found)


def test_suggestions_are_close_matches_only() -> None:
    assert close_matches("dscr", ["dscr_ttm", "cash", "ltv"]) == ["dscr_ttm"]
    assert did_you_mean("zzz", ["dscr_ttm", "cash", "ltv"]) is None
    assert did_you_mean("ltv", ["ltv"]) is None  # the name itself is not a suggestion
    assert did_you_mean("gpu_vlaue", ["gpu_value", "gpu_count", "crypto_value"]) == "did you mean gpu_value?"


def test_an_unknown_facility_type_is_a_warning_at_its_place_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "covenants:\n"
        "  - id: c1\n    metric: ltv\n    must_be: '<= 0.7'\n"
        "    applies_to: {facility_type: [gpu_abl, gpu-abll]}\n"
        "  - id: c2\n    metric: ltv\n    must_be: '<= 0.7'\n"
        "    applies_to:\n      facility_type: warehouse\n"
    )
    assert validate_rules(path) == []  # free text: not an error of the file itself
    warnings = [str(p) for p in unknown_facility_types(path, {"gpu_abl", "project_finance", "crypto_backed"})]
    assert warnings == [
        f'{path}:5:43: facility_type: no stored facility has the type "gpu-abll"; did you mean gpu_abl?',
        f'{path}:10:22: facility_type: no stored facility has the type "warehouse"; '
        "the stored types are crypto_backed, gpu_abl, project_finance",
    ]
