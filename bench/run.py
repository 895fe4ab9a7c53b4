"""`make bench`: import, check, floor, naive loop, memory and the daily job at several portfolio
sizes, side by side (the daily job: `check` with alerts on the first day and a steady day, bench/daily.py).

    python -m bench.run [--quick] [--sizes 10000,100000] [--no-postgres] [--naive-limit N] [--out FILE]

Every measured step runs in its own subprocess: its wall time is taken with time.perf_counter
around the process (start-up included) and its peak RSS from os.wait4's rusage of that process.
The naive loop runs on the first ``--naive-limit`` facilities only and is extrapolated linearly
to N (said so in the output). Results go to bench/results/<mode>-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.child import in_child, json_rows
from bench.daily import bench_daily
from bench.generate import AS_OF, write_portfolio
from bench.risk import TARGET_FIRE_SALE_OVER_STRESS, bench_risk

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
RESULTS = HERE / "results"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
TARGETS = {"check_over_floor": 3.0, "naive_over_check": 20.0, "rss_ratio": 2.0, "import_rows_per_s": 50_000,
           "fire_sale_over_stress": TARGET_FIRE_SALE_OVER_STRESS}
# the daily job (`check` with alerts, file outbox) against the dry run, in the same run
DAILY_TARGETS = {"first_day_over_dry_run": 3.0, "steady_day_over_dry_run": 2.0, "first_day_rss_over_dry_run": 2.0,
                 "steady_day_rss_over_dry_run": 2.0, "steady_growth_mib_per_100k": 100.0, "largest_email_kib": 1000.0,
                 # the service's own path (bench/service.py): the same targets, day after day in one process
                 "service_first_day_over_dry_run": 3.0, "service_steady_day_over_dry_run": 2.0,
                 "service_rss_over_dry_run": 2.0}


def measure(argv: list[str], env: dict, stdout=subprocess.DEVNULL) -> dict:
    """Run one step as a child process: seconds, peak RSS (MiB), captured stdout when asked."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    # cpu_s: user + system time of the process and of its workers (reaped children count in wait4's usage)
    return {"seconds": round(seconds, 3), "rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3)}


def _env(url: str, workdir: Path) -> dict:
    env = dict(os.environ)
    env.update({"COVBOT_DATABASE_URL": url, "COVBOT_ENV_FILE": "/dev/null", "SLACK_BOT_TOKEN": "",
                "SMTP_HOST": "", "COVBOT_OUTBOX_DIR": str(workdir / "outbox"), "PYTHONHASHSEED": "0"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    return env


def _covbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def _check(env: dict, out: Path) -> dict:
    with out.open("wb") as handle:
        result = measure(_covbot("check", "--dry-run", "--format", "json", "--rules", str(RULES),
                                 "--as-of", AS_OF.isoformat()), env, stdout=handle)
    result["results"] = in_child(json_rows, out)  # parsed elsewhere: the runner stays small (bench/child.py)
    return result



def postgres_unreachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=3) as c:
            c.execute("SELECT 1")
    except Exception as exc:  # any failure: skip, with the reason
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return None


def _fresh_pg_database(name: str) -> str:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _naive(n: int, out_file: Path, measured: dict) -> dict:
    inner = json.loads(out_file.read_text())
    per_facility = inner["seconds"] / max(inner["facilities"], 1)
    return {"measured_facilities": inner["facilities"], "measured_seconds": round(inner["seconds"], 3),
            "seconds": round(per_facility * n, 3), "extrapolated": inner["facilities"] < n,
            "rss_mib": measured["rss_mib"]}


def bench_size(n: int, workdir: Path, naive_limit: int, postgres: bool | str, max_size: int = 0) -> dict:
    data = workdir / f"portfolio-{n}"
    started = time.perf_counter()
    counts = in_child(write_portfolio, data, n)
    rows = sum(counts.values())
    out: dict = {"facilities": n, "csv_rows": rows, "generate_seconds": round(time.perf_counter() - started, 3)}
    db = workdir / f"bench-{n}.db"
    url = f"sqlite:///{db}"
    env = _env(url, workdir)
    log(f"[{n:,}] import {rows:,} rows")
    imp = measure(_covbot("import", str(data)), env)
    out["import"] = {**imp, "rows_per_s": round(rows / imp["seconds"])}
    log(f"[{n:,}] check")
    out["check"] = _check(env, workdir / f"check-{n}.json")
    if n == max_size:  # the target is about the largest book; once keeps the quick run quick
        log(f"[{n:,}] stress and fire-sale")
        out["risk"] = bench_risk(measure, _covbot, RULES, env, workdir, n)
    log(f"[{n:,}] floor")
    floor = measure([sys.executable, "-m", "bench.floor", str(db)], env, stdout=subprocess.PIPE)
    out["floor"] = floor
    limit = min(n, naive_limit)
    log(f"[{n:,}] naive loop on {limit:,} facilities")
    naive_out = workdir / f"naive-{n}.json"
    with naive_out.open("wb") as handle:
        naive = measure([sys.executable, "-m", "bench.naive", url, str(RULES), AS_OF.isoformat(),
                         "--limit", str(limit)], env, stdout=handle)
    out["naive"] = _naive(n, naive_out, naive)
    log(f"[{n:,}] naive loop with a shared market (the generous baseline) on {limit:,} facilities")
    shared_out = workdir / f"naive-shared-{n}.json"
    with shared_out.open("wb") as handle:
        shared = measure([sys.executable, "-m", "bench.naive", url, str(RULES), AS_OF.isoformat(),
                          "--limit", str(limit), "--shared-market"], env, stdout=handle)
    out["naive_shared_market"] = _naive(n, shared_out, shared)
    log(f"[{n:,}] the daily job: check with alerts, first day and a steady day")
    out["daily"] = bench_daily(env, db, workdir / "outbox", measure, _covbot)
    dry = out["daily"]["dry"] = min(out["check"], out["daily"]["dry_run"], key=lambda step: step["seconds"])
    out["daily"]["ratios"] = {
        "first_day_over_dry_run": round(out["daily"]["first_day"]["seconds"] / dry["seconds"], 2),
        "steady_day_over_dry_run": round(out["daily"]["steady_day"]["seconds"] / dry["seconds"], 2),
        "first_day_rss_over_dry_run": round(out["daily"]["first_day"]["rss_mib"] / dry["rss_mib"], 2),
        "steady_day_rss_over_dry_run": round(out["daily"]["steady_day"]["rss_mib"] / dry["rss_mib"], 2),
        "steady_growth_mib_per_100k": round(out["daily"]["steady_day"]["db_growth_mib"] * 100_000 / n, 1),
        "largest_email_kib": out["daily"]["largest_email_kib"],
        **service_ratios(out["daily"]["service"], dry),
    }
    if postgres is True:
        name = f"covbot_bench_{n}"
        pg_url = _fresh_pg_database(name)
        try:
            pg_env = _env(pg_url, workdir)
            log(f"[{n:,}] PostgreSQL import and check")
            pg_imp = measure(_covbot("import", str(data)), pg_env)
            out["postgres"] = {"import": {**pg_imp, "rows_per_s": round(rows / pg_imp["seconds"])},
                               "check": _check(pg_env, workdir / f"check-pg-{n}.json")}
        finally:
            _drop_pg_database(name)
    else:
        out["postgres"] = {"skipped": postgres or "not requested (--no-postgres)"}
    out["ratios"] = {
        "check_over_floor": round(out["check"]["seconds"] / floor["seconds"], 2),
        "naive_over_check": round(out["naive"]["seconds"] / out["check"]["seconds"], 2),
        "naive_shared_market_over_check": round(out["naive_shared_market"]["seconds"] / out["check"]["seconds"], 2),
    }
    return out


def service_ratios(service: dict, dry: dict) -> dict:
    """The service's first day and its slowest steady day (evaluation and delivery) over the dry run."""
    first, *steady = service["days"]
    return {"service_first_day_over_dry_run": round(first["seconds"] / dry["seconds"], 2),
            "service_steady_day_over_dry_run": round(max(d["seconds"] for d in steady) / dry["seconds"], 2),
            "service_rss_over_dry_run": round(service["rss_mib"] / dry["rss_mib"], 2)}


def summarise(report: dict) -> dict:
    sizes = report["sizes"]
    small, large = sizes[0], sizes[-1]
    verdict = {
        "check_over_floor": large["ratios"]["check_over_floor"],
        "naive_over_check": large["ratios"]["naive_over_check"],
        "rss_ratio": round(large["check"]["rss_mib"] / small["check"]["rss_mib"], 2),
        "import_rows_per_s": min(s["import"]["rows_per_s"] for s in sizes),
        "fire_sale_over_stress": large["risk"]["fire_sale_over_stress"],
    }
    met = {
        "check_over_floor": verdict["check_over_floor"] <= TARGETS["check_over_floor"],
        "naive_over_check": verdict["naive_over_check"] >= TARGETS["naive_over_check"],
        "rss_ratio": verdict["rss_ratio"] <= TARGETS["rss_ratio"],
        "import_rows_per_s": verdict["import_rows_per_s"] >= TARGETS["import_rows_per_s"],
        "fire_sale_over_stress": verdict["fire_sale_over_stress"] <= TARGETS["fire_sale_over_stress"],
    }
    daily = {key: max(s["daily"]["ratios"][key] for s in sizes) for key in DAILY_TARGETS}
    return {"at": large["facilities"], "rss_between": [small["facilities"], large["facilities"]],
            "values": verdict, "targets": TARGETS, "met": met,
            "daily": {"values": daily, "targets": DAILY_TARGETS,
                      "met": {key: daily[key] <= DAILY_TARGETS[key] for key in DAILY_TARGETS}}}


def render(report: dict) -> str:
    head = ("N", "import s", "rows/s", "check s", "floor s", "check÷floor", "naive s", "naive÷check",
            "check RSS MiB", "PG import s", "PG check s")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for s in report["sizes"]:
        pg = s["postgres"]
        naive = f"{s['naive']['seconds']:.1f}" + ("*" if s["naive"]["extrapolated"] else "")
        lines.append(" | ".join(str(v) for v in (
            f"{s['facilities']:,}", f"{s['import']['seconds']:.2f}", f"{s['import']['rows_per_s']:,}",
            f"{s['check']['seconds']:.2f}", f"{s['floor']['seconds']:.2f}", s["ratios"]["check_over_floor"],
            naive, s["ratios"]["naive_over_check"], s["check"]["rss_mib"],
            f"{pg['import']['seconds']:.2f}" if "import" in pg else "skipped",
            f"{pg['check']['seconds']:.2f}" if "check" in pg else "skipped",
        )))
    summary = report["summary"]
    lines.append("")
    lines.append("* naive loop measured on the first facilities and extrapolated linearly to N")
    for s in report["sizes"]:
        lines.append(f"naive loop with a shared market (generous baseline) at {s['facilities']:,}: "
                     f"{s['naive_shared_market']['seconds']:.1f} s, "
                     f"{s['ratios']['naive_shared_market_over_check']}× the check")
    for s in (s for s in report["sizes"] if "risk" in s):
        r = s["risk"]
        lines.append(f"stress vs fire-sale at {s['facilities']:,} (correlation-convergence): "
                     f"{r['stress']['seconds']:.2f} s vs {r['fire_sale']['seconds']:.2f} s "
                     f"({r['fire_sale']['rows']:,} facilities foreclosed), {r['fire_sale_over_stress']}× the stress")
    for key, value in summary["values"].items():
        target = TARGETS[key]
        sense = "≤" if key in ("check_over_floor", "rss_ratio", "fire_sale_over_stress") else "≥"
        lines.append(f"{key}: {value:,} (target {sense} {target:,}) {'met' if summary['met'][key] else 'NOT MET'}")
    lines += ["", "The daily job (`check` with alerts, file outbox) beside the dry run:", ""]
    head = ("N", "dry run s", "first day s", "steady day s", "first ÷ dry", "steady ÷ dry", "dry RSS MiB",
            "first RSS MiB", "steady RSS MiB", "DB growth first/steady MiB", "largest e-mail KiB")
    lines += [" | ".join(head), " | ".join("---" for _ in head)]
    for s in report["sizes"]:
        d, r = s["daily"], s["daily"]["ratios"]
        lines.append(" | ".join(str(v) for v in (
            f"{s['facilities']:,}", f"{d['dry']['seconds']:.2f}", f"{d['first_day']['seconds']:.2f}",
            f"{d['steady_day']['seconds']:.2f}", r["first_day_over_dry_run"], r["steady_day_over_dry_run"],
            d["dry"]["rss_mib"], d["first_day"]["rss_mib"], d["steady_day"]["rss_mib"],
            f"{d['first_day']['db_growth_mib']} / {d['steady_day']['db_growth_mib']}", d["largest_email_kib"])))
    lines += ["", "The service's path (`covbot run`: evaluate and deliver, day after day in one process):", ""]
    head = ("N", "first day s", "steady days s", "first ÷ dry", "steady ÷ dry (slowest)", "peak RSS MiB")
    lines += [" | ".join(head), " | ".join("---" for _ in head)]
    for s in report["sizes"]:
        v, r = s["daily"]["service"], s["daily"]["ratios"]
        lines.append(" | ".join(str(x) for x in (
            f"{s['facilities']:,}", f"{v['days'][0]['seconds']:.2f}",
            " / ".join(f"{d['seconds']:.2f}" for d in v["days"][1:]), r["service_first_day_over_dry_run"],
            r["service_steady_day_over_dry_run"], v["rss_mib"])))
    lines.append("")
    for key, value in summary["daily"]["values"].items():
        lines.append(f"{key} (worst size): {value:,} (target ≤ {DAILY_TARGETS[key]:,}) "
                     f"{'met' if summary['daily']['met'][key] else 'NOT MET'}")
    skipped = {s["postgres"].get("skipped") for s in report["sizes"]} - {None}
    if skipped:
        lines.append(f"PostgreSQL skipped: {'; '.join(sorted(skipped))}")
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Benchmark covbot import and check against the floor.")
    parser.add_argument("--quick", action="store_true", help="Small sizes (1,000 and 5,000): under 2 minutes.")
    parser.add_argument("--sizes", help="Comma-separated facility counts (default 10000,20000,100000).")
    parser.add_argument("--no-postgres", action="store_true", help="Skip the PostgreSQL runs.")
    parser.add_argument("--naive-limit", type=int, help="Facilities the naive loop evaluates (then extrapolated).")
    parser.add_argument("--out", help="Write the JSON here (default bench/results/<mode>-<time>.json).")
    parser.add_argument("--workdir", help="Keep generated data and databases here (default: a temp dir, removed).")
    parser.add_argument("--backtest-facilities", type=int,
                        help="Facilities of the two-year weekly back-test (default 1000; 100 with --quick; 0 skips it).")
    args = parser.parse_args(argv)
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else ([1000, 5000] if args.quick else [10_000, 20_000, 100_000]))
    naive_limit = args.naive_limit or (300 if args.quick else 2000)
    postgres: bool | str = False if args.no_postgres else (postgres_unreachable() or True)
    if postgres is not True and not args.no_postgres:
        postgres = f"PostgreSQL at 127.0.0.1:5432 is unreachable: {postgres}"
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="covbot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report = {
            "mode": "quick" if args.quick else "full",
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0], "cpus": os.cpu_count(), "as_of": AS_OF.isoformat(),
            "covenants": 10, "naive_limit": naive_limit,
            "sizes": [bench_size(n, workdir, naive_limit, postgres, max(sizes)) for n in sorted(sizes)],
        }
        backtest_n = args.backtest_facilities if args.backtest_facilities is not None else (100 if args.quick else 1000)
        if backtest_n:
            from bench.backtest import bench_backtest

            log(f"[back-test] {backtest_n:,} facilities over two years of weekly dates")
            report["backtest"] = bench_backtest(workdir, backtest_n)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["summary"] = summarise(report)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(args.out) if args.out else RESULTS / f"{report['mode']}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    if "backtest" in report:
        b = report["backtest"]
        print(f"back-test: {b['facilities']:,} facilities × {b['dates']} weekly dates = {b['evaluations']:,} "
              f"covenant evaluations in {b['seconds']:.1f} s ({b['evaluations_per_s']:,}/s), RSS {b['rss_mib']} MiB")
    print(f"\nwritten to {path}")
    return report


if __name__ == "__main__":
    main()
