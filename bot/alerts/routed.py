"""The events a check must send, routed as they arrive and kept per route outside memory.

A large book's first day opens hundreds of thousands of alerts. The events to send of each run of
facilities are grouped by where they go (``by_routes``, on the worker that advanced them), routed a
group at a time as the runs come back (``RoutedEvents.add_run``) and appended to their routes'
lists in a temporary file, each with its arrival number;
memory keeps, per route, only its count, its latest test date and its worst few: the alerts its
message shows in full (``bot.notify.render_email.MAX_DETAILED``; every alert of a few on Slack). The
messages are then made one route at a time (``events_of``): memory holds one route's events at most.

Routes keep the order in which they first appear (Slack channels are queued before e-mails, each
in that order), and every event knows which of its routes carries it first: that message's audit
row is the event's own (``bot.alerts.advance._queued``).
"""

from __future__ import annotations

import heapq
import marshal
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import IO, Mapping, Sequence

from bot.alerts.lifecycle import AlertEvent
from bot.alerts.routing import routes_for
from bot.alerts.waivers import Waiver
from bot.config import Settings
from bot.domain.model import Facility
from bot.domain.results import CovenantResult
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import Threshold
from bot.notify.render import worst_first
from bot.notify.render_email import MAX_DETAILED

FLUSH = 128  # events of one route kept in memory before they go to the file (a first day has ~150 routes)

# An event to send travels (from a worker process) and is kept as a plain tuple of text and numbers
# (``pack``): marshal writes and reads it many times faster than pickle writes the objects, and it
# takes a fraction of their memory. Its sort key (``sort_key``) travels beside it.
PackedEvent = tuple
Routed = tuple[AlertEvent, Facility, bool]  # (the event, its facility, whether this route carries it first)


def sort_key(event: AlertEvent) -> tuple:
    """Worst first, as every message orders its alerts."""
    return worst_first((event, None))  # type: ignore[arg-type]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def pack(event: AlertEvent, facility: Facility) -> PackedEvent:
    """``event`` (and its facility) as a tuple ``marshal`` can write; ``Unpacker`` makes them again."""
    r, w, f = event.result, event.waiver, facility
    waiver = None if w is None else (w.until.toordinal(), w.reason, w.by, w.created_at.isoformat())
    return (event.kind, event.facility_id, event.covenant_id, event.status, event.previous_status, event.severity,
            event.notify, event.at.isoformat(), event.as_of.toordinal(),
            r.metric, r.as_of.toordinal(), _text(r.value), str(r.threshold), r.status, _text(r.headroom), r.reason,
            r.months_to_breach, _text(r.rental_deflation), waiver,
            (f.borrower, f.facility_type, f.currency, str(f.commitment), str(f.outstanding),
             f.origination_date.toordinal(), f.maturity_date.toordinal(), f.owner_email, f.slack_channel))


class Unpacker:
    """The events and facilities of packed tuples, sharing what repeats (dates, thresholds, facilities)."""

    def __init__(self) -> None:
        self._days: dict[int, date] = {}
        self._times: dict[str, datetime] = {}
        self._thresholds: dict[str, Threshold] = {}
        self._facilities: dict[str, Facility] = {}

    def __call__(self, packed: PackedEvent) -> tuple[AlertEvent, Facility]:
        (kind, fid, cid, status, previous, severity, notify, at, as_of, metric, result_as_of, value, threshold,
         result_status, headroom, reason, months, deflation, waiver, f) = packed
        facility = self._facilities.get(fid)
        if facility is None:
            facility = self._facilities[fid] = Facility(
                fid, f[0], f[1], f[2], Decimal(f[3]), Decimal(f[4]), self._day(f[5]), self._day(f[6]), f[7], f[8])
        limit = self._thresholds.get(threshold)
        if limit is None:
            limit = self._thresholds[threshold] = Threshold.parse(threshold)
        result = CovenantResult(fid, cid, metric, self._day(result_as_of), _decimal(value), limit, result_status,
                                _decimal(headroom), reason, months, _decimal(deflation))
        granted = None if waiver is None else Waiver(fid, cid, self._day(waiver[0]), waiver[1], waiver[2],
                                                     datetime.fromisoformat(waiver[3]))
        event = AlertEvent(kind, fid, cid, status, previous, severity, notify, self._time(at), self._day(as_of),
                           result, granted)
        return event, facility

    def _day(self, ordinal: int) -> date:
        day = self._days.get(ordinal)
        if day is None:
            day = self._days[ordinal] = date.fromordinal(ordinal)
        return day

    def _time(self, text: str) -> datetime:
        when = self._times.get(text)
        if when is None:
            when = self._times[text] = datetime.fromisoformat(text)
        return when


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@dataclass
class Route:
    """One Slack channel or e-mail address of a check's messages."""

    name: str
    slack: bool
    position: int  # in the order routes first appeared (per kind)
    keep: int  # the worst this many are kept in memory (those shown in full come from them)
    count: int = 0
    latest: date | None = None  # the latest test date of its events
    top: list[tuple[tuple, int, PackedEvent]] = field(default_factory=list, repr=False)
    pending: list[tuple[PackedEvent, bool, int]] = field(default_factory=list, repr=False)  # (event, first, number)
    chunks: list[tuple[int, int]] = field(default_factory=list, repr=False)  # (offset, length) in the file


_position = attrgetter("position")


class RoutedEvents:
    """The routes of one check's events to send, each with its events (in arrival order)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.channels: dict[str, Route] = {}
        self.addresses: dict[str, Route] = {}
        self.latest: date | None = None
        self._file: IO[bytes] | None = None
        self._seq = 0
        self._targets: dict[tuple, tuple[list[Route], Route | None]] = {}  # (Slack, e-mail names) -> ...

    def add_run(self, groups: Sequence[RouteGroup], events: int) -> list[PackedEvent]:
        """Route the events to send of one run of facilities (``by_routes``: grouped by where they
        go, numbered in arrival order within the run; ``events`` of them in all), after those of
        the runs before. Returns the events with no route at all, in arrival order."""
        base = self._seq
        unrouted: list[PackedEvent] = []
        for slack, email, items in groups:
            targets, first = self._targets_for(slack, email)
            if first is None:
                unrouted += [packed for _, _, packed in items]
                continue
            numbered = [(key, base + n, packed) for key, n, packed in items]  # arrival number in the check
            latest = date.fromordinal(max(packed[8] for _, _, packed in items))
            self.latest = latest if self.latest is None else max(self.latest, latest)
            for route in targets:
                route.count += len(items)
                route.latest = latest if route.latest is None else max(route.latest, latest)
                route.top += heapq.nsmallest(route.keep, numbered)  # (sort key, number): never a tie
                if len(route.top) >= 2 * route.keep:
                    route.top.sort(key=itemgetter(0, 1))
                    del route.top[route.keep:]
                carries_first = route is first
                route.pending += [(packed, carries_first, seq) for _, seq, packed in numbered]
                if len(route.pending) >= FLUSH:
                    self._flush(route)
        self._seq = base + events
        return unrouted

    def _targets_for(self, slack_names: tuple[str, ...], email_names: tuple[str, ...]
                     ) -> tuple[list[Route], Route | None]:
        """The routes of these names (made as they first appear) and the one that carries an
        event first: Slack first, then e-mail, each in the order the routes first appeared."""
        known = self._targets.get((slack_names, email_names))
        if known is None:
            slack = [self._route(self.channels, name, True) for name in slack_names]
            email = [self._route(self.addresses, name, False) for name in email_names]
            first = min(slack or email, key=_position) if slack or email else None
            known = self._targets[(slack_names, email_names)] = (slack + email, first)
        return known

    def routes(self) -> list[Route]:
        """Every route, in the order its messages are queued (Slack channels, then e-mails)."""
        return [*self.channels.values(), *self.addresses.values()]

    def shown(self, route: Route, unpack: Unpacker) -> list[tuple[int, AlertEvent, Facility]]:
        """The events ``route``'s message shows in full (trend, inputs, outlook), with their arrival
        number: a Slack channel with a few alerts shows each in full, a grouped Slack message none
        (one line per alert), an e-mail its worst ``MAX_DETAILED``."""
        if route.slack and route.count > self.settings.group_threshold:
            return []
        chosen = sorted(route.top, key=itemgetter(0, 1))[:route.keep]
        return [(seq, *unpack(packed)) for _, seq, packed in chosen]

    def events_of(self, route: Route, unpack: Unpacker) -> list[Routed]:
        """Every event of ``route``, in arrival order (read back from the file)."""
        return load(self.stored(route), unpack)

    def stored(self, route: Route) -> list[bytes]:
        """``route``'s events as written (``load`` makes them again, e.g. on a worker process)."""
        out = []
        if route.chunks:
            assert self._file is not None
            for offset, length in route.chunks:
                self._file.seek(offset)
                out.append(self._file.read(length))
        if route.pending:
            out.append(marshal.dumps(route.pending))
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _route(self, routes: dict[str, Route], name: str, slack: bool) -> Route:
        route = routes.get(name)
        if route is None:
            keep = self.settings.group_threshold if slack else MAX_DETAILED
            route = routes[name] = Route(name, slack, len(routes), keep)
        return route

    def _flush(self, route: Route) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="covbot-events-")
        data = marshal.dumps(route.pending)
        self._file.seek(0, 2)
        route.chunks.append((self._file.tell(), len(data)))
        self._file.write(data)
        route.pending = []


def load(chunks: list[bytes], unpack: Unpacker) -> list[Routed]:
    """The events of a route's ``stored`` chunks, in arrival order (a run's events come a group at
    a time, ``add_run``: their numbers put them back in order)."""
    entries = sorted((entry for data in chunks for entry in marshal.loads(data)), key=itemgetter(2))
    return [(*unpack(packed), first) for packed, first, _ in entries]


RouteGroup = tuple[tuple[str, ...], tuple[str, ...], list[tuple[tuple, int, PackedEvent]]]
# (Slack channels, e-mail addresses, the events going to exactly those: (sort key, number in the run, packed))


def by_routes(notified: Sequence[tuple[tuple, PackedEvent]], covenants: Mapping[str, Covenant],
              default_slack_channel: str | None, default_email: str | None) -> list[RouteGroup]:
    """The events to send of one run (``(sort_key, pack)``, in arrival order), grouped by the
    routes they go to (``routes_for``) in the order each group first appears, each event with its
    number in the run. Pure: a worker process groups its runs, so the check's own process takes a
    run's events a group at a time (``RoutedEvents.add_run``) instead of one at a time."""
    groups: dict[tuple, RouteGroup] = {}
    names_of: dict[tuple, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for n, (key, packed) in enumerate(notified):
        facility = packed[-1]
        how = (packed[2], facility[8], facility[7], packed[5])  # covenant, channel, owner, severity
        names = names_of.get(how)
        if names is None:
            covenant = covenants.get(packed[2])
            routes = (routes_for(covenant, facility[8], facility[7], packed[5], default_slack_channel, default_email)
                      if covenant is not None else None)
            names = names_of[how] = (routes.slack, routes.email) if routes is not None else ((), ())
        group = groups.get(names)
        if group is None:
            group = groups[names] = (names[0], names[1], [])
        group[2].append((key, n, packed))
    return list(groups.values())
