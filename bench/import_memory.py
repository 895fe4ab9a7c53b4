"""Peak memory and speed of `covbot import` on one large financials.csv (issue 13, item 12).

    python -m bench.import_memory [--rows 1000000] [--workdir DIR]

Writes facilities.csv (one facility per 25 quarters) and financials.csv with ``--rows`` rows, runs
`covbot import` on a fresh SQLite file in a child process, and reports its peak RSS (the target:
at most 500 MB at a million rows) and rows per second. Measured here, never in a timed test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MIB = 500
QUARTERS_PER_FACILITY = 25


def write_files(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    facilities = (rows + QUARTERS_PER_FACILITY - 1) // QUARTERS_PER_FACILITY
    with (folder / "facilities.csv").open("w") as out:
        out.write("facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,"
                  "maturity_date,owner_email,slack_channel\n")
        for f in range(facilities):
            out.write(f"F-{f:07d},Borrower {f},gpu_abl,USD,150000000.00,120000000.00,2020-01-01,2030-01-01,,\n")
    ends = []
    day = dt.date(2020, 3, 31)
    for _ in range(QUARTERS_PER_FACILITY):
        ends.append(day.isoformat())
        month = day.month + 3
        year = day.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        nxt = dt.date(year, month % 12 + 1, 1) if month != 12 else dt.date(year + 1, 1, 1)
        day = nxt - dt.timedelta(days=1)
    with (folder / "financials.csv").open("w") as out:
        out.write("facility_id,period_end,revenue,opex,capex,taxes,interest,principal,cash,reported_on\n")
        for i in range(rows):
            f, q = divmod(i, QUARTERS_PER_FACILITY)
            out.write(f"F-{f:07d},{ends[q]},9000000.{i % 100:02d},3000000.00,500000.00,250000.00,"
                      f"2000000.00,1500000.00,12000000.00,\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="covbot-import-bench-"))
    write_files(work / "data", args.rows)
    env = {**os.environ, "COVBOT_DATABASE_URL": f"sqlite:///{work / 'bench.db'}", "COVBOT_ENV_FILE": os.devnull}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bot", "import", str(work / "data")], env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return 1
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    verdict = "ok" if peak_mib <= TARGET_MIB * args.rows / 1_000_000 or peak_mib <= TARGET_MIB else "OVER"
    print(f"import of {args.rows:,} financials rows: {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s, "
          f"peak RSS {peak_mib:,.0f} MiB (target ≤ {TARGET_MIB} MiB at 1,000,000 rows: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
