"""Output of `covbot backtest`: table, JSON, CSV, or one self-contained HTML page.

The HTML page has inline CSS and one inline SVG (a status timeline per facility × covenant, one
coloured cell per test date, equal neighbours merged) and the summary table; no external assets,
and every piece of data is escaped.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from html import escape as html_escape
from statistics import median
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from bot.usecases.backtest import BacktestReport
from bot.domain.backtest import PairHistory

# The digest's palette, so a status has one colour across covbot's pages; None: not evaluated.
COLOURS = {"ok": "#12b76a", "warning": "#f79009", "breach": "#d92d20", "no_data": "#98a2b3", None: "#ffffff"}
HTML_LABEL = {"ok": "ok", "warning": "warning", "breach": "breach", "no_data": "no data", None: "not evaluated"}
CSV_COLUMNS = (
    "facility_id", "borrower", "covenant_id", "first_warning", "first_breach", "first_cured",
    "early_warning", "early_warning_by", "lead_days", "dates_ok", "dates_warning", "dates_breach", "dates_no_data",
)


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


def _eventful(h: PairHistory) -> bool:
    return h.first_warning is not None or h.first_breach is not None


class DateProgress:
    """A callable(dates_done, dates_total) drawing a bar on stderr while dates are evaluated (terminals only)."""

    def __init__(self, console: Console, description: str):
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self._description = description
        self._task: TaskID | None = None

    def __enter__(self) -> "DateProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(self._description, total=total)
        self._progress.update(self._task, completed=done)


# -- summary figures -------------------------------------------------------------------------------
def headline(report: BacktestReport) -> str:
    breached = [h for h in report.histories if h.first_breach is not None]
    seen = [h for h in breached if h.lead_days is not None]
    text = (
        f"{len(report.histories)} facility × covenant pairs over {len(report.dates)} test dates "
        f"({report.start} to {report.end}, every {report.every}): {len(breached)} breached"
    )
    if breached:
        text += f", {len(seen)} of them with an early warning first"
    if seen:
        leads = [h.lead_days for h in seen if h.lead_days is not None]
        text += f" (median lead {median(leads):g} days, longest {max(leads)})"
    return text + "."


# -- JSON and CSV ----------------------------------------------------------------------------------
def backtest_json(report: BacktestReport) -> str:
    results = []
    for h in report.histories:
        row = h.as_json()
        row["borrower"] = report.borrowers.get(h.facility_id, "")
        row["statuses"] = report.timeline.statuses[(h.facility_id, h.covenant_id)]
        results.append(row)
    return json.dumps(
        {
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "every": report.every,
            "dates": [d.isoformat() for d in report.dates],
            "results": results,
        },
        indent=2,
    )


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def backtest_csv(report: BacktestReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for h in report.histories:
        writer.writerow([
            _cell(h.facility_id), _cell(report.borrowers.get(h.facility_id, "")), _cell(h.covenant_id),
            _iso(h.first_warning), _iso(h.first_breach), _iso(h.first_cured), _iso(h.early_warning),
            _cell(h.early_warning_by or ""), "" if h.lead_days is None else h.lead_days,
            *(h.counts.get(s, 0) for s in ("ok", "warning", "breach", "no_data")),
        ])
    return out.getvalue()


# -- table -----------------------------------------------------------------------------------------
def backtest_table(report: BacktestReport) -> Table:
    table = Table(title=f"Back-test {report.start} to {report.end} every {report.every} "
                        "(pairs that warned or breached)", title_justify="left", header_style="bold")
    for name in ("Facility", "Borrower", "Covenant", "First warning", "First breach", "First cured",
                 "Early warning", "Lead (days)"):
        table.add_column(name, justify="right" if name.startswith("Lead") else "left",
                         overflow="fold", max_width=28 if name == "Borrower" else None)
    for h in report.histories:
        if not _eventful(h):
            continue
        early = f"{h.early_warning} ({escape(h.early_warning_by or '')})" if h.early_warning else "—"
        table.add_row(
            escape(h.facility_id), escape(report.borrowers.get(h.facility_id, "")), escape(h.covenant_id),
            _iso(h.first_warning) or "—", _iso(h.first_breach) or "—", _iso(h.first_cured) or "—",
            early, "—" if h.lead_days is None else str(h.lead_days),
        )
    return table


def render_backtest(console: Console, report: BacktestReport) -> None:
    console.print(backtest_table(report))
    quiet = sum(1 for h in report.histories if not _eventful(h))
    if quiet:
        console.print(f"{quiet} other pair(s) never warned nor breached.")
    console.print(headline(report))


# -- HTML ------------------------------------------------------------------------------------------
LABEL_W, ROW_H, TOP, TICK_GAP = 230, 16, 34, 52
CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#1d1f23;background:#fff}
h1{font-size:22px;margin:0 0 6px 0} h2{font-size:17px;margin-top:28px}
p.headline{color:#344054;max-width:1100px}
table{border-collapse:collapse;font-size:13px} th,td{border-bottom:1px solid #eaecf0;padding:4px 10px;text-align:left}
th{font-size:12px;color:#5c6370;border-bottom:1px solid #d8dbe0;vertical-align:bottom}
td.num,th.num{text-align:right} td.date,td.num{font-family:Menlo,Consolas,monospace;white-space:nowrap}
td.id{font-weight:bold;white-space:nowrap}
tr.quiet td{color:#667085} tr.quiet td.id{font-weight:normal} td.none,tr.quiet td.none{color:#c0c5cf}
tr.group-start td{border-top:2px solid #d0d5dd}
.legend span{display:inline-block;margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle;border:1px solid #d0d5dd}
.note{color:#5c6370;font-size:12px}
svg text{font-size:11px;font-family:Helvetica,Arial,sans-serif;fill:#344054}
"""


def _runs(statuses: Sequence[str | None]) -> list[tuple[int, int, str | None]]:
    """(start, length, status) of each stretch of equal statuses."""
    runs: list[tuple[int, int, str | None]] = []
    for i, s in enumerate(statuses):
        if runs and runs[-1][2] == s:
            start, length, _ = runs[-1]
            runs[-1] = (start, length + 1, s)
        else:
            runs.append((i, 1, s))
    return runs


def timeline_svg(report: BacktestReport) -> str:
    dates = report.dates
    cell = max(2.0, min(14.0, 900 / max(1, len(dates))))
    width = LABEL_W + cell * len(dates) + 10
    pairs = [(h.facility_id, h.covenant_id) for h in report.histories]
    height = TOP + ROW_H * len(pairs) + 4
    e = html_escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="Status timeline per facility and covenant">'
    ]
    last_label, last_text_x = None, None
    for i, d in enumerate(dates):  # a tick at the first test date of each quarter, labelled where there is room
        label = (d.year, (d.month - 1) // 3)
        if label != last_label:
            x = LABEL_W + i * cell
            parts.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height}" stroke="#d0d5dd"/>')
            if last_text_x is None or x - last_text_x >= TICK_GAP:
                parts.append(f'<text x="{x + 2:.1f}" y="{TOP - 10}">{d.isoformat()[:7]}</text>')
                last_text_x = x
            last_label = label
    for row, (fid, cid) in enumerate(pairs):
        y = TOP + row * ROW_H
        if row and pairs[row - 1][0] != fid:  # a rule between facilities
            parts.append(f'<line x1="0" y1="{y}" x2="{width:.0f}" y2="{y}" stroke="#98a2b3" stroke-width="0.6"/>')
        parts.append(f'<text x="4" y="{y + 12}">{e(fid)} · {e(cid)}</text>')
        for start, length, status in _runs(report.timeline.statuses[(fid, cid)]):
            x = LABEL_W + start * cell
            end = dates[start + length - 1]
            what = HTML_LABEL.get(status, status) or ""
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{cell * length:.1f}" height="{ROW_H - 4}" '
                f'fill="{COLOURS.get(status, "#ffffff")}"><title>{e(fid)} {e(cid)}: {e(what)} '
                f'{dates[start]} to {end}</title></rect>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _summary_rows(report: BacktestReport) -> str:
    """One row per pair; pairs that never warned nor breached are muted, a rule between facilities."""
    e = html_escape
    rows = []
    previous = None
    for h in report.histories:
        dates = [_iso(h.first_warning), _iso(h.first_breach), _iso(h.first_cured)]
        early = f"{_iso(h.early_warning)} {('(' + e(h.early_warning_by) + ')') if h.early_warning_by else ''}".strip()
        lead = "" if h.lead_days is None else str(h.lead_days)
        classes = [c for c in ("group-start" if previous not in (None, h.facility_id) else "",
                               "" if _eventful(h) else "quiet") if c]
        cells = [
            f'<td class="id">{e(h.facility_id)}</td>', f"<td>{e(report.borrowers.get(h.facility_id, ''))}</td>",
            f"<td>{e(h.covenant_id)}</td>",
            *(f'<td class="date">{d}</td>' if d else '<td class="none">—</td>' for d in dates),
            f'<td class="date">{early}</td>' if early else '<td class="none">—</td>',
            f'<td class="num">{lead}</td>' if lead else '<td class="num none">—</td>',
        ]
        attr = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
        previous = h.facility_id
    return "\n".join(rows)


def backtest_html(report: BacktestReport) -> str:
    e = html_escape
    legend = "".join(
        f'<span><i style="background:{COLOURS[s]}"></i>{e(HTML_LABEL[s])}</span>'
        for s in ("ok", "warning", "breach", "no_data", None)
    )
    title = f"Covenant back-test {report.start} to {report.end} (every {report.every})"
    head = "".join(f"<th>{h}</th>" for h in ("Facility", "Borrower", "Covenant", "First warning", "First breach",
                                               "First cured", "Early warning")) + '<th class="num">Lead (days)</th>'
    quiet = sum(1 for h in report.histories if not _eventful(h))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{e(title)}</h1>
<p class="headline">{e(headline(report))}</p>
<h2>Status timeline</h2>
<p class="legend">{legend}</p>
{timeline_svg(report)}
<h2>Summary</h2>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{_summary_rows(report)}
</tbody>
</table>
<p class="note">Greyed rows: {quiet} pair(s) that never warned nor breached. Lead: days from the early warning to the first breach.</p>
</body>
</html>
"""
