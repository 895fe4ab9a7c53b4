"""The store on SQLite and PostgreSQL: exact decimals, UTC instants, migrations, set-based reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, insert, inspect
from sqlmodel import SQLModel

from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold
from bot.errors import StorageError
from bot.store.db import current_revisions, head_revisions, open_database, session_scope, upgrade
from bot.store.repository import (
    facility_exists,
    iter_facility_chunks,
    latest_results,
    latest_run,
    load_facilities,
    load_price_book,
    save_evaluation,
)
from bot.store.tables import ALL_TABLES, DATA_TABLES
from tests.support.schema import table_of

EXACT = [
    Decimal("1.50"),
    Decimal("-0.35"),
    Decimal("0"),
    Decimal("0.000"),
    Decimal("1234567890123456789012345.678"),  # 28 significant digits
    Decimal("-0.0000000000000000000000000001"),
    Decimal("1E+5"),
]


def _facility(facility_id: str, commitment=Decimal("100.00"), outstanding=Decimal("80.00")) -> dict:
    return dict(
        facility_id=facility_id, borrower=f"Borrower {facility_id}", facility_type="gpu_abl", currency="USD",
        commitment=commitment, outstanding=outstanding, origination_date=date(2024, 1, 1),
        maturity_date=date(2029, 1, 1), owner_email=None, slack_channel=None,
    )


def _financial(facility_id: str, period_end: date, revenue: Decimal) -> dict:
    return dict(
        facility_id=facility_id, period_end=period_end, revenue=revenue, opex=Decimal("1"), capex=Decimal("0"),
        taxes=Decimal("0"), interest=Decimal("2"), principal=Decimal("3"), cash=Decimal("-0.35"),
        reported_on=None,
    )


def _insert(engine, table: str, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(DATA_TABLES[table]), rows)


def _result(facility_id: str, covenant_id: str, as_of: date, value, status="ok", **kw) -> CovenantResult:
    """A result as the evaluation makes it: the headroom is the threshold's of the value."""
    threshold = kw.pop("threshold", Threshold.parse(">= 1.25"))
    return CovenantResult(
        facility_id=facility_id, covenant_id=covenant_id, metric="dscr_ttm", as_of=as_of, value=value,
        threshold=threshold, status=status, headroom=None if value is None else threshold.headroom(value),
        reason=kw.pop("reason", None), **kw,
    )


# --- exactness -------------------------------------------------------------------------------


def test_decimals_round_trip_exactly(engine):
    _insert(engine, "facilities", [_facility("F-1", commitment=EXACT[0], outstanding=EXACT[4])])
    _insert(engine, "financials", [
        _financial("F-1", date(2025, 1, 1) + timedelta(days=i), value) for i, value in enumerate(EXACT)
    ])
    with session_scope(engine) as session:
        (data,) = load_facilities(session)
    assert data.facility.commitment.as_tuple() == Decimal("1.50").as_tuple()
    assert str(data.facility.outstanding) == "1234567890123456789012345.678"
    revenues = [p.revenue for p in data.financials]
    assert [str(v) for v in revenues] == [str(v) for v in EXACT]
    assert [v.as_tuple() for v in revenues] == [v.as_tuple() for v in EXACT]
    assert all(str(p.cash) == "-0.35" for p in data.financials)


def test_instants_come_back_in_utc(engine):
    started = datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    finished = datetime(2026, 3, 1, 6, 31, 5, 123000, tzinfo=timezone.utc)
    with session_scope(engine) as session:
        save_evaluation(session, "check", date(2026, 3, 1), started, "digest", [], finished_at=finished)
    with session_scope(engine) as session:
        run = latest_run(session)
    assert run.started_at == started and run.started_at.tzinfo == timezone.utc
    assert run.started_at.hour == 6
    assert run.finished_at == finished and run.finished_at.tzinfo == timezone.utc


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(Exception, match="timezone"):
        with session_scope(engine) as session:
            save_evaluation(session, "check", date(2026, 3, 1), datetime(2026, 3, 1, 6), "digest", [])


# --- migrations ------------------------------------------------------------------------------


def test_migrations_create_the_schema_from_empty_and_are_idempotent(database):
    blank = database.blank_engine()
    assert current_revisions(blank) == set()
    assert not set(inspect(blank).get_table_names()) & set(ALL_TABLES)
    upgrade(blank)
    assert set(ALL_TABLES) <= set(inspect(blank).get_table_names())
    assert current_revisions(blank) == head_revisions()
    upgrade(blank)  # again: nothing to do, nothing breaks
    engine = database.open()  # open_database on an up-to-date database
    assert current_revisions(engine) == head_revisions()


def test_migrated_schema_matches_the_table_models(database):
    engine = database.open()
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    ours = [d for d in diffs if table_of(d) in ALL_TABLES]
    assert ours == []



def test_sqlite_enforces_foreign_keys(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'fk.db'}")
    with pytest.raises(Exception, match="(?i)foreign key"):
        _insert(engine, "balances", [dict(facility_id="NOPE", as_of=date(2025, 1, 1), outstanding=Decimal(1))])
    engine.dispose()


# --- unreachable databases -----------------------------------------------------------------


def test_an_unreachable_database_is_a_sentence_without_the_password():
    with pytest.raises(StorageError) as caught:
        open_database("postgresql+psycopg://analyst:hunter2secret@127.0.0.1:1/covbot")
    message = str(caught.value)
    assert "hunter2secret" not in message
    assert "cannot be reached" in message and "***" in message
    assert "Traceback" not in message


def test_a_sqlite_file_in_a_missing_folder_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match="cannot be reached"):
        open_database(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'covbot.db'}")


def test_a_url_covbot_cannot_read_is_a_storage_error():
    with pytest.raises(StorageError, match="not one covbot understands"):
        open_database("this is not a url")


# --- sessions ----------------------------------------------------------------------------------


def test_session_scope_rolls_back_when_the_block_raises(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            session.execute(insert(DATA_TABLES["facilities"]), [_facility("F-1")])
            raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert not facility_exists(session, "F-1")


# --- reading facilities --------------------------------------------------------------------


@pytest.fixture
def five_facilities(engine):
    ids = ["F-03", "F-01", "F-05", "F-02", "F-04"]
    _insert(engine, "facilities", [_facility(i) for i in ids])
    _insert(engine, "financials", [
        _financial(i, date(2025, m, 28), Decimal(f"{n}.{m}")) for n, i in enumerate(ids) for m in (3, 6)
    ])
    _insert(engine, "balances", [dict(facility_id="F-02", as_of=date(2025, 6, 30), outstanding=Decimal("70.5"))])
    _insert(engine, "gpu_lots", [
        dict(facility_id="F-04", lot_id="L2", gpu_model="H100", quantity=Decimal(8), acquired_on=date(2024, 5, 1),
             unit_cost=Decimal("25000.00")),
        dict(facility_id="F-04", lot_id="L1", gpu_model="B200", quantity=Decimal(4), acquired_on=date(2025, 1, 1),
             unit_cost=Decimal("40000.00")),
    ])
    _insert(engine, "crypto_holdings", [
        dict(facility_id="F-05", asset="BTC", as_of=date(2025, 6, 30), quantity=Decimal("1.5")),
        dict(facility_id="F-05", asset="BTC", as_of=date(2025, 3, 31), quantity=Decimal("2")),
    ])
    return engine


def test_load_facilities_returns_every_facility_with_its_rows(five_facilities):
    with session_scope(five_facilities) as session:
        loaded = load_facilities(session)
    assert [d.facility_id for d in loaded] == ["F-01", "F-02", "F-03", "F-04", "F-05"]
    by_id = {d.facility_id: d for d in loaded}
    assert [p.period_end for p in by_id["F-03"].financials] == [date(2025, 3, 28), date(2025, 6, 28)]
    assert by_id["F-02"].balances[0].outstanding == Decimal("70.5")
    assert [lot.lot_id for lot in by_id["F-04"].gpu_lots] == ["L1", "L2"]
    assert [c.as_of for c in by_id["F-05"].crypto] == [date(2025, 3, 31), date(2025, 6, 30)]
    assert by_id["F-01"].gpu_lots == () and by_id["F-01"].crypto == ()


def test_load_facilities_by_id_returns_only_those(five_facilities):
    with session_scope(five_facilities) as session:
        loaded = load_facilities(session, ["F-04", "F-02", "NOPE"])
        assert facility_exists(session, "F-04") and not facility_exists(session, "NOPE")
    assert [d.facility_id for d in loaded] == ["F-02", "F-04"]
    assert [d.financials[0].revenue for d in loaded] == [Decimal("3.3"), Decimal("4.3")]


def test_chunks_cover_every_facility_in_order_with_few_queries(five_facilities):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(five_facilities, "before_cursor_execute", count)
    with session_scope(five_facilities) as session:
        chunks = list(iter_facility_chunks(session, chunk_size=2))
    event.remove(five_facilities, "before_cursor_execute", count)

    assert [[d.facility_id for d in c] for c in chunks] == [["F-01", "F-02"], ["F-03", "F-04"], ["F-05"]]
    assert [lot.lot_id for lot in chunks[1][1].gpu_lots] == ["L1", "L2"]
    assert len(chunks[2][0].crypto) == 2 and chunks[0][0].crypto == ()
    # one facility query and one per child table per chunk, never one per facility
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 3 * 5


def test_chunks_of_an_empty_database(engine):
    with session_scope(engine) as session:
        assert list(iter_facility_chunks(session)) == []
        assert load_facilities(session) == []


def test_price_book(engine):
    _insert(engine, "prices", [
        dict(symbol="BTC", date=date(2025, 12, 31), price=Decimal("93500.00")),
        dict(symbol="BTC", date=date(2025, 12, 30), price=Decimal("94000.50")),
        dict(symbol="GPU:H100", date=date(2025, 12, 1), price=Decimal("18500")),
    ])
    with session_scope(engine) as session:
        book = load_price_book(session)
    assert book.latest("BTC", date(2025, 12, 30)).price == Decimal("94000.50")
    assert str(book.latest("BTC", date(2026, 1, 1)).price) == "93500.00"
    assert book.latest("GPU:H100", date(2025, 12, 31), max_age_days=30).price == Decimal("18500")
    assert book.latest("ETH", date(2025, 12, 31)) is None


# --- evaluation runs -----------------------------------------------------------------------


def test_saved_results_come_back_as_they_went_in(engine):
    as_of = date(2026, 3, 31)
    started = datetime(2026, 3, 31, 6, 0, tzinfo=timezone.utc)
    results = [
        _result("F-2", "min-dscr", as_of, Decimal("1.3333333333333333333333333333"), status="warning",
                months_to_breach=7),
        _result("F-1", "max-ltv", as_of, None, status="no_data", threshold=Threshold.parse("<= 0.70"),
                reason="no collateral"),
        _result("F-1", "neg", as_of, Decimal("-0.40"), status="breach", threshold=Threshold.parse(">= -0.35")),
    ]
    assert results[0].headroom == Decimal("0.06666666666666666666666666664")
    assert results[2].headroom == Decimal("-0.1428571428571428571428571429")
    with session_scope(engine) as session:
        run_id = save_evaluation(session, "check", as_of, started, "sha256:abc", iter(results))
    with session_scope(engine) as session:
        back = latest_results(session)
        run = latest_run(session)
    assert run.id == run_id and run.kind == "check" and run.rules_digest == "sha256:abc"
    assert run.started_at == started and run.finished_at >= started
    assert back == sorted(results, key=lambda r: (r.facility_id, r.covenant_id))
    assert [str(r.threshold) for r in back] == ["<= 0.70", ">= -0.35", ">= 1.25"]


def test_latest_results_pick_the_latest_run_and_filter_by_test_date(engine):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with session_scope(engine) as session:
        save_evaluation(session, "check", date(2026, 1, 1), t0, "d", [_result("F", "c", date(2026, 1, 1), Decimal(1))])
        save_evaluation(session, "check", date(2026, 1, 2), t0, "d", [_result("F", "c", date(2026, 1, 2), Decimal(2))])
        save_evaluation(session, "stress", date(2026, 1, 3), t0, "d", [_result("F", "c", date(2026, 1, 3), Decimal(3))])
    with session_scope(engine) as session:
        assert [r.value for r in latest_results(session)] == [Decimal(2)]
        assert [r.value for r in latest_results(session, as_of=date(2026, 1, 1))] == [Decimal(1)]
        assert [r.value for r in latest_results(session, kind="stress")] == [Decimal(3)]
        assert latest_results(session, as_of=date(2020, 1, 1)) == []


def test_many_results_are_saved_in_bulk(engine):
    as_of = date(2026, 3, 31)
    results = [_result(f"F-{i:05d}", "min-dscr", as_of, Decimal(i) / 7) for i in range(12_000)]
    statements: list = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with session_scope(engine) as session:
        save_evaluation(session, "check", as_of, datetime.now(timezone.utc), "d", results)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO EVALUATION_RESULTS")]
    assert len(inserts) < 100  # batched, not one statement per result
    with session_scope(engine) as session:
        back = latest_results(session)
    assert len(back) == 12_000 and back[7].value == Decimal(7) / 7
