"""`covbot rules plan` for people (a rich table) and for scripts (JSON)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.decimals import to_text
from bot.render.console import STATUS_LABEL, STATUS_STYLE, human_number

_NONE = "—"


def plan_json(plan) -> str:
    """``{"as_of", "current", "new", "covenants", "changes", "counts", "into_breach", "out_of_breach"}``."""
    return json.dumps({
        "as_of": plan.as_of.isoformat(),
        "facilities": plan.facilities,
        "current": plan.current_path,
        "new": plan.new_path,
        "covenants": [_covenant_json(c) for c in plan.covenants],
        "changes": [c.as_json() for c in plan.changes],
        "counts": {f"{a or 'none'}->{b or 'none'}": n for (a, b), n in sorted(plan.transitions().items(), key=str)},
        "into_breach": _exposure_json(plan.into_breach),
        "out_of_breach": _exposure_json(plan.out_of_breach),
    }, indent=2)


def _thresholds(c) -> dict | None:
    if c is None:
        return None
    return {"must_be": str(c.must_be), "warn_at": None if c.warn_at is None else str(c.warn_at),
            "steps": [{"from": s.start.isoformat(), "must_be": str(s.must_be)} for s in c.steps],
            "overrides": {k: str(v) for k, v in sorted(c.overrides.items())}}


def _covenant_json(change) -> dict:
    return {"covenant_id": change.covenant_id, "change": change.kind, "fields": list(change.fields),
            "old": _thresholds(change.old), "new": _thresholds(change.new)}


def _exposure_json(exposure) -> dict:
    return {"facilities": list(exposure.facilities),
            "outstanding": {cur: to_text(v) for cur, v in exposure.by_currency.items()}}


def _status(status: str | None) -> str:
    if status is None:
        return "[dim](not applied)[/dim]"
    style = STATUS_STYLE[status]
    return f"[{style}]{STATUS_LABEL[status]}[/{style}]"


def _side(c, attr: str) -> str:
    if c is None:
        return _NONE
    value = getattr(c, attr)
    return _NONE if value is None else escape(str(value))


def render_plan(console: Console, plan) -> None:
    console.print(f"[bold]Rule plan as of {plan.as_of}[/bold]: {escape(plan.current_path)} (current) → "
                  f"{escape(plan.new_path)} (new) over {plan.facilities} stored facilities; nothing is stored or sent")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(str(warning))}")
    if plan.covenants:
        table = Table(title="Covenants", title_justify="left", header_style="bold")
        for name in ("Covenant", "Change", "must_be (current → new)", "warn_at (current → new)", "What changed"):
            table.add_column(name)
        for c in plan.covenants:
            kind = {"added": "[green]added[/green]", "removed": "[red]removed[/red]"}.get(c.kind, "changed")
            table.add_row(escape(c.covenant_id), kind,
                          f"{_side(c.old, 'must_be')} → {_side(c.new, 'must_be')}",
                          f"{_side(c.old, 'warn_at')} → {_side(c.new, 'warn_at')}",
                          escape(", ".join(c.fields)))
        console.print(table)
    else:
        console.print("No covenant is added, removed or changed.")
    if not plan.changes:
        console.print("[green]No status would change.[/green]")
        return
    table = Table(title="Statuses that would change", title_justify="left", header_style="bold")
    for name in ("Facility", "Covenant", "From", "To", "Value", "Threshold (current → new)"):
        table.add_column(name, justify="right" if name in ("Value", "Threshold (current → new)") else "left",
                         no_wrap=True)
    for c in plan.changes:
        table.add_row(escape(c.facility_id), escape(c.covenant_id), _status(c.from_status), _status(c.to_status),
                      human_number(c.value), f"{c.old_threshold or _NONE} → {c.new_threshold or _NONE}")
    console.print(table)
    counts = ", ".join(f"{n} {a or 'not applied'} → {b or 'not applied'}"
                       for (a, b), n in sorted(plan.transitions().items(), key=str))
    console.print(f"{len(plan.changes)} status change(s): {escape(counts)}")
    for label, exposure in (("into breach", plan.into_breach), ("out of breach", plan.out_of_breach)):
        if exposure.facilities:
            money = ", ".join(f"{cur} {human_number(v, 2)}" for cur, v in exposure.by_currency.items())
            console.print(f"Moving {label}: {len(exposure.facilities)} facilit{'y' if len(exposure.facilities) == 1 else 'ies'}"
                          f" ({escape(', '.join(exposure.facilities))}), outstanding {money}")
