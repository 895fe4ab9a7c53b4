"""`covbot rules plan`: what a rule edit would change before it goes live (Terraform's plan).

The stored book is evaluated at T with the current rule set and with the new one, through the
same evaluation path as `covbot check` (``iter_evaluations``); nothing is stored and nothing is
sent. The plan lists the covenants added, removed or changed (thresholds side by side) and every
facility × covenant whose status would differ, with counts and the exposure moving into breach.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from bot.domain.decimals import to_text
from bot.domain.market import Market
from bot.domain.metrics import compute_metrics
from bot.domain.model import FacilityData, PriceBook
from bot.domain.results import CovenantResult
from bot.domain.rulebook import Covenant, RuleSet
from bot.errors import Problem, UsageError
from bot.usecases.evaluate import evaluations

# What a rule edit may change in a covenant, in the words the plan shows (compared in this order).
_FIELDS: tuple[tuple[str, Callable[[Covenant], Any]], ...] = (
    ("metric", lambda c: c.metric_label),
    ("must_be", lambda c: c.must_be),
    ("warn_at", lambda c: c.warn_at),
    ("steps", lambda c: c.steps),
    ("overrides", lambda c: c.overrides),
    ("applies_to", lambda c: (c.applies_to_types, c.applies_to_ids)),
    ("severity", lambda c: c.severity),
    ("notify", lambda c: c.notify),
    ("alert options", lambda c: c.alert),
    ("title", lambda c: c.title),
)


@dataclass(frozen=True)
class CovenantChange:
    """A covenant of one rule set that the other lacks, or holds differently."""

    covenant_id: str
    kind: str  # added | removed | changed
    old: Covenant | None
    new: Covenant | None
    fields: tuple[str, ...] = ()  # for "changed": what differs


@dataclass(frozen=True)
class StatusChange:
    """One facility × covenant whose status differs (None: the covenant does not apply on that side)."""

    facility_id: str
    covenant_id: str
    from_status: str | None
    to_status: str | None
    value: Decimal | None  # under the new rules when the covenant applies there, else the current
    old_threshold: str | None
    new_threshold: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "facility_id": self.facility_id, "covenant_id": self.covenant_id,
            "from_status": self.from_status, "to_status": self.to_status, "value": to_text(self.value),
            "old_threshold": self.old_threshold, "new_threshold": self.new_threshold,
        }


@dataclass(frozen=True)
class Exposure:
    """Facilities and their outstanding at T, summed per currency."""

    facilities: tuple[str, ...] = ()
    by_currency: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Plan:
    as_of: date
    current: RuleSet
    new: RuleSet
    covenants: list[CovenantChange]
    changes: list[StatusChange]
    into_breach: Exposure  # facilities with a covenant moving into breach (from any other status)
    out_of_breach: Exposure  # facilities with a covenant leaving breach
    warnings: list[Problem] = field(default_factory=list)  # e.g. facility types no stored facility has
    current_path: str = ""  # as given, for people
    new_path: str = ""
    facilities: int = 0  # how many stored facilities were evaluated

    def transitions(self) -> Counter[tuple[str | None, str | None]]:
        """How many pairs move from one status to another, e.g. {("ok", "breach"): 3}."""
        return Counter((c.from_status, c.to_status) for c in self.changes)


def covenant_changes(current: RuleSet, new: RuleSet) -> list[CovenantChange]:
    """Covenants added, removed or changed, by covenant id."""
    old = {c.id: c for c in current.covenants}
    now = {c.id: c for c in new.covenants}
    out = []
    for cid in sorted(old.keys() | now.keys()):
        a, b = old.get(cid), now.get(cid)
        if a is None:
            out.append(CovenantChange(cid, "added", None, b))
        elif b is None:
            out.append(CovenantChange(cid, "removed", a, None))
        else:
            differ = tuple(name for name, get in _FIELDS if get(a) != get(b))
            if differ:
                out.append(CovenantChange(cid, "changed", a, b, differ))
    return out


def plan_rules(engine: Engine, current: RuleSet, new: RuleSet, as_of: date) -> Plan:
    """Evaluate the stored book at ``as_of`` under both rule sets and compare; stores nothing."""
    before = {(r.facility_id, r.covenant_id): r for r in evaluations(engine, current, as_of)}
    outstanding: dict[str, tuple[str, Decimal]] = {}

    def remember(chunk: list[FacilityData]) -> None:
        for data in chunk:
            outstanding[data.facility_id] = (data.facility.currency, _outstanding(data, new, as_of))

    after = {(r.facility_id, r.covenant_id): r for r in evaluations(engine, new, as_of, on_facilities=remember)}
    if not outstanding:
        raise UsageError("No facility is stored, so a plan would show nothing; import the book first (covbot import).")
    changes = _status_changes(before, after)
    return Plan(
        as_of=as_of, current=current, new=new,
        covenants=covenant_changes(current, new),
        changes=changes,
        into_breach=_exposure({c.facility_id for c in changes if c.to_status == "breach"}, outstanding),
        out_of_breach=_exposure({c.facility_id for c in changes if c.from_status == "breach"}, outstanding),
        facilities=len(outstanding),
    )


def _status_changes(before: dict[tuple[str, str], CovenantResult],
                    after: dict[tuple[str, str], CovenantResult]) -> list[StatusChange]:
    out = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        from_status = a.status if a else None
        to_status = b.status if b else None
        if from_status == to_status:
            continue
        shown = b if b is not None else a
        out.append(StatusChange(
            key[0], key[1], from_status, to_status, shown.value if shown else None,
            str(a.threshold) if a else None, str(b.threshold) if b else None,
        ))
    return out


def _exposure(facility_ids: set[str], outstanding: dict[str, tuple[str, Decimal]]) -> Exposure:
    """The facilities and their outstanding at T, summed per currency."""
    moved = tuple(sorted(facility_ids))
    totals: dict[str, Decimal] = {}
    for fid in moved:
        currency, amount = outstanding[fid]
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return Exposure(moved, dict(sorted(totals.items())))


def _outstanding(data: FacilityData, rules: RuleSet, as_of: date) -> Decimal:
    """The facility's outstanding at T, as the `outstanding` variable reads it (always a value)."""
    market = Market(PriceBook.from_prices([]), rules.valuation, rules.forecast, as_of)
    value = compute_metrics(data, market, ["outstanding"])["outstanding"]
    return value if isinstance(value, Decimal) else Decimal(0)
