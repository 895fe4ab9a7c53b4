"""Reading loan data and storing evaluation results, in few set-based queries.

Functions take a session (``bot.store.db.session_scope``) and return the domain records of
``bot.domain.model`` / ``bot.domain.results``; nothing here issues one query per facility.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone
from decimal import Decimal
from itertools import groupby
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import Date, Table, Text, and_, bindparam, delete, func, insert, select, true
from sqlalchemy.orm import Session

from bot.domain.model import (
    Balance,
    CryptoHolding,
    Facility,
    FacilityData,
    FinancialPeriod,
    GpuLot,
    Price,
    PriceBook,
)
from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold
from bot.store.db import insert_many, inserted_id
from bot.store.tables import (
    BalanceRow,
    CryptoRow,
    EvaluationMetricRow,
    EvaluationResultRow,
    EvaluationRun,
    FacilityRow,
    FinancialRow,
    GpuLotRow,
    PriceRow,
)
from bot.store.types import DecimalText, table_of

_IN_CHUNK = 500  # ids per IN (...) list: well inside every backend's parameter limit
_INSERT_CHUNK = 5000
_ALL_CHUNK = 5000  # facilities per read when the whole book is loaded at once

FACILITIES: Table = table_of(FacilityRow)
RUNS: Table = table_of(EvaluationRun)
RESULTS: Table = table_of(EvaluationResultRow)
METRICS: Table = table_of(EvaluationMetricRow)

# (domain record, table, columns after facility_id that order a facility's rows)
_CHILDREN = (
    ("balances", Balance, table_of(BalanceRow), ("as_of",)),
    ("financials", FinancialPeriod, table_of(FinancialRow), ("period_end",)),
    ("gpu_lots", GpuLot, table_of(GpuLotRow), ("lot_id",)),
    ("crypto", CryptoHolding, table_of(CryptoRow), ("asset", "as_of")),
)


def _columns(record_type: type, table: Table) -> list:
    return [table.c[f.name] for f in dataclasses.fields(record_type)]


def _rows(session: Session, record_type: type, table: Table, where=None, order=()) -> list:
    stmt = select(*_columns(record_type, table))
    if where is not None:
        stmt = stmt.where(where)
    stmt = stmt.order_by(*(table.c[name] for name in order))
    return [record_type(*row) for row in session.execute(stmt).all()]


def load_facilities(session: Session, facility_ids: Iterable[str] | None = None) -> list[FacilityData]:
    """Every stored facility (or those named) with all its rows, sorted by facility_id."""
    reader = BookReader(session)
    if facility_ids is None:
        return [data for chunk in reader.chunks(_ALL_CHUNK) for data in chunk]
    ids = sorted(set(facility_ids))
    out: list[FacilityData] = []
    for start in range(0, len(ids), _IN_CHUNK):
        out += reader.named(ids[start:start + _IN_CHUNK])
    return out


def _text(value: str) -> Any:
    # A plain text parameter: compared with the key column's own (code-point) collation.
    return bindparam(None, value, type_=Text())


def iter_facility_chunks(session: Session, chunk_size: int = 2000) -> Iterator[list[FacilityData]]:
    """All facilities in facility_id order, ``chunk_size`` at a time (flat memory at any size)."""
    return BookReader(session).chunks(chunk_size)


def facility_id_ranges(session: Session, chunk_size: int = 2000) -> list[tuple[str, str]]:
    """(first, last) facility_id of each run of ``chunk_size`` facilities, in facility_id order."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    ids = session.execute(select(FACILITIES.c.facility_id).order_by(FACILITIES.c.facility_id)).scalars().all()
    return [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]


def load_facility_range(session: Session, first: str, last: str) -> list[FacilityData]:
    """The facilities with first <= facility_id <= last and all their rows, sorted by facility_id."""
    return BookReader(session).between(first, last)


def _converter(column: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    """How one raw driver value of ``column`` becomes the domain's value (None stays None)."""
    if isinstance(column.type, DecimalText):
        return Decimal
    if sqlite and isinstance(column.type, Date):
        return _DateCache().__getitem__  # SQLite keeps dates as YYYY-MM-DD text; they repeat a lot
    return None


class _DateCache(dict[str, date]):
    def __missing__(self, text: str) -> date:
        found = self[text] = date.fromisoformat(text)
        return found


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one table is read into one domain record type."""

    record_type: type
    table: Table
    names: tuple[str, ...]
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]


class BookReader:
    """The one reader of the loan book: facilities with all their rows, in facility_id order.

    Each read is one facility query plus one query per child table (a run of facilities at a
    time), built with SQLAlchemy Core; rows are taken from the driver's cursor as plain tuples and
    converted as the column types would: at 100,000 facilities SQLAlchemy's per-value result
    processing costs more than the scan itself.
    """

    def __init__(self, session: Session):
        self._conn = session.connection()
        sqlite = self._conn.dialect.name == "sqlite"
        self._facility = self._plan(Facility, FACILITIES, sqlite)
        self._children = {attr: (self._plan(rt, table, sqlite), order) for attr, rt, table, order in _CHILDREN}

    @staticmethod
    def _plan(record_type: type, table: Table, sqlite: bool) -> _Plan:
        names = tuple(f.name for f in dataclasses.fields(record_type))
        converters = tuple((i, c) for i, name in enumerate(names)
                           if (c := _converter(table.c[name], sqlite)) is not None)
        return _Plan(record_type, table, names, converters)

    def _records(self, plan: _Plan, where: Any, order: Sequence[str], limit: int | None = None) -> list[Any]:
        table = plan.table
        stmt = select(*(table.c[n] for n in plan.names)).where(where)
        stmt = stmt.order_by(*(table.c[n] for n in order))
        if limit is not None:
            stmt = stmt.limit(limit)
        result = self._conn.execute(stmt)
        try:  # raw tuples from the DB-API cursor: no Row objects, no per-value result processing
            rows = result.cursor.fetchall()
        finally:
            result.close()
        # The frozen records are filled through their __dict__ (what their generated __init__ does
        # one object.__setattr__ at a time): same objects, a third of the cost at a million rows.
        new = object.__new__
        out: list[Any] = []
        append = out.append
        names, converters, record_type = plan.names, plan.converters, plan.record_type
        for row in rows:
            values = list(row)
            for i, convert in converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
            record: Any = new(record_type)
            record.__dict__.update(zip(names, values))
            append(record)
        return out

    def chunks(self, chunk_size: int = 2000) -> Iterator[list[FacilityData]]:
        """Every facility, ``chunk_size`` at a time (keyset pagination on facility_id)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        key = FACILITIES.c.facility_id
        after: str | None = None
        while True:
            where = true() if after is None else key > _text(after)
            facilities = self._records(self._facility, where, ("facility_id",), chunk_size)
            if not facilities:
                return
            yield self._assemble(facilities)
            if len(facilities) < chunk_size:
                return
            after = facilities[-1].facility_id

    def between(self, first: str, last: str) -> list[FacilityData]:
        """The facilities with first <= facility_id <= last."""
        key = FACILITIES.c.facility_id
        facilities = self._records(self._facility, and_(key >= _text(first), key <= _text(last)), ("facility_id",))
        return self._assemble(facilities)

    def named(self, facility_ids: Sequence[str]) -> list[FacilityData]:
        """The facilities among ``facility_ids`` (a few hundred at most) that are stored."""
        facilities = self._records(self._facility, FACILITIES.c.facility_id.in_(list(facility_ids)), ("facility_id",))
        return self._assemble(facilities, list(facility_ids))

    def _assemble(self, facilities: list[Facility], ids: list[str] | None = None) -> list[FacilityData]:
        """FacilityData for facilities sorted by facility_id: one query per child table (a range
        over the run, or the ids when they were named)."""
        if not facilities:
            return []
        first, last = facilities[0].facility_id, facilities[-1].facility_id
        children = []
        for attr, (plan, order) in self._children.items():
            column = plan.table.c.facility_id
            where = column.in_(ids) if ids is not None else and_(column >= _text(first), column <= _text(last))
            records = self._records(plan, where, ("facility_id", *order))  # one run per facility
            children.append((attr, {fid: tuple(rows) for fid, rows in groupby(records, attrgetter("facility_id"))}.get))
        new = object.__new__
        out = []
        for f in facilities:
            fid = f.facility_id
            fields: dict[str, Any] = {"facility": f}
            for attr, rows_of in children:
                fields[attr] = rows_of(fid, ())
            data = new(FacilityData)  # every field set below, as FacilityData(...) would
            data.__dict__.update(fields)
            out.append(data)
        return out


def facility_exists(session: Session, facility_id: str) -> bool:
    stmt = select(FACILITIES.c.facility_id).where(FACILITIES.c.facility_id == facility_id)
    return session.execute(stmt).first() is not None


def count_facilities(session: Session) -> int:
    return session.execute(select(func.count()).select_from(FACILITIES)).scalar_one()


def facility_types(session: Session) -> set[str]:
    """The distinct facility types of the stored facilities."""
    return set(session.execute(select(FACILITIES.c.facility_type).distinct()).scalars())


def load_price_book(session: Session) -> PriceBook:
    """Every stored price, by symbol and date."""
    prices = _rows(session, Price, table_of(PriceRow), order=("symbol", "date"))
    return PriceBook.from_prices(prices)


# --- evaluation runs -------------------------------------------------------------------------


def save_evaluation(
    session: Session,
    kind: str,
    as_of: date,
    started_at: datetime,
    rules_digest: str,
    results: Iterable[CovenantResult],
    finished_at: datetime | None = None,
) -> int:
    """Store one evaluation run and its results (bulk inserts, ``results`` consumed as it streams);
    returns the run id."""
    run_id = start_run(session, kind, as_of, started_at, rules_digest)
    save_results(session, run_id, results)
    finish_run(session, run_id, finished_at)
    return run_id


def start_run(session: Session, kind: str, as_of: date, started_at: datetime, rules_digest: str) -> int:
    """A new, unfinished run (readers of runs see it once ``finish_run`` has set ``finished_at``)."""
    return inserted_id(session.execute(
        insert(RUNS).values(
            kind=kind, as_of=as_of, started_at=started_at, finished_at=None, rules_digest=rules_digest
        )
    ))


def finish_run(session: Session, run_id: int, finished_at: datetime | None = None) -> None:
    done = finished_at or datetime.now(timezone.utc)
    session.execute(RUNS.update().where(RUNS.c.id == run_id).values(finished_at=done))


def save_results(session: Session, run_id: int, results: Iterable[CovenantResult],
                 batch_size: int = _INSERT_CHUNK) -> int:
    """Append results to a started run, ``batch_size`` per INSERT, never holding more than one
    batch; returns how many. May be called several times for one run (a run written in pieces).
    The headroom is not stored (readers derive it from the value and the threshold) and a
    covenant's metric is stored once per run (``evaluation_metrics``); a second, different metric
    for the same covenant in one run is refused (ValueError): readers could not tell them apart."""
    return _save(session, run_id, ((r.covenant_id, r.metric, (
        run_id, r.as_of, r.facility_id, r.covenant_id, r.value, str(r.threshold), r.status, r.reason,
        r.months_to_breach)) for r in results), batch_size)


def _save(session: Session, run_id: int, rows: Iterable[tuple[str, str, tuple]], batch_size: int) -> int:
    """(covenant_id, metric, the row in ``_RESULT_INSERT_COLUMNS`` order) of each result, stored."""
    stmt = select(METRICS.c.covenant_id, METRICS.c.metric).where(METRICS.c.run_id == run_id)
    known: dict[str, str] = {cid: metric for cid, metric in session.execute(stmt)}
    new_metrics: list[dict[str, Any]] = []
    batch: list[tuple] = []
    count = 0

    def flush() -> None:
        if new_metrics:
            session.execute(insert(METRICS), new_metrics)
            new_metrics.clear()
        if batch:
            insert_many(session, RESULTS, _RESULT_INSERT_COLUMNS, batch)
            batch.clear()

    for covenant_id, metric, row in rows:
        seen = known.get(covenant_id)
        if seen != metric:
            if seen is not None:
                raise ValueError(f"covenant {covenant_id!r} has two metrics in run {run_id}: {seen!r} and {metric!r}")
            known[covenant_id] = metric
            new_metrics.append({"run_id": run_id, "covenant_id": covenant_id, "metric": metric})
        batch.append(row)
        count += 1
        if len(batch) >= batch_size:
            flush()
    flush()
    return count


_RESULT_INSERT_COLUMNS = ("run_id", "as_of", "facility_id", "covenant_id", "value", "threshold", "status", "reason",
                          "months_to_breach")


@dataclasses.dataclass(frozen=True)
class RunInfo:
    id: int
    kind: str
    as_of: date
    started_at: datetime
    finished_at: datetime | None
    rules_digest: str


def latest_run(session: Session, as_of: date | None = None, kind: str | None = "check") -> RunInfo | None:
    """The most recent finished run (of ``kind``; on ``as_of`` when given), or None."""
    stmt = select(RUNS).where(RUNS.c.finished_at.is_not(None))
    if kind is not None:
        stmt = stmt.where(RUNS.c.kind == kind)
    if as_of is not None:
        stmt = stmt.where(RUNS.c.as_of == as_of)
    row = session.execute(stmt.order_by(RUNS.c.id.desc()).limit(1)).first()
    return RunInfo(*row) if row else None


_RESULT_COLUMNS = (RESULTS.c.facility_id, RESULTS.c.covenant_id, RESULTS.c.as_of, RESULTS.c.value,
                   RESULTS.c.threshold, RESULTS.c.status, RESULTS.c.reason, RESULTS.c.months_to_breach)


class _ResultReader:
    """Stored rows back into ``CovenantResult``s: the metric looked up per (run, covenant), the
    headroom derived from the value and the stored threshold (exactly as the evaluation computed it)."""

    def __init__(self, session: Session):
        self._session = session
        self._thresholds: dict[str, Threshold] = {}
        self._metrics: dict[tuple[int, str], str] = {}
        self._runs: set[int] = set()

    def metric(self, run_id: int, covenant_id: str) -> str:
        if run_id not in self._runs:
            self._runs.add(run_id)
            stmt = select(METRICS.c.covenant_id, METRICS.c.metric).where(METRICS.c.run_id == run_id)
            for cid, metric in self._session.execute(stmt):
                self._metrics[(run_id, cid)] = metric
        return self._metrics[(run_id, covenant_id)]

    def result(self, run_id: int, row: Sequence[Any]) -> CovenantResult:
        fid, cid, as_of, value, threshold_text, status, reason, mtb = row
        t = self._thresholds.get(threshold_text)
        if t is None:
            t = self._thresholds[threshold_text] = Threshold.parse(threshold_text)
        headroom = None if value is None else t.headroom(value)
        return CovenantResult(fid, cid, self.metric(run_id, cid), as_of, value, t, status, headroom, reason, mtb)


def run_results(session: Session, run_id: int) -> list[CovenantResult]:
    """The results of one run, sorted by facility_id then covenant_id."""
    stmt = (
        select(*_RESULT_COLUMNS)
        .where(RESULTS.c.run_id == run_id)
        .order_by(RESULTS.c.facility_id, RESULTS.c.covenant_id)
    )
    reader = _ResultReader(session)
    return [reader.result(run_id, row) for row in session.execute(stmt)]


def latest_result(session: Session, facility_id: str, covenant_id: str) -> CovenantResult | None:
    """The most recently stored result of one covenant at one facility (any run), or None."""
    stmt = (
        select(RESULTS.c.run_id, *_RESULT_COLUMNS)
        .where(RESULTS.c.facility_id == facility_id, RESULTS.c.covenant_id == covenant_id)
        .order_by(RESULTS.c.id.desc()).limit(1)
    )
    row = session.execute(stmt).first()
    return None if row is None else _ResultReader(session).result(row[0], row[1:])


def latest_results(
    session: Session, as_of: date | None = None, kind: str | None = "check"
) -> list[CovenantResult]:
    """The results of the latest finished run (for ``as_of`` when given); [] when there is none."""
    run = latest_run(session, as_of, kind)
    return run_results(session, run.id) if run else []



def status_counts(session: Session, run_id: int) -> dict[str, int]:
    """How many results of one run have each status."""
    stmt = select(RESULTS.c.status, func.count()).where(RESULTS.c.run_id == run_id).group_by(RESULTS.c.status)
    return {status: n for status, n in session.execute(stmt)}


def delete_run(session: Session, run_id: int) -> None:
    """Remove a run and everything stored with it (a check that failed half-way)."""
    session.execute(delete(RESULTS).where(RESULTS.c.run_id == run_id))
    session.execute(delete(METRICS).where(METRICS.c.run_id == run_id))
    session.execute(delete(RUNS).where(RUNS.c.id == run_id))


def iter_run_results(session: Session, run_id: int, batch: int = 4000) -> Iterator[CovenantResult]:
    """The results of one run, sorted by facility_id then covenant_id, streamed ``batch`` rows at a time."""
    stmt = (
        select(*_RESULT_COLUMNS)
        .where(RESULTS.c.run_id == run_id)
        .order_by(RESULTS.c.facility_id, RESULTS.c.covenant_id)
        .execution_options(yield_per=batch)
    )
    reader = _ResultReader(session)
    for row in session.execute(stmt):
        yield reader.result(run_id, row)


def facility_records(session: Session) -> dict[str, Facility]:
    """Every stored facility's own row (no financials, lots or holdings), by facility_id."""
    return {f.facility_id: f for f in _rows(session, Facility, FACILITIES)}
