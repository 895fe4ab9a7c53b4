"""Recording job runs for `covbot status`: last start and finish, last error, next run.

A job's error is logged with its traceback and recorded; it never reaches the scheduler, so one
failing job never stops the others (nor the next run of itself).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import Engine

from bot.errors import CovbotError
from bot.daemon.tables import JobRow
from bot.store.db import write_scope

log = logging.getLogger("covbot.jobs")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


def record_job(engine: Engine, job: str, instance: str, *, started: datetime | None = None,
               finished: datetime | None = None, error: str | None = None,
               next_run: datetime | None = None) -> None:
    with write_scope(engine) as session:
        row = session.get(JobRow, job) or JobRow(job=job)
        row.instance = instance
        if started is not None:
            row.last_started_at = started
        if finished is not None:
            row.last_finished_at, row.last_state = finished, ("failed" if error else "ok")
            if error:
                row.last_error, row.last_error_at = error, finished
        row.next_run_at = next_run
        session.add(row)


class JobProblem(CovbotError):
    """A job did its work but has something to report (e.g. a refused inbox drop): logged as one
    line and recorded as the job's last error, without a traceback."""


def run_recorded(engine: Engine, job: str, instance: str, work: Callable[[], object],
                 clock: Callable[[], datetime], next_run: Callable[[], datetime | None]) -> bool:
    """Run ``work`` and record the run; True when it succeeded. Never raises."""
    started = clock()
    error = None
    try:
        work()
    except JobProblem as exc:  # an expected, explained failure: one line, no traceback
        error = _first_line(exc)
        log.error("job %s: %s", job, error, extra={"job": job})
    except Exception as exc:  # a job's failure is recorded, never fatal
        error = _first_line(exc)
        log.exception("job %s failed: %s", job, error, extra={"job": job})
    try:
        record_job(engine, job, instance, started=started, finished=clock(), error=error, next_run=next_run())
    except Exception:  # the database itself is down: logged; the next run records again
        log.exception("job %s: its run could not be recorded", job, extra={"job": job})
    return error is None
