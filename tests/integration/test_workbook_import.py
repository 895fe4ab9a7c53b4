"""`covbot import book.xlsx`: a sheet per contract file, typed cells read exactly, the CSV's
validation, transaction and idempotency, every problem at its cell (``book.xlsx:financials!C7``)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from bot.cli import app
from bot.daemon.inbox import pending_drops
from bot.demo import make_workbook
from bot.errors import ImportDataError
from bot.imports import import_directory, import_workbook

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo" / "portfolio"
DEMO_BOOK = ROOT / "bot" / "demo" / "portfolio.xlsx"
RULES = ROOT / "rules"
AS_OF = "2026-11-20"
FIN_HEADER = ["facility_id", "period_end", "revenue", "opex", "capex", "taxes", "interest", "principal", "cash",
              "reported_on"]
LOT_HEADER = ["facility_id", "lot_id", "gpu_model", "quantity", "acquired_on", "unit_cost"]


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def workbook(path: Path, sheets: dict[str, list[list]], patch: dict[str, str] | None = None) -> Path:
    """Write a workbook with openpyxl; ``patch`` replaces text in the sheets' XML (what openpyxl
    cannot write: a float's full 17 digits, a formula's cached value, as Excel saves them)."""
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    if patch:
        source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename.startswith("xl/worksheets/"):
                    text = data.decode()
                    for old, new in patch.items():
                        text = text.replace(old, new)
                    data = text.encode()
                target.writestr(item, data)
    path.write_bytes(buffer.getvalue())
    return path


def demo_financials_row(**cells) -> list:
    row = dict(zip(FIN_HEADER, ["GPUC-001", datetime(2026, 9, 30), 100, 10, 5, 1, 2, 3, 50, None]))
    row.update(cells)
    return [row[h] for h in FIN_HEADER]


def test_the_shipped_demo_workbook_is_generated_from_the_csv_files():
    assert DEMO_BOOK.read_bytes() == make_workbook.workbook_bytes(), \
        "bot/demo/portfolio.xlsx is out of date: run python -m bot.demo.make_workbook"


def test_the_demo_workbook_stores_the_same_book_as_the_demo_csv_files(env, tmp_path, monkeypatch):
    checks = []
    for source, db in ((DEMO, "csv.db"), (DEMO_BOOK, "xlsx.db")):
        monkeypatch.setenv("COVBOT_DATABASE_URL", f"sqlite:///{tmp_path / db}")
        imported = run("import", str(source))
        assert imported.exit_code == 0, imported.output
        result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run")
        assert result.exit_code == 0
        checks.append(result.stdout)
    assert checks[0] == checks[1]
    assert len(json.loads(checks[1])) > 50
    again = run("import", str(DEMO_BOOK))
    assert again.exit_code == 0 and "0 added, 0 updated, 718 unchanged" in again.output


def test_a_text_amount_a_bad_date_and_an_unknown_facility_are_refused_at_their_cells(
    engine, tmp_path, table_snapshot
):
    import_directory(engine, DEMO)
    before = table_snapshot(engine)
    book = workbook(tmp_path / "book.xlsx", {
        "financials": [FIN_HEADER, demo_financials_row(), demo_financials_row(
            period_end=datetime(2026, 6, 30), revenue="1,234.56")],
        "balances": [["facility_id", "as_of", "outstanding"], ["GPUC-001", "31/03/2026", 5]],
        "gpu_lots": [LOT_HEADER, ["NOPE-1", "L-1", "H100", 8, datetime(2026, 1, 5), 25000]],
    })
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, book)
    assert [str(p) for p in caught.value.problems] == [
        'book.xlsx:balances!B2: as_of: expected a date written YYYY-MM-DD, got "31/03/2026"',
        'book.xlsx:financials!C3: revenue: expected a decimal number such as 1250000.00, got "1,234.56"',
        "book.xlsx:gpu_lots!A2: facility_id: there is no facility 'NOPE-1' in the facilities sheet of this "
        "import or in the database; add it to the facilities sheet",
    ]
    assert table_snapshot(engine) == before, "nothing stored"


def test_numbers_dates_and_text_cells_are_read_exactly(engine, tmp_path):
    import_directory(engine, DEMO)
    book = workbook(tmp_path / "book.xlsx", {
        "Financials ": [FIN_HEADER, demo_financials_row(
            revenue=0.1, opex=1234567.891, capex=12, taxes="7.125", interest=1.5e7, cash=-0.35,
            reported_on="2026-10-15")],
        "Notes": [["anything"]],
        "price": [["a sheet that is not in the contract"]],
    })
    summary = import_workbook(engine, book)
    assert [f.file for f in summary.files] == ["Financials "]
    assert summary.ignored == ("Notes", "price (did you mean prices?)")
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT revenue, opex, capex, taxes, interest, cash, reported_on FROM financials "
            "WHERE facility_id = 'GPUC-001' AND period_end = '2026-09-30'")).one()
    assert tuple(str(v) for v in row) == ("0.1", "1234567.891", "12", "7.125", "15000000", "-0.35", "2026-10-15")
    assert import_workbook(engine, book).unchanged == 1, "re-importing the same workbook changes nothing"


def test_a_float_with_more_than_15_significant_digits_is_refused_with_a_hint(engine, tmp_path):
    import_directory(engine, DEMO)
    book = workbook(tmp_path / "book.xlsx", {"financials": [FIN_HEADER, demo_financials_row(cash=0.5)]},
                    patch={"<v>0.5</v>": "<v>0.30000000000000004</v>"})
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, book)
    assert [str(p) for p in caught.value.problems] == [
        "book.xlsx:financials!I2: the number 0.30000000000000004 has 17 significant digits, more than the 15 an "
        "Excel number holds exactly; store it as text (format the cell as Text, or type it with a leading "
        "apostrophe) or round it"]


def test_formulas_are_read_as_their_cached_values_and_refused_without_one(engine, tmp_path):
    import_directory(engine, DEMO)
    sheets = {"financials": [FIN_HEADER, demo_financials_row(revenue="=C3+1")]}
    never_calculated = workbook(tmp_path / "program.xlsx", sheets)  # openpyxl saves no cached values
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, never_calculated)
    assert [str(p) for p in caught.value.problems] == [
        "program.xlsx:financials!C2: the formula =C3+1 has no calculated value saved with the workbook (it was "
        "written by a program and never opened in Excel); open and save it in Excel, or enter the value"]
    saved_by_excel = workbook(tmp_path / "excel.xlsx", sheets, patch={"<f>C3+1</f><v></v>": "<f>C3+1</f><v>101</v>"})
    summary = import_workbook(engine, saved_by_excel)
    assert summary.updated + summary.added == 1


def test_a_workbook_without_contract_sheets_or_not_a_workbook_is_refused(engine, tmp_path):
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, workbook(tmp_path / "book.xlsx", {"Sheet1": [["a"]]}))
    assert str(caught.value.problems[0]).startswith("book.xlsx:1:1: the workbook holds none of the sheets")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("facility_id,borrower\n")
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, fake)
    assert "cannot be read as an Excel workbook" in str(caught.value)


def test_the_header_is_checked_like_a_csv_header(engine, tmp_path):
    book = workbook(tmp_path / "book.xlsx", {"prices": [["symbol", "date", "price", "note"], ["BTC", "2026-01-02", 1]]})
    with pytest.raises(ImportDataError) as caught:
        import_workbook(engine, book)
    assert str(caught.value.problems[0]).startswith("book.xlsx:prices!D1: unexpected column 'note'")


def test_the_inbox_takes_workbook_drops_but_not_excel_lock_files(tmp_path):
    for name in ("a.csv", "b.xlsx", "~$b.xlsx", "notes.txt"):
        (tmp_path / name).write_text("x\n")  # a complete line: a settled drop (docs/operations.md)
    assert [p.name for p in pending_drops(tmp_path)] == ["a.csv", "b.xlsx"]


def test_an_inbox_workbook_drop_is_imported_or_refused_with_its_cells(env, tmp_path):
    from bot.config import load_settings
    from bot.daemon.inbox import process_inbox

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a-portfolio.xlsx").write_bytes(DEMO_BOOK.read_bytes())
    workbook(inbox / "b-bad.xlsx", {"prices": [["symbol", "date", "price"], ["BTC", "2026-01-02", "lots"]]})
    settings = load_settings(inbox=str(inbox))
    from bot.bootstrap import App

    outcomes = process_inbox(settings.inbox, App(settings).engine, datetime(2026, 11, 20, 6, 0), settle_seconds=0)
    assert [(o.name, o.imported) for o in outcomes] == [("a-portfolio.xlsx", True), ("b-bad.xlsx", False)]
    assert (inbox / "done" / "a-portfolio.xlsx").is_file()
    error = (inbox / "failed" / "b-bad" / "error.txt").read_text()
    assert 'b-bad.xlsx:prices!C2: price: expected a decimal number such as 1250000.00, got "lots"' in error
