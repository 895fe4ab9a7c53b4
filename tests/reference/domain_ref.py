"""An independent reference implementation of DOMAIN.md, for cross-checking covbot's engine.

Written from DOMAIN.md alone, on purpose in a plain style: raw dicts, straight loops over every
row on every question, no caching, no sharing with `bot.domain`. When the real engine and this file
disagree, one of them misread the contract, and the agreement test shows where.

Public entry points:
    load_portfolio(data_dir) -> Portfolio
    load_rules(rules_path) -> Rules
    evaluate(expression_text, lookup) -> Decimal | Missing
    variable(name, portfolio, rules, facility_id, as_of, shocks=None) -> Decimal | Missing
    check(data_dir, rules_path, as_of) -> list[dict]       # rows of `covbot check --format json`
    check_loaded(portfolio, rules, as_of) -> list[dict]    # the same, on data loaded once
    stress(data_dir, rules_path, as_of, scenarios=None, shocks=None) -> list[dict]
    fire_sale(data_dir, rules_path, as_of, scenarios=None, shocks=None, everyone=False) -> list[dict]
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from pathlib import Path

from ruamel.yaml import YAML

PRECISION = Context(prec=28)
ZERO = Decimal(0)
ONE = Decimal(1)

VARIABLES = (
    "dscr_ttm", "cfads_ttm", "debt_service_ttm", "revenue_ttm", "ebitda_ttm", "cash",
    "outstanding", "commitment", "gpu_value", "gpu_count", "crypto_value", "collateral_value",
    "ltv", "crypto_coverage", "days_since_period_end", "rental_deflation", "dscr_fwd_6m",
    "dscr_fwd_12m", "gpu_liquidation_value", "crypto_liquidation_value", "liquidation_value",
    "liquidation_ltv", "collateral_mirage",
)


@dataclass(frozen=True)
class Missing:
    """A value that cannot be computed, with the reason a credit analyst reads."""

    reason: str


# --------------------------------------------------------------------------------------------
# CSV folder -> plain dicts


@dataclass
class Portfolio:
    facilities: dict[str, dict] = field(default_factory=dict)
    balances: list[dict] = field(default_factory=list)
    financials: list[dict] = field(default_factory=list)
    lots: list[dict] = field(default_factory=list)
    crypto: list[dict] = field(default_factory=list)
    prices: list[dict] = field(default_factory=list)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_portfolio(data_dir) -> Portfolio:
    folder = Path(data_dir)
    p = Portfolio()
    for r in _read(folder / "facilities.csv"):
        p.facilities[r["facility_id"]] = {
            "facility_id": r["facility_id"],
            "facility_type": r["facility_type"],
            "commitment": Decimal(r["commitment"]),
            "outstanding": Decimal(r["outstanding"]),
        }
    for r in _read(folder / "balances.csv"):
        p.balances.append({"facility_id": r["facility_id"], "as_of": _date(r["as_of"]),
                           "outstanding": Decimal(r["outstanding"])})
    for r in _read(folder / "financials.csv"):
        row = {"facility_id": r["facility_id"], "period_end": _date(r["period_end"])}
        for name in ("revenue", "opex", "capex", "taxes", "interest", "principal", "cash"):
            row[name] = Decimal(r[name])
        row["reported_on"] = _date(r["reported_on"]) if r["reported_on"].strip() else None
        p.financials.append(row)
    for r in _read(folder / "gpu_lots.csv"):
        p.lots.append({"facility_id": r["facility_id"], "lot_id": r["lot_id"],
                       "gpu_model": r["gpu_model"], "quantity": Decimal(r["quantity"]),
                       "acquired_on": _date(r["acquired_on"]), "unit_cost": Decimal(r["unit_cost"])})
    for r in _read(folder / "crypto.csv"):
        p.crypto.append({"facility_id": r["facility_id"], "asset": r["asset"],
                         "as_of": _date(r["as_of"]), "quantity": Decimal(r["quantity"])})
    for r in _read(folder / "prices.csv"):
        p.prices.append({"symbol": r["symbol"], "date": _date(r["date"]),
                         "price": Decimal(r["price"])})
    return p


# --------------------------------------------------------------------------------------------
# Rule files -> plain dicts (valid rule sets only: validation is the real engine's job)

_THRESHOLD = re.compile(r"^\s*(>=|<=|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*$")
_COVENANT_KEYS = {"id", "title", "metric", "expr", "must_be", "warn_at", "applies_to",
                  "overrides", "steps", "severity", "notify",
                  # alert options (README "Alerts and notifications"): they change no value or status
                  "pending_evaluations", "keep_firing_evaluations", "remind_every", "cure_days",
                  "notify_on"}


def parse_threshold(text: str) -> tuple[str, Decimal]:
    match = _THRESHOLD.match(text)
    if not match:
        raise ValueError(f"not a threshold: {text!r}")
    return match.group(1), Decimal(match.group(2))


def threshold_text(threshold: tuple[str, Decimal]) -> str:
    return f"{threshold[0]} {threshold[1]}"


@dataclass
class Rules:
    covenants: list[dict] = field(default_factory=list)
    default_life: Decimal = Decimal(3)
    default_residual: Decimal = Decimal("0.10")
    models: dict[str, dict] = field(default_factory=dict)  # model -> {life?, residual?}
    mark_max_age_days: int = 30
    crypto_max_age_days: int = 2
    default_rate: Decimal = Decimal("-0.25")
    rates: dict[str, Decimal] = field(default_factory=dict)
    price_max_age_days: int = 30
    scenarios: list[dict] = field(default_factory=list)
    # valuation.liquidation (defaults as DOMAIN.md gives them)
    horizon_days: int = 180
    sale_default: dict = field(default_factory=lambda: {"orderly": Decimal("0.60"), "forced": Decimal("0.25"),
                                                        "monthly_depth": Decimal(1000)})
    sale_models: dict[str, dict] = field(default_factory=dict)  # model -> the keys it gives
    crypto_shares: dict[str, Decimal] = field(default_factory=dict)  # incl. "default" when given


def _rule_files(rules_path) -> list[Path]:
    path = Path(rules_path)
    if path.is_file():
        return [path]
    files = [f for f in path.iterdir() if f.is_file() and f.suffix in (".yaml", ".yml")]
    return sorted(files, key=lambda f: f.name)


def load_rules(rules_path) -> Rules:
    rules = Rules()
    for path in _rule_files(rules_path):
        document = YAML(typ="base").load(path.read_text(encoding="utf-8")) or {}
        for key, body in document.items():
            if key == "covenants":
                for raw in body:
                    rules.covenants.append(_covenant(raw))
            elif key == "valuation":
                _valuation(rules, body)
            elif key == "forecast":
                _forecast(rules, body)
            elif key == "scenarios":
                for raw in body:
                    rules.scenarios.append({"name": raw["name"],
                                            "shocks": parse_shocks(raw.get("shocks") or {})})
            else:
                raise ValueError(f"{path.name}: unknown key {key!r}")
    return rules


def _covenant(raw: dict) -> dict:
    unknown = set(raw) - _COVENANT_KEYS
    if unknown:
        raise ValueError(f"unknown covenant keys {sorted(unknown)}")
    steps = []
    for step in raw.get("steps") or []:
        steps.append((_date(step["from"]), parse_threshold(step["must_be"])))
    steps.sort(key=lambda s: s[0])
    applies = raw.get("applies_to") or {}
    return {
        "id": raw["id"],
        "metric": raw.get("metric"),
        "expr": raw.get("expr"),
        "must_be": parse_threshold(raw["must_be"]),
        "warn_at": parse_threshold(raw["warn_at"]) if raw.get("warn_at") else None,
        "types": applies.get("facility_type"),
        "ids": applies.get("facility_id"),
        "overrides": {fid: parse_threshold(t) for fid, t in (raw.get("overrides") or {}).items()},
        "steps": steps,
    }


def _valuation(rules: Rules, body: dict) -> None:
    default = body.get("default") or {}
    if "useful_life_years" in default:
        rules.default_life = Decimal(default["useful_life_years"])
    if "residual" in default:
        rules.default_residual = Decimal(default["residual"])
    for model, entry in (body.get("models") or {}).items():
        rules.models[model] = {k: Decimal(v) for k, v in entry.items()}
    if "mark_max_age_days" in body:
        rules.mark_max_age_days = int(body["mark_max_age_days"])
    if "crypto_max_age_days" in body:
        rules.crypto_max_age_days = int(body["crypto_max_age_days"])
    sale = body.get("liquidation") or {}
    if "horizon_days" in sale:
        rules.horizon_days = int(sale["horizon_days"])
    for key, value in (sale.get("default") or {}).items():
        rules.sale_default[key] = _share(value)
    for model, entry in (sale.get("models") or {}).items():
        rules.sale_models[model] = {k: _share(v) for k, v in (entry or {}).items()}
    for asset, value in (sale.get("crypto") or {}).items():
        rules.crypto_shares[asset] = _share(value)


def _share(value) -> Decimal:
    text = str(value).strip()
    if text.endswith("%"):
        return Decimal(text[:-1].strip()) / Decimal(100)
    return Decimal(text)


def _forecast(rules: Rules, body: dict) -> None:
    if "default_rate" in body:
        rules.default_rate = Decimal(body["default_rate"])
    for model, rate in (body.get("rates") or {}).items():
        rules.rates[model] = Decimal(rate)
    if "price_max_age_days" in body:
        rules.price_max_age_days = int(body["price_max_age_days"])


def parse_shock_value(text: str) -> Decimal:
    text = str(text).strip()
    if text.endswith("%"):
        return Decimal(text[:-1].strip()) / Decimal(100)
    return Decimal(text)


def parse_shocks(shocks) -> dict[str, Decimal]:
    """`{"BTC": "-65%"}` or `["BTC=-65%", "rent=-0.3"]` -> {"BTC": Decimal("-0.65"), ...}."""
    if isinstance(shocks, dict):
        return {key: parse_shock_value(value) for key, value in shocks.items()}
    result = {}
    for item in shocks:
        key, value = item.split("=", 1)
        result[key.strip()] = parse_shock_value(value)
    return result


# --------------------------------------------------------------------------------------------
# Expressions: a tiny recursive-descent parser over Decimal (never eval)

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(.))")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        number, name, symbol = match.groups()
        if number is not None:
            tokens.append(("num", number))
        elif name is not None:
            tokens.append(("name", name))
        elif symbol in "+-*/(),":
            tokens.append(("sym", symbol))
        else:
            raise ValueError(f"unexpected {symbol!r} in {text!r}")
        position = match.end()
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at]

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.tokens[self.at]
        if token[0] != kind or (value is not None and token[1] != value):
            raise ValueError(f"expected {value or kind} in {self.text!r}, found {token[1]!r}")
        self.at += 1
        return token[1]

    def parse(self):
        tree = self.sum()
        self.take("end")
        return tree

    def sum(self):
        tree = self.product()
        while self.peek() in (("sym", "+"), ("sym", "-")):
            operator = self.take("sym")
            tree = (operator, tree, self.product())
        return tree

    def product(self):
        tree = self.unary()
        while self.peek() in (("sym", "*"), ("sym", "/")):
            operator = self.take("sym")
            tree = (operator, tree, self.unary())
        return tree

    def unary(self):
        if self.peek() == ("sym", "-"):
            self.take("sym", "-")
            return ("neg", self.unary())
        return self.atom()

    def atom(self):
        kind, value = self.peek()
        if kind == "num":
            self.take("num")
            return ("num", Decimal(value))
        if kind == "sym" and value == "(":
            self.take("sym", "(")
            tree = self.sum()
            self.take("sym", ")")
            return tree
        if kind == "name":
            self.take("name")
            if value in ("min", "max", "abs"):
                self.take("sym", "(")
                arguments = [self.sum()]
                while self.peek() == ("sym", ","):
                    self.take("sym", ",")
                    arguments.append(self.sum())
                self.take("sym", ")")
                if value == "abs" and len(arguments) != 1:
                    raise ValueError("abs takes one argument")
                return ("call", value, arguments)
            if value not in VARIABLES:
                raise ValueError(f"unknown variable {value!r}")
            return ("var", value)
        raise ValueError(f"unexpected {value!r} in {self.text!r}")


def parse_expression(text: str):
    return _Parser(text).parse()


def _evaluate(tree, lookup):
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        return lookup(tree[1])
    if kind == "neg":
        inner = _evaluate(tree[1], lookup)
        return inner if isinstance(inner, Missing) else -inner
    if kind == "call":
        values = []
        for argument in tree[2]:
            value = _evaluate(argument, lookup)
            if isinstance(value, Missing):
                return value
            values.append(value)
        if tree[1] == "abs":
            return abs(values[0])
        best = values[0]
        for value in values[1:]:
            if (tree[1] == "min" and value < best) or (tree[1] == "max" and value > best):
                best = value
        return best
    left = _evaluate(tree[1], lookup)
    if isinstance(left, Missing):
        return left
    right = _evaluate(tree[2], lookup)
    if isinstance(right, Missing):
        return right
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    if right == 0:
        return Missing("division by zero")
    return left / right


def evaluate(text: str, lookup):
    """Evaluate expression `text`; `lookup(name)` gives a variable's Decimal or Missing."""
    with localcontext(PRECISION):
        return _evaluate(parse_expression(text), lookup)


# --------------------------------------------------------------------------------------------
# Variables at a test date T (recomputed from the raw rows on every call)


def _known_on(period: dict) -> dt.date:
    return period["reported_on"] if period["reported_on"] is not None else period["period_end"]


def _counted_periods(p: Portfolio, fid: str, T: dt.date) -> list[dict]:
    """"A financial period counts only if reported_on (or period_end when empty) is on or before T"
    and "a period whose period_end is after T never counts" (a budget is not an actual)."""
    return [f for f in p.financials
            if f["facility_id"] == fid and _known_on(f) <= T and f["period_end"] <= T]


def _ttm_periods(p: Portfolio, fid: str, T: dt.date):
    """The test period: L = the latest period_end among the counted periods; the 4 latest counted
    periods with period_end in (L - 366 days, L]. Missing when there is no counted period, when L is
    on or before T - 366 days, or when fewer than 4 periods lie in (L - 366, L]."""
    counted = _counted_periods(p, fid, T)
    year = dt.timedelta(days=366)
    L = None
    for f in counted:
        if L is None or f["period_end"] > L:
            L = f["period_end"]
    if L is None or L <= T - year:
        return Missing(f"no quarter reported in the 12 months to {T}")
    in_window = [f for f in counted if L - year < f["period_end"] <= L]
    if len(in_window) < 4:
        return Missing(f"{len(in_window)} of 4 quarters reported")
    in_window.sort(key=lambda f: f["period_end"])
    return in_window[-4:]


def _ttm_sum(p, fid, T, shocks, part):
    periods = _ttm_periods(p, fid, T)
    if isinstance(periods, Missing):
        return periods
    total = ZERO
    for f in periods:
        total += part(f, _revenue(f, shocks))
    return total


def _revenue(period: dict, shocks: dict) -> Decimal:
    if "rent" in shocks:
        return period["revenue"] * (ONE + shocks["rent"])
    return period["revenue"]


def _latest_counted(p, fid, T):
    periods = _counted_periods(p, fid, T)
    if not periods:
        return Missing("no financials reported")
    latest = periods[0]
    for f in periods:
        if f["period_end"] > latest["period_end"]:
            latest = f
    return latest


def _outstanding(p, fid, T):
    best = None
    for b in p.balances:
        if b["facility_id"] == fid and b["as_of"] <= T:
            if best is None or b["as_of"] > best["as_of"]:
                best = b
    return best["outstanding"] if best is not None else p.facilities[fid]["outstanding"]


def _latest_price(p, symbol, on, max_age_days):
    """The latest price of `symbol` dated on or before `on`, if at most max_age_days old."""
    best = None
    for row in p.prices:
        if row["symbol"] == symbol and row["date"] <= on:
            if best is None or row["date"] > best["date"]:
                best = row
    if best is None or (on - best["date"]).days > max_age_days:
        return None
    return best["price"]


def _counting_lots(p, fid, T):
    return [lot for lot in p.lots if lot["facility_id"] == fid and lot["acquired_on"] <= T]


def _life_and_residual(rules: Rules, model: str):
    entry = rules.models.get(model, {})
    return (entry.get("useful_life_years", rules.default_life),
            entry.get("residual", rules.default_residual))


def _unit_value(p, rules, lot, T, shocks):
    mark = _latest_price(p, "GPU:" + lot["gpu_model"], T, rules.mark_max_age_days)
    if mark is not None:
        unit = mark
    else:
        life, residual = _life_and_residual(rules, lot["gpu_model"])
        age_years = Decimal((T - lot["acquired_on"]).days) / Decimal("365.25")
        unit = lot["unit_cost"] * max(residual, ONE - age_years / life)
    if "gpu" in shocks:
        unit = unit * (ONE + shocks["gpu"])
    if "gpu:" + lot["gpu_model"] in shocks:
        unit = unit * (ONE + shocks["gpu:" + lot["gpu_model"]])
    return unit


def _gpu_value(p, rules, fid, T, shocks):
    total = ZERO
    for lot in _counting_lots(p, fid, T):
        total += lot["quantity"] * _unit_value(p, rules, lot, T, shocks)
    return total


def _gpu_count(p, fid, T):
    total = ZERO
    for lot in _counting_lots(p, fid, T):
        total += lot["quantity"]
    return total


def _crypto_value(p, rules, fid, T, shocks):
    assets = sorted({row["asset"] for row in p.crypto if row["facility_id"] == fid})
    total = ZERO
    for asset in assets:
        latest = None
        for row in p.crypto:
            if row["facility_id"] == fid and row["asset"] == asset and row["as_of"] <= T:
                if latest is None or row["as_of"] > latest["as_of"]:
                    latest = row
        if latest is None or latest["quantity"] == 0:
            continue  # not pledged at T: needs no price
        price = _latest_price(p, asset, T, rules.crypto_max_age_days)
        if price is None:
            return Missing(f"no {asset} price within {rules.crypto_max_age_days} days of {T}")
        if asset in shocks:
            price = price * (ONE + shocks[asset])
        total += latest["quantity"] * price
    return total


def _sale_terms(rules, model):
    """orderly, forced, monthly_depth of a model: its own keys, else default:'s, else the built-in ones."""
    terms = dict(rules.sale_default)
    terms.update(rules.sale_models.get(model, {}))
    return terms["orderly"], terms["forced"], terms["monthly_depth"]


def _model_q_and_v(p, rules, fid, T, shocks):
    """{model: [Q, V]} over the lots that count at T."""
    out = {}
    for lot in _counting_lots(p, fid, T):
        entry = out.setdefault(lot["gpu_model"], [ZERO, ZERO])
        entry[0] += lot["quantity"]
        entry[1] += lot["quantity"] * _unit_value(p, rules, lot, T, shocks)
    return out


def _capacity(rules, model):
    orderly, forced, depth = _sale_terms(rules, model)
    return depth * Decimal(rules.horizon_days) / Decimal(30)


def _sold(rules, model, value, units_sold):
    """V × (orderly × f + forced × (1 − f)), f = 1 when Q ≤ C else C / Q."""
    orderly, forced, depth = _sale_terms(rules, model)
    capacity = _capacity(rules, model)
    f = ONE if units_sold <= capacity else capacity / units_sold
    return value * (orderly * f + forced * (ONE - f))


def _gpu_liquidation_value(p, rules, fid, T, shocks):
    total = ZERO
    for model, (q, v) in _model_q_and_v(p, rules, fid, T, shocks).items():
        total += _sold(rules, model, v, q)
    return total


def _crypto_liquidation_value(p, rules, fid, T, shocks):
    assets = sorted({row["asset"] for row in p.crypto if row["facility_id"] == fid})
    total = ZERO
    for asset in assets:
        latest = None
        for row in p.crypto:
            if row["facility_id"] == fid and row["asset"] == asset and row["as_of"] <= T:
                if latest is None or row["as_of"] > latest["as_of"]:
                    latest = row
        if latest is None or latest["quantity"] == 0:
            continue
        price = _latest_price(p, asset, T, rules.crypto_max_age_days)
        if price is None:
            return Missing(f"no {asset} price within {rules.crypto_max_age_days} days of {T}")
        if asset in shocks:
            price = price * (ONE + shocks[asset])
        share = rules.crypto_shares.get(asset, rules.crypto_shares.get("default", Decimal("0.95")))
        total += latest["quantity"] * price * share
    return total


def _model_rate(p, rules, model, T):
    now = _latest_price(p, "RENT:" + model, T, rules.price_max_age_days)
    before = _latest_price(p, "RENT:" + model, T - dt.timedelta(days=365),
                           rules.price_max_age_days)
    if now is None or before is None or before == 0:
        return rules.rates.get(model, rules.default_rate)
    return now / before - ONE


def _rental_deflation(p, rules, fid, T):
    weighted = ZERO
    quantity = ZERO
    for lot in _counting_lots(p, fid, T):
        weighted += lot["quantity"] * _model_rate(p, rules, lot["gpu_model"], T)
        quantity += lot["quantity"]
    if quantity == 0:
        return rules.default_rate
    return weighted / quantity


def forward_dscr(p, rules, fid, T, months: int, shocks=None):
    return _forward_formula(_forward_inputs(p, rules, fid, T, shocks), months)


def _forward_inputs(p, rules, fid, T, shocks=None):
    """(revenue_ttm, costs_ttm, debt_service_ttm, rental deflation), or Missing where dscr_ttm is."""
    shocks = shocks or {}
    dscr = variable("dscr_ttm", p, rules, fid, T, shocks)
    if isinstance(dscr, Missing):
        return dscr
    with localcontext(PRECISION):
        revenue = _ttm_sum(p, fid, T, shocks, lambda f, rev: rev)
        costs = _ttm_sum(p, fid, T, shocks, lambda f, rev: f["opex"] + f["capex"] + f["taxes"])
        service = _ttm_sum(p, fid, T, shocks, lambda f, rev: f["interest"] + f["principal"])
        return revenue, costs, service, _rental_deflation(p, rules, fid, T)


def _forward_formula(inputs, months: int):
    """(revenue_ttm x (1 + r)^(h/12) - costs_ttm) / debt_service_ttm."""
    if isinstance(inputs, Missing):
        return inputs
    revenue, costs, service, rate = inputs
    with localcontext(PRECISION):
        factor = ONE if months == 0 else (ONE + rate) ** (Decimal(months) / Decimal(12))
        return (revenue * factor - costs) / service


def variable(name, p: Portfolio, rules: Rules, fid: str, T: dt.date, shocks=None):
    """The value of one documented variable for facility `fid` at T, or Missing(reason)."""
    shocks = shocks or {}
    with localcontext(PRECISION):
        if name == "cfads_ttm":
            return _ttm_sum(p, fid, T, shocks, lambda f, rev: rev - f["opex"] - f["capex"] - f["taxes"])
        if name == "debt_service_ttm":
            return _ttm_sum(p, fid, T, shocks, lambda f, rev: f["interest"] + f["principal"])
        if name == "revenue_ttm":
            return _ttm_sum(p, fid, T, shocks, lambda f, rev: rev)
        if name == "ebitda_ttm":
            return _ttm_sum(p, fid, T, shocks, lambda f, rev: rev - f["opex"])
        if name == "dscr_ttm":
            cfads = variable("cfads_ttm", p, rules, fid, T, shocks)
            service = variable("debt_service_ttm", p, rules, fid, T, shocks)
            if isinstance(cfads, Missing):
                return cfads
            if service == 0:
                return Missing("no debt service")
            return cfads / service
        if name == "dscr_fwd_6m":
            return forward_dscr(p, rules, fid, T, 6, shocks)
        if name == "dscr_fwd_12m":
            return forward_dscr(p, rules, fid, T, 12, shocks)
        if name == "cash":
            latest = _latest_counted(p, fid, T)
            return latest if isinstance(latest, Missing) else latest["cash"]
        if name == "days_since_period_end":
            latest = _latest_counted(p, fid, T)
            return latest if isinstance(latest, Missing) else Decimal((T - latest["period_end"]).days)
        if name == "outstanding":
            return _outstanding(p, fid, T)
        if name == "commitment":
            return p.facilities[fid]["commitment"]
        if name == "gpu_value":
            return _gpu_value(p, rules, fid, T, shocks)
        if name == "gpu_count":
            return _gpu_count(p, fid, T)
        if name == "crypto_value":
            return _crypto_value(p, rules, fid, T, shocks)
        if name == "collateral_value":
            crypto = _crypto_value(p, rules, fid, T, shocks)
            if isinstance(crypto, Missing):
                return crypto
            return _gpu_value(p, rules, fid, T, shocks) + crypto
        if name == "ltv":
            collateral = variable("collateral_value", p, rules, fid, T, shocks)
            if isinstance(collateral, Missing):
                return collateral
            if collateral == 0:
                return Missing("no collateral")
            return _outstanding(p, fid, T) / collateral
        if name == "crypto_coverage":
            crypto = _crypto_value(p, rules, fid, T, shocks)
            if isinstance(crypto, Missing):
                return crypto
            outstanding = _outstanding(p, fid, T)
            if outstanding == 0:
                return Missing("nothing outstanding")
            return crypto / outstanding
        if name == "rental_deflation":
            return _rental_deflation(p, rules, fid, T)
        if name == "gpu_liquidation_value":
            return _gpu_liquidation_value(p, rules, fid, T, shocks)
        if name == "crypto_liquidation_value":
            return _crypto_liquidation_value(p, rules, fid, T, shocks)
        if name == "liquidation_value":
            crypto = _crypto_liquidation_value(p, rules, fid, T, shocks)
            if isinstance(crypto, Missing):
                return crypto
            return _gpu_liquidation_value(p, rules, fid, T, shocks) + crypto
        if name == "liquidation_ltv":
            value = variable("liquidation_value", p, rules, fid, T, shocks)
            if isinstance(value, Missing):
                return value
            if value == 0:
                return Missing("no collateral")
            return _outstanding(p, fid, T) / value
        if name == "collateral_mirage":
            collateral = variable("collateral_value", p, rules, fid, T, shocks)
            if isinstance(collateral, Missing):
                return collateral
            if collateral == 0:
                return Missing("no collateral")
            return ONE - variable("liquidation_value", p, rules, fid, T, shocks) / collateral
    raise ValueError(f"unknown variable {name!r}")


# --------------------------------------------------------------------------------------------
# Covenants: applicability, effective threshold, status, headroom, months to breach


def applies(covenant: dict, facility: dict) -> bool:
    if covenant["types"] is not None and facility["facility_type"] not in covenant["types"]:
        return False
    if covenant["ids"] is not None and facility["facility_id"] not in covenant["ids"]:
        return False
    return True


def effective_threshold(covenant: dict, fid: str, on: dt.date) -> tuple[str, Decimal]:
    if fid in covenant["overrides"]:
        return covenant["overrides"][fid]
    chosen = covenant["must_be"]
    for start, threshold in covenant["steps"]:  # sorted by date
        if start <= on:
            chosen = threshold
    return chosen


def passes(value: Decimal, threshold: tuple[str, Decimal]) -> bool:
    operator, number = threshold
    if operator == ">=":
        return value >= number
    if operator == ">":
        return value > number
    if operator == "<=":
        return value <= number
    return value < number


def headroom(value: Decimal, threshold: tuple[str, Decimal]):
    operator, number = threshold
    if number == 0:
        return None
    with localcontext(PRECISION):
        if operator in (">=", ">"):
            return (value - number) / abs(number)
        return (number - value) / abs(number)


def covenant_value(covenant, p, rules, fid, T, shocks=None):
    if covenant["metric"] is not None:
        return variable(covenant["metric"], p, rules, fid, T, shocks)
    return evaluate(covenant["expr"], lambda name: variable(name, p, rules, fid, T, shocks))


def status_of(covenant, value, threshold) -> str:
    if isinstance(value, Missing):
        return "no_data"
    if not passes(value, threshold):
        return "breach"
    if covenant["warn_at"] is not None and not passes(value, covenant["warn_at"]):
        return "warning"
    return "ok"


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def months_to_breach(covenant, p, rules, fid, T):
    if covenant["metric"] != "dscr_ttm":
        return None
    inputs = _forward_inputs(p, rules, fid, T)  # the same at every m: only the horizon moves
    for m in range(61):
        forward = _forward_formula(inputs, m)
        if isinstance(forward, Missing):
            return None
        if not passes(forward, effective_threshold(covenant, fid, add_months(T, m))):
            return m
    return None


def _text(value):
    if value is None or isinstance(value, Missing):
        return None
    return format(value, "f")


def _as_date(as_of) -> dt.date:
    return as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))


def check(data_dir, rules_path, as_of) -> list[dict]:
    """The rows `covbot check --format json` prints, computed independently."""
    return check_loaded(load_portfolio(data_dir), load_rules(rules_path), as_of)


def check_loaded(p: Portfolio, rules: Rules, as_of) -> list[dict]:
    """`check` on a portfolio and rules loaded once (for many test dates)."""
    T = _as_date(as_of)
    rows = []
    for fid in sorted(p.facilities):
        for covenant in sorted(rules.covenants, key=lambda c: c["id"]):
            if not applies(covenant, p.facilities[fid]):
                continue
            threshold = effective_threshold(covenant, fid, T)
            value = covenant_value(covenant, p, rules, fid, T)
            missing = isinstance(value, Missing)
            rows.append({
                "facility_id": fid,
                "covenant_id": covenant["id"],
                "metric": covenant["metric"] if covenant["metric"] is not None else covenant["expr"],
                "value": _text(value),
                "threshold": threshold_text(threshold),
                "status": status_of(covenant, value, threshold),
                "headroom": None if missing else _text(headroom(value, threshold)),
                "reason": value.reason if missing else None,
                "months_to_breach": None if missing else months_to_breach(covenant, p, rules, fid, T),
            })
    return rows


def stress(data_dir, rules_path, as_of, scenarios=None, shocks=None) -> list[dict]:
    """The rows `covbot stress --format json` prints: named scenarios and/or the `adhoc` one."""
    T = _as_date(as_of)
    p = load_portfolio(data_dir)
    rules = load_rules(rules_path)
    runs = []
    if scenarios is None and shocks is None:
        runs = [(s["name"], s["shocks"]) for s in rules.scenarios]
    else:
        for name in scenarios or []:
            matching = [s for s in rules.scenarios if s["name"] == name]
            if not matching:
                raise ValueError(f"no scenario named {name!r}")
            runs.append((name, matching[0]["shocks"]))
        if shocks is not None:
            runs.append(("adhoc", parse_shocks(shocks)))
    rows = []
    for name, scenario_shocks in runs:
        for fid in sorted(p.facilities):
            for covenant in sorted(rules.covenants, key=lambda c: c["id"]):
                if not applies(covenant, p.facilities[fid]):
                    continue
                threshold = effective_threshold(covenant, fid, T)
                base = covenant_value(covenant, p, rules, fid, T)
                stressed = covenant_value(covenant, p, rules, fid, T, scenario_shocks)
                rows.append({
                    "scenario": name,
                    "facility_id": fid,
                    "covenant_id": covenant["id"],
                    "threshold": threshold_text(threshold),
                    "base_value": _text(base),
                    "base_status": status_of(covenant, base, threshold),
                    "stressed_value": _text(stressed),
                    "stressed_status": status_of(covenant, stressed, threshold),
                })
    rows.sort(key=lambda r: (r["scenario"], r["facility_id"], r["covenant_id"]))
    return rows


def fire_sale(data_dir, rules_path, as_of, scenarios=None, shocks=None, everyone=False) -> list[dict]:
    """The rows `covbot fire-sale --format json` prints.

    Per scenario (`base` without shocks when neither scenarios nor shocks are given), the foreclosed
    facilities (outstanding > 0 and a covenant in breach under the scenario, or every facility with
    outstanding > 0 when `everyone`) sell every model into one market with a shared orderly share.
    """
    T = _as_date(as_of)
    p = load_portfolio(data_dir)
    rules = load_rules(rules_path)
    if scenarios is None and shocks is None:
        runs = [("base", {})]
    else:
        runs = []
        for name in scenarios or []:
            runs.append((name, [s for s in rules.scenarios if s["name"] == name][0]["shocks"]))
        if shocks is not None:
            runs.append(("adhoc", parse_shocks(shocks)))
    rows = []
    for name, scenario_shocks in sorted(runs, key=lambda run: run[0]):
        foreclosed = []
        for fid in sorted(p.facilities):
            if _outstanding(p, fid, T) <= 0:
                continue
            if not everyone:
                in_breach = False
                for covenant in rules.covenants:
                    if not applies(covenant, p.facilities[fid]):
                        continue
                    value = covenant_value(covenant, p, rules, fid, T, scenario_shocks)
                    if status_of(covenant, value, effective_threshold(covenant, fid, T)) == "breach":
                        in_breach = True
                if not in_breach:
                    continue
            foreclosed.append(fid)
        with localcontext(PRECISION):
            q_total = {}
            for fid in foreclosed:
                for model, (q, _v) in _model_q_and_v(p, rules, fid, T, scenario_shocks).items():
                    q_total[model] = q_total.get(model, ZERO) + q
            for fid in foreclosed:
                outstanding = _outstanding(p, fid, T)
                crypto = _crypto_liquidation_value(p, rules, fid, T, scenario_shocks)
                row = {"scenario": name, "facility_id": fid, "outstanding": _text(outstanding),
                       "collateral_value": None, "liquidation_value": None, "fire_sale_value": None,
                       "recovery": None, "loss": None, "reason": None}
                if isinstance(crypto, Missing):
                    row["reason"] = crypto.reason
                else:
                    gpu = ZERO
                    for model, (_q, v) in _model_q_and_v(p, rules, fid, T, scenario_shocks).items():
                        gpu += _sold(rules, model, v, q_total[model])
                    value = gpu + crypto
                    recovery = min(outstanding, value)
                    row.update({
                        "collateral_value": _text(variable("collateral_value", p, rules, fid, T, scenario_shocks)),
                        "liquidation_value": _text(variable("liquidation_value", p, rules, fid, T, scenario_shocks)),
                        "fire_sale_value": _text(value),
                        "recovery": _text(recovery),
                        "loss": _text(outstanding - recovery),
                    })
                rows.append(row)
    return rows
