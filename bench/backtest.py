"""The back-test benchmark (issue 6): N facilities over two years of weekly test dates.

    python -m bench.backtest [--facilities 1000] [--workdir DIR]   prints a JSON object

Generates the synthetic portfolio of ``bench.generate``, imports it into SQLite, then times
`covbot backtest --from AS_OF−2y --to AS_OF --every 1w --format json` (every date point in time,
nothing stored or sent) in its own process, with its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import timedelta
from pathlib import Path

from bench.generate import AS_OF, write_portfolio

RULES = Path(__file__).resolve().parent / "rules"
START = AS_OF - timedelta(days=728)  # two years of weekly dates: 105 of them


def bench_backtest(workdir: Path, n: int = 1000) -> dict:
    from bench.run import _covbot, _env, measure

    data = workdir / f"backtest-portfolio-{n}"
    write_portfolio(data, n)
    url = f"sqlite:///{workdir / f'backtest-{n}.db'}"
    env = _env(url, workdir)
    measure(_covbot("import", str(data)), env)
    out = workdir / f"backtest-{n}.json"
    timed = measure(_covbot("backtest", "--rules", str(RULES), "--from", START.isoformat(), "--to",
                            AS_OF.isoformat(), "--every", "1w", "--format", "json", "--output", str(out)), env)
    report = json.loads(out.read_text())
    dates = len(report["dates"])
    pairs = len(report["results"])
    return {"facilities": n, "dates": dates, "facility_covenant_pairs": pairs,
            "evaluations": pairs * dates, "seconds": timed["seconds"], "rss_mib": timed["rss_mib"],
            "evaluations_per_s": round(pairs * dates / timed["seconds"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time a two-year weekly back-test of a synthetic book.")
    parser.add_argument("--facilities", type=int, default=1000, help="Portfolio size (default 1000).")
    parser.add_argument("--workdir", help="Where to write the portfolio and database (default: a temp dir).")
    args = parser.parse_args(argv)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        print(json.dumps(bench_backtest(Path(args.workdir), args.facilities)))
    else:
        with tempfile.TemporaryDirectory(prefix="covbot-bench-") as tmp:
            print(json.dumps(bench_backtest(Path(tmp), args.facilities)))


if __name__ == "__main__":
    main()
