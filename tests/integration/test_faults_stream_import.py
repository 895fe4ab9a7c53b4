"""Streaming import (issue 13, item 12): rows are validated and written in batches, yet a problem
anywhere — even after several batches were written — leaves nothing stored. (Memory is measured
in bench/import_memory.py, not here.)"""

from __future__ import annotations

import pytest

from bot.errors import ImportDataError
from bot.imports import apply, import_directory

FAC = ("facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
       "maturity_date,owner_email,slack_channel\n")
FIN = "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"


def _write(folder, n_facilities: int, bad_last: str | None = None):
    folder.mkdir()
    (folder / "facilities.csv").write_text(FAC + "".join(
        f"F-{i:05d},B,gpu_abl,USD,10,5,2024-01-01,2030-01-01,,\n" for i in range(n_facilities)))
    lines = [f"F-{i:05d},2025-{m:02d}-{28 if m == 2 else 30},1,1,1,1,1,1,1,\n"
             for i in range(n_facilities) for m in (3, 6, 9, 11)]
    if bad_last is not None:
        lines.append(bad_last)
    (folder / "financials.csv").write_text(FIN + "".join(lines))
    return len(lines)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(apply, "BATCH", 500)


def test_a_large_file_is_written_in_batches_in_one_transaction(engine, tmp_path, small_batches):
    rows = _write(tmp_path / "ok", 1000)
    summary = import_directory(engine, tmp_path / "ok")
    assert summary.for_file("financials.csv").added == rows == 4000
    again = import_directory(engine, tmp_path / "ok")  # idempotent, batch by batch
    assert again.for_file("financials.csv").unchanged == rows


@pytest.mark.parametrize("bad", [
    "F-00001,2026-03-31,1,1,1,1,1,1,1e5,\n",          # a bad value after 8 batches were written
    "F-00001,2025-03-30,1,1,1,1,1,1,1,\n",            # a key repeated far from its first line
    "GHOST,2026-03-31,1,1,1,1,1,1,1,\n",              # an unknown facility
])
def test_a_problem_in_the_last_row_leaves_nothing_stored(engine, tmp_path, small_batches, table_snapshot, bad):
    before = table_snapshot(engine)
    rows = _write(tmp_path / "bad", 1000, bad)
    with pytest.raises(ImportDataError) as caught:
        import_directory(engine, tmp_path / "bad")
    assert [p.location.line for p in caught.value.problems] == [rows + 1]
    assert table_snapshot(engine) == before
