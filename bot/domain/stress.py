"""Stress testing (DOMAIN.md "Forward-looking risk" → Stress), pure.

- shock text: ``-65%`` or ``-0.65`` (a change of −1 or more); keys ``rent``, ``gpu``, ``gpu:<model>`` or
  a crypto symbol in capitals (``BTC``);
- which scenarios run: every scenario of the rule files when none is named and no shock is given;
  ``--shock`` options form the scenario ``adhoc``;
- one scenario → one ``Shocks`` (``gpu`` and ``gpu:<model>`` compound);
- base and stressed results paired per facility × covenant, and a summary per scenario.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from bot.domain.decimals import ONE, ZERO, to_text
from bot.domain.model import FacilityData
from bot.domain.results import CovenantResult
from bot.domain.rulebook import Scenario
from bot.domain.shocks import Shocks
from bot.domain.thresholds import Threshold

ADHOC = "adhoc"
SHOCK_EXAMPLE = "written as KEY=CHANGE, e.g. BTC=-65%, rent=-0.30 or gpu:H100=-40%"
KEYS_EXPECTED = "rent, gpu, gpu:<model> (e.g. gpu:H100) or a crypto symbol in capitals (e.g. BTC)"
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_CRYPTO = re.compile(r"^[A-Z0-9]+$")


class StressInputError(ValueError):
    """The scenarios or shocks asked for cannot be run; ``problems`` holds every sentence."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


# -- shock text -----------------------------------------------------------------------------------
def is_shock_key(key: str) -> bool:
    if key in ("rent", "gpu"):
        return True
    if key.startswith("gpu:"):
        model = key[4:]
        return model != "" and not any(ch.isspace() for ch in model)
    return bool(_CRYPTO.match(key)) and key not in ("RENT", "GPU")


def parse_change(text: str) -> Decimal | None:
    """``-65%`` → −0.65, ``-0.65`` → −0.65; None when it is not a change of −1 (−100 %) or more."""
    raw = text.strip()
    percent = raw.endswith("%")
    number = raw[:-1].strip() if percent else raw
    if not _NUMBER.match(number):
        return None
    value = Decimal(number).scaleb(-2) if percent else Decimal(number)
    return value if value >= -ONE else None


def parse_shock_options(options: Iterable[str]) -> dict[str, Decimal]:
    """``["BTC=-65%", "rent=-0.3"]`` → {"BTC": −0.65, "rent": −0.3}; every bad one is reported at once."""
    shocks: dict[str, Decimal] = {}
    problems: list[str] = []
    for option in options:
        key, sep, value = option.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            problems.append(f"The shock {option!r} is not understood; it must be {SHOCK_EXAMPLE}.")
            continue
        if not is_shock_key(key):
            hint = f" (did you mean {key.upper()}?)" if is_shock_key(key.upper()) else ""
            problems.append(f"The shock key {key!r} is not known{hint}; expected {KEYS_EXPECTED}.")
            continue
        change = parse_change(value)
        if change is None:
            problems.append(
                f"The shock {option!r} is not a change of -100% or more written as -65% or -0.65."
            )
            continue
        if key in shocks:
            problems.append(f"The shock key {key!r} is given twice; give each key once.")
            continue
        shocks[key] = change
    if problems:
        raise StressInputError(problems)
    return shocks


# -- scenarios --------------------------------------------------------------------------------------
def plan_scenarios(available: Sequence[Scenario], names: Sequence[str], shock_options: Sequence[str]) -> list[Scenario]:
    """The scenarios to run, sorted by name; every bad shock and unknown name is reported at once.

    Neither names nor shocks: every scenario of the rule files. Shocks form the scenario ``adhoc``,
    run alone or beside the named ones.
    """
    problems: list[str] = []
    adhoc: dict[str, Decimal] = {}
    try:
        adhoc = parse_shock_options(shock_options)
    except StressInputError as exc:
        problems += exc.problems
    known = {s.name: s for s in available}
    wanted = list(dict.fromkeys(names))
    if not wanted and not shock_options:
        if not available:
            problems.append("The rule files define no stress scenarios; give ad hoc shocks (e.g. BTC=-65%) to run one.")
        chosen = list(available)
    else:
        unknown = [n for n in wanted if n not in known]
        if unknown:
            listed = ", ".join(sorted(known)) if known else "none"
            problems.append(
                f"No stress scenario is named {', '.join(repr(n) for n in unknown)}; the rule files define: {listed}."
            )
        if shock_options and ADHOC in wanted and ADHOC in known:
            problems.append(
                f"A rule-file scenario is named {ADHOC!r}, the name of the ad hoc shocks; rename it in the rule files."
            )
        chosen = [known[n] for n in wanted if n in known]
        if adhoc:
            chosen.append(Scenario(ADHOC, "Ad hoc shocks from the command line", adhoc))
    if problems:
        raise StressInputError(problems)
    return sorted(chosen, key=lambda s: s.name)


def shocks_for(scenario: Scenario) -> Shocks:
    """One ``Shocks`` applying every shock of the scenario together (multipliers 1 + s)."""
    crypto: dict[str, Decimal] = {}
    models: dict[str, Decimal] = {}
    rent = gpu = ONE
    for key, change in scenario.shocks.items():
        factor = ONE + change
        if key == "rent":
            rent = factor
        elif key == "gpu":
            gpu = factor
        elif key.startswith("gpu:"):
            models[key[4:]] = factor
        else:
            crypto[key] = factor
    return Shocks(crypto=crypto, rent=rent, gpu=gpu, gpu_models=models)


def describe_shocks(shocks: Mapping[str, Decimal]) -> str:
    """``BTC -65%, rent -30%`` for people."""
    parts = []
    for key, change in shocks.items():
        pct = to_text((change * 100).normalize()) or "0"
        parts.append(f"{key} {'+' if change > 0 else ''}{pct}%")
    return ", ".join(parts)


# -- base vs stressed -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StressRow:
    scenario: str
    facility_id: str
    covenant_id: str
    threshold: Threshold
    base: CovenantResult
    stressed: CovenantResult

    @property
    def changed(self) -> bool:
        return self.base.status != self.stressed.status

    @property
    def newly_breached(self) -> bool:
        return self.stressed.status == "breach" and self.base.status != "breach"

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "facility_id": self.facility_id,
            "covenant_id": self.covenant_id,
            "threshold": str(self.threshold),
            "base_value": to_text(self.base.value),
            "base_status": self.base.status,
            "stressed_value": to_text(self.stressed.value),
            "stressed_status": self.stressed.status,
        }


def pair_results(
    scenario: str, base: Sequence[CovenantResult], stressed: Sequence[CovenantResult]
) -> list[StressRow]:
    """Base and stressed results of one facility matched by covenant id (both lists cover the same covenants)."""
    by_id = {r.covenant_id: r for r in stressed}
    return [
        StressRow(scenario, b.facility_id, b.covenant_id, by_id[b.covenant_id].threshold, b, by_id[b.covenant_id])
        for b in base
    ]


def row_key(row: StressRow) -> tuple[str, str, str]:
    return (row.scenario, row.facility_id, row.covenant_id)


# -- exposure and the summary ----------------------------------------------------------------------
@dataclass(frozen=True)
class Exposure:
    """What a facility stands to lose, at T before any shock."""

    facility_id: str
    borrower: str
    outstanding: Decimal
    crypto_value: Decimal | None  # None when it cannot be valued (no fresh price)
    revenue_ttm: Decimal | None
    gpu_count: Decimal

    @property
    def double_leverage(self) -> bool:
        """Crypto collateral and GPU rental income at once: both triggers fire together in a downturn."""
        has_crypto = self.crypto_value is not None and self.crypto_value > 0
        has_rental = (self.revenue_ttm is not None and self.revenue_ttm > 0) or self.gpu_count > 0
        return has_crypto and has_rental


def exposure_of(data: FacilityData, values: Mapping[str, object]) -> Exposure:
    """``values`` holds the facility's unshocked ``outstanding``, ``crypto_value``, ``revenue_ttm``, ``gpu_count``."""

    def known(name: str) -> Decimal | None:
        value = values[name]
        return value if isinstance(value, Decimal) else None

    return Exposure(
        data.facility_id,
        data.facility.borrower,
        known("outstanding") or ZERO,
        known("crypto_value"),
        known("revenue_ttm"),
        known("gpu_count") or ZERO,
    )


EXPOSURE_VARIABLES = ("outstanding", "crypto_value", "revenue_ttm", "gpu_count")


@dataclass(frozen=True)
class ScenarioSummary:
    scenario: Scenario
    rows: int
    changed: tuple[StressRow, ...]  # rows whose status changes, sorted by facility then covenant
    new_breaches: int  # rows in breach under stress and not before
    newly_breached: tuple[str, ...]  # facilities in breach under stress and on no covenant before
    exposure_newly_breached: Decimal  # their outstanding at T
    worst: StressRow | None  # the lowest stressed headroom
    failing_most: tuple[tuple[str, int], ...]  # (covenant id, breaches under stress), most first
    double_leverage: tuple[str, ...]  # newly breached facilities with crypto and GPU rental exposure


def summarize(scenario: Scenario, rows: Sequence[StressRow], exposures: Mapping[str, Exposure]) -> ScenarioSummary:
    mine = sorted((r for r in rows if r.scenario == scenario.name), key=row_key)
    base_breach = {r.facility_id for r in mine if r.base.status == "breach"}
    stressed_breach = {r.facility_id for r in mine if r.stressed.status == "breach"}
    newly = tuple(sorted(stressed_breach - base_breach))
    exposure = sum((exposures[f].outstanding for f in newly if f in exposures), ZERO)
    with_headroom = [r for r in mine if r.stressed.headroom is not None]
    worst = min(with_headroom, key=lambda r: (r.stressed.headroom, r.facility_id, r.covenant_id), default=None)
    counts = Counter(r.covenant_id for r in mine if r.stressed.status == "breach")
    failing = tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    double = tuple(f for f in newly if f in exposures and exposures[f].double_leverage)
    return ScenarioSummary(
        scenario, len(mine), tuple(r for r in mine if r.changed), sum(1 for r in mine if r.newly_breached),
        newly, exposure, worst, failing, double,
    )
