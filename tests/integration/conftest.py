"""Database fixtures: every storage test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL tests get a fresh, uniquely named schema (the engine's ``search_path`` points at it),
dropped afterwards, so tests can run in parallel (pytest-xdist). When the server is down those
tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.store.db import make_engine, open_database
from bot.store.tables import ALL_TABLES

PG_URL = os.environ.get("COVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_where() -> str:
    """host:port/database of the test server, for skip reasons (never a password)."""
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    return f"{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database or ''}"


def _psycopg_conninfo() -> str:
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
             "dbname": u.database or "postgres"}
    if u.password:
        parts["password"] = u.password
    return " ".join(f"{k}={v}" for k, v in parts.items())


@lru_cache(maxsize=1)
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(_psycopg_conninfo(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means: skip, with the reason
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_conninfo(), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@dataclass
class Database:
    """One empty database for one test: SQLite file or PostgreSQL schema."""

    backend: str
    url: str
    connect_args: dict = field(default_factory=dict)
    engines: list[Engine] = field(default_factory=list)

    def blank_engine(self) -> Engine:
        """An engine on the database without creating any table."""
        engine = make_engine(self.url, connect_args=self.connect_args)
        self.engines.append(engine)
        return engine

    def open(self) -> Engine:
        """``open_database``: the schema created or upgraded."""
        engine = open_database(self.url, connect_args=self.connect_args)
        self.engines.append(engine)
        return engine

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path: Path):
    if request.param == "sqlite":
        db = Database("sqlite", f"sqlite:///{tmp_path / 'covbot-test.db'}")
        yield db
        db.dispose()
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(f"PostgreSQL at {pg_where()} is unreachable: {reason}")
    schema = f"covbot_test_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    db = Database("postgresql", PG_URL, {"options": f"-csearch_path={schema}"})
    try:
        yield db
    finally:
        db.dispose()
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def engine(database: Database) -> Engine:
    return database.open()


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every covbot table exactly as the driver returns it (raw text for decimals)."""
    out = {}
    with engine.connect() as conn:
        for name, table in ALL_TABLES.items():
            key = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            rows = conn.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY {key}').fetchall()
            out[name] = [tuple(r) for r in rows]
    return out


# --- a small portfolio in the CSV interchange contract ----------------------------------------

PORTFOLIO = {
    "facilities.csv": (
        "facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
        "maturity_date,owner_email,slack_channel\n"
        "GPUC-001,Lambda-ish Cloud LLC,gpu_abl,USD,150000000.00,120000000.00,2024-03-01,2029-03-01,"
        "ana@lender.example,#gpu-credit\n"
        'MINR-002,"Hashers, Inc.",miner_convertible,USD,60000000,45000000.50,2023-09-15,2028-09-15,,\n'
        "DC-003,Northern AI Campus,project_finance,EUR,250000000.00,200000000.00,2025-01-10,2035-01-10,,#dc\n"
    ),
    "balances.csv": (
        "facility_id,as_of,outstanding\n"
        "GPUC-001,2025-06-30,115000000.00\n"
        "GPUC-001,2025-12-31,110000000.00\n"
    ),
    "financials.csv": (
        "facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n"
        "GPUC-001,2025-03-31,9000000.00,3000000.00,500000.00,250000.00,2000000.00,1500000.00,12000000.00,2025-05-10\n"
        "GPUC-001,2025-06-30,8600000.00,3000000.00,500000.00,250000.00,2000000.00,1500000.00,11000000.00,2025-08-12\n"
        "GPUC-001,2025-09-30,8100000.00,3100000.00,-150000.00,200000.00,1950000.00,1500000.00,10000000.00,\n"
        "MINR-002,2025-09-30,4000000.00,2500000.00,0,100000.00,900000.00,500000.00,-35000.00,2025-11-14\n"
    ),
    "gpu_lots.csv": (
        "facility_id,lot_id,gpu_model,quantity,acquired_on,unit_cost\n"
        "GPUC-001,LOT-A,H100,2048,2024-03-15,27500.00\n"
        "GPUC-001,LOT-B,B200,512,2025-02-01,41000.00\n"
        "MINR-002,LOT-1,H100,256,2024-06-01,26000.00\n"
    ),
    "crypto.csv": (
        "facility_id,asset,as_of,quantity\n"
        "MINR-002,BTC,2025-09-30,850.5\n"
        "MINR-002,BTC,2025-12-31,0\n"
        "MINR-002,ETH,2025-12-31,1200.25\n"
    ),
    "prices.csv": (
        "symbol,date,price\n"
        "BTC,2025-12-30,94000.50\n"
        "BTC,2025-12-31,93500.00\n"
        "ETH,2025-12-31,3350.10\n"
        "GPU:H100,2025-12-01,18500\n"
        "RENT:H100,2025-12-01,2.35\n"
    ),
}
PORTFOLIO_ROWS = {"facilities.csv": 3, "balances.csv": 2, "financials.csv": 4, "gpu_lots.csv": 3,
                  "crypto.csv": 3, "prices.csv": 5}


def write_portfolio(folder: Path, files: dict[str, str] | None = None, **overrides: str | None) -> Path:
    """Write the portfolio (or ``files``) into ``folder``; overrides replace or (None) drop files."""
    folder.mkdir(parents=True, exist_ok=True)
    content = dict(PORTFOLIO if files is None else files)
    for name, value in overrides.items():
        file_name = name if name.endswith(".csv") else f"{name}.csv"
        if value is None:
            content.pop(file_name, None)
        else:
            content[file_name] = value
    for name, value in content.items():
        (folder / name).write_bytes(value.encode("utf-8") if isinstance(value, str) else value)
    return folder


@pytest.fixture
def portfolio_dir(tmp_path: Path) -> Path:
    return write_portfolio(tmp_path / "portfolio")


# Helpers as fixtures (test modules must not import conftest: other folders have one too).

@pytest.fixture
def table_snapshot():
    """``table_snapshot(engine)``: every row of every covbot table, raw."""
    return snapshot


@pytest.fixture
def csv_folder(tmp_path: Path):
    """``csv_folder(name, files=None, **overrides)``: a folder of CSV files under tmp_path."""
    def make(name: str, files: dict[str, str] | None = None, **overrides: str | None) -> Path:
        return write_portfolio(tmp_path / name, files, **overrides)
    return make


@pytest.fixture
def portfolio() -> dict[str, str]:
    return dict(PORTFOLIO)


@pytest.fixture
def portfolio_rows() -> dict[str, int]:
    return dict(PORTFOLIO_ROWS)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The demo portfolio imported once per test module into its own SQLite file (read-only use)."""
    from typer.testing import CliRunner

    from bot.cli import app

    folder = tmp_path_factory.mktemp("demo")
    demo = Path(__file__).resolve().parents[2] / "bot" / "demo" / "portfolio"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVBOT_DATABASE_URL", f"sqlite:///{folder / 'covbot.db'}")
        mp.setenv("COVBOT_ENV_FILE", "/dev/null")
        result = CliRunner().invoke(app, ["import", str(demo)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        yield folder


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """An isolated covbot for CLI tests: its own SQLite file and outbox folder under tmp_path, no
    `.env`, no Slack token and no mail server (messages go to files)."""
    monkeypatch.setenv("COVBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'covbot.db'}")
    monkeypatch.setenv("COVBOT_ENV_FILE", "/dev/null")
    monkeypatch.setenv("COVBOT_OUTBOX_DIR", str(tmp_path / "out"))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    return tmp_path
