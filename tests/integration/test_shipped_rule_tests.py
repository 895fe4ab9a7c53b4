"""Every rule test shipped in rules/tests/ passes against the shipped rules (as `covbot rules test` runs them)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "rules" / "tests").glob("*.yaml"))


def test_rule_tests_are_shipped():
    assert {p.name for p in SHIPPED} >= {"demo_test.yaml", "edge_cases_test.yaml", "liquidation_test.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_shipped_rule_test_file_passes(path: Path, monkeypatch):
    monkeypatch.setenv("COVBOT_ENV_FILE", "/dev/null")
    result = CliRunner().invoke(app, ["rules", "test", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 mismatch(es), 0 file(s) could not run" in result.output
    assert "PASS" in result.output
