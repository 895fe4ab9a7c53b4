"""The daily job as the service runs it: `covbot check` with alerts, beside the dry run.

On an imported book (SQLite), in one run so the ratios compare like with like on a shared machine:

1. ``check --dry-run --format json``  (what `make bench` always measured)
2. ``check --format json`` at the test date: the first day, every alert opens (file outbox: no Slack
   token, no SMTP)
3. ``check --format json`` the next day: a steady day, little changes
4. the service's path (``bench/service.py``): ``Service.evaluate`` and the dispatch job in one
   long-lived process with other threads (its workers come from the fork server), on a copy of
   the book as imported, for a first day and two steady days

Each step runs in its own subprocess (wall time with start-up, peak RSS from ``wait4``), and the
database file (with its WAL) is measured before and after each day. The largest e-mail written to
the file outbox is reported too (the cap is 1 MB).

    python -m bench.daily DB_URL DB_FILE WORKDIR     prints the measurements as JSON
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from bench.generate import AS_OF

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"


def db_bytes(db_file: Path) -> int:
    """The database's size on disk once its write-ahead log is checkpointed into it (the WAL file
    is scratch space reused by every transaction, not growth)."""
    import sqlite3
    from contextlib import closing

    # closed here, not left to the garbage collector: a connection left open in this process would
    # keep the WAL file that the check's last connection deletes, and read a stale one afterwards
    with closing(sqlite3.connect(db_file)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in (db_file, Path(f"{db_file}-wal")) if p.exists())


def largest_email(outbox: Path) -> int:
    """Size in bytes of the largest e-mail file in the file outbox (0 when none)."""
    folder = outbox / "email"
    sizes = [p.stat().st_size for p in folder.rglob("*.eml")] if folder.exists() else []
    return max(sizes, default=0)


def bench_daily(env: dict, db_file: Path, outbox: Path, measure, covbot) -> dict:
    """The first and a steady day of `check` with alerts on a freshly imported book, and the dry run
    again just before them (the faster of the two dry runs is the one the ratios use: on a shared
    machine one slow run would flatter the ratios)."""
    out: dict = {"dry_run": measure(covbot("check", "--dry-run", "--format", "json", "--rules", str(RULES),
                                           "--as-of", AS_OF.isoformat()), env)}
    db_bytes(db_file)  # checkpointed: the file alone is the book
    service_db = db_file.with_name(f"{db_file.stem}-service.db")
    shutil.copyfile(db_file, service_db)
    days = (("first_day", AS_OF), ("steady_day", AS_OF + timedelta(days=1)))
    for name, day in days:
        before = db_bytes(db_file)
        step = measure(covbot("check", "--format", "json", "--rules", str(RULES), "--as-of", day.isoformat()), env)
        step["db_growth_mib"] = round((db_bytes(db_file) - before) / 2**20, 1)
        out[name] = step
    out["largest_email_kib"] = round(largest_email(outbox) / 1024, 1)
    out["db_mib"] = round(db_bytes(db_file) / 2**20, 1)
    try:
        out["service"] = service(env, service_db, measure)
    finally:
        for path in (service_db, Path(f"{service_db}-wal"), Path(f"{service_db}-shm")):
            path.unlink(missing_ok=True)
    return out


def service(env: dict, db_file: Path, measure, days: int = 3) -> dict:
    """The service's evaluations (bench/service.py) over ``days`` days from the first, in one process."""
    url = f"sqlite:///{db_file}"
    with tempfile.TemporaryFile() as captured:
        step = measure([sys.executable, "-m", "bench.service", url, str(RULES), AS_OF.isoformat(), str(days)],
                       {**env, "COVBOT_DATABASE_URL": url}, stdout=captured)
        captured.seek(0)
        inner = json.loads(captured.read())
    return {"process": step, "rss_mib": inner["rss_mib"], "days": inner["days"]}


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a thin wrapper for manual runs
    from bench.run import _covbot, _env, measure

    url, db_file, workdir = (argv or sys.argv[1:])[:3]
    env = _env(url, Path(workdir))
    print(json.dumps(bench_daily(env, Path(db_file), Path(workdir) / "outbox", measure, _covbot), indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
