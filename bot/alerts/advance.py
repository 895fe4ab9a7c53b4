"""After a check: advance every alert, and write what changed and queue what must be said together.

Set-based and in flat memory: results come in facility_id order (as the check evaluates them) and
are taken ``CHUNK`` at a time. Per chunk: the stored states of its facilities are read in one range
query and each alert is advanced in memory (``advance`` is pure); what changed (next to nothing on a
steady day) and the events to send are kept. ``finish`` writes the changes in bulk with their audit
rows, then routes, groups and renders the events into the outbox (only the alerts a message shows
in full get their trend and inputs read), all in the caller's one transaction, so alert state and
notifications never disagree, whatever crashes afterwards.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from sqlalchemy.orm import Session

from bot.alerts import store
from bot.alerts.grouping import split_for_delivery
from bot.alerts.lifecycle import AlertEvent, AlertState, advance, changed as state_changed
from bot.alerts.routed import PackedEvent, Route, RouteGroup, Routed, RoutedEvents, Unpacker, by_routes, pack, sort_key
from bot.alerts.routed import load as load_routed
from bot.alerts.tables import AlertStateRow
from bot.alerts.waivers import Waiver
from bot.config import Settings
from bot.domain.model import Facility
from bot.domain.results import CovenantResult
from bot.domain.rulebook import RuleSet
from bot.notify import outbox
from bot.store.types import Packed
from bot.notify.render import AlertContext, AlertNotice, WaiverNote, worst_first
from bot.notify.render_email import MAX_SHOWN
from bot.notify.render_slack import MAX_GROUP_LINES

if TYPE_CHECKING:
    from bot.domain.market import Market

Key = tuple[str, str]
Details = tuple[dict[str, list[str]], dict[Key, list[Decimal]]]  # (inputs per facility, trend per alert)
CHUNK = 4000  # results advanced together
AUDIT_BATCH = 5000  # audit rows written together
_INPUTS_BATCH = 500  # facilities read at a time for the inputs of the alerts shown in full


@dataclass
class AlertRun:
    """What one check did to the alerts."""

    kinds: Counter = field(default_factory=Counter)  # events of every kind, sent or not
    latest: date | None = None  # the test date of the events to send (None when there is none)
    slack_messages: int = 0
    emails: int = 0
    waived: dict[Key, date] = field(default_factory=dict)  # alert -> waived until
    unrouted: int = 0  # notifying events with no route at all
    audit: list[tuple] = field(default_factory=list, repr=False)  # rows not written yet (``_audit_row``)
    status_changed: dict[Key, date] = field(default_factory=dict, repr=False)  # in this run, by an alert with more events
    states_written: int = 0

    def as_of(self) -> date | None:
        """The test date of the events to send (None when there is none)."""
        return self.latest


@dataclass
class Advanced:
    """What advancing one run of results did, kept until the check's last transaction writes it:
    the states to write (``store.state_row`` tuples), audit rows, the events (those to send with
    the facilities they concern), the alerts shown as waived."""

    fresh: list[tuple] = field(default_factory=list)  # states to INSERT
    changed: list[tuple] = field(default_factory=list)  # states to UPDATE
    audit: list[tuple] = field(default_factory=list)  # ``_audit_row`` tuples
    kinds: Counter = field(default_factory=Counter)
    status_changed: dict[Key, date] = field(default_factory=dict)
    notified: list[tuple[tuple, PackedEvent]] = field(default_factory=list)  # (sort key, ``routed.pack``ed event)
    groups: list[RouteGroup] | None = None  # or those grouped by route already (``group``, on a worker)
    events: int = 0  # how many ``groups`` hold
    waived: dict[Key, date] = field(default_factory=dict)
    staged: int = 0  # states staged in the database instead (``store.stage_states``)

    def group(self, covenants: Mapping[str, Any], default_slack_channel: str | None, default_email: str | None
              ) -> None:
        """Group the events to send by route (``routed.by_routes``), on the worker that advanced
        them: the check's process then routes a run a group at a time."""
        self.groups = by_routes(self.notified, covenants, default_slack_channel, default_email)
        self.events, self.notified = len(self.notified), []


def advance_results(results: Iterable[CovenantResult], states: Mapping[Key, AlertState],
                    covenants: Mapping[str, Any], waivers: Mapping[Key, Waiver], now: datetime,
                    facility_of: Callable[[str], Facility | None]) -> Advanced:
    """Advance the alert of each result from its stored state (``states``: those of the results'
    facilities). Pure: reads and writes nothing, so it runs here or on a worker process."""
    out = Advanced()
    fresh, changed, audit, notified = out.fresh, out.changed, out.audit, out.notified
    for result in results:
        key = (result.facility_id, result.covenant_id)
        previous = states.get(key)
        if previous is None and result.status == "ok":
            continue  # met, and no alert stored (at rest): it stays at rest, nothing to write or say
        covenant = covenants.get(result.covenant_id)
        if covenant is None:  # pragma: no cover - results come from this rule set
            continue
        state, events = advance(previous, result, covenant, now, waivers.get(key))
        if state_changed(previous, state):  # more than its annotations: a steady day writes little
            (fresh if previous is None else changed).append(store.state_row(state))
        if events or (previous.state if previous is not None else "inactive") != state.state:
            audit += _audit_change(previous, state, events, result, now)
        for event in events:
            out.kinds[event.kind] += 1
            if event.kind in store.STATUS_CHANGES and len(events) > 1:  # read only by a later event of
                out.status_changed[key] = event.as_of  # the same alert in this run (``_parent_update``)
            if event.notify:
                facility = facility_of(event.facility_id)
                if facility is not None:  # the facility comes with its results
                    notified.append((sort_key(event), pack(event, facility)))
        if state.waived and state.waived_until is not None:
            out.waived[key] = state.waived_until
    return out


class AlertAdvance:
    """Advances alerts as results stream in (``add``), then writes what changed and queues the
    notifications (``finish``).

    Reads the stored states a chunk at a time through ``reads`` (short read transactions, or the
    caller's one session), keeps what changed (on a steady day, next to nothing) and the events to
    send, and writes them all in ``finish``'s session: the alerts and their notifications commit
    together, and no write lock is held while the book is evaluated."""

    def __init__(self, reads: Callable[[], AbstractContextManager[Session]], ruleset: RuleSet, now: datetime,
                 settings: Settings, waivers: Mapping[Key, Waiver], facilities: Mapping[str, Facility] | None = None,
                 chunk: int = CHUNK):
        self.reads, self.ruleset, self.now, self.settings, self.chunk = reads, ruleset, now, settings, chunk
        self.run = AlertRun()
        self.waivers = waivers  # every waiver in force: a handful
        self.covenants = {c.id: c for c in ruleset.covenants}
        self._given = facilities
        self._seen: dict[str, Facility] = {}  # facilities of the results not advanced yet, in id order
        self.routed = RoutedEvents(settings)  # the events to send, per route (mostly on disk)
        self._buffer: list[CovenantResult] = []
        self._fresh: list[tuple] = []  # states to write in finish (``store.state_row``)
        self._changed: list[tuple] = []
        self._staged = 0  # states staged for ``staged_for`` by the workers (``merge``)
        self.staged_for: int | None = None  # the run whose staged states finish applies

    def facilities_seen(self, facilities: Iterable[Facility]) -> None:
        """The facilities about to be evaluated (in facility_id order, before their results)."""
        for facility in facilities:
            self._seen[facility.facility_id] = facility

    def add(self, result: CovenantResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self.chunk:
            self._advance_chunk()

    def _facility(self, facility_id: str) -> Facility | None:
        if self._given is not None:
            return self._given.get(facility_id)
        return self._seen.get(facility_id)

    def _forget_facilities_before(self, facility_id: str) -> None:
        """Results come in facility_id order: no later one needs a facility before this one."""
        done = [fid for fid in itertools.takewhile(lambda fid: fid < facility_id, self._seen)]
        for fid in done:
            del self._seen[fid]

    def _advance_chunk(self) -> None:
        results, self._buffer = self._buffer, []
        if not results:
            return
        with self.reads() as session:
            states = store.load_states_between(session, results[0].facility_id, results[-1].facility_id)
        self.merge(advance_results(results, states, self.covenants, self.waivers, self.now, self._facility))
        self._forget_facilities_before(results[-1].facility_id)

    def merge(self, advanced: Advanced) -> None:
        """Take in what advancing a run of results did (here, or on a worker process: see
        ``bot.usecases.check_pool``); runs are merged in facility_id order."""
        run = self.run
        self._fresh += advanced.fresh
        self._changed += advanced.changed
        self._staged += advanced.staged
        run.audit += advanced.audit
        run.kinds.update(advanced.kinds)
        run.status_changed.update(advanced.status_changed)
        run.waived.update(advanced.waived)
        if advanced.groups is None:  # advanced here
            advanced.group(self.covenants, self.settings.default_slack_channel, self.settings.default_email)
        assert advanced.groups is not None
        for packed in self.routed.add_run(advanced.groups, advanced.events):
            event, _ = Unpacker()(packed)
            run.unrouted += 1
            run.audit.append(_event_row(event, self.now, "not sent: no route"))
            run.audit.append(_audit_row(
                "unrouted", self.now, event.facility_id, event.covenant_id, as_of=event.as_of,
                status=event.status, detail=f"{event.kind}: no Slack channel or e-mail address to send it to"))

    def finish(self, session: Session, *, details_of: Callable[[list[Key]], Iterable[Details]] | None = None,
               map_: Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]] | None = None) -> AlertRun:
        """Advance what is left, write every change and its audit rows, clear the acknowledgements
        whose status moved on, queue the notifications (the caller commits ``session``).

        ``details_of`` (the `explain` inputs and the trends of alerts, see ``alert_details``) and
        ``map_`` (a ``map`` of a module-level function, e.g. on worker processes) let the messages'
        heavy work run elsewhere; by default it runs here."""
        self._advance_chunk()
        self.run.latest = self.routed.latest
        try:
            shown, events, bare = _shown_in_full(self.routed, self.ruleset)
            details: Iterable[Details] = []
            if bare:  # on the workers, if any: they start now, while this process writes the states
                keys = sorted(bare)
                details = (details_of(keys) if details_of is not None
                           else [_details_here(session, self.ruleset, self.run.as_of(), keys)])
            store.write_states(session, self._fresh, self._changed, self.now)
            if self.staged_for is not None:
                store.apply_staged_states(session, self.staged_for, self.now)
            self.run.states_written = len(self._fresh) + len(self._changed) + self._staged
            self._fresh, self._changed = [], []
            store.clear_stale_acknowledgements(session)
            full = _full_contexts(bare, events, details)
            _queue(session, self.run, self.routed, self.ruleset, self.now, self.settings, shown, full,
                   map_ or _local_map)
        finally:
            self.routed.close()
        _write_audit(session, self.run, at_least=1)
        return self.run


def advance_alerts(
    session: Session,
    results: Iterable[CovenantResult],
    ruleset: RuleSet,
    facilities: Mapping[str, Facility],
    now: datetime,
    settings: Settings,
) -> AlertRun:
    """Advance the alert of every result and queue its notifications (the caller commits).
    ``results`` in facility_id order (as the check yields them) keeps each chunk's read small."""
    advancing = AlertAdvance(lambda: nullcontext(session), ruleset, now, settings, store.current_waivers(session),
                             facilities)
    for result in results:
        advancing.add(result)
    return advancing.finish(session)


# -- audit ---------------------------------------------------------------------------------------


def _audit_row(kind: str, now: datetime, fid: str, cid: str, *, as_of: date | None = None, status: str | None = None,
               actor: str | None = None, notification_id: str | None = None, detail: str | None = None) -> tuple:
    """One alert_audit row, in ``store.AUDIT_COLUMNS`` order: a plain tuple, since a large book's
    first day makes tens of thousands on the worker processes and they cross to this one."""
    return (now, kind, fid, cid, as_of, status, actor, notification_id, detail)


def _audit_change(previous: AlertState | None, state: AlertState, events: list[AlertEvent],
                  result: CovenantResult, now: datetime) -> list[tuple]:
    rows = []
    fid, cid = state.facility_id, state.covenant_id
    before = previous.state if previous else "inactive"
    if not events and before != state.state:
        detail = f"{before} → {state.state}"
        if state.state == "pending":
            detail += f" ({result.status} seen on {state.candidate_count} test date(s) in a row)"
        rows.append(_audit_row("state", now, fid, cid, as_of=result.as_of, status=result.status,
                               actor="covbot", detail=detail))
    for event in events:  # an event to send gets its row when it is queued (see _queued): not kept twice
        if not event.notify:
            rows.append(_event_row(event, now, "not sent: waived" if state.waived else "not sent: notify_on"))
    return rows


def _event_row(event: AlertEvent, now: datetime, why: str, notification_id: str | None = None) -> tuple:
    """The audit row of one alert event: what moved, the value against the threshold, what became of it."""
    from bot.notify.render import format_value

    result = event.result
    shown = f"{event.previous_status} → {event.status}" if event.previous_status != event.status else event.status
    value = format_value(result.metric, result.value)
    return _audit_row(event.kind, now, event.facility_id, event.covenant_id, as_of=event.as_of, status=event.status,
                      actor="covbot", notification_id=notification_id,
                      detail=f"{shown}; value {value}, threshold {result.threshold}; severity {event.severity}; {why}")


# -- routing and rendering into the outbox ---------------------------------------------------------


def notice_of(event: AlertEvent) -> AlertNotice:
    """The event as notify renders it (notify knows nothing of the lifecycle)."""
    waiver = event.waiver
    return AlertNotice(
        kind=event.kind, facility_id=event.facility_id, covenant_id=event.covenant_id, status=event.status,
        previous_status=event.previous_status, severity=event.severity, as_of=event.as_of, result=event.result,
        waiver=WaiverNote(waiver.until, waiver.reason, waiver.by) if waiver is not None else None,
    )


def _local_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    return map(fn, items)


def _shown_in_full(routed: RoutedEvents, ruleset: RuleSet
                   ) -> tuple[dict[int, list[Key]], dict[Key, AlertEvent], dict[Key, AlertContext]]:
    """What each message shows in full: per route (by ``id``) its alerts shown in full, and per
    such alert its first event and its context so far (facility and covenant, without the trend
    and inputs that ``_full_contexts`` adds)."""
    first: dict[Key, tuple[int, AlertEvent, Facility]] = {}  # per alert shown in full: its first event
    shown: dict[int, list[Key]] = {}  # id(route) -> the alerts its message shows in full
    unpack = Unpacker()
    for route in routed.routes():
        keys = shown[id(route)] = []
        for seq, event, facility in routed.shown(route, unpack):
            key = (event.facility_id, event.covenant_id)
            keys.append(key)
            if key not in first or seq < first[key][0]:
                first[key] = (seq, event, facility)
    bare = {key: AlertContext(facility, ruleset.covenant(key[1])) for key, (_, _, facility) in first.items()  # type: ignore[arg-type]
            if ruleset.covenant(key[1]) is not None}
    return shown, {key: event for key, (_, event, _) in first.items()}, bare


def _queue(session: Session, run: AlertRun, routed: RoutedEvents, ruleset: RuleSet, now: datetime,
           settings: Settings, shown: Mapping[int, list[Key]], full: Mapping[Key, AlertContext],
           map_: Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]) -> None:
    """Render into the outbox one route at a time, each message with the alerts it shows in full
    (``full``, see ``_shown_in_full``; a large book's first day has hundreds of thousands of
    events: only one route's are in memory at once, see ``bot.alerts.routed``)."""
    covenants = {c.id: c for c in ruleset.covenants}

    def job(route: Route) -> RouteJob:
        """What the route's message needs, to be made on a worker (``slack_group_job``, ``email_job``)."""
        assert route.latest is not None
        return RouteJob(route.name, route.latest, routed.stored(route),
                        {key: full[key] for key in shown[id(route)] if key in full},
                        covenants, outbox.new_notification_id(), now)

    # a channel with more alerts than the grouping threshold gets one grouped message, made on the
    # workers as the e-mails are; a channel with a few gets one message each, made here (a reply
    # updates its thread's parent, read from the database)
    grouped = [route for route in routed.channels.values() if route.count > settings.group_threshold]
    groups = iter(map_(slack_group_job, (job(route) for route in grouped)))  # on worker processes these start now
    emails = map_(email_job, (job(route) for route in routed.addresses.values()))  # ... and these, a few ahead
    grouped_names = {route.name for route in grouped}
    for route in routed.channels.values():
        if route.name in grouped_names:
            channel, text, blocks, shown_keys, notification_id, rows = next(groups)
            assert channel == route.name
            outbox.enqueue_slack(session, channel, text, blocks, kind="alert_group", now=now, alerts=shown_keys,
                                 notification_id=notification_id)
            run.audit += rows
            _write_audit(session, run)
            run.slack_messages += 1
            continue
        items, own = _detailed(routed.events_of(route, Unpacker()), full, covenants)
        run.slack_messages += _queue_slack(session, run, route.name, items, own, now, settings.group_threshold)
    for recipients, payload, notification_id, rows in emails:
        outbox.enqueue_packed_email(session, recipients, payload, kind="alert", now=now, notification_id=notification_id)
        run.audit += rows
        _write_audit(session, run)
        run.emails += 1


def _detailed(loaded: list[Routed], full: Mapping[Key, AlertContext], covenants: Mapping[str, Any]
              ) -> tuple[list[tuple[AlertNotice, AlertContext]], set[tuple[str, str, str]]]:
    """A route's (notice, context) pairs (the full context of an alert shown in full), and the
    events the route carries first (they get their own audit row there, see ``_queued``)."""
    items, own = [], set()
    for e, facility, carries_first in loaded:
        ctx = full.get((e.facility_id, e.covenant_id))
        if ctx is None:
            ctx = AlertContext(facility, covenants[e.covenant_id])
        items.append((notice_of(e), ctx))
        if carries_first:
            own.add((e.facility_id, e.covenant_id, e.kind))
    return items, own


@dataclass(frozen=True)
class RouteJob:
    """Everything the message of one route (a grouped Slack message, an e-mail) needs, to be made
    on a worker process (``slack_group_job``, ``email_job``)."""

    name: str  # the channel or the address
    latest: date  # the latest test date of its alerts
    chunks: list[bytes]  # its events, as stored (``bot.alerts.routed``)
    contexts: dict[Key, AlertContext]  # the alerts it shows in full
    covenants: dict[str, Any]
    notification_id: str
    now: datetime

    def items(self) -> tuple[list[tuple[AlertNotice, AlertContext]], set[tuple[str, str, str]]]:
        return _detailed(load_routed(self.chunks, Unpacker()), self.contexts, self.covenants)

    def audit(self, items: list[tuple[AlertNotice, AlertContext]], own: set[tuple[str, str, str]], where: str
              ) -> list[tuple]:
        return _queued(self.notification_id, [e for e, _ in items], own, f"{where} {self.name}", self.now)


def _worst_keys(items: list[tuple[AlertNotice, AlertContext]], limit: int) -> list[Key]:
    return [(e.facility_id, e.covenant_id) for e, _ in sorted(items, key=worst_first)[:limit]]


def slack_group_job(job: RouteJob) -> tuple[str, str, list, list[Key], str, list[tuple]]:
    """Render one grouped Slack message and write the audit rows that link its events to it:
    (channel, text, blocks, the alerts it shows, notification id, audit rows)."""
    from bot.notify.render_slack import render_slack_group

    items, own = job.items()
    message = render_slack_group(items, job.name)
    return (job.name, message.text, list(message.blocks), _worst_keys(items, MAX_GROUP_LINES), job.notification_id,
            job.audit(items, own, "Slack"))


def email_job(job: RouteJob) -> tuple[list[str], Packed, str, list[tuple]]:
    """Render one alert e-mail, pack it for the outbox (``outbox.pack_email``) and write the audit
    rows that link its events to it: a module-level function, so worker processes make a large
    book's e-mails in parallel and this process only writes them."""
    from bot.notify.render_email import render_email

    items, own = job.items()
    content = render_email(job.name, items, job.latest)
    recipients, payload = outbox.pack_email([job.name], content.subject, content.text, content.html,
                                            alerts=_worst_keys(items, MAX_SHOWN), attachments=content.attachments)
    return recipients, payload, job.notification_id, job.audit(items, own, "e-mail")


def _full_contexts(contexts: dict[Key, AlertContext], events: Mapping[Key, AlertEvent],
                   details: Iterable[Details]) -> dict[Key, AlertContext]:
    """The contexts of the alerts shown in full: trend, `explain` inputs (``details``, in parts)
    and forward note."""
    if not contexts:
        return {}
    inputs: dict[str, list[str]] = {}
    trends: dict[Key, list[Decimal]] = {}
    for part_inputs, part_trends in details:
        inputs.update(part_inputs)
        trends.update(part_trends)
    return {key: replace(ctx, trend=trends.get(key, ()), explain_lines=inputs.get(key[0], ()),
                         forward_note=_forward_note(events[key]))
            for key, ctx in contexts.items()}


def alert_details(session: Session, market: Market, as_of: date, keys: list[Key]) -> Details:
    """What an alert shown in full needs besides its event, for ``keys`` (sorted): the `explain`
    inputs in short of their facilities (quarters, marks, prices) and their recent values (the
    trend), read in a few queries; on a worker process for a large book (``check_pool``)."""
    from bot.alerts.inputs import inputs_by_facility
    from bot.store.repository import load_facilities

    ids = list(dict.fromkeys(fid for fid, _ in keys))
    inputs: dict[str, list[str]] = {}
    for start in range(0, len(ids), _INPUTS_BATCH):  # a batch of whole facilities in memory at a time
        inputs.update(inputs_by_facility(load_facilities(session, ids[start:start + _INPUTS_BATCH]), market))
    return inputs, store.recent_values(session, keys, as_of)


def _details_here(session: Session, ruleset: RuleSet, as_of: date | None, keys: list[Key]) -> Details:
    """``alert_details`` in this process, with the market of ``as_of``."""
    if not keys or as_of is None:
        return {}, {}
    from bot.domain.market import Market
    from bot.store.repository import load_price_book

    market = Market(load_price_book(session), ruleset.valuation, ruleset.forecast, as_of)
    return alert_details(session, market, as_of, keys)


def _forward_note(event: AlertEvent) -> str | None:
    """"breach in ~N months at −X %/yr rental deflation" for a DSCR alert that is not yet a breach."""
    from bot.notify.render import format_headroom

    result = event.result
    months = result.months_to_breach
    if months is None or event.status == "breach" or event.kind == "resolved":
        return None
    rate = (f" at {format_headroom(result.rental_deflation).replace(' %', ' %/yr')} rental deflation"
            if result.rental_deflation is not None else " at the assumed rental deflation")
    if months == 0:
        return f"breach now{rate}"
    return f"breach in ~{months} month{'s' if months != 1 else ''}{rate}"


def _queue_slack(session: Session, run: AlertRun, channel: str, items, own: set[tuple[str, str, str]],
                 now: datetime, threshold: int) -> int:
    from bot.notify.render_slack import render_slack, render_slack_group

    queued = 0
    for pairs in split_for_delivery(items, threshold):
        if len(pairs) > 1:
            message = render_slack_group(pairs, channel)
            shown = sorted(pairs, key=worst_first)[:MAX_GROUP_LINES]
            row = outbox.enqueue_slack(session, channel, message.text, message.blocks, kind="alert_group",
                                       now=now, alerts=[(e.facility_id, e.covenant_id) for e, _ in shown])
        else:
            event, ctx = pairs[0]
            role = "start" if event.kind == "firing" else "reply"
            message = render_slack(event, ctx, actions=role == "start")  # the thread parent has buttons
            parent = _parent_update(session, run, event, ctx) if role == "reply" else None
            row = outbox.enqueue_slack(session, channel, message.text, message.blocks, kind="alert", now=now,
                                       alerts=[(event.facility_id, event.covenant_id)], thread_role=role,
                                       parent_update=parent)
        run.audit += _queued(row.notification_id, [e for e, _ in pairs], own, f"Slack {channel}", now)
        _write_audit(session, run)
        queued += 1
    return queued


def _parent_update(session: Session, run: AlertRun, event: AlertEvent, ctx):
    """The thread parent's new text and blocks: where the alert stands after ``event``."""
    from bot.notify.render_slack import ThreadSummary, render_slack_parent

    key = (event.facility_id, event.covenant_id)
    summary = ThreadSummary.opened(event, ctx)
    if event.kind not in ("escalated", "improved", "resolved"):
        since = run.status_changed.get(key) or store.status_since(session, *key)
        if since is not None:
            summary = replace(summary, since=since)
    summary = _acknowledged(session, key, summary)
    message = render_slack_parent(summary)
    return message.text, message.blocks


def _acknowledged(session: Session, key: Key, summary):
    """Keep "Acknowledged by …" on the parent while the acknowledgement holds (it is cleared, in
    the same transaction, once the alert's status changes)."""
    row = session.get(AlertStateRow, key, populate_existing=True)
    if row is None or row.acknowledged_at is None:
        return summary
    return replace(summary, acknowledged_user=row.acknowledged_user, acknowledged_by=row.acknowledged_by,
                   acknowledged_at=row.acknowledged_at)


def _queued(notification_id: str, events: Sequence[AlertEvent], own: set[tuple[str, str, str]], where: str,
            now: datetime) -> list[tuple]:
    """The audit rows linking each event to the message that carries it: the event's own row names
    its first message (``own``: the events this message's route carries first; one row per alert,
    not two); a further message (the same alert to Slack and by e-mail) gets a "queued" row."""
    rows = []
    for e in events:
        if (e.facility_id, e.covenant_id, e.kind) in own:
            rows.append(_event_row(e, now, f"queued for {where}", notification_id))
        else:
            rows.append(_audit_row("queued", now, e.facility_id, e.covenant_id, as_of=e.as_of, status=e.status,
                                   notification_id=notification_id,
                                   detail=f"{e.kind.replace('_', ' ')} queued for {where}"))
    return rows


def _write_audit(session: Session, run: AlertRun, at_least: int = AUDIT_BATCH) -> None:
    """Write the audit rows kept so far once there are ``at_least`` (memory stays flat)."""
    if run.audit and len(run.audit) >= at_least:
        store.audit_rows(session, run.audit)
        run.audit = []


# -- what `covbot check` prints about it ------------------------------------------------------------


def describe_notifications(run: AlertRun, report, settings: Settings) -> str:
    """A few lines of rich markup: alert events, deliveries, what is left, what is waived."""
    from rich.markup import escape

    kinds = run.kinds
    happened = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items())) or "no change"
    lines = [f"Alerts: {happened}; {run.slack_messages} Slack message(s) and {run.emails} e-mail(s) queued."]
    lines.append(report.summary(settings))
    if run.unrouted:
        lines.append(f"[yellow]{run.unrouted} alert event(s) had no route: set the covenant's notify, the "
                     "facility's slack_channel/owner_email or COVBOT_DEFAULT_SLACK_CHANNEL.[/yellow]")
    for (facility_id, covenant_id), until in sorted(run.waived.items()):
        lines.append(f"[cyan]waived[/cyan] {escape(facility_id)} · {escape(covenant_id)} until {until.isoformat()}")
    return "\n".join(lines)


# -- `covbot notify test` ---------------------------------------------------------------------------


def queue_test_message(session: Session, now: datetime, *, slack_channel: str | None = None,
                       email: str | None = None):
    """Queue one test notification — a sample alert marked [TEST], rendered exactly as real alerts
    are — to a Slack channel or an e-mail address; returns the outbox row."""
    from bot.notify.samples import render_test_message

    if slack_channel is not None:
        from bot.alerts.routing import channel_key

        channel = channel_key(slack_channel)
        message = render_test_message(as_of=now.date()).slack
        return outbox.enqueue_slack(session, channel, message.text, message.blocks, kind="test", now=now)
    if not email or "@" not in email:
        raise ValueError("a test e-mail needs an address")
    content = render_test_message(as_of=now.date(), recipient=email).email
    return outbox.enqueue_email(session, [email], content.subject, content.text, content.html, kind="test", now=now)
