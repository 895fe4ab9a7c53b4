"""The real CLI agrees, row for row, with the independent reference implementation of DOMAIN.md.

A 300-facility random portfolio full of edge cases is imported with `covbot import`, then
`covbot check --format json`, `covbot stress --format json` and `covbot fire-sale --format json` are run
at several test dates and
compared with `tests/reference/domain_ref.py`, which was written from DOMAIN.md alone.

How rows are compared:
- the set of (facility, covenant[, scenario]) rows and their order must match exactly;
- `metric`, `status`, `base_status`, `stressed_status` and `months_to_breach` exactly;
- `threshold`: the operator exactly and the number numerically (">= 1.50" equals ">= 1.5");
- `value`, `headroom`, `base_value`, `stressed_value`: decimal strings or null, compared as Decimal
  within a relative 1e-20 (two exact engines may round a 28-digit quotient differently);
- `reason`: null exactly where the reference has null; otherwise both sentences must fall in the
  same category of DOMAIN.md's quoted causes (quarters/financials, no debt service, no collateral,
  division by zero, nothing outstanding, missing price), since wording is the engine's choice.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from tests.reference import domain_ref
from tests.support.random_portfolio import AS_OF_DATES, write_random_portfolio, write_rules

SEED = 20250331
FACILITIES = 300
TOLERANCE = Decimal("1e-20")
SHOWN = 12


class Workspace:
    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.rules = root / "rules"
        self.env = {
            "COVBOT_DATABASE_URL": f"sqlite:///{root / 'covbot.db'}",
            "COVBOT_ENV_FILE": "/dev/null",
        }

    def run(self, *args: str):
        try:
            from bot.cli import app
        except ImportError as error:  # the CLI is written in parallel with this test
            pytest.fail(f"bot.cli cannot be imported yet ({error}); this test needs the real CLI")
        from typer.testing import CliRunner

        here = os.getcwd()
        os.chdir(self.root)  # anything the CLI writes next to itself lands in the temp folder
        try:
            result = CliRunner().invoke(app, list(args), env=self.env)
        finally:
            os.chdir(here)
        assert result.exit_code == 0, (
            f"covbot {' '.join(args)} exited {result.exit_code}\n{result.output}\n"
            f"{result.exception!r}"
        )
        return result

    def run_json(self, *args: str) -> list[dict]:
        result = self.run(*args)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            pytest.fail(f"covbot {' '.join(args)} did not print JSON ({error}):\n{result.stdout[:2000]}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    space = Workspace(tmp_path_factory.mktemp("agreement"))
    write_random_portfolio(space.data, FACILITIES, SEED)
    write_rules(space.rules)
    space.run("import", str(space.data))
    return space


# ---------------------------------------------------------------------------------------------
# comparison helpers


def _decimal(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a decimal string")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal string") from None


def _numbers_agree(real, reference) -> bool:
    try:
        a, b = _decimal(real), _decimal(reference)
    except ValueError:
        return False
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(Decimal(1), abs(a), abs(b))


def _threshold(text):
    if not isinstance(text, str):
        return None
    match = re.fullmatch(r"\s*(>=|<=|>|<)\s*(\S+)\s*", text)
    if not match:
        return None
    try:
        return match.group(1), Decimal(match.group(2))
    except InvalidOperation:
        return None


REASON_CATEGORIES = (
    ("no debt service", ("debt service",)),
    ("division by zero", ("division by zero", "divide by zero", "divided by zero")),
    ("nothing outstanding", ("nothing outstanding", "outstanding")),
    ("no collateral", ("collateral",)),
    ("missing price", ("price", "mark", "quote")),
    ("financials", ("quarter", "financial", "period", "report")),
)


def reason_category(reason):
    if reason is None:
        return None
    text = reason.lower()
    for category, words in REASON_CATEGORIES:
        if any(word in text for word in words):
            return category
    return f"unrecognised: {reason}"


def _field_agrees(name, real, reference) -> bool:
    if name in ("value", "headroom", "base_value", "stressed_value") + FIRE_SALE_MONEY:
        return _numbers_agree(real, reference)
    if name == "threshold":
        return _threshold(real) is not None and _threshold(real) == _threshold(reference)
    if name == "reason":
        return reason_category(real) == reason_category(reference)
    if name == "months_to_breach":
        return type(real) is type(reference) and real == reference
    return real == reference


def disagreements(real_rows, reference_rows, key_fields, fields) -> list[str]:
    problems = []
    real_keys = [tuple(row.get(k) for k in key_fields) for row in real_rows]
    reference_keys = [tuple(row[k] for k in key_fields) for row in reference_rows]
    real_by_key = dict(zip(real_keys, real_rows))
    reference_by_key = dict(zip(reference_keys, reference_rows))
    missing = [k for k in reference_keys if k not in real_by_key]
    extra = [k for k in real_keys if k not in reference_by_key]
    if len(real_by_key) != len(real_keys):
        problems.append(f"the CLI printed {len(real_keys) - len(real_by_key)} duplicate rows")
    if missing:
        problems.append(f"{len(missing)} rows missing from the CLI, e.g. {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} rows the reference does not have, e.g. {extra[:5]}")
    if not missing and not extra and real_keys != reference_keys:
        problems.append(f"rows are not sorted by {', '.join(key_fields)}")
    differing = collections.Counter()
    for key in reference_keys:
        if key not in real_by_key:
            continue
        real, reference = real_by_key[key], reference_by_key[key]
        for name in fields:
            if not _field_agrees(name, real.get(name), reference[name]):
                differing[(key[-1], name)] += 1
                if differing.total() <= SHOWN:
                    context = {k: reference[k] for k in ("value", "base_value", "threshold", "status")
                               if k in reference and k != name}
                    problems.append(
                        f"{' / '.join(key)} {name}: CLI {real.get(name)!r} != reference "
                        f"{reference[name]!r}  (reference {context})"
                    )
    if differing:
        summary = ", ".join(f"{cov}.{name}: {n}" for (cov, name), n in differing.most_common())
        problems.append(f"{differing.total()} differing fields in all, by covenant and field: {summary}")
    return problems


def assert_agree(real_rows, reference_rows, key_fields, fields, what) -> None:
    assert isinstance(real_rows, list), f"{what}: expected a JSON array, got {type(real_rows).__name__}"
    problems = disagreements(real_rows, reference_rows, key_fields, fields)
    if problems:
        pytest.fail(f"{what}: the CLI and the reference disagree\n  " + "\n  ".join(problems),
                    pytrace=False)


CHECK_FIELDS = ("metric", "value", "threshold", "status", "headroom", "reason", "months_to_breach")
STRESS_FIELDS = ("threshold", "base_value", "base_status", "stressed_value", "stressed_status")
FIRE_SALE_MONEY = ("outstanding", "collateral_value", "liquidation_value", "fire_sale_value", "recovery", "loss")
FIRE_SALE_FIELDS = FIRE_SALE_MONEY + ("reason",)


# ---------------------------------------------------------------------------------------------
# the tests


def test_the_random_portfolio_exercises_every_status_and_cause(tmp_path):
    write_random_portfolio(tmp_path / "data", FACILITIES, SEED)
    write_rules(tmp_path / "rules")
    seen_status, seen_cause, seen_months = set(), set(), set()
    exact = 0
    for as_of in AS_OF_DATES:
        for row in domain_ref.check(tmp_path / "data", tmp_path / "rules", as_of):
            seen_status.add(row["status"])
            seen_cause.add(reason_category(row["reason"]))
            seen_months.add(row["months_to_breach"])
            if row["value"] is not None and Decimal(row["value"]) == _threshold(row["threshold"])[1]:
                exact += 1
    assert seen_status == {"ok", "warning", "breach", "no_data"}
    assert seen_cause == {None, "no debt service", "division by zero", "nothing outstanding",
                          "no collateral", "missing price", "financials"}
    assert {None, 0, 1, 2, 3} <= seen_months
    assert exact >= 10, "values landing exactly on their threshold"


@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
def test_check_agrees_with_the_reference(workspace, as_of):
    real = workspace.run_json("check", "--rules", str(workspace.rules), "--as-of", as_of.isoformat(),
                              "--format", "json", "--no-notify", "--dry-run")
    reference = domain_ref.check(workspace.data, workspace.rules, as_of)
    assert_agree(real, reference, ("facility_id", "covenant_id"), CHECK_FIELDS,
                 f"covbot check --as-of {as_of}")


@pytest.mark.parametrize("as_of", [AS_OF_DATES[1], AS_OF_DATES[3]], ids=str)
def test_stress_scenarios_agree_with_the_reference(workspace, as_of):
    real = workspace.run_json("stress", "--rules", str(workspace.rules), "--as-of", as_of.isoformat(),
                              "--format", "json")
    reference = domain_ref.stress(workspace.data, workspace.rules, as_of)
    assert {row["scenario"] for row in reference} == {"crypto-winter", "gpu-glut"}
    assert_agree(real, reference, ("scenario", "facility_id", "covenant_id"), STRESS_FIELDS,
                 f"covbot stress --as-of {as_of}")


@pytest.mark.parametrize("as_of", [AS_OF_DATES[1], AS_OF_DATES[3]], ids=str)
def test_adhoc_shocks_agree_with_the_reference(workspace, as_of):
    real = workspace.run_json("stress", "--rules", str(workspace.rules), "--as-of", as_of.isoformat(),
                              "--shock", "BTC=-50%", "--shock", "rent=-0.3", "--format", "json")
    reference = domain_ref.stress(workspace.data, workspace.rules, as_of,
                                  shocks=["BTC=-50%", "rent=-0.3"])
    assert {row["scenario"] for row in reference} == {"adhoc"}
    assert_agree(real, reference, ("scenario", "facility_id", "covenant_id"), STRESS_FIELDS,
                 f"covbot stress --shock BTC=-50% --shock rent=-0.3 --as-of {as_of}")


@pytest.mark.parametrize("as_of", [AS_OF_DATES[2]], ids=str)  # ETH is stale on this date
def test_fire_sale_of_the_facilities_in_breach_agrees_with_the_reference(workspace, as_of):
    real = workspace.run_json("fire-sale", "--rules", str(workspace.rules), "--as-of", as_of.isoformat(),
                              "--format", "json")
    reference = domain_ref.fire_sale(workspace.data, workspace.rules, as_of)
    assert len(reference) >= 50 and {row["scenario"] for row in reference} == {"base"}
    assert any(row["reason"] is not None for row in reference), "a foreclosed facility without a fresh price"
    assert_agree(real, reference, ("scenario", "facility_id"), FIRE_SALE_FIELDS, f"covbot fire-sale --as-of {as_of}")


def test_fire_sale_of_everyone_under_two_scenarios_agrees_with_the_reference(workspace):
    as_of = AS_OF_DATES[1]
    real = workspace.run_json("fire-sale", "--rules", str(workspace.rules), "--as-of", as_of.isoformat(), "--all",
                              "--scenario", "gpu-glut", "--scenario", "crypto-winter", "--format", "json")
    reference = domain_ref.fire_sale(workspace.data, workspace.rules, as_of, ["gpu-glut", "crypto-winter"],
                                     everyone=True)
    assert {row["scenario"] for row in reference} == {"crypto-winter", "gpu-glut"}
    assert_agree(real, reference, ("scenario", "facility_id"), FIRE_SALE_FIELDS,
                 f"covbot fire-sale --all --scenario gpu-glut --scenario crypto-winter --as-of {as_of}")


# ---------------------------------------------------------------------------------------------
# the demo book, every day of 2026 (the test period moves on report dates, never to no data)

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "bot" / "demo" / "portfolio"
DEMO_RULES = REPO / "rules"
YEAR_2026 = [datetime.date(2026, 1, 1) + datetime.timedelta(days=i) for i in range(365)]
# The CLI itself on the first of every month and across the Q3 2026 quarter end and its reports.
CLI_DAYS = [datetime.date(2026, month, 1) for month in range(1, 13)] + [
    datetime.date(2026, 9, 30), datetime.date(2026, 10, 10), datetime.date(2026, 10, 21),
    datetime.date(2026, 10, 24), datetime.date(2026, 11, 20), datetime.date(2026, 12, 31)]


@pytest.fixture(scope="module")
def demo() -> Workspace:
    import tempfile

    space = Workspace(Path(tempfile.mkdtemp(prefix="agreement-demo-")))
    space.run("import", str(DEMO_DATA))
    return space


@pytest.fixture(scope="module")
def demo_reference():
    return domain_ref.load_portfolio(DEMO_DATA), domain_ref.load_rules(DEMO_RULES)


@pytest.mark.parametrize("as_of", CLI_DAYS, ids=str)
def test_demo_check_agrees_with_the_reference(demo, demo_reference, as_of):
    real = demo.run_json("check", "--rules", str(DEMO_RULES), "--as-of", as_of.isoformat(),
                         "--format", "json", "--no-notify", "--dry-run")
    assert_agree(real, domain_ref.check_loaded(*demo_reference, as_of),
                 ("facility_id", "covenant_id"), CHECK_FIELDS, f"demo: covbot check --as-of {as_of}")


TEST_PERIOD_COVENANTS = {"min-dscr", "miner-dscr", "fwd-dscr-12m", "min-liquidity"}
# Borrowers with fewer than 4 quarters of history: no test period until the 4th is reported.
SHORT_HISTORY = {"AIDC-003": datetime.date(2027, 1, 1),  # Fjordlight: 0 to 3 quarters all year
                 "MINR-004": datetime.date(2026, 1, 25),  # Tundra: its 4th quarter reported then
                 "GPUC-005": datetime.date(2026, 7, 23)}  # Brightline: likewise


@pytest.mark.parametrize("quarter", [1, 2, 3, 4], ids=lambda q: f"Q{q}-2026")
def test_demo_engine_agrees_with_the_reference_every_day_of_2026(demo, demo_reference, quarter):
    """Every day of 2026 as `check` evaluates it (the stored book read once, not a process per day),
    and no covenant on the test period is ever no data because a quarter has ended and is not
    reported yet: the only such no-data rows are those of borrowers with a short history."""
    from bot.domain.evaluation import evaluate_facility
    from bot.domain.market import Market
    from bot.rulefiles.loader import load_rules
    from bot.store.db import open_database, session_scope
    from bot.store.repository import load_facilities, load_price_book

    ruleset = load_rules(DEMO_RULES)
    with session_scope(open_database(demo.env["COVBOT_DATABASE_URL"])) as session:
        book, prices = load_facilities(session), load_price_book(session)
    book.sort(key=lambda data: data.facility_id)
    no_data: set[tuple[str, datetime.date]] = set()
    days = [d for d in YEAR_2026 if (d.month - 1) // 3 + 1 == quarter]
    for as_of in days:
        market = Market(prices, ruleset.valuation, ruleset.forecast, as_of)
        real = [r.as_json() for data in book for r in evaluate_facility(data, market, ruleset.covenants)]
        assert_agree(real, domain_ref.check_loaded(*demo_reference, as_of), ("facility_id", "covenant_id"),
                     CHECK_FIELDS, f"demo engine at {as_of}")
        no_data |= {(row["facility_id"], as_of) for row in real
                    if row["status"] == "no_data" and row["covenant_id"] in TEST_PERIOD_COVENANTS}
    expected = {(fid, d) for fid, until in SHORT_HISTORY.items() for d in days if d < until}
    assert no_data == expected
