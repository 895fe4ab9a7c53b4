"""`covbot import / check / explain / rules` end to end through the CLI (CliRunner)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "demo" / "portfolio"
RULES = ROOT / "rules"
AS_OF = "2026-11-20"


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture()
def demo(env):
    result = run("import", str(DEMO))
    assert result.exit_code == 0, result.output
    return env


def test_import_prints_added_then_unchanged_on_reimport(env):
    first = run("import", str(DEMO))
    assert first.exit_code == 0, first.output
    assert "facilities.csv" in first.output and "17" in first.output
    second = run("import", str(DEMO))
    assert second.exit_code == 0
    assert "0 added, 0 updated" in second.output


def test_check_json_is_the_documented_array_sorted(demo):
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows, "the demo has results"
    keys = {"facility_id", "covenant_id", "metric", "value", "threshold", "status", "headroom", "reason",
            "months_to_breach"}
    assert all(set(r) == keys for r in rows)
    assert rows == sorted(rows, key=lambda r: (r["facility_id"], r["covenant_id"]))
    statuses = {r["status"] for r in rows}
    assert statuses == {"ok", "warning", "breach", "no_data"}
    for r in rows:
        if r["status"] == "no_data":
            assert r["value"] is None and r["headroom"] is None and r["reason"]
        else:
            assert isinstance(r["value"], str)
        assert r["threshold"].split()[0] in (">=", ">", "<=", "<")


def test_check_table_shows_statuses_and_summary(demo):
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--dry-run")
    assert result.exit_code == 0
    assert "BREACH" in result.output and "WARNING" in result.output and "NO DATA" in result.output
    assert "14 breach" in result.output


def test_filters_by_facility_and_covenant(demo):
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run",
                 "--facility", "GPUC-003", "--covenant", "min-dscr")
    rows = json.loads(result.output)
    assert [(r["facility_id"], r["covenant_id"], r["status"]) for r in rows] == [("GPUC-003", "min-dscr", "breach")]


def test_unknown_facility_or_covenant_is_a_usage_error(demo):
    assert run("check", "--rules", str(RULES), "--as-of", AS_OF, "--facility", "NOPE-1").exit_code == 2
    assert run("check", "--rules", str(RULES), "--as-of", AS_OF, "--covenant", "nope").exit_code == 2
    for option in (["--facility", "NOPE-1"], ["--covenant", "nope"]):
        refused = run("check", "--rules", str(RULES), "--as-of", AS_OF, "--format", "json", "--dry-run", *option)
        assert refused.exit_code == 2 and refused.stdout.strip() == "", "no JSON that a script could take as a result"


def test_fail_on_exit_codes(demo):
    base = ["check", "--rules", str(RULES), "--as-of", AS_OF, "--dry-run", "--format", "json"]
    assert run(*base, "--fail-on", "breach").exit_code == 3
    only_ok = base + ["--facility", "AIDC-001", "--covenant", "reporting-deadline"]
    assert run(*only_ok, "--fail-on", "warning").exit_code == 0
    only_warning = base + ["--facility", "AIDC-002", "--covenant", "min-dscr"]
    assert run(*only_warning, "--fail-on", "breach").exit_code == 0
    assert run(*only_warning, "--fail-on", "warning").exit_code == 3


def test_bad_as_of_is_a_usage_error(demo):
    result = run("check", "--rules", str(RULES), "--as-of", "20-11-2026")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_dry_run_stores_nothing_and_check_stores_results(demo):
    from sqlalchemy import text

    from bot.store.db import make_engine

    engine = make_engine(f"sqlite:///{demo / 'covbot.db'}")
    run("check", "--rules", str(RULES), "--as-of", AS_OF, "--dry-run", "--format", "json")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from evaluation_results")).scalar() == 0
    run("check", "--rules", str(RULES), "--as-of", AS_OF, "--no-notify", "--format", "json")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from evaluation_results")).scalar() == 74  # 68 + max-liquidation-ltv × 6 gpu_abl
    engine.dispose()


def test_bad_rule_file_exits_2_with_location_and_leaves_results_alone(demo, tmp_path):
    bad = tmp_path / "bad-rules"
    shutil.copytree(RULES, bad, ignore=shutil.ignore_patterns("tests"))
    (bad / "dscr.yaml").write_text((bad / "dscr.yaml").read_text().replace('">= 1.25"', '"=> 1.25"', 1))
    result = run("check", "--rules", str(bad), "--as-of", AS_OF)
    assert result.exit_code == 2
    assert "dscr.yaml:" in result.output and "=> 1.25" in result.output
    assert run("rules", "validate", str(bad)).exit_code == 2
    assert run("rules", "validate", str(RULES)).exit_code == 0


def test_explain_shows_quarters_marks_and_prices(demo):
    result = run("explain", "GPUC-003", "--rules", str(RULES), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    for expected in ("Financial periods", "Test period", "in the test period", "GPU lots", "dscr_ttm", "min-dscr"):
        assert expected in result.output
    assert run("explain", "NOPE-1", "--rules", str(RULES), "--as-of", AS_OF).exit_code == 2


def test_explain_names_a_stale_mark_and_book_value(demo):
    result = run("explain", "GPUC-001", "--rules", str(RULES), "--as-of", AS_OF)
    assert result.exit_code == 0
    assert "book value" in result.output


def test_shipped_rule_tests_pass_and_a_wrong_expectation_fails(env, tmp_path):
    tests = sorted(str(p) for p in (RULES / "tests").glob("*.yaml"))
    ok = run("rules", "test", *tests)
    assert ok.exit_code == 0, ok.output
    assert "PASS" in ok.output
    wrong = tmp_path / "wrong_test.yaml"
    wrong.write_text(
        f"rules: {RULES}\ndata: {DEMO}\ntests:\n  - as_of: {AS_OF}\n    expect:\n"
        "      - {facility: GPUC-003, covenant: min-dscr, status: ok}\n"
    )
    failed = run("rules", "test", str(wrong))
    assert failed.exit_code == 1
    assert "expected status ok" in failed.output and "got      breach" in failed.output
    assert "wrong_test.yaml:6:9" in failed.output


def _commands(typer_app, prefix=()):
    import typer.main

    group = typer.main.get_command(typer_app)
    stack = [(prefix, group)]
    while stack:
        path, cmd = stack.pop()
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append((path + (name,), sub))


def test_every_command_and_option_has_help_text():
    missing = []
    for path, cmd in _commands(app):
        if path and not (cmd.help or cmd.short_help):
            missing.append(" ".join(path))
        for param in cmd.params:
            if getattr(param, "param_type_name", "") == "option" and not param.help and param.name != "help":
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert not missing, f"commands/options without help: {missing}"


def test_check_notifies_into_the_outbox_folder_with_the_forward_note(demo):
    result = run("check", "--rules", str(RULES), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = demo / "out"
    assert "out" in result.output  # says where the messages went
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file()]
    assert texts, "rendered alerts are written to COVBOT_OUTBOX_DIR without a Slack token or SMTP host"
    joined = "\n".join(texts)
    assert "GPUC-006" in joined
    assert re.search(r"breach in ~3 months at -\d+\.\d %/yr rental deflation", joined), "forward note on the DSCR warning"
    assert "of 4 quarters counted" in joined and "dated 2026-11-01" in joined, "the explain inputs in short"


def test_outbox_show_prints_a_sent_alert_readably(demo):
    assert run("check", "--rules", str(RULES), "--as-of", AS_OF).exit_code == 0
    slack = run("outbox", "show", "--facility", "GPUC-006", "--transport", "slack")
    assert slack.exit_code == 0, slack.output
    assert "GPUC-006" in slack.output and "Early warning" in slack.output and "covbot waive" in slack.output
    email = run("outbox", "show", "--facility", "GPUC-002", "--transport", "email")
    assert email.exit_code == 0
    assert "Vega & <Sons> Compute LLC" in email.output  # the text part, shown as written
    assert run("outbox", "show", "--facility", "NOPE-1").exit_code == 2
    assert run("outbox", "show", "--transport", "fax").exit_code == 2


def test_a_bad_setting_is_one_sentence_naming_it_not_a_traceback(env, monkeypatch):
    monkeypatch.setenv("SMTP_SECURITY", "bogus")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("COVBOT_DISPATCH_MAX_ATTEMPTS", "0")
    result = run("waivers")
    assert result.exit_code == 2
    assert "SMTP_SECURITY='bogus'" in result.output and "COVBOT_DISPATCH_MAX_ATTEMPTS" in result.output
    assert "Traceback" not in result.output and "hunter2" not in result.output
