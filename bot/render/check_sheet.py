"""`covbot check` results as a sheet (``--format csv`` and ``--format xlsx``)."""

from __future__ import annotations

from typing import Iterable, Iterator

from bot.domain.results import CovenantResult
from bot.render.tabular import Column, Sheet

CHECK_COLUMNS = (
    Column("facility_id"),
    Column("borrower", width=28),
    Column("covenant_id", width=20),
    Column("metric", width=20),
    Column("value", "number"),
    Column("threshold", width=12),
    Column("status", "status"),
    Column("headroom", "percent"),
    Column("reason", width=48),
    Column("months_to_breach", "integer", width=18),
)


def check_sheet(results: Iterable[CovenantResult], borrowers: dict[str, str] | None = None,
                title: str = "check") -> Sheet:
    """One row per facility × covenant, sorted by facility_id then covenant_id, the JSON fields
    in the JSON order with the borrower after the facility."""
    return Sheet(title, CHECK_COLUMNS, _rows(results, borrowers or {}))


def _rows(results: Iterable[CovenantResult], borrowers: dict[str, str]) -> Iterator[tuple]:
    for r in sorted(results, key=lambda r: (r.facility_id, r.covenant_id)):
        yield (r.facility_id, borrowers.get(r.facility_id, ""), r.covenant_id, r.metric, r.value,
               str(r.threshold), r.status, r.headroom, r.reason, r.months_to_breach)
