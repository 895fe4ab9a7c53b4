"""Loading and validating rule files: exact values, and every problem at its file:line:column."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.rulebook import DEFAULT_LIFE, ModelLife
from bot.domain.thresholds import Threshold
from bot.errors import RuleFileError
from bot.rulefiles.loader import load_rules, validate_rules


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    return [str(p) for p in validate_rules(path)]


DSCR = """
valuation:
  default: {useful_life_years: 3, residual: 0.10}
  models:
    H100: {useful_life_years: 4, residual: 0.15}
    A100: {residual: 0.05}
  mark_max_age_days: 20
covenants:
  - id: min-dscr
    title: Minimum DSCR
    metric: dscr_ttm
    must_be: ">= 1.25"
    warn_at: ">= 1.40"
    applies_to: {facility_type: [gpu_abl, project_finance]}
    overrides: {FAC-007: ">= 1.10"}
    steps:
      - {from: 2027-01-01, must_be: ">= 1.50"}
      - {from: 2026-07-01, must_be: ">= 1.35"}
    severity: high
    notify: {slack: ["#credit-alerts"], email: ["risk@lender.example"]}
    pending_evaluations: 2
    keep_firing_evaluations: 3
    remind_every: 12h
    cure_days: 30
    notify_on: [resolved, breach]
"""

CRYPTO = """
forecast:
  default_rate: -20%
  rates: {H100: -0.30, A100: "-35%"}
covenants:
  - id: crypto-cover
    expr: "crypto_value / outstanding"
    must_be: ">= 1.50"
    applies_to: {facility_id: FAC-001}
    remind_every: never
scenarios:
  - name: crypto-winter
    title: Crypto winter
    shocks: {BTC: "-65%", ETH: -0.70, rent: "-0.30", gpu: -20%, "gpu:H100": -10%}
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    write(folder, "20-crypto.yml", CRYPTO)
    write(folder, "10-dscr.yaml", DSCR)
    write(folder, "notes.txt", "not: [a rule file")  # ignored: not *.yaml / *.yml
    return folder


# --- a valid rule set --------------------------------------------------------------------------


def test_a_folder_of_rule_files_loads_in_name_order(rules_dir: Path) -> None:
    rules = load_rules(rules_dir)

    assert [c.id for c in rules.covenants] == ["min-dscr", "crypto-cover"]
    assert rules.files == (str(rules_dir / "10-dscr.yaml"), str(rules_dir / "20-crypto.yml"))
    assert len(rules.digest) == 64


def test_covenant_fields_are_read_exactly(rules_dir: Path) -> None:
    dscr = load_rules(rules_dir).covenant("min-dscr")

    assert dscr.metric == "dscr_ttm" and dscr.expr is None and dscr.title == "Minimum DSCR"
    assert dscr.must_be == Threshold(">=", Decimal("1.25"))
    assert dscr.warn_at == Threshold(">=", Decimal("1.40"))
    assert dscr.applies_to_types == ("gpu_abl", "project_finance") and dscr.applies_to_ids is None
    assert dscr.overrides == {"FAC-007": Threshold(">=", Decimal("1.10"))}
    assert [(s.start, str(s.must_be)) for s in dscr.steps] == [
        (date(2026, 7, 1), ">= 1.35"),
        (date(2027, 1, 1), ">= 1.50"),
    ]
    assert dscr.severity == "high"
    assert dscr.notify.slack == ("#credit-alerts",) and dscr.notify.email == ("risk@lender.example",)
    assert dscr.alert.pending_evaluations == 2 and dscr.alert.keep_firing_evaluations == 3
    assert dscr.alert.remind_every == timedelta(hours=12) and dscr.alert.cure_days == 30
    assert dscr.alert.notify_on == ("breach", "resolved")
    assert str(dscr.location) == f"{rules_dir / '10-dscr.yaml'}:8:9"
    assert dscr.threshold_at("FAC-001", date(2026, 8, 1)) == Threshold(">=", Decimal("1.35"))


def test_expression_covenant_and_defaults(rules_dir: Path) -> None:
    cover = load_rules(rules_dir).covenant("crypto-cover")

    assert cover.metric is None and cover.expr_text == "crypto_value / outstanding"
    assert cover.variables() == frozenset({"crypto_value", "outstanding"})
    assert cover.applies_to_ids == ("FAC-001",) and cover.applies_to_types is None
    assert cover.severity == "medium" and cover.alert.remind_every is None
    assert cover.alert.pending_evaluations == 1 and cover.alert.cure_days is None
    assert cover.alert.notify_on == ("warning", "breach", "no_data", "resolved")


def test_valuation_models_inherit_from_the_default_and_decimals_stay_exact(rules_dir: Path) -> None:
    valuation = load_rules(rules_dir).valuation

    assert valuation.default == ModelLife(Decimal(3), Decimal("0.10"))
    assert str(valuation.default.residual) == "0.10"
    assert valuation.life("H100") == ModelLife(Decimal(4), Decimal("0.15"))
    assert valuation.life("A100") == ModelLife(Decimal(3), Decimal("0.05"))
    assert valuation.life("B200") == valuation.default
    assert (valuation.mark_max_age_days, valuation.crypto_max_age_days) == (20, 2)


def test_forecast_rates_are_read_as_fractions_written_either_way(rules_dir: Path) -> None:
    forecast = load_rules(rules_dir).forecast

    assert forecast.default_rate == Decimal("-0.20")
    assert forecast.rates == {"H100": Decimal("-0.30"), "A100": Decimal("-0.35")}
    assert str(forecast.rates["A100"]) == "-0.35"
    assert forecast.price_max_age_days == 30


def test_scenario_shocks_are_decimal_fractions(rules_dir: Path) -> None:
    (winter,) = load_rules(rules_dir).scenarios

    assert (winter.name, winter.title) == ("crypto-winter", "Crypto winter")
    assert winter.shocks == {
        "BTC": Decimal("-0.65"),
        "ETH": Decimal("-0.70"),
        "rent": Decimal("-0.30"),
        "gpu": Decimal("-0.20"),
        "gpu:H100": Decimal("-0.10"),
    }


def test_without_valuation_or_default_the_built_in_life_applies(tmp_path: Path) -> None:
    bare = load_rules(write(tmp_path, "a.yaml", "covenants: []\n"))
    assert bare.valuation.default == DEFAULT_LIFE and bare.forecast.default_rate == Decimal("-0.25")

    partial = load_rules(write(tmp_path, "b.yaml", "valuation:\n  models:\n    H100: {useful_life_years: 5}\n"))
    assert partial.valuation.life("H100") == ModelLife(Decimal(5), Decimal("0.10"))
    assert partial.valuation.life("L40") == DEFAULT_LIFE


def test_an_empty_file_is_an_empty_rule_set(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, "empty.yaml", "# nothing yet\n"))
    assert rules.covenants == () and rules.scenarios == ()


def test_the_digest_follows_the_bytes(rules_dir: Path) -> None:
    first = load_rules(rules_dir).digest
    assert load_rules(rules_dir).digest == first
    write(rules_dir, "20-crypto.yml", CRYPTO + "# edited\n")
    assert load_rules(rules_dir).digest != first


# --- one problem, at its exact place -----------------------------------------------------------

COVENANT = "covenants:\n  - id: c1\n    metric: ltv\n"  # line 3 is the metric; extra keys follow on line 4

CASES = [
    # (file text, "line:column: message" expected exactly or as a prefix ending in "...")
    (
        COVENANT + '    must_be: "=> 1.25"\n',
        '4:14: must_be: expected a threshold such as ">= 1.25" (an operator >=, >, <= or < and a decimal), got "=> 1.25"',
    ),
    (COVENANT + "    must_be: '<= 0.70'\n    warn_at: 0.6\n", '5:14: warn_at: expected a threshold such as ">= 1.25" (an operator >=, >, <= or < and a decimal), got "0.6"'),
    (COVENANT + "    must_be: '<= 0.70'\n    frob: 1\n", "5:5: frob: unknown key in a covenant; expected one of id, title, metric, expr, must_be, ..."),
    (COVENANT + "    must_be: '<= 0.70'\n    metric: ltv\n", "5:5: metric: this key is repeated; it was first given on line 3"),
    (COVENANT + "    must_be: >= 0.70\n", "4:15: this is not valid YAML: while scanning a block scalar, expected chomping..."),
    ("covenants:\n  - id: c1\n    metric: dscr\n    must_be: '>= 1'\n", "3:13: metric: unknown variable 'dscr'; did you mean 'dscr_ttm'?"),
    ("covenants:\n  - id: c1\n    metric: zebra\n    must_be: '>= 1'\n", '3:13: metric: expected one of the variables dscr_ttm, ...'),
    ("covenants:\n  - id: c1\n    must_be: '>= 1'\n", "2:5: a covenant needs exactly one of metric: (a variable) or expr: (a formula), got neither"),
    (COVENANT + "    expr: ltv\n    must_be: '>= 1'\n", "4:5: a covenant needs exactly one of metric: (a variable) or expr: (a formula), got both"),
    ("covenants:\n  - id: c1\n    metric: ltv\n", "2:5: a covenant is missing the required key must_be"),
    ("covenants:\n  - metric: ltv\n    must_be: '>= 1'\n", "2:5: a covenant is missing the required key id"),
    ('covenants:\n  - id: c1\n    expr: "cash / outstandin"\n    must_be: ">= 1"\n', "3:19: expr: unknown variable 'outstandin'; did you mean 'outstanding'?"),
    ("covenants:\n  - id: c1\n    expr: cash ** 2\n    must_be: '>= 1'\n", "3:16: expr: ..."),
    (COVENANT + "    must_be: '<= 0.7'\n    steps:\n      - {from: 2026-13-01, must_be: '<= 0.6'}\n",
     '6:16: from: expected a date written YYYY-MM-DD (e.g. 2026-07-01), got "2026-13-01"'),
    (COVENANT + "    must_be: '<= 0.7'\n    steps:\n      - {from: 2026-07-01, must_be: '<= 0.6'}\n"
     "      - {from: 2026-07-01, must_be: '<= 0.5'}\n", "7:16: from: two steps start on 2026-07-01; the first is on line 6"),
    (COVENANT + "    must_be: '<= 0.7'\n    steps:\n      - {from: 2026-07-01, to: 2027-01-01, must_be: '<= 0.6'}\n",
     "6:28: to: unknown key in a step; expected one of from, must_be"),
    (COVENANT + "    must_be: '<= 0.7'\n    severity: urgent\n", '5:15: severity: expected one of low, medium, high, critical, got "urgent"'),
    (COVENANT + "    must_be: '<= 0.7'\n    applies_to: {facility_kind: gpu_abl}\n", "5:18: facility_kind: unknown key in applies_to; did you mean facility_id or facility_type?"),
    (COVENANT + "    must_be: '<= 0.7'\n    applies_to: {facility_type: []}\n", "5:33: facility_type: expected at least one of facility types, got an empty list"),
    (COVENANT + "    must_be: '<= 0.7'\n    overrides: {FAC-1: 0.5}\n", '5:24: overrides.FAC-1: expected a threshold such as ">= 1.25" (an operator >=, >, <= or < and a decimal), got "0.5"'),
    (COVENANT + "    must_be: '<= 0.7'\n    notify: {email: [risk.lender.example]}\n", '5:22: email: expected an email address such as "risk@lender.example", got "risk.lender.example"'),
    (COVENANT + "    must_be: '<= 0.7'\n    pending_evaluations: 0\n", '5:26: pending_evaluations: expected a whole number of 1 or more, got "0"'),
    (COVENANT + "    must_be: '<= 0.7'\n    cure_days: -1\n", '5:16: cure_days: expected a whole number of 0 or more, got "-1"'),
    (COVENANT + "    must_be: '<= 0.7'\n    remind_every: weekly\n", '5:19: remind_every: expected a duration such as 7d, 12h, 2w or 30m (more than 0), or never, got "weekly"'),
    (COVENANT + "    must_be: '<= 0.7'\n    notify_on: [breach, paged]\n", '5:25: notify_on: expected one of warning, breach, no_data, resolved, got "paged"'),
    ("valuation:\n  default: {useful_life_years: 0, residual: 0.1}\n", '2:32: valuation.default.useful_life_years: expected a number of years greater than 0 (e.g. 3 or 4.5), got "0"'),
    ("valuation:\n  models:\n    H100: {residual: 1.5}\n", '3:22: valuation.models.H100.residual: expected a fraction of the cost from 0 to 1 (e.g. 0.10), got "1.5"'),
    ("valuation:\n  models:\n    H100: {life: 4}\n", "3:12: life: unknown key in valuation.models.H100; expected one of useful_life_years, residual"),
    ("valuation:\n  mark_max_age_days: 1.5\n", '2:22: valuation.mark_max_age_days: expected a whole number of 0 or more, got "1.5"'),
    ("forecast:\n  default_rate: -100%\n", '2:17: forecast.default_rate: expected a yearly rate greater than -1, written -0.30 or -30%, got "-100%"'),
    ("forecast:\n  rates: {H100: fast}\n", '2:17: forecast.rates.H100: expected a yearly rate greater than -1, written -0.30 or -30%, got "fast"'),
    ("forecast:\n  horizon: 12\n", "2:3: horizon: unknown key in forecast; expected one of default_rate, rates, price_max_age_days"),
    ("scenarios:\n  - name: s\n    shocks: {btc: -50%}\n", '3:14: btc: expected a shock key: rent, gpu, gpu:<model> (e.g. gpu:H100) or a crypto symbol in capitals (e.g. BTC), got "btc"'),
    ("scenarios:\n  - name: s\n    shocks: {BTC: -150%}\n", '3:19: shocks.BTC: expected a change of -1 or more, written -65% or -0.65, got "-150%"'),
    ("scenarios:\n  - title: s\n    shocks: {BTC: -50%}\n", "2:5: a scenario is missing the required key name"),
    ("scenarios:\n  - {name: s, shocks: {BTC: -50%}}\n  - {name: s, shocks: {ETH: -50%}}\n", '3:12: name: the scenario name "s" is already used at {file}:2:12; names must be unique'),
    ("covenant:\n  - id: c1\n", "1:1: covenant: unknown key in a rule file; did you mean covenants?"),
    ("- id: c1\n", "1:1: the rule file: expected a mapping with the keys covenants, valuation, forecast, scenarios, got a list"),
    ("covenants: {id: c1}\n", "1:12: covenants: expected a list of covenants, got a mapping"),
    ("covenants:\n  - id: c1\n---\ncovenants: []\n", "3:1: this is not valid YAML: expected a single document in the stream, but found another document"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_problem_is_reported_at_its_place(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "r.yaml", text)
    expected = expected.replace("{file}", str(path))

    found = problems_of(path)

    assert len(found) == 1, found
    if expected.endswith("..."):
        assert found[0].startswith(f"{path}:{expected[:-3]}"), found
    elif ":" in expected.split(" ")[0]:
        assert found[0] == f"{path}:{expected}"
    else:
        assert found[0].startswith(f"{path}:") and found[0].endswith(expected), found
    with pytest.raises(RuleFileError) as raised:
        load_rules(path)
    assert [str(p) for p in raised.value.problems] == found


def test_an_expression_error_in_a_plain_scalar_points_at_the_character(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "covenants:\n  - id: c1\n    expr: cash / outstandin\n    must_be: '>= 1'\n")
    (problem,) = validate_rules(path)
    assert (problem.location.line, problem.location.column) == (3, 18)


def test_problems_of_several_files_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "covenants:\n  - id: a\n    metric: ltv\n    must_be: 'x'\n    severity: huge\n")
    write(tmp_path, "b.yaml", "valuation:\n  default: {residual: -0.1}\nscenarios:\n  - {name: s, shocks: {}}\n")

    found = problems_of(tmp_path)

    assert [p.split(": ")[0] for p in found] == [
        f"{tmp_path / 'a.yaml'}:4:14",
        f"{tmp_path / 'a.yaml'}:5:15",
        f"{tmp_path / 'b.yaml'}:2:23",
        f"{tmp_path / 'b.yaml'}:4:23",
    ]


def test_a_duplicate_id_is_reported_at_its_later_file_naming_the_first(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "covenants:\n  - id: dup\n    metric: ltv\n    must_be: '<= 0.7'\n")
    write(tmp_path, "a.yaml", "# first\ncovenants:\n  - id: dup\n    metric: ltv\n    must_be: '<= 0.8'\n")

    assert problems_of(tmp_path) == [
        f'{tmp_path / "b.yaml"}:2:9: id: the covenant id "dup" is already used at '
        f"{tmp_path / 'a.yaml'}:3:9; ids must be unique"
    ]


@pytest.mark.parametrize("block", ["valuation", "forecast"])
def test_a_settings_block_may_be_in_one_file_only(tmp_path: Path, block: str) -> None:
    write(tmp_path, "a.yaml", f"{block}: {{}}\n")
    write(tmp_path, "b.yaml", f"covenants: []\n{block}: {{}}\n")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'b.yaml'}:2:1: {block}: already given in {tmp_path / 'a.yaml'} (line 1); "
        f"at most one rule file may hold {block}:"
    ]


def test_a_folder_without_rule_files_and_a_missing_path_are_problems(tmp_path: Path) -> None:
    write(tmp_path, "readme.txt", "covenants: []\n")
    assert problems_of(tmp_path) == [f"{tmp_path}:1:1: this folder holds no rule files; expected *.yaml or *.yml files"]
    with pytest.raises(RuleFileError):
        load_rules(tmp_path / "nowhere")


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"covenants:\n  - id: caf\xe9\n")
    assert problems_of(path) == [f"{path}:2:12: this file is not UTF-8 text (byte 0xe9 cannot be read)"]


# --- nothing but RuleFileError, whatever the text ----------------------------------------------

FRAGMENTS = [
    "covenants:", "valuation:", "forecast:", "scenarios:", "  - id: x", "  - id: x", "    metric: ltv",
    "    expr: 'cash / (outstanding'", "    must_be: '>= 1.2'", "    must_be: >= 1", "    steps:",
    "      - {from: 2026-02-30, must_be: '<= 1'}", "    applies_to: {facility_type: [a, b]}",
    "    remind_every: 0d", "  default: {useful_life_years: -1}", "  models: {H100: [1]}", "  rates: {A: -1}",
    "  - {name: s, shocks: {gpu:: 1%}}", "    notify: {email: x}", "    notify_on: resolved", "  ? [a]", ": b",
    "&a [*a]", "<<: *a", "\t", "'", '"\\x"', "{", "]", "- ", "!!binary x", "%YAML 1.1", "---", "...",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=12))
def test_any_text_gives_a_rule_set_or_rule_file_error(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        load_rules(path)
    except RuleFileError as exc:
        assert exc.problems and all(p.location.line >= 1 and p.location.column >= 1 for p in exc.problems)


def test_absurdly_nested_yaml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "covenants: " + "[" * 3000 + "\n")
    assert problems_of(path) == [f"{path}:1:1: this is not valid YAML: it is nested too deeply"]
