"""CSV import on SQLite and PostgreSQL: counts, idempotence, and every refusal at file:line:column
with the database left exactly as it was."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.errors import ImportDataError
from bot.imports import import_directory, import_file
from bot.store.db import session_scope
from bot.store.repository import load_facilities, load_price_book

FIN_HEADER = "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
FIN_ROW = "GPUC-001,2025-12-31,7000000.00,3000000.00,0,0,1900000.00,1500000.00,9000000.00,\n"


def _counts(summary) -> dict[str, tuple[int, int, int]]:
    return {f.file: (f.added, f.updated, f.unchanged) for f in summary.files}


def test_first_import_adds_every_row(engine, portfolio_dir, portfolio_rows):
    summary = import_directory(engine, portfolio_dir)
    assert _counts(summary) == {name: (n, 0, 0) for name, n in portfolio_rows.items()}
    assert [f.file for f in summary.files] == [
        "facilities.csv", "balances.csv", "financials.csv", "gpu_lots.csv", "crypto.csv", "prices.csv"]
    assert summary.added == sum(portfolio_rows.values())


def test_imported_rows_are_stored_exactly(engine, portfolio_dir):
    import_directory(engine, portfolio_dir)
    with session_scope(engine) as session:
        data = {d.facility_id: d for d in load_facilities(session)}
        prices = load_price_book(session)
    miner = data["MINR-002"]
    assert miner.facility.borrower == "Hashers, Inc."
    assert str(miner.facility.outstanding) == "45000000.50"
    assert miner.facility.owner_email is None and miner.facility.slack_channel is None
    assert str(miner.financials[0].cash) == "-35000.00"
    assert [(c.asset, c.as_of, str(c.quantity)) for c in miner.crypto] == [
        ("BTC", date(2025, 9, 30), "850.5"), ("BTC", date(2025, 12, 31), "0"), ("ETH", date(2025, 12, 31), "1200.25")]
    gpuc = data["GPUC-001"]
    assert gpuc.financials[2].reported_on is None and gpuc.financials[2].capex == Decimal("-150000.00")
    assert gpuc.financials[0].reported_on == date(2025, 5, 10)
    assert [b.outstanding for b in gpuc.balances] == [Decimal("115000000.00"), Decimal("110000000.00")]
    assert prices.latest("RENT:H100", date(2025, 12, 31)).price == Decimal("2.35")


def test_reimporting_the_same_files_changes_nothing(engine, portfolio_dir, portfolio_rows, table_snapshot):
    import_directory(engine, portfolio_dir)
    before = table_snapshot(engine)
    summary = import_directory(engine, portfolio_dir)
    assert _counts(summary) == {name: (0, 0, n) for name, n in portfolio_rows.items()}
    assert table_snapshot(engine) == before


def test_newer_rows_win_and_are_counted(engine, portfolio_dir, portfolio, csv_folder):
    import_directory(engine, portfolio_dir)
    changed_prices = portfolio["prices.csv"].replace("BTC,2025-12-31,93500.00", "BTC,2025-12-31,91000.00")
    changed_prices += "BTC,2026-01-01,90000\n"
    rewritten = portfolio["financials.csv"].replace("12000000.00,2025-05-10", "12000000.0,2025-05-10")
    folder = csv_folder("second", {"prices.csv": changed_prices, "financials.csv": rewritten + FIN_ROW})
    summary = import_directory(engine, folder)
    assert _counts(summary) == {"financials.csv": (1, 1, 3), "prices.csv": (1, 1, 4)}
    with session_scope(engine) as session:
        book = load_price_book(session)
        (gpuc,) = load_facilities(session, ["GPUC-001"])
    assert book.latest("BTC", date(2025, 12, 31)).price == Decimal("91000.00")
    assert str(gpuc.financials[0].cash) == "12000000.0"  # the same number, newer text: updated
    assert len(gpuc.financials) == 4


def test_rows_may_refer_to_facilities_already_stored(engine, portfolio_dir, csv_folder):
    import_directory(engine, portfolio_dir)
    summary = import_directory(engine, csv_folder("later", {"financials.csv": FIN_HEADER + FIN_ROW}))
    assert _counts(summary) == {"financials.csv": (1, 0, 0)}


def test_a_single_file_is_imported_by_its_name(engine, portfolio_dir, csv_folder):
    import_directory(engine, portfolio_dir)
    folder = csv_folder("drop", {"prices.csv": "symbol,date,price\nETH,2026-01-02,3300\n"})
    assert _counts(import_file(engine, folder / "prices.csv")) == {"prices.csv": (1, 0, 0)}
    assert _counts(import_directory(engine, folder / "prices.csv")) == {"prices.csv": (0, 0, 1)}


def test_a_file_with_another_name_is_refused(engine, csv_folder):
    folder = csv_folder("drop", {"price.csv": "symbol,date,price\nETH,2026-01-02,3300\n"})
    with pytest.raises(ImportDataError) as caught:
        import_file(engine, folder / "price.csv")
    assert str(caught.value.problems[0]).startswith("price.csv:1:1: covbot does not import a file named")


def test_progress_reports_every_file_to_its_end(engine, portfolio_dir, portfolio_rows):
    seen: dict[str, list[tuple[int, int]]] = {}
    def progress(name: str, done: int, total: int) -> None:
        seen.setdefault(name, []).append((done, total))

    import_directory(engine, portfolio_dir, progress=progress)
    assert {name: calls[-1] for name, calls in seen.items()} == {n: (r, r) for n, r in portfolio_rows.items()}


def test_windows_line_endings_and_a_byte_order_mark_are_accepted(engine, portfolio, csv_folder, portfolio_rows):
    files = {name: "\ufeff" + text.replace("\n", "\r\n") for name, text in portfolio.items()}
    summary = import_directory(engine, csv_folder("windows", files))
    assert _counts(summary) == {name: (n, 0, 0) for name, n in portfolio_rows.items()}


# --- refusals: every problem at file:line:column, nothing stored --------------------------------

FAC_HEADER = ("facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
              "maturity_date,owner_email,slack_channel\n")
FAC_ROW = "NEW-9,New Borrower,gpu_abl,USD,1000,900,2025-01-01,2030-01-01,,\n"
LOT_HEADER = "facility_id,lot_id,gpu_model,quantity,acquired_on,unit_cost\n"

REFUSALS = {
    "missing column": (
        "balances.csv", "facility_id,as_of\nGPUC-001,2025-06-30\n",
        "balances.csv:1:1: missing column outstanding"),
    "extra column": (
        "balances.csv", "facility_id,as_of,outstanding,note\nGPUC-001,2025-06-30,1,x\n",
        "balances.csv:1:4: unexpected column 'note'"),
    "repeated column": (
        "balances.csv", "facility_id,as_of,outstanding,as_of\n",
        "balances.csv:1:4: the column 'as_of' appears twice in the header (columns 2 and 4)"),
    "empty file": ("balances.csv", "", "balances.csv:1:1: the file is empty"),
    "header not on line 1": (
        "balances.csv", "\nfacility_id,as_of,outstanding\n", "balances.csv:1:1: line 1 is blank"),
    "too few values": (
        "balances.csv", "facility_id,as_of,outstanding\nGPUC-001,2025-06-30\n",
        "balances.csv:2:3: this row has 2 values but the header has 3 columns"),
    "too many values": (
        "balances.csv", "facility_id,as_of,outstanding\nGPUC-001,2025-06-30,1,2\n",
        "balances.csv:2:4: this row has 4 values but the header has 3 columns"),
    "comma decimal": (
        "financials.csv", FIN_HEADER + FIN_ROW.replace("7000000.00", '"12,5"'),
        'financials.csv:2:3: revenue: expected a decimal number such as 1250000.00, got "12,5"'),
    "exponent": (
        "prices.csv", "symbol,date,price\nBTC,2026-01-01,1e5\n",
        'prices.csv:2:3: price: expected a decimal number such as 1250000.00, got "1e5"'),
    "NaN": ("prices.csv", "symbol,date,price\nBTC,2026-01-01,NaN\n", 'prices.csv:2:3: price: expected a decimal'),
    "infinity": ("prices.csv", "symbol,date,price\nBTC,2026-01-01,inf\n", 'prices.csv:2:3: price: expected a decimal'),
    "thousands separator": (
        "facilities.csv", FAC_HEADER + FAC_ROW.replace(",1000,", ',"1,000",'),
        'facilities.csv:2:5: commitment: expected a decimal number such as 1250000.00, got "1,000"'),
    "currency sign": (
        "gpu_lots.csv", LOT_HEADER + "GPUC-001,L9,H100,8,2025-01-01,$25000\n",
        'gpu_lots.csv:2:6: unit_cost: expected a decimal number such as 1250000.00, got "$25000"'),
    "negative quantity": (
        "crypto.csv", "facility_id,asset,as_of,quantity\nMINR-002,BTC,2026-01-01,-3\n",
        'crypto.csv:2:4: quantity: must not be negative, got "-3"'),
    "negative outstanding": (
        "facilities.csv", FAC_HEADER + FAC_ROW.replace(",900,", ",-900,"),
        'facilities.csv:2:6: outstanding: must not be negative, got "-900"'),
    "negative price": (
        "prices.csv", "symbol,date,price\nBTC,2026-01-01,-1\n", "prices.csv:2:3: price: must not be negative"),
    "date not ISO": (
        "balances.csv", "facility_id,as_of,outstanding\nGPUC-001,31/03/2025,1\n",
        'balances.csv:2:2: as_of: expected a date written YYYY-MM-DD, got "31/03/2025"'),
    "date not on the calendar": (
        "balances.csv", "facility_id,as_of,outstanding\nGPUC-001,2025-02-30,1\n",
        'balances.csv:2:2: as_of: "2025-02-30" is not a date on the calendar'),
    "required value empty": (
        "facilities.csv", FAC_HEADER + FAC_ROW.replace("New Borrower", ""),
        "facilities.csv:2:2: borrower: a value is required"),
    "optional date malformed": (
        "financials.csv", FIN_HEADER + FIN_ROW.replace(",\n", ",soon\n"),
        'financials.csv:2:10: reported_on: expected a date written YYYY-MM-DD, got "soon"'),
    "symbol with a space": (
        "prices.csv", "symbol,date,price\nGPU: H100,2026-01-01,1\n",
        'prices.csv:2:1: symbol: expected a symbol without spaces'),
    "duplicate key": (
        "financials.csv", FIN_HEADER + FIN_ROW + FIN_ROW.replace("GPUC-001", "MINR-002") + FIN_ROW,
        "financials.csv:4:1: facility_id, period_end: GPUC-001, 2025-12-31 is on line 2 and again on line 4"),
    "unknown facility": (
        "gpu_lots.csv", LOT_HEADER + "NOPE-1,L1,H100,8,2025-01-01,1\n",
        "gpu_lots.csv:2:1: facility_id: there is no facility 'NOPE-1' in facilities.csv of this import "
        "or in the database"),
    "unclosed quote": (
        "balances.csv", 'facility_id,as_of,outstanding\nGPUC-001,2025-06-30,1\n"GPUC-001,2025-07-31,2\n',
        "balances.csv:3:1: the quoted value that starts on line 3 is never closed"),
    "not UTF-8": (
        "facilities.csv", (FAC_HEADER + FAC_ROW.replace("New Borrower", "Caf\xe9")).encode("latin-1"),
        "facilities.csv:2:1: the file is not UTF-8 text"),
    "NUL character": (
        "balances.csv", "facility_id,as_of,outstanding\nGPUC-001,2025-06-30,1\x00\n",
        "balances.csv:2:1: the file contains a NUL character"),
    "misspelt file name": (
        "financial.csv", FIN_HEADER + FIN_ROW,
        "financial.csv:1:1: covbot does not import a file named 'financial.csv'"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_file_is_refused_at_its_place_and_nothing_is_stored(
    case, engine, portfolio_dir, csv_folder, table_snapshot
):
    import_directory(engine, portfolio_dir)
    before = table_snapshot(engine)
    file_name, content, expected = REFUSALS[case]
    good = "prices.csv" if file_name != "prices.csv" else "balances.csv"
    good_content = ("symbol,date,price\nBTC,2026-01-05,88000\n" if good == "prices.csv"
                    else "facility_id,as_of,outstanding\nGPUC-001,2026-01-31,99\n")
    folder = csv_folder("bad", {good: good_content, file_name: content})
    with pytest.raises(ImportDataError) as caught:
        import_directory(engine, folder)
    rendered = [str(p) for p in caught.value.problems]
    assert any(line.startswith(expected) for line in rendered), rendered
    assert table_snapshot(engine) == before


def test_every_problem_in_every_file_is_reported(engine, csv_folder, table_snapshot):
    before = table_snapshot(engine)
    folder = csv_folder("bad", {
        "facilities.csv": FAC_HEADER + FAC_ROW.replace(",1000,", ",lots,").replace("2030-01-01", "2030-13-01"),
        "prices.csv": "symbol,date,price\nBTC,2026-01-01,1e5\nETH,yesterday,-1\n",
        "balances.csv": "facility_id,as_of,outstanding\nNEW-9,2026-01-31,5\nGHOST,2026-01-31,5\n",
    })
    with pytest.raises(ImportDataError) as caught:
        import_directory(engine, folder)
    locations = [str(p.location) for p in caught.value.problems]
    assert locations == [
        "facilities.csv:2:5", "facilities.csv:2:8", "prices.csv:2:3", "prices.csv:3:2", "prices.csv:3:3",
    ]
    assert "The import was refused and nothing was stored" in str(caught.value)
    assert table_snapshot(engine) == before


def test_unknown_facilities_are_reported_once_values_are_valid(engine, csv_folder, table_snapshot):
    before = table_snapshot(engine)
    folder = csv_folder("bad", {
        "facilities.csv": FAC_HEADER + FAC_ROW,
        "balances.csv": "facility_id,as_of,outstanding\nNEW-9,2026-01-31,5\nGHOST,2026-01-31,5\n",
        "crypto.csv": "facility_id,asset,as_of,quantity\nGHOST,BTC,2026-01-31,5\n",
    })
    with pytest.raises(ImportDataError) as caught:
        import_directory(engine, folder)
    assert [str(p.location) for p in caught.value.problems] == ["balances.csv:3:1", "crypto.csv:2:1"]
    assert table_snapshot(engine) == before


def test_quoted_values_spanning_lines_keep_line_numbers_right(engine, csv_folder):
    facilities = (
        FAC_HEADER
        + 'A-1,"Borrower with\na two-line name",gpu_abl,USD,1,1,2025-01-01,2030-01-01,,\n'
        + 'A-2,"Three\r\nline\nname",gpu_abl,USD,1,1,2025-01-01,2030-01-01,,\n'
        + "A-3,Fine,gpu_abl,USD,1,oops,2025-01-01,2030-01-01,,\n"
    )
    with pytest.raises(ImportDataError) as caught:
        import_directory(engine, csv_folder("multi", {"facilities.csv": facilities}))
    assert [str(p) for p in caught.value.problems] == [
        'facilities.csv:7:6: outstanding: expected a decimal number such as 1250000.00, got "oops"']
    fixed = facilities.replace("oops", "1")
    import_directory(engine, csv_folder("multi-ok", {"facilities.csv": fixed}))
    with session_scope(engine) as session:
        (a1, a2, _) = load_facilities(session)
    assert a1.facility.borrower == "Borrower with\na two-line name"
    assert a2.facility.borrower == "Three\r\nline\nname"


def test_a_folder_without_contract_files_is_refused(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("nothing here")
    with pytest.raises(ImportDataError, match="holds none of the files covbot imports"):
        import_directory(engine, tmp_path / "empty")
