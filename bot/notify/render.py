"""What an alert says, before any channel lays it out: the lender's view of one alert event.

``alert_view`` turns an ``AlertNotice`` (notify's own input: what happened to one alert, handed in by
``bot.alerts``) and its ``AlertContext`` into an ``AlertView`` of plain,
formatted strings (value "1.18x", headroom "-5.6 %", trend "▇▆▅▃▁", "warning → breach", the waive
command). Channels escape it for their markup (``AlertView.escaped``) and hand it to Jinja2
templates found under ``templates/`` (``bot.notify.templates``). Layout lives in
``bot.notify.render_slack`` and ``bot.notify.render_email``; import their functions from there.

Pure: no clock, no network; the only I/O is reading template files.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Sequence

from bot.domain.decimals import fixed, percent
from bot.domain.model import Facility
from bot.domain.results import SEVERITY_ORDER, CovenantResult
from bot.domain.rulebook import SEVERITIES, Covenant
from bot.domain.thresholds import Threshold

SPARK_BARS = "▁▂▃▄▅▆▇█"
TREND_POINTS = 24  # at most this many recent values in a sparkline
WAIVE_PLACEHOLDERS = ('YYYY-MM-DD', '"…"', "you@lender.example")


# -- what callers hand in and get back ----------------------------------------------------------


@dataclass(frozen=True)
class WaiverNote:
    """The waiver an alert notice mentions: until when, why, granted by whom."""

    until: date
    reason: str
    by: str


@dataclass(frozen=True, slots=True)  # hundreds of thousands at once in the daily job
class AlertNotice:
    """What happened to one alert (one covenant at one facility), as notify renders it.

    ``bot.alerts`` builds these from its lifecycle events; notify never sees the state machine."""

    kind: str  # firing escalated improved reminder resolved event_of_default waived waiver_expired
    facility_id: str
    covenant_id: str
    status: str  # the alert's status after the event ("ok" for resolved)
    previous_status: str
    severity: str
    as_of: date
    result: CovenantResult
    waiver: WaiverNote | None = None


@dataclass(frozen=True)
class AlertContext:
    """Per event, what a lender needs beyond the event itself."""

    facility: Facility
    covenant: Covenant
    trend: Sequence[Decimal] = ()  # recent values, oldest first
    explain_lines: Sequence[str] = ()  # the inputs behind the value, in short
    forward_note: str | None = None  # e.g. "breach in ~5 months at -30 %/yr rental deflation"


@dataclass(frozen=True)
class SlackMessage:
    """A Slack message: ``text`` is the plain fallback (notifications, old clients); ``blocks`` Block Kit."""

    text: str
    blocks: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    attachments: tuple = ()  # bot.notify.alert_list.Attachment


# -- formatting ----------------------------------------------------------------------------------

_RATIOS = {"dscr_ttm", "dscr_fwd_6m", "dscr_fwd_12m", "crypto_coverage"}
_PERCENTS = {"ltv", "liquidation_ltv", "collateral_mirage"}
_MONEY = {"cfads_ttm", "debt_service_ttm", "revenue_ttm", "ebitda_ttm", "cash", "outstanding",
          "commitment", "gpu_value", "crypto_value", "collateral_value", "gpu_liquidation_value",
          "crypto_liquidation_value", "liquidation_value"}
_DAYS = {"days_since_period_end"}
_OPERATORS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}

STATUS_WORDS = {"ok": "ok", "warning": "warning", "breach": "breach", "no_data": "no data"}
_STATUS_PHRASES = {"ok": "met", "warning": "in the warning band", "breach": "in breach",
                   "no_data": "without data"}
_FIRING_TITLES = {"breach": "Covenant breach", "warning": "Early warning", "no_data": "Data missing",
                  "ok": "Covenant met"}


def _fixed(value: Decimal, places: int, grouping: bool = False) -> str:
    return fixed(value, places, grouping=grouping, rounding=ROUND_HALF_UP)  # total: never raises


def format_number(value: Decimal, places: int = 4) -> str:
    """Grouped digits, at most ``places`` decimals, trailing zeros dropped (``1,234.5``)."""
    text = _fixed(value, places, grouping=True)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(metric: str, value: Decimal | None, currency: str = "") -> str:
    """A metric value in the unit lenders read it in: ``1.18x``, ``82.0 %``, ``USD 1,250,000``."""
    if value is None:
        return "no data"
    if metric in _RATIOS:
        return f"{_fixed(value, 2)}x"
    if metric in _PERCENTS:
        return f"{percent(value, 1, rounding=ROUND_HALF_UP)} %"
    if metric in _MONEY:
        return f"{currency} {format_number(value, 0)}".strip()
    if metric in _DAYS:
        return f"{format_number(value, 0)} days"
    return format_plain(value)


def format_plain(value: Decimal) -> str:
    """An expression's value, in no known unit: grouped, two decimals (four below 0.1, so a small
    ratio does not show as 0.00), so values and thresholds line up (``0.82`` against ``1.00``)."""
    places = 2 if not value.is_finite() or value == 0 or abs(value) >= Decimal("0.1") else 4
    return _fixed(value, places, grouping=True)


def format_threshold(metric: str, threshold: Threshold | None, currency: str = "") -> str:
    if threshold is None:
        return "—"
    return f"{_OPERATORS[threshold.op]} {format_value(metric, threshold.value, currency)}"


def format_headroom(headroom: Decimal | None) -> str:
    """Headroom as a signed percentage of the threshold (``+12.0 %``, ``-5.6 %``)."""
    if headroom is None:
        return "n/a"
    text = percent(headroom.copy_abs(), 1, rounding=ROUND_HALF_UP)
    rounds_to_zero = text.strip("0.") == ""
    sign = "" if rounds_to_zero or headroom.is_nan() else ("-" if headroom < 0 else "+")
    return f"{sign}{text} %"


def headroom_bar_percent(headroom: Decimal | None, full_scale: Decimal = Decimal("0.5")) -> int:
    """Width (0–100) of a headroom bar: |headroom| against a 50 % full scale, at least 2 to be seen."""
    if headroom is None:
        return 0
    share = min(abs(headroom), full_scale) / full_scale * 100
    return max(2, int(share.to_integral_value(rounding=ROUND_HALF_UP)))


def sparkline(values: Sequence[Decimal], points: int = TREND_POINTS) -> str:
    """The recent values as ▁▂▃▄▅▆▇█ bars, scaled between their own minimum and maximum."""
    recent = list(values)[-points:]
    if not recent:
        return ""
    low, high = min(recent), max(recent)
    if low == high:
        return SPARK_BARS[3] * len(recent)
    top = len(SPARK_BARS) - 1
    return "".join(
        SPARK_BARS[int(((v - low) * top / (high - low)).to_integral_value(rounding=ROUND_HALF_UP))]
        for v in recent
    )


def waive_command(facility_id: str, covenant_id: str) -> str:
    """The exact CLI command to waive this alert, with placeholders for what only a person can decide."""
    until, reason, by = WAIVE_PLACEHOLDERS
    return (f"covbot waive {shlex.quote(facility_id)} {shlex.quote(covenant_id)} "
            f"--until {until} --reason {reason} --by {by}")


def kind_title(event: AlertNotice, covenant: Covenant) -> str:
    """The headline wording of an event, different for every kind."""
    status = _STATUS_PHRASES.get(event.status, event.status)
    if event.kind == "firing":
        return _FIRING_TITLES.get(event.status, "Covenant alert")
    if event.kind == "escalated":
        return f"Worse: now {status}"
    if event.kind == "improved":
        return f"Improving: now {status}"
    if event.kind == "reminder":
        return f"Reminder: still {status}"
    if event.kind == "resolved":
        return "Cured"
    if event.kind == "event_of_default":
        days = covenant.alert.cure_days
        period = "cure period" if days is None else f"cure period of {days} day{'s' if days != 1 else ''}"
        return f"EVENT OF DEFAULT — {period} elapsed"
    if event.kind == "waived":
        until = event.waiver.until.isoformat() if event.waiver else "further notice"
        return f"Waived until {until}"
    if event.kind == "waiver_expired":
        return f"Waiver expired: still {status}"
    raise ValueError(f"unknown alert event kind {event.kind!r}")


# -- the view ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    """One alert event as a lender reads it: every field already formatted text."""

    kind: str
    kind_title: str
    severity: str
    status: str
    previous_status: str
    status_word: str  # "breach", "no data"
    status_phrase: str  # "in breach", "in the warning band"
    changed: str | None  # "warning → breach"; None when the status did not change
    facility_id: str
    borrower: str
    facility_type: str
    covenant_id: str
    covenant_title: str
    metric: str
    value: str
    threshold: str
    headroom: str
    bar_percent: int
    as_of: str
    reason: str | None
    trend: str
    trend_range: str | None  # "1.42x → 1.18x over 6 test dates"
    explain_lines: tuple[str, ...]
    forward_note: str | None
    waiver_until: str | None
    waiver_reason: str | None
    waiver_by: str | None
    waive_command: str | None  # None where waiving makes no sense (cured, already waived)
    emoji: str = ""  # set by the channel

    def escaped(self, escape: Callable[[str], str]) -> "AlertView":
        """The same view with every text field passed through a channel's escape function."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str):
                changes[f.name] = escape(value)
            elif isinstance(value, tuple):
                changes[f.name] = tuple(escape(v) for v in value)
        return replace(self, **changes)


def alert_view(event: AlertNotice, ctx: AlertContext) -> AlertView:
    _check_context(event, ctx)
    result, facility, covenant = event.result, ctx.facility, ctx.covenant
    metric, currency = result.metric, facility.currency
    trend = list(ctx.trend)[-TREND_POINTS:]
    trend_range = None
    if len(trend) >= 2:
        trend_range = (f"{format_value(metric, trend[0], currency)} → "
                       f"{format_value(metric, trend[-1], currency)} over {len(trend)} test dates")
    waiver = event.waiver
    waivable = event.kind not in ("resolved", "waived")
    return AlertView(
        kind=event.kind,
        kind_title=kind_title(event, covenant),
        severity=event.severity,
        status=event.status,
        previous_status=event.previous_status,
        status_word=STATUS_WORDS.get(event.status, event.status),
        status_phrase=_STATUS_PHRASES.get(event.status, event.status),
        changed=_changed(event),
        facility_id=facility.facility_id,
        borrower=facility.borrower,
        facility_type=facility.facility_type,
        covenant_id=covenant.id,
        covenant_title=covenant.title or covenant.id,
        metric=metric,
        value=format_value(metric, result.value, currency),
        threshold=format_threshold(metric, result.threshold, currency),
        headroom=format_headroom(result.headroom),
        bar_percent=headroom_bar_percent(result.headroom),
        as_of=event.as_of.isoformat(),
        reason=result.reason,
        trend=sparkline(trend),
        trend_range=trend_range,
        explain_lines=tuple(ctx.explain_lines),
        forward_note=ctx.forward_note,
        waiver_until=waiver.until.isoformat() if waiver else None,
        waiver_reason=waiver.reason if waiver else None,
        waiver_by=waiver.by if waiver else None,
        waive_command=waive_command(facility.facility_id, covenant.id) if waivable else None,
    )


def _changed(event: AlertNotice) -> str | None:
    if event.status == event.previous_status:
        return None
    before = STATUS_WORDS.get(event.previous_status, event.previous_status)
    after = "cured" if event.kind == "resolved" else STATUS_WORDS.get(event.status, event.status)
    return f"{before} → {after}"


def _check_context(event: AlertNotice, ctx: AlertContext) -> None:
    if ctx.facility.facility_id != event.facility_id or ctx.covenant.id != event.covenant_id:
        raise ValueError(
            f"The alert for {event.facility_id}/{event.covenant_id} was given the context of "
            f"{ctx.facility.facility_id}/{ctx.covenant.id}."
        )


_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def worst_first(item: tuple[AlertNotice, AlertContext]) -> tuple:
    """Sort key: most severe covenant, then worst status, then least headroom (unknown first)."""
    event = item[0]
    headroom = event.result.headroom
    return (
        -_SEVERITY_RANK.get(event.severity, 0),
        0 if event.kind == "event_of_default" else 1,
        -SEVERITY_ORDER.get(event.status, 0),
        headroom is not None,
        headroom if headroom is not None else Decimal(0),
        event.facility_id,
        event.covenant_id,
    )


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def count_label(event: AlertNotice) -> str:
    """The word an event is counted under in a grouped headline."""
    if event.kind == "event_of_default":
        return "event of default"
    if event.kind == "resolved":
        return "cure"
    if event.kind == "waived":
        return "waiver"
    return {"breach": "breach", "warning": "warning", "no_data": "missing data"}.get(event.status, event.status)


_COUNT_ORDER = ("event of default", "breach", "missing data", "warning", "waiver", "cure")
_PLURALS = {"breach": "breaches", "event of default": "events of default", "missing data": "missing data"}


def count_summary(events: Sequence[AlertNotice]) -> str:
    """``31 breaches, 9 warnings`` (worst first)."""
    counts: dict[str, int] = {}
    for e in events:
        label = count_label(e)
        counts[label] = counts.get(label, 0) + 1
    order = sorted(counts, key=lambda k: (_COUNT_ORDER.index(k) if k in _COUNT_ORDER else 99, k))
    return ", ".join(plural(counts[k], k, _PLURALS.get(k)) for k in order)


def dominant_covenant(events: Sequence[AlertNotice]) -> tuple[str, int] | None:
    """The covenant behind most events and on how many facilities, when it concerns two or more."""
    facilities: dict[str, set[str]] = {}
    for e in events:
        facilities.setdefault(e.covenant_id, set()).add(e.facility_id)
    if not facilities:
        return None
    covenant_id, facs = max(facilities.items(), key=lambda kv: (len(kv[1]), kv[0]))
    return (covenant_id, len(facs)) if len(facs) >= 2 else None


def fit(text: str, limit: int, more: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters, at a line end when possible, never inside an
    HTML entity such as ``&amp;`` (escaped text stays valid)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(more))]
    newline = cut.rfind("\n")
    if newline >= len(cut) // 2:
        cut = cut[:newline]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + more
