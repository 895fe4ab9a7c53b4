"""Back-testing covenants point in time, pure: the test dates, the status timeline, what it tells.

For each facility × covenant: when it would first have warned, first breached and first cured (back to
ok after the first breach), and the lead time in days from the first early warning to the first breach.
An early warning of a breach is a `warning` of the covenant itself, or a `warning` or `breach` of a
forward-DSCR covenant (one whose metric or expression uses dscr_fwd_6m or dscr_fwd_12m) on the same
facility, on or before the first breach; ties go to the covenant id first in order.

Every date is evaluated as a lender saw it that day: metrics count only data known at T.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable, Sequence

from bot.domain.evaluation import evaluate_facility
from bot.domain.market import Market, add_months
from bot.domain.model import FacilityData, PriceBook
from bot.domain.rulebook import Covenant, RuleSet

FORWARD_DSCR = frozenset({"dscr_fwd_6m", "dscr_fwd_12m"})
EVERY = ("1w", "1m", "1q")
_EVERY = re.compile(r"^(\d+)([wmq])$")
MAX_DATES = 5000

Pair = tuple[str, str]  # (facility_id, covenant_id)


class BacktestInputError(ValueError):
    """The dates asked for cannot be back-tested; ``field`` names the input at fault ("every" for
    the step, "end" for the last date), so a caller can say it in its own words."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def parse_every(text: str) -> tuple[int, str]:
    """``1w`` → (7, "days"), ``1m`` → (1, "months"), ``1q`` → (3, "months"); also ``2w``, ``6m``."""
    m = _EVERY.match(text.strip().lower())
    if not m or int(m.group(1)) == 0:
        raise BacktestInputError(
            f"the step between test dates must be 1w, 1m or 1q (a number of weeks, months or quarters), got {text!r}.",
            "every")
    n, unit = int(m.group(1)), m.group(2)
    return (7 * n, "days") if unit == "w" else (n * (3 if unit == "q" else 1), "months")


def test_dates(start: date, end: date, every: str) -> list[date]:
    """start, start + step, ... up to end inclusive; month steps count from ``start`` (day clamped)."""
    if end < start:
        raise BacktestInputError(f"the last test date ({end}) is before the first ({start}).", "end")
    size, unit = parse_every(every)
    dates: list[date] = []
    k = 0
    while True:
        d = start + timedelta(days=size * k) if unit == "days" else add_months(start, size * k)
        if d > end:
            return dates
        dates.append(d)
        if len(dates) > MAX_DATES:
            raise BacktestInputError(
                f"{start} to {end} every {every} is more than {MAX_DATES} test dates; choose a longer step.", "every"
            )
        k += 1


test_dates.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name


def forward_covenants(covenants: Iterable[Covenant]) -> frozenset[str]:
    """Ids of the covenants whose metric or expression uses a forward DSCR."""
    return frozenset(c.id for c in covenants if c.variables() & FORWARD_DSCR)


# -- the timeline -----------------------------------------------------------------------------------
@dataclass
class Timeline:
    """The status of every facility × covenant at every test date (None where it was not evaluated)."""

    dates: tuple[date, ...]
    statuses: dict[Pair, list[str | None]]

    @classmethod
    def empty(cls, dates: Sequence[date]) -> "Timeline":
        return cls(tuple(dates), {})

    def record(self, index: int, facility_id: str, covenant_id: str, status: str) -> None:
        row = self.statuses.get((facility_id, covenant_id))
        if row is None:
            row = self.statuses[(facility_id, covenant_id)] = [None] * len(self.dates)
        row[index] = status

    def pairs(self) -> list[Pair]:
        return sorted(self.statuses)


def evaluate_timeline(
    facilities: Sequence[FacilityData],
    prices: PriceBook,
    ruleset: RuleSet,
    dates: Sequence[date],
    progress: Callable[[int, int], None] | None = None,
) -> Timeline:
    """Every covenant at every facility on every date: one Market per date, the data loaded once."""
    timeline = Timeline.empty(dates)
    covenants = list(ruleset.covenants)
    for i, as_of in enumerate(dates):
        market = Market(prices, ruleset.valuation, ruleset.forecast, as_of)
        for data in facilities:
            for r in evaluate_facility(data, market, covenants):
                timeline.record(i, r.facility_id, r.covenant_id, r.status)
        if progress is not None:
            progress(i + 1, len(dates))
    return timeline


# -- what the timeline tells -------------------------------------------------------------------------
@dataclass(frozen=True)
class PairHistory:
    facility_id: str
    covenant_id: str
    first_warning: date | None
    first_breach: date | None
    first_cured: date | None  # first ok after the first breach
    early_warning: date | None  # the first early warning on or before the first breach (None without one)
    early_warning_by: str | None  # the covenant that gave it
    lead_days: int | None  # first_breach − early_warning
    counts: dict[str, int]  # status → number of test dates

    def as_json(self) -> dict[str, object]:
        def iso(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "facility_id": self.facility_id,
            "covenant_id": self.covenant_id,
            "first_warning": iso(self.first_warning),
            "first_breach": iso(self.first_breach),
            "first_cured": iso(self.first_cured),
            "early_warning": iso(self.early_warning),
            "early_warning_by": self.early_warning_by,
            "lead_days": self.lead_days,
        }


def _first(statuses: Sequence[str | None], wanted: frozenset[str], start: int = 0) -> int | None:
    for i in range(start, len(statuses)):
        if statuses[i] in wanted:
            return i
    return None


WARNING = frozenset({"warning"})
BREACH = frozenset({"breach"})
OK = frozenset({"ok"})
WARNING_OR_BREACH = frozenset({"warning", "breach"})


def analyse(timeline: Timeline, forward_ids: frozenset[str]) -> list[PairHistory]:
    """One history per facility × covenant, sorted by facility_id then covenant_id."""
    dates = timeline.dates
    by_facility: dict[str, list[str]] = {}
    for fid, cid in timeline.pairs():
        by_facility.setdefault(fid, []).append(cid)
    out: list[PairHistory] = []
    for fid, covenant_ids in by_facility.items():
        forward = [(cid, timeline.statuses[(fid, cid)]) for cid in covenant_ids if cid in forward_ids]
        for cid in covenant_ids:
            statuses = timeline.statuses[(fid, cid)]
            warn = _first(statuses, WARNING)
            breach = _first(statuses, BREACH)
            cured = _first(statuses, OK, breach + 1) if breach is not None else None
            early, early_by = _early_warning(cid, statuses, forward, breach)
            counts: dict[str, int] = {}
            for s in statuses:
                if s is not None:
                    counts[s] = counts.get(s, 0) + 1
            out.append(
                PairHistory(
                    fid, cid,
                    dates[warn] if warn is not None else None,
                    dates[breach] if breach is not None else None,
                    dates[cured] if cured is not None else None,
                    dates[early] if early is not None else None,
                    early_by,
                    (dates[breach] - dates[early]).days if breach is not None and early is not None else None,
                    counts,
                )
            )
    return out


def _early_warning(
    covenant_id: str,
    statuses: Sequence[str | None],
    forward: Sequence[tuple[str, Sequence[str | None]]],
    breach: int | None,
) -> tuple[int | None, str | None]:
    """The first early warning on or before the first breach (none when it never breaches)."""
    if breach is None:
        return None, None
    candidates: list[tuple[int, str]] = []
    own = _first(statuses[: breach + 1], WARNING)
    if own is not None:
        candidates.append((own, covenant_id))
    for fwd_id, fwd_statuses in forward:
        if fwd_id == covenant_id:
            continue
        found = _first(fwd_statuses[: breach + 1], WARNING_OR_BREACH)
        if found is not None:
            candidates.append((found, fwd_id))
    if not candidates:
        return None, None
    index, by = min(candidates)
    return index, by
