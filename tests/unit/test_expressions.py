"""Rule expressions: the whitelist grammar, Decimal evaluation, NoData and the guards."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NESTING,
    Binary,
    Call,
    Expr,
    ExpressionError,
    Number,
    Unary,
    Variable,
    parse_expression,
)
from bot.domain.variables import VARIABLES, NoData

D = Decimal
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def value(text: str, **env: Decimal | NoData):
    return parse_expression(text).evaluate(env)


def problem(text: str, allowed=None) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text, allowed)
    return caught.value


# --- precedence, associativity, exact decimals ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 - 2 - 3", D(-4)),
        ("8 / 4 / 2", D(1)),
        ("-2 * 3", D(-6)),
        ("2 * -3", D(-6)),
        ("1 + 2 * 3", D(7)),
        ("(1 + 2) * 3", D(9)),
        ("2 - -2", D(4)),
        ("--2", D(2)),
        ("+2", D(2)),
        ("10 - 4 / 2 * 3", D(4)),
        (".5 + 1.", D("1.5")),
        ("1 / 3", D("0.3333333333333333333333333333")),
    ],
)
def test_precedence_and_associativity(text, expected):
    assert value(text) == expected


def test_trees_are_left_associative_with_unary_binding_tightest():
    assert parse_expression("1 - 2 - 3") == Binary("-", Binary("-", Number(1), Number(2)), Number(3))
    assert parse_expression("8 / 4 / 2") == Binary("/", Binary("/", Number(8), Number(4)), Number(2))
    assert parse_expression("-2 * 3") == Binary("*", Unary("-", Number(2)), Number(3))


def test_decimals_are_exact():
    result = value("0.1 + 0.2")
    assert isinstance(result, Decimal)
    assert result == D("0.3")
    assert value("crypto_value / outstanding", crypto_value=D("1500000.00"), outstanding=D("1000000")) == D("1.5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min(3, 1, 2)", D(1)),
        ("max(3, 1, 2)", D(3)),
        ("min(7)", D(7)),
        ("max(-1, -2)", D(-1)),
        ("abs(-1.25)", D("1.25")),
        ("abs(2 - 5) * 2", D(6)),
        ("min(ltv, 0.8) + max(0, -cash)", D("0.7") + D(5)),
    ],
)
def test_functions(text, expected):
    assert value(text, ltv=D("0.7"), cash=D(-5)) == expected


def test_variables_lists_every_name_once():
    expr = parse_expression("min(ltv, 0.8) + ltv * abs(cash - gpu_value)")
    assert expr.variables() == frozenset({"ltv", "cash", "gpu_value"})
    assert parse_expression("1 + 2").variables() == frozenset()


# --- NoData and arithmetic failures -----------------------------------------------------------


def test_a_variable_without_data_gives_its_reason():
    result = value("crypto_value / outstanding", crypto_value=NoData("no fresh BTC price"), outstanding=D(1))
    assert result == NoData("no fresh BTC price")


def test_the_first_nodata_left_to_right_wins():
    env = {"cash": NoData("no financials reported"), "dscr_ttm": NoData("3 of 4 quarters reported")}
    assert parse_expression("dscr_ttm + cash").evaluate(env) == NoData("3 of 4 quarters reported")
    assert parse_expression("max(cash, dscr_ttm)").evaluate(env) == NoData("no financials reported")
    assert parse_expression("-abs(cash) * dscr_ttm").evaluate(env) == NoData("no financials reported")


def test_division_by_zero_is_nodata():
    assert value("1 / 0") == NoData("division by zero")
    assert value("0 / 0") == NoData("division by zero")
    assert value("gpu_value / (outstanding - outstanding)", gpu_value=D(5), outstanding=D(3)) == NoData(
        "division by zero"
    )
    # an earlier NoData is met before the division
    assert value("cash / 0", cash=NoData("no financials reported")) == NoData("no financials reported")


def test_overflow_and_invalid_operations_are_nodata_not_crashes():
    big = "9" * 900
    over = parse_expression(" * ".join([big] * 2)).evaluate({})
    assert isinstance(over, Decimal)  # 10**1800 fits
    huge = D("9E+999990")
    result = value("cash * cash", cash=huge)
    assert isinstance(result, NoData) and "too large" in result.reason
    infinite = value("cash + 1", cash=D("Infinity"))
    assert isinstance(infinite, NoData) and "cash" in infinite.reason


def test_a_missing_variable_is_a_programming_error():
    with pytest.raises(KeyError, match="cash"):
        parse_expression("cash + 1").evaluate({})


# --- refused input ----------------------------------------------------------------------------

HOSTILE = [
    "__import__('os')",
    "dscr_ttm.real",
    "(lambda: 1)()",
    "2 ** 99999999",
    "dscr_ttm[0]",
    "open('x')",
    '"a"',
    "'a'",
    "1 if 1 else 2",
    "1e999999",
    "1E5",
    "1_000",
    "0x10",
    "1.2.3",
    "(" * 200 + "1" + ")" * 200,
    "1+" * 4999 + "1",
    "dscr_ttm >= 1",
    "dscr_ttm == 1",
    "ltv < 0.8",
    "",
    "   \n\t",
    "(1 + 2",
    "1 + 2)",
    ")(",
    "min()",
    "abs(1, 2)",
    "abs()",
    "min(1,)",
    "min",
    "dscr_ttm(1)",
    "(1, 2)",
    "1, 2",
    "1 +",
    "* 2",
    "1 // 2",
    "7 % 2",
    "dscr",
    "True",
    "x = 1",
    "ltv; 1",
    "{1}",
    "ltv\xa0+ 1",
    "１",  # a full-width digit is not an ASCII decimal
    "dscr_ttm @ 2",
    "- " * 150 + "1",
    "+".join(["1"] * (MAX_DEPTH + 2)),
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:24]))
def test_hostile_input_is_refused_with_a_sentence(text):
    error = problem(text)
    assert isinstance(error, ValueError)
    assert 0 <= error.offset <= len(text)
    assert error.message and str(error) == error.message


def test_non_text_is_refused():
    assert problem(1.5).offset == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "offset", "words"),
    [
        ("dscr_ttm + foo", 11, "unknown variable 'foo'"),
        ("1 + * 2", 4, "expected a number"),
        ("dscr_ttm.real", 8, "attribute"),
        ("1e999999", 1, "exponent"),
        ("1_000", 1, "underscores"),
        ("2 ** 99999999", 2, "power"),
        ("dscr_ttm[0]", 8, "subscripts"),
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("open('x')", 0, "unknown function 'open'"),
        ("(lambda: 1)()", 1, "unknown variable 'lambda'"),
        ("1 if 1 else 2", 2, "found 'if'"),
        ('ltv + "a"', 6, "quotes"),
        ("dscr_ttm >= 1", 9, "must_be"),
        ("", 0, "empty"),
        ("(1 + 2", 0, "never closed"),
        ("2 * (min(1, 2) + 3", 4, "never closed"),
        ("1 + 2)", 5, "no matching '('"),
        ("1 +", 3, "ends too soon"),
        ("abs(1, 2)", 0, "exactly one"),
        ("max()", 0, "at least one"),
        ("min", 0, "is a function"),
        ("ltv(1)", 0, "'ltv' is a variable, not a function"),
        ("(1, 2)", 2, "','"),
        ("1.2.3", 3, "one decimal point"),
        ("(" * 200 + "1" + ")" * 200, MAX_NESTING, f"more than {MAX_NESTING} deep"),
        ("1+" * 4999 + "1", MAX_LENGTH, f"at most {MAX_LENGTH}"),
        ("+".join(["1"] * (MAX_DEPTH + 2)), 2 * MAX_DEPTH - 1, "too complex"),
    ],
    ids=lambda v: repr(v[:20]) if isinstance(v, str) else str(v),
)
def test_error_offsets_point_at_the_problem(text, offset, words):
    error = problem(text)
    assert error.offset == offset, error.message
    assert words in error.message


def test_unknown_variables_suggest_close_matches():
    assert problem("dscr + 1").message == "unknown variable 'dscr'; did you mean 'dscr_ttm'?"
    assert "'outstanding'" in problem("outstandng").message
    lost = problem("zzz").message
    assert "zzz" in lost and "dscr_ttm" in lost  # lists what is allowed


def test_allowed_narrows_the_names():
    assert parse_expression("a + b", allowed={"a", "b"}) == Binary("+", Variable("a"), Variable("b"))
    error = problem("a + ltv", allowed={"a"})
    assert error.offset == 4 and "ltv" in error.message
    assert problem("cash", allowed=()).offset == 0


def test_just_inside_the_guards_parses():
    nested = "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert parse_expression(nested) == Number(1)
    long = "1" + " " * (MAX_LENGTH - 1)
    assert parse_expression(long) == Number(1)
    chain = parse_expression("+".join(["1"] * MAX_DEPTH))
    assert chain.evaluate({}) == D(MAX_DEPTH)


# --- canonical text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1-(2-3)", "1 - (2 - 3)"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("8/(4*2)", "8 / (4 * 2)"),
        ("-(2*3)", "-(2 * 3)"),
        ("(-2)*3", "-2 * 3"),
        ("- -ltv", "--ltv"),
        ("min( ltv ,0.80 )", "min(ltv, 0.80)"),
        (".5", "0.5"),
        ("((cash))", "cash"),
    ],
)
def test_canonical_text(text, canonical):
    assert str(parse_expression(text)) == canonical


def test_nodes_refuse_what_the_parser_never_makes():
    with pytest.raises(ValueError):
        Number(D(-1))
    with pytest.raises(ValueError):
        Number(D("NaN"))
    with pytest.raises(ValueError):
        Variable("min")
    with pytest.raises(ValueError):
        Call("abs", (Number(1), Number(2)))
    with pytest.raises(ValueError):
        Call("pow", (Number(1),))
    with pytest.raises(ValueError):
        Binary("**", Number(1), Number(2))


# --- properties -------------------------------------------------------------------------------

NAMES = sorted(VARIABLES)
TOKENS = [
    "1", "0", ".5", "1.25", "12.", "dscr_ttm", "ltv", "cash", "foo", "min", "max", "abs", "+", "-", "*",
    "/", "(", ")", ",", " ", "**", ".", "e", "1e5", "_", "'", '"', "[", "]", ">=", "<", "=", "lambda",
    ":", "if", "__import__", "\n", "%", "//",
]


def _parses_or_refuses(text: str) -> None:
    try:
        expr = parse_expression(text)
    except ExpressionError as error:
        assert 0 <= error.offset <= len(text)
        return
    assert parse_expression(str(expr)) == expr
    result = expr.evaluate({name: D(1) for name in NAMES})
    assert isinstance(result, (Decimal, NoData))


@FAST
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_expression_error(text):
    _parses_or_refuses(text)


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_any_token_soup_parses_or_raises_expression_error(text):
    _parses_or_refuses(text)


def _trees(leaf: st.SearchStrategy[Expr], division: bool) -> st.SearchStrategy[Expr]:
    ops = "+-*/" if division else "+-*"

    def extend(child: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Unary, st.sampled_from("+-"), child),
            st.builds(Binary, st.sampled_from(ops), child, child),
            st.builds(Call, st.just("abs"), st.tuples(child)),
            st.builds(Call, st.sampled_from(["min", "max"]), st.lists(child, min_size=1, max_size=3).map(tuple)),
        )

    return st.recursive(leaf, extend, max_leaves=8)


NUMBERS = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
ANY_TREE = _trees(st.one_of(st.builds(Number, NUMBERS), st.builds(Variable, st.sampled_from(NAMES))), True)


@FAST
@given(ANY_TREE)
def test_random_trees_render_and_reparse_to_an_equal_tree(tree):
    text = str(tree)
    assert parse_expression(text) == tree
    assert str(parse_expression(text)) == text


SMALL = st.decimals(min_value=0, max_value=99, places=1, allow_nan=False, allow_infinity=False)
SMALL_VARIABLES = ["cash", "ltv", "gpu_count"]
SMALL_TREE = _trees(st.one_of(st.builds(Number, SMALL), st.builds(Variable, st.sampled_from(SMALL_VARIABLES))), False)


def _exact(node: Expr, env: dict[str, Fraction]) -> Fraction:
    """An independent oracle: the same tree in exact rational arithmetic."""
    if isinstance(node, Number):
        return Fraction(node.value)
    if isinstance(node, Variable):
        return env[node.name]
    if isinstance(node, Unary):
        inner = _exact(node.operand, env)
        return -inner if node.op == "-" else inner
    if isinstance(node, Binary):
        a, b = _exact(node.left, env), _exact(node.right, env)
        return {"+": a + b, "-": a - b, "*": a * b}[node.op]
    assert isinstance(node, Call)
    args = [_exact(a, env) for a in node.args]
    return {"abs": lambda: abs(args[0]), "min": lambda: min(args), "max": lambda: max(args)}[node.name]()


@FAST
@given(SMALL_TREE, st.lists(st.decimals(min_value=-99, max_value=99, places=1), min_size=3, max_size=3))
def test_decimal_evaluation_agrees_with_exact_fractions(tree, values):
    env = dict(zip(SMALL_VARIABLES, values))
    result = tree.evaluate(env)
    assert isinstance(result, Decimal)
    assert Fraction(result) == _exact(tree, {k: Fraction(v) for k, v in env.items()})
