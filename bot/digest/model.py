"""The status digest as data, built from evaluation results and facility data. Pure.

``build_digest_model(inputs)`` answers a portfolio manager's questions at the test date T:
how many facilities sit in each status and how much is outstanding behind them; which facilities
have the least headroom; how each covenant moved since the last digest and over the last four
quarter ends; what broke or was cured since the last digest; how old each open breach is and when
its cure period ends; which reporting deadlines fall due or are overdue; which waivers expire
soon; which prices are too old to use. No clock, no database: everything comes in ``DigestInputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from bot.alerts.waivers import Waiver
from bot.digest.mirage import CollateralView, Mirage, build_mirage
from bot.digest.trend import Point, direction
from bot.domain.results import CovenantResult, SEVERITY_ORDER, STATUSES, Status
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import last_compliant_day

REPORTING_METRIC = "days_since_period_end"
DEADLINE_WINDOW_DAYS = 30
Key = tuple[str, str]  # (facility_id, covenant_id)


# -- what comes in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilityInfo:
    """A facility as the digest shows it; ``outstanding`` is the one at T."""

    facility_id: str
    borrower: str
    facility_type: str
    currency: str
    outstanding: Decimal


@dataclass(frozen=True)
class PastDigest:
    as_of: date
    sent_at: datetime | None


@dataclass(frozen=True)
class StalePrice:
    """A price a facility needs at T that is missing or older than its limit."""

    symbol: str
    kind: str  # "GPU mark" | "crypto price"
    latest: date | None
    age_days: int | None
    max_age_days: int
    facility_ids: tuple[str, ...]
    effect: str  # what covbot does instead, in words


@dataclass(frozen=True)
class DigestInputs:
    as_of: date
    generated_at: datetime
    facilities: Mapping[str, FacilityInfo]
    covenants: Sequence[Covenant]
    current: Sequence[CovenantResult]
    quarters: Mapping[date, Sequence[CovenantResult]] = field(default_factory=dict)
    previous: PastDigest | None = None
    previous_results: Sequence[CovenantResult] = ()
    # stored (as_of, status) per covenant in breach now, before T, newest first, one per date
    breach_history: Mapping[Key, Sequence[tuple[date, str]]] = field(default_factory=dict)
    waivers: Sequence[Waiver] | None = None  # None: waivers are not tracked in this database
    stale: Sequence[StalePrice] = ()
    window_days: int = DEADLINE_WINDOW_DAYS
    collateral: Sequence[CollateralView] = ()  # per facility: stated and liquidation value at T


# -- what goes out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Money:
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class StatusCount:
    status: str
    facilities: int  # facilities whose worst status this is
    covenants: int  # covenant tests with this status
    exposure: tuple[Money, ...]  # outstanding of those facilities, per currency


@dataclass(frozen=True)
class CovenantLine:
    result: CovenantResult
    title: str
    severity: str
    history: tuple[Point, ...]  # the previous quarter ends, oldest first, then T
    since_last: str  # trend arrow name since the last digest (bot.digest.trend)
    over_year: str  # trend arrow name since the oldest quarter end evaluated

    @property
    def key(self) -> Key:
        return self.result.facility_id, self.result.covenant_id


@dataclass(frozen=True)
class FacilityLine:
    facility: FacilityInfo
    worst_status: Status
    worst_headroom: Decimal | None
    covenants: tuple[CovenantLine, ...]  # worst status first, then least headroom


@dataclass(frozen=True)
class StatusChange:
    facility: FacilityInfo
    line: CovenantLine
    before: str | None  # status at the last digest; None: not evaluated then


@dataclass(frozen=True)
class OpenBreach:
    facility: FacilityInfo
    line: CovenantLine
    since: date  # first test date of the current unbroken breach run
    age_days: int
    cure_deadline: date | None  # since + cure_days; None when the covenant has no cure period
    days_to_cure: int | None  # negative: the cure period has ended
    waived_until: date | None


@dataclass(frozen=True)
class ReportingDeadline:
    facility: FacilityInfo
    line: CovenantLine
    period_end: date | None  # latest reported period end; None: nothing reported
    due: date | None  # last compliant day; the threshold is crossed the day after
    days_left: int | None  # negative: overdue


@dataclass(frozen=True)
class WaiverExpiry:
    facility_id: str
    borrower: str | None
    covenant_id: str
    title: str
    until: date
    days_left: int
    reason: str
    granted_by: str


@dataclass(frozen=True)
class Digest:
    as_of: date
    generated_at: datetime
    previous: PastDigest | None
    quarter_ends: tuple[date, ...]
    counts: tuple[StatusCount, ...]  # breach, no_data, warning, ok
    facilities_total: int
    untested: tuple[str, ...]  # facilities no covenant applies to
    exposure_total: tuple[Money, ...]
    facilities: tuple[FacilityLine, ...]  # worst headroom first
    new_breaches: tuple[StatusChange, ...]
    cures: tuple[StatusChange, ...]
    open_breaches: tuple[OpenBreach, ...]
    deadlines_due: tuple[ReportingDeadline, ...]  # due within the window
    deadlines_overdue: tuple[ReportingDeadline, ...]
    waivers_expiring: tuple[WaiverExpiry, ...] | None  # None: waivers are not tracked
    stale: tuple[StalePrice, ...]
    window_days: int
    mirage: Mirage = build_mirage(())

    def count(self, status: str) -> StatusCount:
        return next(c for c in self.counts if c.status == status)


# -- building --------------------------------------------------------------------------------------

DISPLAY_ORDER = ("breach", "no_data", "warning", "ok")


def build_digest_model(inputs: DigestInputs) -> Digest:
    t = inputs.as_of
    covenants = {c.id: c for c in inputs.covenants}
    lines = _covenant_lines(inputs, covenants)
    by_facility: dict[str, list[CovenantLine]] = {}
    for line in lines.values():
        by_facility.setdefault(line.result.facility_id, []).append(line)
    facility_lines = _facility_lines(inputs.facilities, by_facility)
    previous = _by_key(inputs.previous_results) if inputs.previous else None
    info = inputs.facilities
    return Digest(
        as_of=t,
        generated_at=inputs.generated_at,
        previous=inputs.previous,
        quarter_ends=tuple(sorted(inputs.quarters)),
        counts=_counts(facility_lines),
        facilities_total=len(info),
        untested=tuple(sorted(set(info) - set(by_facility))),
        exposure_total=_exposure(info.values()),
        facilities=facility_lines,
        new_breaches=_new_breaches(lines, previous, info),
        cures=_cures(lines, previous, info),
        open_breaches=_open_breaches(inputs, lines, covenants),
        deadlines_due=_deadlines(inputs, lines, covenants, overdue=False),
        deadlines_overdue=_deadlines(inputs, lines, covenants, overdue=True),
        waivers_expiring=_waivers(inputs, covenants),
        stale=tuple(sorted(inputs.stale, key=lambda s: (s.kind, s.symbol))),
        window_days=inputs.window_days,
        mirage=build_mirage(inputs.collateral),
    )


def _by_key(results: Iterable[CovenantResult]) -> dict[Key, CovenantResult]:
    return {(r.facility_id, r.covenant_id): r for r in results}


def _point(as_of: date, result: CovenantResult | None) -> Point:
    if result is None:
        return Point(as_of, None, None)
    return Point(as_of, result.status, result.headroom)


def _covenant_lines(inputs: DigestInputs, covenants: Mapping[str, Covenant]) -> dict[Key, CovenantLine]:
    quarters = [(d, _by_key(rs)) for d, rs in sorted(inputs.quarters.items())]
    previous = _by_key(inputs.previous_results) if inputs.previous else {}
    out: dict[Key, CovenantLine] = {}
    for r in inputs.current:
        key = (r.facility_id, r.covenant_id)
        now = _point(r.as_of, r)
        history = tuple(_point(d, found.get(key)) for d, found in quarters) + (now,)
        before = _point(inputs.previous.as_of, previous[key]) if inputs.previous and key in previous else None
        oldest = next((p for p in history[:-1] if p.status is not None), None)
        covenant = covenants.get(r.covenant_id)
        out[key] = CovenantLine(
            result=r,
            title=(covenant.title if covenant and covenant.title else r.covenant_id),
            severity=covenant.severity if covenant else "medium",
            history=history,
            since_last=direction(before, now),
            over_year=direction(oldest, now),
        )
    return out


def _worst_status(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=SEVERITY_ORDER.__getitem__)


def _line_order(line: CovenantLine) -> tuple:
    r = line.result
    return (-SEVERITY_ORDER[r.status], r.headroom is None, r.headroom or 0, r.covenant_id)


def _facility_lines(
    facilities: Mapping[str, FacilityInfo], by_facility: Mapping[str, list[CovenantLine]]
) -> tuple[FacilityLine, ...]:
    out = []
    for fid, lines in by_facility.items():
        info = facilities.get(fid) or FacilityInfo(fid, fid, "", "", Decimal(0))
        headrooms = [ln.result.headroom for ln in lines if ln.result.headroom is not None]
        out.append(FacilityLine(
            facility=info,
            worst_status=_worst_status(ln.result.status for ln in lines),
            worst_headroom=min(headrooms) if headrooms else None,
            covenants=tuple(sorted(lines, key=_line_order)),
        ))
    # worst headroom first; facilities without any headroom last; then worse status, then id
    out.sort(key=lambda f: (f.worst_headroom is None, f.worst_headroom or 0,
                            -SEVERITY_ORDER[f.worst_status], f.facility.facility_id))
    return tuple(out)


def _exposure(facilities: Iterable[FacilityInfo]) -> tuple[Money, ...]:
    totals: dict[str, Decimal] = {}
    for f in facilities:
        totals[f.currency] = totals.get(f.currency, Decimal(0)) + f.outstanding
    return tuple(Money(c, totals[c]) for c in sorted(totals))


def _counts(facility_lines: Sequence[FacilityLine]) -> tuple[StatusCount, ...]:
    assert set(DISPLAY_ORDER) == set(STATUSES)
    out = []
    for status in DISPLAY_ORDER:
        chosen = [f.facility for f in facility_lines if f.worst_status == status]
        tests = sum(1 for f in facility_lines for ln in f.covenants if ln.result.status == status)
        out.append(StatusCount(status, len(chosen), tests, _exposure(chosen)))
    return tuple(out)


def _info(facilities: Mapping[str, FacilityInfo], fid: str) -> FacilityInfo:
    return facilities.get(fid) or FacilityInfo(fid, fid, "", "", Decimal(0))


def _new_breaches(lines, previous, facilities) -> tuple[StatusChange, ...]:
    if previous is None:
        return ()
    out = []
    for key, line in lines.items():
        before = previous.get(key)
        if line.result.status == "breach" and (before is None or before.status != "breach"):
            out.append(StatusChange(_info(facilities, key[0]), line, before.status if before else None))
    out.sort(key=lambda c: (c.line.result.headroom is None, c.line.result.headroom or 0, c.line.key))
    return tuple(out)


def _cures(lines, previous, facilities) -> tuple[StatusChange, ...]:
    """Breaches at the last digest that are ok or warning now (missing data cures nothing)."""
    if previous is None:
        return ()
    out = [
        StatusChange(_info(facilities, key[0]), line, "breach")
        for key, line in lines.items()
        if line.result.status in ("ok", "warning") and key in previous and previous[key].status == "breach"
    ]
    return tuple(sorted(out, key=lambda c: c.line.key))


def breach_since(as_of: date, history: Sequence[tuple[date, str]]) -> date:
    """First test date of the unbroken breach run that includes T.

    ``history`` is the stored (test date, status) before T, newest first. A breach extends the run
    back, missing data neither breaks nor extends it (it cures nothing), ok or warning ends it.
    """
    since = as_of
    for day, status in history:
        if day >= as_of:
            continue
        if status == "breach":
            since = day
        elif status != "no_data":
            break
    return since


def _active_waivers(inputs: DigestInputs) -> dict[Key, Waiver]:
    out: dict[Key, Waiver] = {}
    for w in inputs.waivers or ():
        if w.active_on(inputs.as_of):
            key = (w.facility_id, w.covenant_id)
            if key not in out or w.until > out[key].until:
                out[key] = w
    return out


def _open_breaches(inputs: DigestInputs, lines, covenants) -> tuple[OpenBreach, ...]:
    t = inputs.as_of
    waived = _active_waivers(inputs)
    out = []
    for key, line in lines.items():
        if line.result.status != "breach":
            continue
        since = breach_since(t, inputs.breach_history.get(key, ()))
        covenant = covenants.get(key[1])
        cure_days = covenant.alert.cure_days if covenant else None
        deadline = since + timedelta(days=cure_days) if cure_days is not None else None
        waiver = waived.get(key)
        out.append(OpenBreach(
            facility=_info(inputs.facilities, key[0]),
            line=line,
            since=since,
            age_days=(t - since).days,
            cure_deadline=deadline,
            days_to_cure=(deadline - t).days if deadline else None,
            waived_until=waiver.until if waiver else None,
        ))
    # the soonest end of a cure period first; then the oldest breach; then least headroom
    out.sort(key=lambda b: (b.cure_deadline is None, b.cure_deadline or t, -b.age_days,
                            b.line.result.headroom is None, b.line.result.headroom or 0, b.line.key))
    return tuple(out)


def _deadlines(inputs: DigestInputs, lines, covenants, *, overdue: bool) -> tuple[ReportingDeadline, ...]:
    t = inputs.as_of
    out = []
    for key, line in lines.items():
        r = line.result
        covenant = covenants.get(key[1])
        metric = covenant.metric if covenant else r.metric
        if metric != REPORTING_METRIC:
            continue
        days = last_compliant_day(r.threshold.op, r.threshold.value)
        if days is None:
            continue
        info = _info(inputs.facilities, key[0])
        if r.value is None:  # nothing reported at all: overdue without a date
            if overdue and r.status == "no_data":
                out.append(ReportingDeadline(info, line, None, None, None))
            continue
        period_end = t - timedelta(days=int(r.value))
        due = period_end + timedelta(days=days)
        left = (due - t).days
        if (overdue and left < 0) or (not overdue and 0 <= left <= inputs.window_days):
            out.append(ReportingDeadline(info, line, period_end, due, left))
    out.sort(key=lambda d: (d.due is None, d.due or t, d.line.key))
    return tuple(out)


def _waivers(inputs: DigestInputs, covenants) -> tuple[WaiverExpiry, ...] | None:
    if inputs.waivers is None:
        return None
    t, end = inputs.as_of, inputs.as_of + timedelta(days=inputs.window_days)
    out = []
    for w in inputs.waivers:
        if t <= w.until <= end:
            facility = inputs.facilities.get(w.facility_id)
            covenant = covenants.get(w.covenant_id)
            out.append(WaiverExpiry(
                w.facility_id, facility.borrower if facility else None, w.covenant_id,
                (covenant.title if covenant and covenant.title else w.covenant_id),
                w.until, (w.until - t).days, w.reason, w.by,
            ))
    out.sort(key=lambda w: (w.until, w.facility_id, w.covenant_id))
    return tuple(out)
