"""Rule expressions (``expr: "crypto_value / outstanding"``): a whitelist grammar, a tree, Decimal.

Nothing here uses Python's eval, compile or ast. The whole language::

    expression := term (("+" | "-") term)*           left-associative
    term       := unary (("*" | "/") unary)*         left-associative
    unary      := ("+" | "-")* primary               binds tighter than * and /
    primary    := number | variable | call | "(" expression ")"
    call       := ("min" | "max" | "abs") "(" expression ("," expression)* ")"
    number     := 12 | 1.25 | 1. | .5                plain decimals: no exponent, no underscores

``min`` and ``max`` take one or more values (``min(x)`` is ``x``); ``abs`` takes exactly one.
The function names are reserved: they are never variables. Spaces, tabs and line breaks may
separate tokens. Guards: at most ``MAX_LENGTH`` characters, parentheses nested at most
``MAX_NESTING`` deep, and at most ``MAX_DEPTH`` operations inside one another (so that a
2,000-character chain such as ``1+1+1+...`` is refused rather than exhausting the stack).

Every operation runs in ``bot.domain.decimals.CONTEXT``. A variable without data makes the
result that ``NoData`` (the first met, left to right); dividing by zero gives
``NoData("division by zero")``; overflow or an invalid decimal operation gives ``NoData`` with a
sentence. Number literals are kept exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, DecimalException, DivisionByZero, Overflow

from bot.domain.decimals import CONTEXT
from bot.domain.suggest import did_you_mean
from bot.domain.variables import VARIABLES, NoData, Value

MAX_LENGTH = 2000
MAX_NESTING = 50
MAX_DEPTH = 100
FUNCTIONS = ("min", "max", "abs")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SPACE = " \t\r\n"
_GRAMMAR_HINT = "an expression uses numbers, variables, + - * /, parentheses and min(), max(), abs()"

_DIVISION_BY_ZERO = "division by zero"
_OVERFLOW = "the expression's value is too large to compute in decimal"
_INVALID = "the expression has no defined decimal value (an invalid operation, e.g. infinity minus infinity)"


class ExpressionError(ValueError):
    """An expression that is not in the language; ``offset`` is the 0-based character of the problem."""

    def __init__(self, message: str, offset: int):
        super().__init__(message, offset)  # both in args, so it pickles
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message


# ---------------------------------------------------------------------------------------------
# The tree


class Expr:
    """A parsed expression. Nodes are frozen dataclasses; ``depth`` counts nested operations."""

    depth: int
    _precedence = 4  # atoms bind tightest

    def variables(self) -> frozenset[str]:
        raise NotImplementedError

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        """The value in Decimal, or the first NoData met left to right.

        ``env`` must hold every name in ``variables()`` (a missing one is a KeyError: a bug, not data).
        """
        raise NotImplementedError

    def _set_depth(self, *children: "Expr") -> None:
        object.__setattr__(self, "depth", 1 + max((c.depth for c in children), default=0))


@dataclass(frozen=True)
class Number(Expr):
    """A non-negative literal (``-1`` is ``Unary("-", Number(1))``)."""

    value: Decimal
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            object.__setattr__(self, "value", Decimal(self.value))
        if not isinstance(self.value, Decimal) or not self.value.is_finite() or self.value.is_signed():
            raise ValueError(f"a Number holds a finite, non-negative Decimal, not {self.value!r}")
        self._set_depth()

    def variables(self) -> frozenset[str]:
        return frozenset()

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        return self.value

    def __str__(self) -> str:
        return format(self.value, "f")


@dataclass(frozen=True)
class Variable(Expr):
    name: str
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or self.name in FUNCTIONS:
            raise ValueError(f"{self.name!r} cannot be a variable name")
        self._set_depth()

    def variables(self) -> frozenset[str]:
        return frozenset({self.name})

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        if self.name not in env:
            raise KeyError(f"no value was given for the variable {self.name!r}")
        value = env[self.name]
        if isinstance(value, NoData):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            value = Decimal(value)
        if not isinstance(value, Decimal):
            raise TypeError(f"the variable {self.name!r} must be a Decimal or NoData, not {type(value).__name__}")
        if not value.is_finite():
            return NoData(f"{self.name} is not a finite number")
        return value

    def __str__(self) -> str:
        return self.name


_UNARY: dict[str, Callable[[Decimal], Decimal]] = {"+": CONTEXT.plus, "-": CONTEXT.minus}
_BINARY: dict[str, tuple[int, Callable[[Decimal, Decimal], Decimal]]] = {
    "+": (1, CONTEXT.add),
    "-": (1, CONTEXT.subtract),
    "*": (2, CONTEXT.multiply),
    "/": (2, CONTEXT.divide),
}


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr
    depth: int = field(init=False, repr=False, compare=False)
    _precedence = 3

    def __post_init__(self) -> None:
        if self.op not in _UNARY:
            raise ValueError(f"unknown sign {self.op!r}")
        self._set_depth(self.operand)

    def variables(self) -> frozenset[str]:
        return self.operand.variables()

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        value = self.operand.evaluate(env)
        if isinstance(value, NoData):
            return value
        return _compute(_UNARY[self.op], value)

    def __str__(self) -> str:
        return self.op + _wrap(self.operand, self.operand._precedence < self._precedence)


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in _BINARY:
            raise ValueError(f"unknown operator {self.op!r}")
        self._set_depth(self.left, self.right)

    @property
    def _precedence(self) -> int:  # type: ignore[override]
        return _BINARY[self.op][0]

    def variables(self) -> frozenset[str]:
        return self.left.variables() | self.right.variables()

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        left = self.left.evaluate(env)
        if isinstance(left, NoData):
            return left
        right = self.right.evaluate(env)
        if isinstance(right, NoData):
            return right
        if self.op == "/" and right == 0:
            return NoData(_DIVISION_BY_ZERO)
        return _compute(_BINARY[self.op][1], left, right)

    def __str__(self) -> str:
        mine = self._precedence
        left = _wrap(self.left, self.left._precedence < mine)
        right = _wrap(self.right, self.right._precedence <= mine)  # left-associative
        return f"{left} {self.op} {right}"


@dataclass(frozen=True)
class Call(Expr):
    """``min(a, ...)``, ``max(a, ...)`` (one or more values) or ``abs(a)`` (exactly one)."""

    name: str
    args: tuple[Expr, ...]
    depth: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        problem = _arity_problem(self.name, len(self.args))
        if problem:
            raise ValueError(problem)
        self._set_depth(*self.args)

    def variables(self) -> frozenset[str]:
        return frozenset().union(*(a.variables() for a in self.args))

    def evaluate(self, env: Mapping[str, Value]) -> Value:
        values: list[Decimal] = []
        for arg in self.args:
            value = arg.evaluate(env)
            if isinstance(value, NoData):
                return value
            values.append(value)
        if self.name == "abs":
            return _compute(CONTEXT.abs, values[0])
        pick = CONTEXT.min if self.name == "min" else CONTEXT.max
        result = _compute(CONTEXT.plus, values[0])
        for value in values[1:]:
            if isinstance(result, NoData):
                break
            result = _compute(pick, result, value)
        return result

    def __str__(self) -> str:
        return f"{self.name}({', '.join(str(a) for a in self.args)})"


def _wrap(node: Expr, parenthesise: bool) -> str:
    return f"({node})" if parenthesise else str(node)


def _compute(operation: Callable[..., Decimal], *args: Decimal) -> Value:
    try:
        return operation(*args)
    except DivisionByZero:
        return NoData(_DIVISION_BY_ZERO)
    except Overflow:
        return NoData(_OVERFLOW)
    except DecimalException:
        return NoData(_INVALID)


def _arity_problem(name: str, count: int) -> str | None:
    if name not in FUNCTIONS:
        return f"unknown function {name!r}; only min(...), max(...) and abs(...) can be called"
    if name == "abs" and count != 1:
        return f"abs(...) takes exactly one value; here it has {count}"
    if count < 1:
        return f"{name}(...) needs at least one value, e.g. {name}(ltv, 0.8)"
    return None


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op" (+ - * /), "(", ")", ",", "end", or "bad" (text = the problem)
    text: str
    offset: int


_REFUSED_PAIRS = {
    "**": "'**' (raising to a power) is not allowed; " + _GRAMMAR_HINT,
    "//": "'//' is not allowed; use '/' to divide",
}
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<", "=")
_REFUSED_CHARS = {
    "'": "text in quotes is not allowed; " + _GRAMMAR_HINT,
    '"': "text in quotes is not allowed; " + _GRAMMAR_HINT,
    "[": "subscripts ('[...]') are not allowed; " + _GRAMMAR_HINT,
    "]": "subscripts ('[...]') are not allowed; " + _GRAMMAR_HINT,
    ".": "'.' is only allowed inside a number such as 1.25 (no attribute access)",
    "%": "'%' is not allowed; write a percentage as a decimal, e.g. 0.25",
}


def _tokens(text: str) -> Iterator[_Token]:
    """Tokens in text order, lazily; a refused character ends the stream with a "bad" token.

    The parser raises a bad token's problem only when it needs that token, so the problem
    reported is always the first one in the text (``lambda: 1`` is an unknown variable at 0).
    """
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        number = _NUMBER.match(text, i)
        if number:
            yield _Token("number", number.group(), i)
            i = number.end()
            if i < n and (text[i].isalnum() or text[i] in "_."):
                yield _Token("bad", _after_number(text[i]), i)
                return
            continue
        name = _NAME.match(text, i)
        if name:
            yield _Token("name", name.group(), i)
            i = name.end()
            continue
        if text[i : i + 2] in _REFUSED_PAIRS:
            yield _Token("bad", _REFUSED_PAIRS[text[i : i + 2]], i)
            return
        if ch in "+-*/":
            yield _Token("op", ch, i)
        elif ch in "(),":
            yield _Token(ch, ch, i)
        else:
            yield _Token("bad", _refused_char(text, i), i)
            return
        i += 1
    yield _Token("end", "", n)


def _after_number(ch: str) -> str:
    if ch in "eE":
        return "exponent notation is not allowed; write numbers as plain decimals such as 1500000 or 0.25"
    if ch == "_":
        return "underscores in numbers are not allowed; write 1500000, not 1_500_000"
    if ch == ".":
        return "a number has at most one decimal point"
    return f"a number cannot be followed directly by {ch!r}; numbers are plain decimals such as 12 or 1.25"


def _refused_char(text: str, i: int) -> str:
    for op in _COMPARISONS:
        if text.startswith(op, i):
            return (
                f"comparisons ({op!r}) are not allowed in an expression; "
                'put the comparison in must_be, e.g. must_be: ">= 1.25"'
            )
    ch = text[i]
    return _REFUSED_CHARS.get(ch, f"the character {ch!r} is not allowed; " + _GRAMMAR_HINT)


# ---------------------------------------------------------------------------------------------
# The parser


def parse_expression(text: str, allowed: Collection[str] | None = None) -> Expr:
    """Parse ``text`` into a tree; any problem raises ExpressionError with its character offset.

    ``allowed`` are the variable names that may appear (default: every name in VARIABLES).
    """
    if not isinstance(text, str):
        raise ExpressionError('an expression must be text, e.g. "crypto_value / outstanding"', 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; at most {MAX_LENGTH} are allowed", MAX_LENGTH
        )
    if not text.strip(_SPACE):
        raise ExpressionError("the expression is empty; " + _GRAMMAR_HINT, 0)
    return _Parser(text, frozenset(VARIABLES) if allowed is None else frozenset(allowed)).parse()


class _Parser:
    def __init__(self, text: str, allowed: frozenset[str]):
        self.allowed = allowed
        self.tokens = _tokens(text)
        self.current = next(self.tokens)
        self.nesting = 0

    def advance(self) -> _Token:
        token = self.current
        if token.kind in ("bad", "end"):
            raise self.unexpected("a number, a variable, min/max/abs or '('")
        self.current = next(self.tokens)
        return token

    def unexpected(self, expected: str) -> ExpressionError:
        token = self.current
        if token.kind == "bad":
            return ExpressionError(token.text, token.offset)
        if token.kind == "end":
            return ExpressionError(f"the expression ends too soon: expected {expected}", token.offset)
        return ExpressionError(f"expected {expected}, found {token.text!r}", token.offset)

    def parse(self) -> Expr:
        node = self.expression()
        if self.current.kind == ")":
            raise ExpressionError("this ')' has no matching '('", self.current.offset)
        if self.current.kind != "end":
            raise self.unexpected("an operator (+ - * /) or the end of the expression")
        return node

    def expression(self) -> Expr:
        node = self.term()
        while self.current.kind == "op" and self.current.text in "+-":
            op = self.advance()
            node = self.checked(Binary(op.text, node, self.term()), op.offset)
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in "*/":
            op = self.advance()
            node = self.checked(Binary(op.text, node, self.unary()), op.offset)
        return node

    def unary(self) -> Expr:
        signs: list[_Token] = []
        while self.current.kind == "op" and self.current.text in "+-":
            signs.append(self.advance())
        node = self.primary()
        for sign in reversed(signs):
            node = self.checked(Unary(sign.text, node), sign.offset)
        return node

    def primary(self) -> Expr:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Number(Decimal(token.text))
        if token.kind == "(":
            self.open()
            node = self.expression()
            self.close(token, in_call=False)
            return node
        if token.kind == "name":
            self.advance()
            if self.current.kind == "(":
                return self.call(token)
            return self.variable(token)
        raise self.unexpected("a number, a variable, min/max/abs or '('")

    def call(self, name: _Token) -> Expr:
        if name.text not in FUNCTIONS:
            what = f"{name.text!r} is a variable, not a function" if name.text in self.allowed else (
                f"unknown function {name.text!r}"
            )
            raise ExpressionError(f"{what}; only min(...), max(...) and abs(...) can be called", name.offset)
        opening = self.current
        self.open()
        args = [] if self.current.kind == ")" else [self.expression()]
        while self.current.kind == ",":
            self.advance()
            args.append(self.expression())
        self.close(opening, in_call=True)
        problem = _arity_problem(name.text, len(args))
        if problem:
            raise ExpressionError(problem, name.offset)
        return self.checked(Call(name.text, tuple(args)), name.offset)

    def variable(self, name: _Token) -> Expr:
        if name.text in FUNCTIONS:
            raise ExpressionError(
                f"{name.text} is a function; write it with its values, e.g. {name.text}(ltv, 0.8)", name.offset
            )
        if name.text not in self.allowed:
            raise ExpressionError(_unknown_variable(name.text, self.allowed), name.offset)
        return Variable(name.text)

    def open(self) -> None:
        token = self.advance()
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(
                f"parentheses are nested more than {MAX_NESTING} deep; simplify the expression", token.offset
            )

    def close(self, opening: _Token, in_call: bool) -> None:
        token = self.current
        if token.kind == ")":
            self.advance()
            self.nesting -= 1
            return
        if token.kind == "end":
            raise ExpressionError("this '(' is never closed; add the missing ')'", opening.offset)
        if token.kind == "," and not in_call:
            raise ExpressionError("',' only separates the values of min(...) and max(...)", token.offset)
        raise self.unexpected("')' or an operator (+ - * /)")

    @staticmethod
    def checked(node: Expr, offset: int) -> Expr:
        if node.depth > MAX_DEPTH:
            raise ExpressionError(
                f"the expression is too complex: more than {MAX_DEPTH} operations inside one another; "
                "split it into simpler parts",
                offset,
            )
        return node


def _unknown_variable(name: str, allowed: frozenset[str]) -> str:
    hint = did_you_mean(name, sorted(allowed), "'")
    if hint:
        return f"unknown variable '{name}'; {hint}"
    if not allowed:
        return f"unknown variable '{name}'; no variables are allowed here"
    return f"unknown variable '{name}'; the variables are: {', '.join(sorted(allowed))}"
