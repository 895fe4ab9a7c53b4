"""`covbot run`: the scheduler and its jobs. Jobs only call use cases (``bot.usecases``).

    evaluate  COVBOT_EVAL_CRON      check_and_notify(as_of = the slot's date in COVBOT_TIMEZONE)
    digest    COVBOT_DIGEST_CRON    build the digest at the slot's date and queue it
    dispatch  COVBOT_DISPATCH_SECONDS   deliver due outbox messages (time budget = the interval)
    inbox     COVBOT_INBOX_POLL_SECONDS import drops, then evaluate (only with COVBOT_INBOX)
    prune     daily (first at start)    drop evaluation results older than COVBOT_RESULTS_KEEP_DAYS
    rules     every few seconds     hot reload of the rule files (also right before each evaluation)
    leader    every few seconds     heartbeat, or try to take over as leader

Only the leader evaluates, sends digests, dispatches and reads the inbox. Each scheduled slot is
claimed in the database (``slots``), so it is done once across restarts and instances; at start
(and when a standby takes over) the latest slot of each cron job runs if it was missed. Each
instance has its own in-memory job store: nothing about the schedule is shared but the slots.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.bootstrap import App
from bot.daemon import leader as leadership
from bot.daemon.inbox import check_inbox, process_inbox
from bot.daemon.jobs import JobProblem, record_job, run_recorded
from bot.daemon.metrics import ServiceMetrics
from bot.daemon.rules_watch import RulesWatcher, queue_refusal_notice
from bot.daemon.slots import claim_slot, finish_slot, has_slots, latest_slot
from bot.errors import UsageError
from bot.notify.outbox import counts
from bot.slackapp.listener import SlackListener
from bot.slackapp.listener import configured as slack_configured
from bot.store.db import session_scope
from bot.usecases.digest import build_digest, default_routes, queue_digest
from bot.usecases.notify import check_and_notify
from bot.usecases.retention import prune_old_results

log = logging.getLogger("covbot.service")

RULES_POLL_SECONDS = 5
LEADER_RETRY_SECONDS = 5  # a dead leader's lock is taken over within this (plus TCP teardown)


def cron_trigger(expression: str, tz: ZoneInfo, setting: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=tz)
    except ValueError as exc:
        raise UsageError(f"{setting}={expression!r} is not a cron expression (minute hour day month weekday): {exc}.") from None


def timezone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"COVBOT_TIMEZONE={name!r} is not a time zone name (e.g. UTC, Europe/Zurich).") from None


class Service:
    """One `covbot run` instance. ``start()`` returns once the scheduler runs; ``stop()`` is graceful."""

    def __init__(self, app: App, rules_path: str | None = None, *, metrics: ServiceMetrics | None = None):
        settings = app.settings
        self.app = app
        self.settings = settings
        self.rules_path = app.rules_path(rules_path)
        self.tz = timezone_of(settings.timezone)
        self.eval_trigger = cron_trigger(settings.eval_cron, self.tz, "COVBOT_EVAL_CRON")
        self.digest_trigger = cron_trigger(settings.digest_cron, self.tz, "COVBOT_DIGEST_CRON")
        self.clock = app.clock
        self.metrics = metrics or ServiceMetrics()
        self.engine = app.engine
        self.me = leadership.Instance()
        self.leadership = leadership.leadership_for(self.engine, self.me)
        self.watcher = RulesWatcher(self.rules_path, on_loaded=self._rules_loaded, on_refused=self._rules_refused)
        self._work = threading.Lock()  # evaluations, digests and imports one at a time
        self.scheduler: BackgroundScheduler | None = None
        self.slack: SlackListener | None = None  # when Slack is configured
        self._triggers: dict[str, BaseTrigger] = {}
        self.stopping = threading.Event()

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if not Path(self.rules_path).exists():
            raise UsageError(f"The rules path {self.rules_path!r} does not exist; give --rules PATH or set COVBOT_RULES.")
        check_inbox(self.settings.inbox)  # a mistyped COVBOT_INBOX is refused at start, never created
        self.leadership.acquire_at_start()  # SQLite: a second instance is refused here
        try:
            leadership.register_instance(self.engine, self.me, self.rules_path)
            self.watcher.load_at_start(self.clock())
            self.scheduler = self._build_scheduler()
            self.scheduler.start()
        except BaseException:
            self.leadership.release()
            raise
        self.metrics.leader.set(1 if self.is_leader else 0)
        if self.is_leader:
            self._announce_jobs()
        self._listen_to_slack()
        log.info("covbot run started (%s)", "leader" if self.is_leader else "standby",
                 extra={"host": self.me.host, "pid": self.me.pid})

    def _announce_jobs(self) -> None:
        """Record every job's next run at once, so `covbot status` shows a job (the weekly digest)
        before it has ever run."""
        for job in ("evaluate", "digest", "dispatch", "inbox"):
            if self.scheduler is None or self.scheduler.get_job(job) is None:
                continue
            try:
                record_job(self.engine, job, self.me.id, next_run=self._next_run(job))
            except Exception:  # status is informative only; the jobs record themselves when they run
                log.exception("could not record the schedule of job %s", job)

    def _build_scheduler(self) -> BackgroundScheduler:
        s = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},  # one per instance, never shared
            # the leader's work (evaluate, digest, dispatch, inbox) one job at a time; housekeeping apart
            executors={"default": ThreadPoolExecutor(1), "housekeeping": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=self.tz,
        )
        now = self.clock()
        self._triggers = {"evaluate": self.eval_trigger, "digest": self.digest_trigger,
                          "dispatch": IntervalTrigger(seconds=self.settings.dispatch_seconds),
                          "inbox": IntervalTrigger(seconds=self.settings.inbox_poll_seconds)}
        s.add_job(self._job("evaluate", self.evaluate_due), self.eval_trigger, id="evaluate", next_run_time=now)
        catch_up_digest = now if has_slots(self.engine, "digest") else None
        s.add_job(self._job("digest", self.digest_due), self.digest_trigger, id="digest",
                  **({"next_run_time": catch_up_digest} if catch_up_digest else {}))
        s.add_job(self._job("dispatch", self.dispatch), self._triggers["dispatch"],
                  id="dispatch", next_run_time=now)
        if self.settings.inbox:
            s.add_job(self._job("inbox", self.read_inbox), self._triggers["inbox"],
                      id="inbox", next_run_time=now)
        s.add_job(self._job("prune", self.prune), IntervalTrigger(days=1), id="prune", next_run_time=now)
        s.add_job(self.poll_rules, IntervalTrigger(seconds=RULES_POLL_SECONDS), id="rules", executor="housekeeping")
        s.add_job(self.leader_tick, IntervalTrigger(seconds=LEADER_RETRY_SECONDS), id="leader", executor="housekeeping")
        return s

    def _listen_to_slack(self) -> None:
        """Every instance (leader or not) answers Slack, in threads of its own, when configured; a
        Slack problem at start is logged and does not stop the evaluations."""
        if not slack_configured(self.settings):
            return
        try:
            self.slack = SlackListener(self.settings, self.engine, rules=lambda: self.watcher.current).start()
        except Exception as exc:
            log.error("not listening to Slack: %s", exc)
            self.slack = None

    def stop(self) -> None:
        """Finish the running jobs, release the leadership, mark this instance stopped."""
        self.stopping.set()
        if self.slack is not None:
            self.slack.stop()
            self.slack = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.leadership.release()
        try:
            leadership.instance_heartbeat(self.engine, self.me, self.clock(), stopped=True)
        except Exception:
            log.exception("could not record this instance as stopped")
        self.app.close()
        log.info("covbot run stopped")

    def run_until_signalled(self) -> None:
        """Block until SIGTERM or SIGINT, then stop gracefully."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        while not done.wait(1):
            pass
        log.info("stopping: finishing the running jobs")
        self.stop()

    # -- jobs ------------------------------------------------------------------------------------

    def _job(self, name: str, work: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            if self.stopping.is_set() or not self.is_leader:
                return
            ok = run_recorded(self.engine, name, self.me.id, work, self.clock, lambda: self._next_run(name))
            if not ok:
                self.metrics.job_errors.labels(name).inc()
        return run

    def _next_run(self, job_id: str) -> datetime | None:
        # From the trigger, not the scheduler: a job must not wait on the scheduler's locks (shutdown).
        trigger = self._triggers.get(job_id)
        return trigger.get_next_fire_time(None, self.clock()) if trigger else None

    def evaluate_due(self) -> datetime | None:
        """Evaluate the latest slot of COVBOT_EVAL_CRON unless it was done already; the slot or None."""
        return self._slot_job("evaluate", self.eval_trigger, lambda slot: self.evaluate(self._slot_date(slot)))

    def digest_due(self) -> datetime | None:
        return self._slot_job("digest", self.digest_trigger, lambda slot: self.send_digest(self._slot_date(slot)))

    def _slot_date(self, slot: datetime):
        return slot.astimezone(self.tz).date()

    def _slot_job(self, job: str, trigger: CronTrigger, work: Callable[[datetime], object]) -> datetime | None:
        now = self.clock()
        slot = latest_slot(trigger, now)
        if slot is None or not claim_slot(self.engine, job, slot, self.me.id, now):
            return None
        log.info("%s: slot %s", job, slot.isoformat(), extra={"job": job})
        try:
            work(slot)
        except Exception as exc:
            finish_slot(self.engine, job, slot, self.clock(), error=str(exc) or type(exc).__name__)
            self._retry_soon(job)
            raise
        finish_slot(self.engine, job, slot, self.clock())
        return slot

    def _retry_soon(self, job: str) -> None:
        """A failed slot is tried again after COVBOT_SLOT_RETRY_SECONDS (unless a newer slot comes first)."""
        if self.scheduler is None or self.stopping.is_set():
            return
        at = self.clock() + timedelta(seconds=self.settings.slot_retry_seconds)
        upcoming = self._next_run(job)
        if upcoming is None or at < upcoming:
            try:
                self.scheduler.modify_job(job, next_run_time=at)
                log.info("%s: the failed slot is tried again at %s", job, at.isoformat(), extra={"job": job})
            except Exception:  # the scheduler is shutting down
                log.debug("could not schedule a retry of %s", job)

    def evaluate(self, as_of) -> object:
        """One evaluation with the live rule set (reloaded first if the files changed), then notify."""
        with self._work:
            rules = self.watcher.poll(self.clock())
            started = time.monotonic()
            try:
                checked = check_and_notify(self.engine, rules, as_of, now=self.clock(), routing=self.settings,
                                           deliver=lambda: self.app.dispatch(0),  # the dispatch job delivers
                                           worker_engine=self.app.worker_engine())
            except Exception:
                self.metrics.evaluation_failed()
                raise
            self.metrics.evaluated(checked.by_covenant, time.monotonic() - started)
            log.info("evaluated %d results as of %s (run %s)", checked.results, as_of, checked.run_id,
                     extra={"as_of": str(as_of), "counts": checked.counts()})
            return checked

    def send_digest(self, as_of) -> None:
        with self._work:
            now = self.clock()
            routes = default_routes(self.settings.default_slack_channel, self.settings.default_email)
            digest = build_digest(self.engine, self.watcher.live(), as_of, now)
            queued = queue_digest(self.engine, digest, routes, now)
            log.info(queued.describe(), extra={"as_of": str(as_of)})

    def dispatch(self) -> None:
        report = self.app.dispatch(self.settings.dispatch_seconds)
        self.metrics.dispatched(report)
        with session_scope(self.engine) as session:
            self.metrics.outbox_depth(counts(session))
        if report.errors:
            log.warning("delivery problems: %s", "; ".join(report.errors[:5]))

    def prune(self) -> None:
        with self._work:
            pruned = prune_old_results(self.engine, self.settings.results_keep_days,
                                       self.clock().astimezone(self.tz).date())
        if pruned.runs:
            log.info("pruned %d evaluation run(s), %d result(s), before %s (quarter ends kept)",
                     pruned.runs, pruned.results, pruned.before)

    def read_inbox(self) -> None:
        def evaluate_today() -> None:
            self.evaluate(self.clock().astimezone(self.tz).date())

        with self._work:
            outcomes = process_inbox(self.settings.inbox, self.engine, self.clock(),
                                     settle_seconds=self.settings.inbox_settle_seconds)
        if any(o.imported for o in outcomes):
            evaluate_today()
        failed = [o for o in outcomes if not o.imported]
        if failed:
            raise JobProblem(f"{len(failed)} inbox drop(s) refused: {', '.join(o.name for o in failed)} "
                             "(see error.txt beside each under failed/)")

    def poll_rules(self) -> None:
        try:
            self.watcher.poll(self.clock())
        except Exception:
            log.exception("the rule files could not be checked")

    def leader_tick(self) -> None:
        was = self.is_leader
        now = self.clock()
        try:
            leadership.instance_heartbeat(self.engine, self.me, now)
        except Exception:
            log.exception("heartbeat failed")
        now_leader = self.leadership.tick(now)
        self.metrics.leader.set(1 if now_leader else 0)
        if now_leader and not was and self.scheduler is not None:
            log.info("took over as leader: catching up missed slots")
            self.scheduler.modify_job("evaluate", next_run_time=self.clock())
            if has_slots(self.engine, "digest"):
                self.scheduler.modify_job("digest", next_run_time=self.clock())

    # -- rule-set callbacks ----------------------------------------------------------------------

    def _rules_loaded(self, rules, now: datetime) -> None:
        leadership.record_rules(self.engine, self.me, list(rules.files), rules.digest, now)

    def _rules_refused(self, digest: str, problems) -> None:
        queued = queue_refusal_notice(self.engine, self.settings, self.rules_path, digest, problems,
                                      self.watcher.current, self.clock())
        if queued:
            log.info("told the rule owners about the refused rule files (once for this content)")

    def health(self) -> dict:
        running = self.scheduler is not None and self.scheduler.running and not self.stopping.is_set()
        return {"ok": running, "leader": self.is_leader, "host": self.me.host, "pid": self.me.pid}
