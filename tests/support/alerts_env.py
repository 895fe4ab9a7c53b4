"""A tiny loan book for alert tests: CSV files, a rule file, the environment, and the CLI.

The covenant under test watches ``outstanding`` (set per test date in balances.csv), so a test
chooses each date's status directly: <= 80 ok, 81-100 warning, > 100 breach.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from typer.testing import CliRunner

FACILITY_HEADER = ("facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
                   "maturity_date,owner_email,slack_channel\n")
STATUS_AMOUNT = {"ok": 70, "warning": 90, "breach": 120}

RULE = """\
covenants:
  - id: max-draw
    title: Drawn amount at most 100
    metric: outstanding
    must_be: "<= 100"
    warn_at: "<= 80"
    severity: {severity}
{notify}{alert}
"""


def rule_text(*, slack: str = '"#credit-alerts"', severity: str = "high", **alert: object) -> str:
    options = {"remind_every": "never", **alert}
    lines = "\n".join(f"    {k}: {v}" for k, v in options.items())
    notify = f"    notify: {{slack: [{slack}]}}\n" if slack else ""
    return RULE.format(notify=notify, severity=severity, alert=lines)


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


@dataclass
class Book:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> Path:
        return self.root / "rules.yaml"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "out"

    def write_rules(self, text: str) -> None:
        self.rules.write_text(text, encoding="utf-8")

    def write_facilities(self, facilities: list[tuple[str, str, str, str]]) -> None:
        """(facility_id, borrower, owner_email, slack_channel) rows, all drawn at 70."""
        folder = self.root / "facilities"
        folder.mkdir(exist_ok=True)
        rows = "".join(
            f"{fid},{_csv_field(borrower)},gpu_abl,USD,200,70,2025-01-01,2030-01-01,{email},{channel}\n"
            for fid, borrower, email, channel in facilities)
        (folder / "facilities.csv").write_text(FACILITY_HEADER + rows, encoding="utf-8")
        self.ok(self.cli("import", str(folder)))

    def set_status(self, day: dt.date, status: str, facility_ids: list[str] | None = None) -> None:
        """From ``day`` on, each facility's ``max-draw`` has ``status``."""
        folder = self.root / f"balances-{day.isoformat()}"
        folder.mkdir(exist_ok=True)
        ids = facility_ids or ["FAC-1"]
        rows = "".join(f"{fid},{day.isoformat()},{STATUS_AMOUNT[status]}\n" for fid in ids)
        (folder / "balances.csv").write_text("facility_id,as_of,outstanding\n" + rows, encoding="utf-8")
        self.ok(self.cli("import", str(folder)))

    @contextmanager
    def environment(self) -> Iterator[None]:
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def cli(self, *args: str):
        from bot.cli import app

        with self.environment():
            return CliRunner().invoke(app, list(args), catch_exceptions=False)

    def check(self, day: dt.date, *extra: str):
        return self.ok(self.cli("check", "--rules", str(self.rules), "--as-of", day.isoformat(), *extra))

    @staticmethod
    def ok(result):
        assert result.exit_code == 0, result.output
        return result

    def engine(self):
        from bot.store.db import open_database

        return open_database(self.env["COVBOT_DATABASE_URL"])


def make_book(root: Path, **env: str) -> Book:
    root.mkdir(parents=True, exist_ok=True)
    base = {
        "COVBOT_DATABASE_URL": f"sqlite:///{root / 'covbot.db'}",
        "COVBOT_ENV_FILE": "/dev/null",
        "COVBOT_OUTBOX_DIR": str(root / "out"),
        "COVBOT_RULES": str(root / "rules.yaml"),
        "SLACK_BOT_TOKEN": "",
        "SMTP_HOST": "",
        "COVBOT_DEFAULT_SLACK_CHANNEL": "",
        "COVBOT_DEFAULT_EMAIL": "",
        "COVBOT_DISPATCH_BUDGET_SECONDS": "10",
        "COVBOT_DISPATCH_BACKOFF_SECONDS": "0.05",
        "COVBOT_DISPATCH_BACKOFF_MAX_SECONDS": "0.2",
        "COVBOT_SLACK_MIN_INTERVAL_SECONDS": "0",
        "COLUMNS": "200",
    }
    base.update(env)
    return Book(root, base)
