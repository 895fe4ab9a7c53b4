"""The full list of an alert e-mail as a spreadsheet attachment, within the e-mail size cap.

An e-mail shows the worst alerts only (``render_email.MAX_SHOWN``); every alert of the message is
in a CSV attachment, worst first. When the CSV would push the e-mail above ``MAX_EMAIL_BYTES`` it
is sent zipped, and when even the zip would not fit, the worst rows that fit are kept (severity,
status, least headroom) and the last line says how many were left out. Cells that a spreadsheet would run as a formula
(starting with ``= + - @``, a tab or a carriage return) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from typing import Sequence

from bot.notify.messages import Attachment

MAX_EMAIL_BYTES = 1_000_000  # the whole MIME message, attachments and encoding included
HEADER_ALLOWANCE = 8_000  # MIME headers and part boundaries
COLUMNS = ("facility_id", "borrower", "covenant_id", "covenant", "event", "status", "previous_status",
           "severity", "value", "threshold", "headroom", "test_date", "reason")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def encoded_size(data: bytes | str) -> int:
    """Bytes a part takes in a MIME message at worst (base64: 4 per 3, lines of 76 + CRLF)."""
    n = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    return -(-n // 57) * 78


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def csv_rows(items: Sequence) -> list[list[str]]:
    """One row per (AlertNotice, AlertContext) pair, in the given order."""
    rows = []
    for notice, ctx in items:
        r = notice.result
        rows.append([_safe(v) for v in (
            notice.facility_id, ctx.facility.borrower, notice.covenant_id, ctx.covenant.title or notice.covenant_id,
            notice.kind, notice.status, notice.previous_status, notice.severity,
            r.value, r.threshold, r.headroom, notice.as_of.isoformat(), r.reason)])
    return rows


def csv_bytes(items: Sequence) -> bytes:
    """The CSV (header and one row per alert, in the given order) of (AlertNotice, AlertContext) pairs."""
    return _csv(csv_rows(items))


def _csv(rows: Sequence[Sequence[str]], note: str | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    if note:
        writer.writerow([note])
    return out.getvalue().encode("utf-8")


def _zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same bytes every time
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)
    return buffer.getvalue()


_SEVERITY = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_STATUS = {"ok": 0, "warning": 1, "no_data": 2, "breach": 3}


def _worst_first(row: list[str]) -> tuple:
    try:
        headroom = float(row[10]) if row[10] else float("-inf")
    except ValueError:
        headroom = float("-inf")
    return (-_SEVERITY.get(row[7], 0), row[4] != "event_of_default", -_STATUS.get(row[5], 0), headroom)


def alert_list(data: bytes, as_of: date, room: int) -> tuple[Attachment, int, int]:
    """The attachment holding the CSV ``data`` (header and one row per alert) in at most ``room``
    encoded bytes: (attachment, rows kept, rows in all)."""
    name = f"covbot-alerts-{as_of.isoformat()}.csv"
    total = data.count(b"\r\n") - 1
    if encoded_size(data) <= room:
        return Attachment(name, "text/csv", data), total, total
    zipped = _zipped(name, data)
    if encoded_size(zipped) <= room:
        return Attachment(name + ".zip", "application/zip", zipped), total, total
    rows = sorted(list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:], key=_worst_first)
    kept = len(rows)
    while encoded_size(zipped) > room and kept > 0:  # keep the worst rows that fit
        kept = max(0, min(kept - 1, int(kept * room / encoded_size(zipped) * 0.95)))
        note = f"{len(rows) - kept} more alert(s) left out to keep the e-mail under 1 MB"
        zipped = _zipped(name, _csv(rows[:kept], note))
    return Attachment(name + ".zip", "application/zip", zipped), kept, len(rows)
