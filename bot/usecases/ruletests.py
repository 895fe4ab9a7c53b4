"""Rule unit tests, like `promtool test rules`: data, test dates, the statuses you expect.

A test file (YAML)::

    rules: ..                        # rules path, relative to this file (default: ..)
    data: ../../bot/demo/portfolio   # a CSV folder relative to this file ...
    inline:                          # ... or CSV text per file name
      facilities.csv: |
        facility_id,borrower,...
    tests:
      - as_of: 2026-11-20
        name: optional label
        expect:                      # only these facility × covenant pairs are checked
          - {facility: GPUC-003, covenant: min-dscr, status: breach}
          - {facility: GPUC-001, covenant: max-ltv, status: ok, value: "0.5123"}  # exact
          - {facility: GPUC-001, covenant: max-ltv, value: "~0.51"}   # rounded to 2 places
          - {facility: AIDC-002, covenant: min-dscr, months_to_breach: 4}

The data are imported (with every check of `covbot import`) into a throw-away SQLite
database, then evaluated exactly as `covbot check` does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from typing import Callable

from ruamel.yaml.nodes import Node
from sqlalchemy import Engine

from bot.domain.decimals import to_text
from bot.domain.evaluation import evaluate_facility
from bot.domain.results import STATUSES, CovenantResult
from bot.errors import CovbotError, Location, Problem
from bot.imports import import_directory
from bot.rulefiles.loader import load_rules
from bot.rulefiles.yamlnodes import Sheet, is_null, is_text, read_yaml
from bot.usecases.evaluate import market_for, open_book

FILE_KEYS = ("rules", "data", "inline", "tests")
CASE_KEYS = ("as_of", "name", "expect")
EXPECT_KEYS = ("facility", "covenant", "status", "value", "months_to_breach")
CSV_FILES = ("facilities.csv", "balances.csv", "financials.csv", "gpu_lots.csv", "crypto.csv", "prices.csv")


@dataclass(frozen=True)
class Expectation:
    location: Location
    facility: str
    covenant: str
    status: str | None = None
    value: str | None = None
    months_to_breach: int | None = None
    checks_months: bool = False


@dataclass(frozen=True)
class Case:
    as_of: date
    name: str | None
    expectations: tuple[Expectation, ...]


@dataclass(frozen=True)
class TestFile:
    path: Path
    rules: Path
    data: Path | None
    inline: dict[str, str]
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Mismatch:
    expectation: Expectation
    as_of: date
    lines: tuple[str, ...]


@dataclass
class RuleTestReport:
    files: list[str] = field(default_factory=list)
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files that could not run at all

    @property
    def passed(self) -> bool:
        return not self.mismatches and not self.problems


# ---------------------------------------------------------------- parsing the test file


def parse_test_file(path: Path) -> TestFile:
    sheet = Sheet(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(sheet, 1, 1, f"cannot read the rule test file: {exc}") from None
    root = read_yaml(sheet, text)
    if root is None:
        _raise_if(sheet)
        raise _fail(sheet, 1, 1, "the rule test file is empty")
    top = sheet.mapping(root, "rule test file", FILE_KEYS, required=("tests",))
    _raise_if(sheet)
    assert top is not None
    base = path.parent
    rules = base / (_text(sheet, top["rules"].value, "rules") if "rules" in top else "..")
    data = None
    inline: dict[str, str] = {}
    if "data" in top and "inline" in top:
        sheet.error(top["inline"].key, "give either data: (a CSV folder) or inline: (CSV text), not both")
    elif "data" in top:
        data = base / _text(sheet, top["data"].value, "data")
    elif "inline" in top:
        files = sheet.mapping(top["inline"].value, "inline", CSV_FILES, what="inline data") or {}
        inline = {name: _text(sheet, e.value, name) for name, e in files.items()}
    else:
        sheet.error(root, "the rule test file needs data: (a CSV folder) or inline: (CSV text per file)")
    cases = [_case(sheet, node) for node in (sheet.sequence(top["tests"].value, "tests", "test cases") or [])]
    _raise_if(sheet)
    return TestFile(path, rules, data, inline, tuple(c for c in cases if c is not None))


def _case(sheet: Sheet, node: Node) -> Case | None:
    entries = sheet.mapping(node, "test case", CASE_KEYS, required=("as_of", "expect"))
    if not entries or "as_of" not in entries or "expect" not in entries:
        return None
    as_of_node = entries["as_of"].value
    try:
        as_of = date.fromisoformat(_text(sheet, as_of_node, "as_of"))
    except ValueError:
        sheet.error(as_of_node, f"as_of: expected a date written YYYY-MM-DD, got {as_of_node.value!r}")
        return None
    name = _text(sheet, entries["name"].value, "name") if "name" in entries else None
    expectations = []
    for item in sheet.sequence(entries["expect"].value, "expect", "expectations") or []:
        e = _expectation(sheet, item)
        if e is not None:
            expectations.append(e)
    return Case(as_of, name, tuple(expectations))


def _expectation(sheet: Sheet, node: Node) -> Expectation | None:
    entries = sheet.mapping(node, "expectation", EXPECT_KEYS, required=("facility", "covenant"))
    if not entries or "facility" not in entries or "covenant" not in entries:
        return None
    status = value = None
    months: int | None = None
    if "status" in entries:
        status = _text(sheet, entries["status"].value, "status")
        if status not in STATUSES:
            sheet.error(entries["status"].value, f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    if "value" in entries:
        value = _text(sheet, entries["value"].value, "value")
        try:
            Decimal(value.lstrip("~"))
        except InvalidOperation:
            sheet.error(entries["value"].value, f"value: expected a decimal such as \"1.25\" or \"~1.25\", got {value!r}")
    if "months_to_breach" in entries:
        v = entries["months_to_breach"].value
        if not is_null(v):
            text = _text(sheet, v, "months_to_breach")
            if not text.isdigit():
                sheet.error(v, f"months_to_breach: expected a whole number of months or null, got {text!r}")
            else:
                months = int(text)
    if status is None and value is None and "months_to_breach" not in entries:
        sheet.error(node, "an expectation needs at least one of status, value, months_to_breach")
    return Expectation(
        sheet.at(node),
        _text(sheet, entries["facility"].value, "facility"),
        _text(sheet, entries["covenant"].value, "covenant"),
        status, value, months, "months_to_breach" in entries,
    )


def _text(sheet: Sheet, node: Node, label: str) -> str:
    if not is_text(node):
        sheet.error(node, f"{label}: expected text")
        return ""
    return str(node.value)


def _fail(sheet: Sheet, line: int, column: int, message: str) -> CovbotError:
    return _RuleTestFileError([Problem(Location(sheet.file, line, column), message)])


def _raise_if(sheet: Sheet) -> None:
    if sheet.problems:
        raise _RuleTestFileError(sheet.problems)


class _RuleTestFileError(CovbotError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------- running


def run_rule_tests(paths: list[str], scratch_database: Callable[[Path], Engine]) -> RuleTestReport:
    """Run every test file; ``scratch_database(folder)`` opens a throw-away database in a folder."""
    report = RuleTestReport()
    for p in paths:
        report.files.append(p)
        try:
            test = parse_test_file(Path(p))
            _run_file(test, report, scratch_database)
        except CovbotError as exc:
            report.problems.append(f"{p}: could not run:\n{exc}")
    return report


def _run_file(test: TestFile, report: RuleTestReport, scratch_database: Callable[[Path], Engine]) -> None:
    ruleset = load_rules(test.rules)
    with tempfile.TemporaryDirectory(prefix="covbot-ruletest-") as tmp:
        data_dir = test.data
        if data_dir is None:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            for name, text in test.inline.items():
                (data_dir / name).write_text(text, encoding="utf-8")
        engine = scratch_database(Path(tmp))
        try:
            import_directory(engine, data_dir)
            with open_book(engine) as book:
                facilities = {d.facility_id: d for d in book.facilities()}
                prices = book.prices
        finally:
            engine.dispose()
    for case in test.cases:
        market = market_for(prices, ruleset, case.as_of)
        cache: dict[str, dict[str, CovenantResult]] = {}
        for e in case.expectations:
            report.checked += 1
            data = facilities.get(e.facility)
            if data is None:
                report.mismatches.append(Mismatch(e, case.as_of, (f"facility {e.facility} is not in the test data",)))
                continue
            if e.facility not in cache:
                cache[e.facility] = {r.covenant_id: r for r in evaluate_facility(data, market, list(ruleset.covenants))}
            result = cache[e.facility].get(e.covenant)
            if result is None:
                why = "is not in the rule set" if ruleset.covenant(e.covenant) is None else "does not apply to this facility"
                report.mismatches.append(Mismatch(e, case.as_of, (f"covenant {e.covenant} {why}",)))
                continue
            lines = _compare(e, result)
            if lines:
                report.mismatches.append(Mismatch(e, case.as_of, tuple(lines)))


def _compare(e: Expectation, r: CovenantResult) -> list[str]:
    got = f"{r.status} (value {to_text(r.value) or 'none'}, threshold {r.threshold}" + (
        f", {r.reason})" if r.reason else ")"
    )
    lines = []
    if e.status is not None and e.status != r.status:
        lines += [f"- expected status {e.status}", f"+ got      {got}"]
    if e.value is not None and not _value_matches(e.value, r.value):
        lines += [f"- expected value {e.value}", f"+ got      value {to_text(r.value) or 'none'}"]
    if e.checks_months and e.months_to_breach != r.months_to_breach:
        lines += [f"- expected months_to_breach {e.months_to_breach}", f"+ got      months_to_breach {r.months_to_breach}"]
    return lines


def _value_matches(expected: str, value: Decimal | None) -> bool:
    if value is None:
        return False
    if expected.startswith("~"):
        target = Decimal(expected[1:])
        exponent = target.as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN) == target
    return value == Decimal(expected)
