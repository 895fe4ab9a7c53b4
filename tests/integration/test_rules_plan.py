"""`covbot rules plan NEW`: what a rule edit would change, against two `check --dry-run` runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
TIGHTENED = RULES / "examples" / "ltv-tightened.yaml"
AS_OF = "2026-11-20"
CHANGE_KEYS = {"facility_id", "covenant_id", "from_status", "to_status", "value", "old_threshold", "new_threshold"}


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def book(demo_db, monkeypatch, tmp_path):
    db = tmp_path / "covbot.db"
    for suffix in ("", "-wal", "-shm"):  # a copy (with its write-ahead log): the plan must leave it as it was
        if (demo_db / f"covbot.db{suffix}").exists():
            shutil.copy(demo_db / f"covbot.db{suffix}", f"{db}{suffix}")
    monkeypatch.setenv("COVBOT_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("COVBOT_ENV_FILE", "/dev/null")
    monkeypatch.setenv("COVBOT_OUTBOX_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("COVBOT_RULES", str(RULES))
    return db


def edited_rules(tmp_path: Path, replace: dict[str, str | None]) -> Path:
    """A copy of the demo rules with some files replaced (text) or removed (None)."""
    folder = tmp_path / "new-rules"
    folder.mkdir()
    for f in RULES.glob("*.yaml"):
        shutil.copy(f, folder / f.name)
    for name, content in replace.items():
        if content is None:
            (folder / name).unlink()
        else:
            (folder / name).write_text(content)
    return folder


def dry_run(rules: Path) -> dict[tuple[str, str], dict]:
    result = run("check", "--rules", str(rules), "--as-of", AS_OF, "--format", "json", "--dry-run")
    assert result.exit_code == 0, result.output
    return {(r["facility_id"], r["covenant_id"]): r for r in json.loads(result.stdout)}


def stored_rows(db: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
        counts = {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names}
    engine.dispose()
    return counts


def test_a_tightened_ltv_lists_exactly_the_pairs_two_dry_runs_differ_on(book, tmp_path):
    new = edited_rules(tmp_path, {"ltv.yaml": TIGHTENED.read_text()})
    before, after = dry_run(RULES), dry_run(new)
    expected = sorted(
        (key, before[key]["status"], after[key]["status"])
        for key in before.keys() | after.keys()
        if before[key]["status"] != after[key]["status"]
    )
    assert expected, "the tightened covenant moves some statuses"
    stored = stored_rows(book)

    result = run("rules", "plan", str(new), "--as-of", AS_OF, "--format", "json")

    assert result.exit_code == 3, result.output
    plan = json.loads(result.stdout)
    changes = plan["changes"]
    assert all(set(c) == CHANGE_KEYS for c in changes)
    assert changes == sorted(changes, key=lambda c: (c["facility_id"], c["covenant_id"]))
    assert [((c["facility_id"], c["covenant_id"]), c["from_status"], c["to_status"]) for c in changes] == expected
    for c in changes:
        key = (c["facility_id"], c["covenant_id"])
        assert c["value"] == after[key]["value"]
        assert (c["old_threshold"], c["new_threshold"]) == (before[key]["threshold"], after[key]["threshold"])
    assert plan["covenants"] == [{
        "covenant_id": "max-ltv", "change": "changed", "fields": ["must_be", "warn_at", "title"],
        "old": {"must_be": "<= 0.70", "warn_at": "<= 0.60", "steps": [], "overrides": {}},
        "new": {"must_be": "<= 0.60", "warn_at": "<= 0.50", "steps": [], "overrides": {}},
    }]
    into = sorted({k[0] for k, _, to in expected if to == "breach"})
    assert plan["into_breach"]["facilities"] == into
    assert stored_rows(book) == stored, "a plan stores nothing (no results, no alerts, no outbox)"
    assert not (tmp_path / "out").exists(), "and sends nothing"


def test_the_table_shows_thresholds_side_by_side_and_the_exposure(book, tmp_path):
    new = edited_rules(tmp_path, {"ltv.yaml": TIGHTENED.read_text()})
    result = run("rules", "plan", str(new), "--current", str(RULES), "--as-of", AS_OF)
    assert result.exit_code == 3, result.output
    assert "<= 0.70 → <= 0.60" in result.output
    assert "Moving into breach: 1 facility (GPUC-002), outstanding USD 52,500,000.00" in result.output


def test_the_same_rules_change_nothing_and_exit_0(book):
    result = run("rules", "plan", str(RULES), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["changes"] == [] and plan["covenants"] == []
    table = run("rules", "plan", str(RULES), "--as-of", AS_OF)
    assert table.exit_code == 0 and "No status would change" in table.output


def test_a_threshold_edit_that_moves_no_status_exits_0_and_lists_the_covenant(book, tmp_path):
    loosened = (RULES / "ltv.yaml").read_text().replace('must_be: "<= 0.80"', 'must_be: "<= 0.81"')
    new = edited_rules(tmp_path, {"ltv.yaml": loosened})
    result = run("rules", "plan", str(new), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["changes"] == []
    assert [(c["covenant_id"], c["fields"]) for c in plan["covenants"]] == [("crypto-ltv", ["must_be"])]


def test_an_added_or_removed_covenant_has_a_null_status_on_its_missing_side(book, tmp_path):
    new = edited_rules(tmp_path, {"reporting.yaml": None, "extra.yaml": (
        "covenants:\n  - id: min-cash\n    metric: cash\n    must_be: '>= 0'\n"
        "    applies_to: {facility_id: [GPUC-003]}\n")})
    before = dry_run(RULES)
    result = run("rules", "plan", str(new), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 3, result.output
    plan = json.loads(result.stdout)
    kinds = {c["covenant_id"]: c["change"] for c in plan["covenants"]}
    assert kinds == {"min-cash": "added", "reporting-deadline": "removed"}
    added = [c for c in plan["changes"] if c["covenant_id"] == "min-cash"]
    assert [(c["facility_id"], c["from_status"], c["old_threshold"], c["new_threshold"]) for c in added] == [
        ("GPUC-003", None, None, ">= 0")]
    assert added[0]["to_status"] in ("ok", "no_data")
    removed = [c for c in plan["changes"] if c["covenant_id"] == "reporting-deadline"]
    assert {c["facility_id"] for c in removed} == {k[0] for k in before if k[1] == "reporting-deadline"}
    assert all(c["to_status"] is None and c["new_threshold"] is None and c["from_status"] for c in removed)


def test_an_invalid_new_rule_set_exits_2_with_its_location(book, tmp_path):
    new = edited_rules(tmp_path, {"ltv.yaml": (RULES / "ltv.yaml").read_text().replace("metric: ltv", "metric: ltvv", 1)})
    result = run("rules", "plan", str(new), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"{new / 'ltv.yaml'}:5:13: metric: unknown variable 'ltvv'; did you mean 'ltv'?" in result.stderr


def test_an_empty_book_is_a_usage_error_not_an_all_clear(env):
    result = run("rules", "plan", str(RULES), "--current", str(RULES), "--as-of", AS_OF)
    assert result.exit_code == 2
    assert "No facility is stored" in result.output
