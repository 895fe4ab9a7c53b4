"""The alert lifecycle of one covenant at one facility: explicit state with timestamps.

An alert is identified by (facility_id, covenant_id). Values, thresholds and headroom are
annotations: they change on every evaluation without opening a new alert.

    inactive ──non-ok──▶ pending ──(pending_evaluations in a row)──▶ firing
        ▲                  │ ok                                       │
        └──────────────────┘◀──(keep_firing_evaluations of ok)────────┘  "resolved" (cured)

While firing, the alert's status moves: worse at once ("escalated"), better once
``keep_firing_evaluations`` evaluations in a row were better ("improved", or "resolved" for ok).
Status order: ok < warning < no_data < breach. Missing data is never an improvement: a breach
followed by no_data stays a breach alert. Pure: ``now`` and the test date come in as arguments.
See docs/alerts.md for every rule, with the reasons.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, get_args

from bot.alerts.waivers import Waiver
from bot.domain.results import CovenantResult, SEVERITY_ORDER
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import Threshold

STATES = ("inactive", "pending", "firing")
EventKind = Literal[
    "firing", "escalated", "improved", "reminder", "resolved",
    "event_of_default", "waived", "waiver_expired",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
# The one table from an event kind to its wording in lists (the check report, `covbot history`);
# the headline of a message is ``bot.notify.render.kind_title``.
EVENT_WORDS: dict[str, str] = {
    "firing": "firing", "escalated": "escalated", "improved": "improved", "reminder": "reminder",
    "resolved": "resolved", "event_of_default": "event of default", "waived": "waived",
    "waiver_expired": "waiver expired",
}


def event_words(kind: str) -> str:
    """How an alert event kind (or another audit entry kind) reads in a list."""
    return EVENT_WORDS.get(kind, kind.replace("_", " "))


@dataclass(frozen=True)
class AlertState:
    facility_id: str
    covenant_id: str
    state: str = "inactive"
    status: str | None = None  # last evaluated status
    alert_status: str | None = None  # the status the open alert holds (None unless firing)
    candidate_status: str | None = None  # pending: the latest bad status; firing: the latest better one
    candidate_count: int = 0  # consecutive test dates counted toward the candidate
    as_of: date | None = None  # last test date evaluated
    fired_at: datetime | None = None
    breach_since: date | None = None  # start of the cure-period clock
    last_notified_at: datetime | None = None
    eod_sent: bool = False
    waived: bool = False
    waived_until: date | None = None
    last_value: Decimal | None = None
    threshold: Threshold | None = None
    headroom: Decimal | None = None
    acknowledged_status: str | None = None  # acknowledged (from Slack) while it had this status


def replace(current: AlertState, /, **changes: object) -> AlertState:
    """``dataclasses.replace`` for an ``AlertState``, without its per-call field introspection: the
    daily job advances every alert of the book (hundreds of thousands), several changes each.
    ``AlertState`` has no ``__post_init__``, so copying its fields is all ``replace`` would do."""
    new = object.__new__(AlertState)
    new.__dict__.update(current.__dict__)
    new.__dict__.update(changes)
    return new


# What is stored of an alert only to describe it (the latest evaluation): a change of these alone is
# not written back (see ``changed``); the lifecycle reads ``as_of`` only while a candidate is being
# counted, and every step of that count is itself a change.
ANNOTATIONS = frozenset({"as_of", "last_value", "threshold", "headroom"})
MATERIAL = tuple(name for name in AlertState.__dataclass_fields__ if name not in ANNOTATIONS)
_material = operator.attrgetter(*MATERIAL)


def changed(previous: AlertState | None, state: AlertState) -> bool:
    """Whether the daily job must write ``state`` back: it differs from ``previous`` in more than
    its annotations. An alert at rest (inactive, nothing counting or open) is not stored at all: no
    stored state means at rest. A steady day (the same statuses as yesterday) writes nothing."""
    if previous is None:
        return not at_rest(state)
    return _material(previous) != _material(state)


@dataclass(frozen=True, slots=True)  # hundreds of thousands at once in the daily job
class AlertEvent:
    kind: EventKind
    facility_id: str
    covenant_id: str
    status: str  # the alert's status after the event ("ok" for resolved)
    previous_status: str  # the alert's status before it ("ok" when it was not open)
    severity: str
    notify: bool
    at: datetime
    as_of: date
    result: CovenantResult
    waiver: Waiver | None = None


def advance(
    previous: AlertState | None,
    result: CovenantResult,
    covenant: Covenant,
    now: datetime,
    waiver: Waiver | None,
) -> tuple[AlertState, list[AlertEvent]]:
    """The next state of the alert after one evaluation, and the events it produced."""
    _check_identity(previous, result, covenant, waiver)
    if result.status == "ok" and (previous is None or at_rest(previous)):
        # met, and nothing open or counting: the alert stays at rest (most of a book, most days)
        return AlertState(result.facility_id, result.covenant_id, status="ok", as_of=result.as_of,
                          last_value=result.value, threshold=result.threshold, headroom=result.headroom,
                          last_notified_at=previous.last_notified_at if previous is not None else None), []
    return _advance(previous or AlertState(result.facility_id, result.covenant_id), result, covenant, now, waiver)


def _advance(prev: AlertState, result: CovenantResult, covenant: Covenant, now: datetime, waiver: Waiver | None
             ) -> tuple[AlertState, list[AlertEvent]]:
    """``advance`` step by step (every case; ``advance`` shortcuts the alert at rest)."""
    opts = covenant.alert
    new_date = prev.as_of is None or result.as_of > prev.as_of
    nxt, transition = _move(prev, result.status, opts.pending_evaluations, opts.keep_firing_evaluations, new_date)
    nxt = replace(
        nxt, status=result.status, as_of=result.as_of, last_value=result.value,
        threshold=result.threshold, headroom=result.headroom,
    )
    if transition == "firing":
        nxt = replace(nxt, fired_at=now)
    nxt = _breach_clock(prev, nxt, result)

    waived_now = nxt.state == "firing" and waiver is not None and waiver.active_on(result.as_of)
    emit = _Emitter(covenant, result, now)
    if transition is not None:
        emit(transition, nxt, prev.alert_status or "ok", suppressed=waived_now)
    nxt = _waiver(prev, nxt, waiver, emit)
    nxt = _event_of_default(nxt, opts.cure_days, emit)
    nxt = _reminder(nxt, opts.remind_every, now, emit)
    if any(e.notify for e in emit.events):
        nxt = replace(nxt, last_notified_at=now)
    if prev.as_of is not None and prev.as_of > result.as_of:
        # an earlier test date evaluated again: the alert keeps its latest one, so that date is
        # not counted a second time when it comes again
        nxt = replace(nxt, as_of=prev.as_of)
    return nxt, emit.events


def at_rest(state: AlertState) -> bool:
    """Inactive with nothing pending, waived, acknowledged or on the breach clock: an ``ok``
    evaluation changes nothing but the annotations (what ``_closed`` and ``_breach_clock`` would set
    is already so), and a state at rest behaves exactly as no state at all."""
    return (state.state == "inactive" and state.alert_status is None
            and state.candidate_status is None and state.candidate_count == 0 and state.fired_at is None
            and state.breach_since is None and not state.eod_sent and not state.waived
            and state.waived_until is None and state.acknowledged_status is None)


def _check_identity(previous, result, covenant, waiver) -> None:
    if result.status not in SEVERITY_ORDER:
        raise ValueError(f"unknown covenant status {result.status!r}")
    if covenant.id != result.covenant_id:
        raise ValueError(f"result of covenant {result.covenant_id!r} given with covenant {covenant.id!r}")
    key = (result.facility_id, result.covenant_id)
    if previous is not None and (previous.facility_id, previous.covenant_id) != key:
        raise ValueError(f"alert state of {previous.facility_id}/{previous.covenant_id} given for {key}")
    if waiver is not None and not waiver.covers(*key):
        raise ValueError(f"waiver of {waiver.facility_id}/{waiver.covenant_id} given for {key}")


def _move(prev: AlertState, status: str, pending: int, keep: int, new_date: bool) -> tuple[AlertState, str | None]:
    """The state machine proper: (next state, transition event kind or None)."""
    def counted(same_run: bool) -> int:
        return prev.candidate_count + (1 if new_date else 0) if same_run else 1

    if prev.state != "firing":
        if status == "ok":
            return _closed(prev), None
        count = counted(prev.state == "pending")
        if count < pending:
            return replace(prev, state="pending", candidate_status=status, candidate_count=count), None
        # missing data after a breach seen while pending does not soften it
        fire_as = "breach" if status == "no_data" and prev.breach_since is not None else status
        return replace(prev, state="firing", alert_status=fire_as, candidate_status=None, candidate_count=0), "firing"

    current = prev.alert_status
    assert current is not None
    if SEVERITY_ORDER[status] > SEVERITY_ORDER[current]:
        return replace(prev, alert_status=status, candidate_status=None, candidate_count=0), "escalated"
    if status in ("ok", "warning") and SEVERITY_ORDER[status] < SEVERITY_ORDER[current]:
        count = counted(prev.candidate_status is not None)
        if count < keep:
            return replace(prev, candidate_status=status, candidate_count=count), None
        if status == "ok":
            return _closed(prev), "resolved"
        return replace(prev, alert_status=status, candidate_status=None, candidate_count=0), "improved"
    # the same status, or no_data while in breach: the alert holds
    return replace(prev, candidate_status=None, candidate_count=0), None


def _closed(prev: AlertState) -> AlertState:
    return replace(
        prev, state="inactive", alert_status=None, candidate_status=None, candidate_count=0,
        fired_at=None, breach_since=None, eod_sent=False, waived=False, waived_until=None,
        acknowledged_status=None,
    )


def _breach_clock(prev: AlertState, nxt: AlertState, result: CovenantResult) -> AlertState:
    """When the breach started: kept through no_data, cleared once the covenant is met again."""
    if nxt.state == "firing":
        in_breach = nxt.alert_status == "breach"
    else:
        in_breach = result.status == "breach" or (result.status == "no_data" and prev.breach_since is not None)
    if not in_breach:
        return replace(nxt, breach_since=None, eod_sent=False)
    return replace(nxt, breach_since=prev.breach_since or result.as_of)


def _waiver(prev: AlertState, nxt: AlertState, waiver: Waiver | None, emit: "_Emitter") -> AlertState:
    active = waiver is not None and waiver.active_on(nxt.as_of)
    if nxt.state != "firing":
        return replace(nxt, waived=False, waived_until=None)
    if active:
        assert waiver is not None
        nxt = replace(nxt, waived=True, waived_until=waiver.until)
        if not prev.waived or prev.waived_until != waiver.until:
            emit("waived", nxt, nxt.alert_status, suppressed=False, waiver=waiver)
        return nxt
    if prev.waived:
        restart = prev.waived_until + timedelta(days=1) if prev.waived_until else nxt.as_of
        since = max(nxt.breach_since, restart) if nxt.breach_since is not None else None
        nxt = replace(nxt, waived=False, waived_until=None, breach_since=since)
        emit("waiver_expired", nxt, nxt.alert_status, suppressed=False, waiver=waiver)
    return nxt


def _event_of_default(nxt: AlertState, cure_days: int | None, emit: "_Emitter") -> AlertState:
    if (
        cure_days is None or nxt.state != "firing" or nxt.alert_status != "breach"
        or nxt.waived or nxt.eod_sent or nxt.breach_since is None
    ):
        return nxt
    if (nxt.as_of - nxt.breach_since).days < cure_days:
        return nxt
    nxt = replace(nxt, eod_sent=True)
    emit("event_of_default", nxt, "breach", suppressed=False, severity="critical", always=True)
    return nxt


def _reminder(nxt: AlertState, every: timedelta | None, now: datetime, emit: "_Emitter") -> AlertState:
    if every is None or nxt.state != "firing" or nxt.waived or nxt.candidate_count:
        return nxt
    if nxt.acknowledged_status is not None and nxt.acknowledged_status == nxt.alert_status:
        return nxt  # acknowledged: no reminders until its status changes
    if any(e.notify for e in emit.events) or not emit.wants(nxt.alert_status):
        return nxt
    since = max((t for t in (nxt.last_notified_at, nxt.fired_at) if t is not None), default=None)
    if since is not None and now - since >= every:
        emit("reminder", nxt, nxt.alert_status, suppressed=False)
    return nxt


class _Emitter:
    """Builds events with the covenant's severity and notify_on filter applied."""

    def __init__(self, covenant: Covenant, result: CovenantResult, now: datetime):
        self.covenant, self.result, self.now = covenant, result, now
        self.events: list[AlertEvent] = []

    def wants(self, status: str | None) -> bool:
        return status in self.covenant.alert.notify_on

    def __call__(self, kind, nxt, previous_status, *, suppressed, waiver=None, severity=None, always=False):
        status = nxt.alert_status or "ok"
        key = "resolved" if kind == "resolved" else status
        notify = always or (self.wants(key) and not suppressed)
        self.events.append(AlertEvent(
            kind=kind, facility_id=nxt.facility_id, covenant_id=nxt.covenant_id, status=status,
            previous_status=previous_status, severity=severity or self.covenant.severity, notify=notify,
            at=self.now, as_of=self.result.as_of, result=self.result, waiver=waiver,
        ))
