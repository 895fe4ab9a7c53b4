"""The daily job as `covbot run` does it: the service's own evaluation, day after day, in one process.

`covbot check` runs in a process of its own each day; the service evaluates in a long-lived
process that has other threads (its scheduler, the Slack listener, the HTTP endpoints), so its
workers cannot be forked from it (``bot.usecases.check_pool._context``). This measures that path:
``Service.evaluate`` (the scheduler's evaluate job) for ``DAYS`` consecutive test dates, the first
day first, with a thread running beside it as in the service, then the service's dispatch job
delivering what each evaluation queued (to the file outbox: no Slack token, no SMTP).

    python -m bench.service DB_URL RULES FIRST_DAY DAYS   prints the measurements as JSON

Each day's wall time (evaluate, then dispatch) and the peak RSS of the largest process (this one,
the fork server or a worker: sampled from /proc every 20 ms, since the fork server's workers are
not this process's children and ``wait4`` never sees them) are reported; the database is the
caller's (imported beforehand).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from datetime import date, timedelta


class PeakRss:
    """The largest resident set of this process and of every process under it, sampled."""

    def __init__(self, every: float = 0.02):
        self.every, self.peak_kib = every, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rss-sampler", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)

    @property
    def mib(self) -> float:
        return round(self.peak_kib / 1024, 1)

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.every):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        fields = stat.read().rsplit(b")", 1)[1].split()
                except OSError:  # gone meanwhile
                    continue
                pid = int(entry.name)
                parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE_KIB
            for pid, kib in rss.items():
                if kib > self.peak_kib and _descends(pid, me, parents):
                    self.peak_kib = kib


PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _descends(pid: int, ancestor: int, parents: dict[int, int]) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = parents.get(pid, 0)
    return False


def service_days(rules: str, first: date, days: int) -> dict:
    from bot.bootstrap import app
    from bot.daemon.scheduler import Service

    out: dict = {"days": []}
    stop = threading.Event()
    beside = threading.Thread(target=stop.wait, name="as-in-the-service", daemon=True)
    beside.start()  # the service always has other threads: its workers are not forked from it
    try:
        with PeakRss() as peak, app() as built:
            service = Service(built, rules)
            service.watcher.load_at_start(built.clock())
            for n in range(days):
                as_of = first + timedelta(days=n)
                started = time.perf_counter()
                service.evaluate(as_of)
                evaluated = time.perf_counter()
                report = built.dispatch(None)  # the dispatch job: everything queued, delivered
                done = time.perf_counter()
                out["days"].append({"as_of": as_of.isoformat(), "evaluate_seconds": round(evaluated - started, 3),
                                    "dispatch_seconds": round(done - evaluated, 3),
                                    "seconds": round(done - started, 3), "written": report.written})
    finally:
        stop.set()
    out["rss_mib"] = peak.mib
    return out


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - run by bench.run in a child process
    url, rules, first, days = (argv or sys.argv[1:])[:4]
    os.environ["COVBOT_DATABASE_URL"] = url
    print(json.dumps(service_days(rules, date.fromisoformat(first), int(days))))


if __name__ == "__main__":
    main()
