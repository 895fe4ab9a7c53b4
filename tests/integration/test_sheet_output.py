"""`check --format csv` and `--format xlsx --output FILE`: the same rows as the JSON, as a sheet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app
from bot.render.tabular import STATUS_FILLS

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
AS_OF = "2026-11-20"


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def book(demo_db, monkeypatch, tmp_path):
    monkeypatch.setenv("COVBOT_DATABASE_URL", f"sqlite:///{demo_db / 'covbot.db'}")
    monkeypatch.setenv("COVBOT_ENV_FILE", "/dev/null")
    monkeypatch.setenv("COVBOT_OUTBOX_DIR", str(tmp_path / "out"))
    json_rows = json.loads(run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run").stdout)
    return json_rows


def test_csv_has_the_json_fields_exactly_plus_the_borrower(book):
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "csv", "--dry-run")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["facility_id", "borrower", "covenant_id", "metric", "value", "threshold", "status",
                             "headroom", "reason", "months_to_breach"]
    assert len(rows) == len(book)
    for row, expected in zip(rows, book):
        assert row["borrower"]
        for key, value in expected.items():
            assert row[key] == ("" if value is None else str(value)), (key, row, expected)


def test_csv_to_a_file_says_how_many_rows(book, tmp_path):
    target = tmp_path / "sub" / "check.csv"
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "csv", "--dry-run",
                 "--output", str(target))
    assert result.exit_code == 0
    assert f"Wrote {len(book)} rows" in result.stderr
    assert len(target.read_text().splitlines()) == len(book) + 1


def test_xlsx_is_a_formatted_sheet(book, tmp_path):
    target = tmp_path / "check.xlsx"
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "xlsx", "--dry-run",
                 "--output", str(target))
    assert result.exit_code == 0, result.output
    ws = load_workbook(target).active
    header = [c.value for c in ws[1]]
    assert header[:3] == ["facility_id", "borrower", "covenant_id"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:J{len(book) + 1}"
    col = {name: i for i, name in enumerate(header)}
    assert ws.max_row == len(book) + 1
    seen = set()
    for cells, expected in zip(ws.iter_rows(min_row=2), book):
        assert cells[col["facility_id"]].value == expected["facility_id"]
        assert cells[col["threshold"]].value == expected["threshold"]
        status = cells[col["status"]]
        assert status.value == expected["status"]
        assert status.fill.fgColor.rgb.endswith(STATUS_FILLS[expected["status"]][0])
        seen.add(status.value)
        value, headroom = cells[col["value"]], cells[col["headroom"]]
        assert headroom.number_format == "0.0%" and value.number_format == "#,##0.0000"
        if expected["value"] is None:
            assert value.value is None
        else:
            assert value.value == pytest.approx(float(expected["value"]), rel=1e-12)
        if expected["headroom"] is not None:
            assert headroom.value == pytest.approx(float(expected["headroom"]), rel=1e-12)
    assert seen == {"ok", "warning", "breach", "no_data"}


def test_xlsx_needs_an_output_file_and_output_needs_a_sheet_format(book):
    refused = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "xlsx", "--dry-run")
    assert refused.exit_code == 2 and "--output" in refused.output
    refused = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run", "--output", "x")
    assert refused.exit_code == 2 and "--output" in refused.output


def test_rules_validate_warns_about_a_facility_type_no_stored_facility_has(book, tmp_path):
    rules = tmp_path / "ltv.yaml"
    rules.write_text((RULES / "ltv.yaml").read_text().replace("[gpu_abl", "[gpu_abll", 1))
    result = run("rules", "validate", str(rules))
    assert result.exit_code == 0, result.output
    assert "did you mean gpu_abl?" in result.stderr
    assert f"{rules}:" in result.stderr


def test_fire_sale_csv_and_xlsx_carry_the_json_rows(book, tmp_path):
    args = ("fire-sale", "--rules", str(RULES), "--as-of", AS_OF, "--scenario", "crypto-winter")
    expected = json.loads(run(*args, "--format", "json").stdout)
    assert expected
    result = run(*args, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        for key, value in want.items():
            assert row[key] == ("" if value is None else value), (key, row, want)
        assert row["borrower"] and row["book_ltv"]
    target = tmp_path / "fire-sale.xlsx"
    assert run(*args, "--format", "xlsx", "--output", str(target)).exit_code == 0
    ws = load_workbook(target).active
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:L{len(expected) + 1}"
    first = {name: cell for name, cell in zip(header, ws[2])}
    assert first["scenario"].value == "crypto-winter"
    assert first["loss"].number_format == "#,##0.00" and first["book_ltv"].number_format == "0.0%"
    assert first["outstanding"].value == pytest.approx(float(expected[0]["outstanding"]))
