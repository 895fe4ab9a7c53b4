"""One covenant of a ``covenants:`` list, checked field by field (DOMAIN.md "Rule files")."""

from __future__ import annotations

import re
from datetime import timedelta

from ruamel.yaml.nodes import Node, ScalarNode

from bot.domain.expressions import Expr, ExpressionError, parse_expression
from bot.domain.rulebook import NOTIFY_EVENTS, SEVERITIES, AlertOptions, Covenant, Notify, Step
from bot.domain.thresholds import Threshold
from bot.domain.variables import VARIABLES
from bot.errors import Location
from bot.rulefiles import values
from bot.domain.suggest import did_you_mean
from bot.rulefiles.yamlnodes import Entry, Sheet, is_null, is_text, quoted, shown

COVENANT_KEYS = (
    "id", "title", "metric", "expr", "must_be", "warn_at", "applies_to", "overrides", "steps",
    "severity", "notify", "pending_evaluations", "keep_firing_evaluations", "remind_every",
    "cure_days", "notify_on",
)
APPLIES_TO_KEYS = ("facility_type", "facility_id")
STEP_KEYS = ("from", "must_be")
NOTIFY_KEYS = ("slack", "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def covenant(sheet: Sheet, node: Node, ids: dict[str, Location]) -> Covenant | None:
    """The covenant, or None after reporting every problem. ``ids`` holds the ids seen so far."""
    before = len(sheet.problems)
    e = sheet.mapping(node, "covenants", COVENANT_KEYS, required=("id", "must_be"), what="a covenant")
    if e is None:
        return None
    cov_id, location = _id(sheet, e, ids)
    metric, expr, expr_text = _formula(sheet, node, e)
    must_be = values.threshold(sheet, e["must_be"].value, "must_be") if "must_be" in e else None
    warn_at = _optional(e, "warn_at", lambda n: values.threshold(sheet, n, "warn_at"))
    title = _optional(e, "title", lambda n: values.optional_text(sheet, n, "title"))
    types, facility_ids = _applies_to(sheet, e)
    overrides: dict[str, Threshold] = {}
    if "overrides" in e:
        for facility, entry in (sheet.mapping(e["overrides"].value, "overrides", None) or {}).items():
            override = values.threshold(sheet, entry.value, f"overrides.{facility}")
            if override is not None:  # else reported
                overrides[facility] = override
    steps = _steps(sheet, e["steps"].value) if "steps" in e else ()
    severity = _severity(sheet, e)
    notify = _notify(sheet, e["notify"].value) if "notify" in e else Notify()
    alert = _alert_options(sheet, e)
    if len(sheet.problems) > before or cov_id is None or must_be is None:
        return None
    return Covenant(
        id=cov_id, must_be=must_be, metric=metric, expr=expr, expr_text=expr_text, title=title,
        warn_at=warn_at, applies_to_types=types, applies_to_ids=facility_ids, overrides=overrides,
        steps=steps, severity=severity, notify=notify, alert=alert, location=location,
    )


def _optional(e: dict[str, Entry], key: str, read):
    if key not in e or is_null(e[key].value):
        return None
    return read(e[key].value)


def _id(sheet: Sheet, e: dict[str, Entry], ids: dict[str, Location]) -> tuple[str | None, Location | None]:
    if "id" not in e:
        return None, None
    node = e["id"].value
    cov_id = values.text(sheet, node, "id", "a covenant id (e.g. min-dscr)")
    if cov_id is None:
        return None, None
    location = sheet.at(node)
    if cov_id in ids:
        sheet.error(node, f'id: the covenant id "{cov_id}" is already used at {ids[cov_id]}; ids must be unique')
    else:
        ids[cov_id] = location
    return cov_id, location


def _formula(sheet: Sheet, node: Node, e: dict[str, Entry]):
    """(metric, expr, expr_text): exactly one of ``metric:`` and ``expr:``."""
    if ("metric" in e) == ("expr" in e):
        where = e["expr"].key if "metric" in e else node
        given = "both" if "metric" in e else "neither"
        sheet.error(where, f"a covenant needs exactly one of metric: (a variable) or expr: (a formula), got {given}")
        return None, None, None
    if "metric" in e:
        value = e["metric"].value
        if is_text(value) and value.value in VARIABLES:
            return value.value, None, None
        hint = did_you_mean(value.value, VARIABLES, "'") if is_text(value) else None
        if hint:
            sheet.error(value, f"metric: unknown variable '{value.value}'; {hint}")
        else:
            sheet.error(value, f"metric: expected one of the variables {', '.join(VARIABLES)}, got {shown(value)}")
        return None, None, None
    value = e["expr"].value
    text = values.text(sheet, value, "expr", 'a formula over the variables (e.g. "crypto_value / outstanding")')
    if text is None:
        return None, None, None
    assert isinstance(value, ScalarNode)  # values.text gives text for a scalar only
    return None, _parse_expr(sheet, value, text), text


def _parse_expr(sheet: Sheet, node: ScalarNode, text: str) -> Expr | None:
    try:
        expr = parse_expression(text, allowed=frozenset(VARIABLES))
    except ExpressionError as exc:
        offset = getattr(exc, "offset", None)
        message = getattr(exc, "message", None) or str(exc)
        one_line = node.start_mark.line == node.end_mark.line and getattr(node, "style", None) not in ("|", ">")
        if isinstance(offset, int) and one_line:
            column = node.start_mark.column + 1 + offset + (1 if quoted(node) else 0)
            sheet.error_at(node.start_mark.line + 1, column, f"expr: {message}")
        else:
            at = f" (at character {offset + 1} of the formula)" if isinstance(offset, int) else ""
            sheet.error(node, f"expr: {message}{at}")
        return None
    unknown = sorted(set(expr.variables()) - set(VARIABLES))
    if unknown:
        sheet.error(node, f"expr: unknown variable {', '.join(unknown)}; expected names among {', '.join(VARIABLES)}")
        return None
    return expr


def _applies_to(sheet: Sheet, e: dict[str, Entry]):
    if "applies_to" not in e or is_null(e["applies_to"].value):
        return None, None
    found = sheet.mapping(e["applies_to"].value, "applies_to", APPLIES_TO_KEYS)
    if found is None:
        return None, None
    if not e["applies_to"].value.value:
        sheet.error(e["applies_to"].value, "applies_to: expected facility_type and/or facility_id, got an empty mapping")
    types = ids = None
    if "facility_type" in found:
        types = values.names(sheet, found["facility_type"].value, "facility_type", "a facility type", "facility types")
    if "facility_id" in found:
        ids = values.names(sheet, found["facility_id"].value, "facility_id", "a facility id", "facility ids")
    return types, ids


def _steps(sheet: Sheet, node: Node) -> tuple[Step, ...]:
    items = sheet.sequence(node, "steps", 'steps such as {from: 2026-07-01, must_be: ">= 1.35"}')
    steps: list[Step] = []
    first_line: dict = {}
    for item in items or []:
        e = sheet.mapping(item, "steps", STEP_KEYS, required=STEP_KEYS, what="a step")
        if not e or "from" not in e or "must_be" not in e:
            continue
        start = values.iso_date(sheet, e["from"].value, "from")
        must_be = values.threshold(sheet, e["must_be"].value, "must_be")
        if start is not None and start in first_line:
            sheet.error(
                e["from"].value,
                f"from: two steps start on {start.isoformat()}; the first is on line {first_line[start]}",
            )
        elif start is not None:
            first_line[start] = e["from"].value.start_mark.line + 1
        if start is not None and must_be is not None:
            steps.append(Step(start, must_be))
    return tuple(sorted(steps, key=lambda s: s.start))


def _severity(sheet: Sheet, e: dict[str, Entry]) -> str:
    if "severity" not in e:
        return "medium"
    node = e["severity"].value
    if is_text(node) and node.value in SEVERITIES:
        return node.value
    hint = did_you_mean(node.value, SEVERITIES) if is_text(node) else None
    sheet.error(node, f"severity: expected one of {', '.join(SEVERITIES)}, got {shown(node)}" + (f"; {hint}" if hint else ""))
    return "medium"


def _notify(sheet: Sheet, node: Node) -> Notify:
    if is_null(node):
        return Notify()
    e = sheet.mapping(node, "notify", NOTIFY_KEYS)
    if e is None:
        return Notify()
    slack: tuple[str, ...] | None = ()
    email: tuple[str, ...] | None = ()
    if "slack" in e:
        slack = values.names(sheet, e["slack"].value, "slack", "a Slack channel (#name or id)", "Slack channels")
    if "email" in e:
        email = values.names(sheet, e["email"].value, "email", "an email address", "email addresses")
    if email:
        items = [e["email"].value] if is_text(e["email"].value) else e["email"].value.value
        for item, address in zip(items, email):
            if not _EMAIL.match(address):
                sheet.error(item, f'email: expected an email address such as "risk@lender.example", got {shown(item)}')
    return Notify(slack=slack or (), email=email or ())


def _alert_options(sheet: Sheet, e: dict[str, Entry]) -> AlertOptions:
    def whole(key: str, minimum: int, default):
        return values.integer(sheet, e[key].value, key, minimum) if key in e else default

    remind: timedelta | None = timedelta(days=7)
    if "remind_every" in e:
        remind = values.duration(sheet, e["remind_every"].value, "remind_every")[1]
    cure = None if "cure_days" not in e or is_null(e["cure_days"].value) else whole("cure_days", 0, None)
    return AlertOptions(
        pending_evaluations=whole("pending_evaluations", 1, 1),
        keep_firing_evaluations=whole("keep_firing_evaluations", 1, 1),
        remind_every=remind,
        cure_days=cure,
        notify_on=_notify_on(sheet, e),
    )


def _notify_on(sheet: Sheet, e: dict[str, Entry]) -> tuple[str, ...]:
    if "notify_on" not in e:
        return NOTIFY_EVENTS
    node = e["notify_on"].value
    items = [node] if is_text(node) else sheet.sequence(node, "notify_on", f"events among {', '.join(NOTIFY_EVENTS)}")
    chosen: set[str] = set()
    for item in items or []:
        if is_text(item) and item.value in NOTIFY_EVENTS:
            chosen.add(item.value)
        else:
            hint = did_you_mean(item.value, NOTIFY_EVENTS) if is_text(item) else None
            sheet.error(item, f"notify_on: expected one of {', '.join(NOTIFY_EVENTS)}, got {shown(item)}"
                        + (f"; {hint}" if hint else ""))
    return tuple(event for event in NOTIFY_EVENTS if event in chosen)
