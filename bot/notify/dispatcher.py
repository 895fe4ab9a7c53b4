"""The outbox dispatcher: small stages, Alertmanager style, one message at a time.

    claim (due, in order) → dedup (was it already delivered?) → wait (1 post/s per channel)
      → mark "sending" (commit) → send → record "sent" (commit) → update the thread parent
                                      ↘ retryable: backoff + jitter, or Slack's Retry-After
                                      ↘ permanent, or the last try: dead letter

Exactly once in Slack: every post carries its notification id in message metadata. Before sending
a message that may have gone out already (a try before, or left "sending" by a crash) the
dispatcher looks for that id in the channel (or thread) and, when found, records it as sent without
posting again. E-mail is at least once: SMTP cannot be asked whether a message arrived, so a crash
between the server's "250 OK" and the commit resends it, with the same Message-ID.

Without a Slack token or an SMTP host the message is written to the file outbox instead.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, update

from bot.notify.tables import OutboxRow
from bot.config import Settings
from bot.dates import utc_now
from bot.errors import DeliveryError, PermanentDeliveryError
from bot.notify import outbox
from bot.notify.email import EmailTransport
from bot.notify.file_outbox import FileOutbox
from bot.notify.messages import Attachment, OutgoingEmail, PostedMessage
from bot.notify.slack import SlackTransport
from bot.store.db import session_scope

FIND_WINDOW = timedelta(minutes=5)  # how far before the message's creation the history search starts


CLAIM_BATCH = 10  # messages read at a time: an alert e-mail's payload is up to about 1 MB


@dataclass
class DispatchReport:
    sent: int = 0  # delivered to Slack or the mail server
    written: int = 0  # written to the file outbox
    already_there: int = 0  # found in Slack after an earlier try: recorded, not posted again
    retrying: int = 0  # failed for now, will be tried again
    dead: int = 0  # gave up: dead letters
    left: int = 0  # still queued when the dispatch ended
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return self.sent + self.written + self.already_there

    def summary(self, settings: Settings) -> str:
        """One line of rich markup (plus the last errors) for the commands that dispatch."""
        from rich.markup import escape

        parts = [f"Delivered {self.sent}"]
        if self.already_there:
            parts.append(f"{self.already_there} found already in Slack, not posted again")
        if self.written:
            unset = [name for name, missing in (("SLACK_BOT_TOKEN", settings.slack_bot_token is None),
                                                ("SMTP_HOST", not settings.smtp_host)) if missing]
            parts.append(f"wrote {self.written} to files under {escape(str(settings.outbox_path))} "
                         f"(no {' or '.join(unset)} set)")
        if self.retrying:
            parts.append(f"[yellow]{self.retrying} to retry[/yellow]")
        if self.dead:
            parts.append(f"[red]{self.dead} dead letter(s): see `covbot outbox`[/red]")
        line = "; ".join(parts) + f"; {self.left} left in the outbox."
        if self.errors:
            line += "\n" + "\n".join(f"  [red]•[/red] {escape(e)}" for e in self.errors[-5:])
        return line


def backoff_seconds(attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Delay before try ``attempts + 1``: base × 2^(attempts − 1), at most ``cap``, with "equal
    jitter" (between half and all of it), so many failed messages do not retry in lockstep."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay / 2 + rng() * delay / 2


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        slack: SlackTransport | None = None,
        email: EmailTransport | None = None,
        files: FileOutbox | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utc_now,
        rng: Callable[[], float] = random.random,
    ):
        self.engine, self.settings = engine, settings
        if slack is None and settings.slack_bot_token is not None:
            slack = SlackTransport.from_settings(settings, sdk_retries=0)  # retries are ours
        if email is None and settings.smtp_host:
            email = EmailTransport.from_settings(settings)
        self.slack, self.email = slack, email
        self.files = files or FileOutbox(settings.outbox_path, settings.email_from)
        self.clock, self.sleep, self.now, self.rng = clock, sleep, now, rng
        self._last_post: dict[str, float] = {}
        self._held_until: dict[str, float] = {}  # channel -> clock() before which Slack asked us to wait
        self._deadline = float("inf")
        self._filed: list[tuple[OutboxRow, Path]] = []  # written to the file outbox, to mark sent

    # -- the loop --------------------------------------------------------------------------------

    def run(self, budget_seconds: float | None = None) -> DispatchReport:
        """Deliver due messages until none is due within the budget (None: until none is due now)."""
        report = DispatchReport()
        started = self.clock()
        self._deadline = started + budget_seconds if budget_seconds is not None else float("inf")
        waiting_allowed = budget_seconds is not None
        while True:
            looked_at = self.now()
            with session_scope(self.engine) as session:
                due = outbox.claim_due(session, looked_at, limit=CLAIM_BATCH)
            if not due:
                if not waiting_allowed:
                    break
                with session_scope(self.engine) as session:
                    # after the instant claimed for, not "now": a message that fell due in between
                    # is found (wait 0) instead of ending the dispatch with it still queued
                    next_at = outbox.next_due_at(session, after=looked_at)
                if next_at is None:
                    break
                wait = max(0.0, (next_at - self.now()).total_seconds())
                if self.clock() + wait > self._deadline:
                    break
                self.sleep(wait)
                continue
            tried = 0
            try:
                for row in due:
                    if self.clock() >= self._deadline:
                        break
                    tried += self._deliver(row, report)
            finally:
                self._filed_sent()
            if not tried or self.clock() >= self._deadline:
                break
        with session_scope(self.engine) as session:
            report.left = sum(n for state, n in outbox.counts(session).items() if state in outbox.UNFINISHED)
        return report

    # -- one message -----------------------------------------------------------------------------

    def _deliver(self, row: OutboxRow, report: DispatchReport) -> bool:
        """One message through the stages; False when it was left for later untouched."""
        try:
            if (row.transport == "slack" and self.slack is None) or (row.transport == "email" and self.email is None):
                self._to_file(row, report)
            elif row.transport == "slack":
                self._slack(row, report)
            elif row.transport == "email":
                self._email(row, report)
            else:
                raise PermanentDeliveryError(f"covbot cannot deliver by {row.transport!r}.")
        except _Skipped:
            return False
        except DeliveryError as exc:
            self._failed(row, exc, report)
        return True

    def _slack(self, row: OutboxRow, report: DispatchReport) -> None:
        payload = outbox.payload_of(row)
        # In doubt only when an earlier try may have reached Slack: one that Slack refused (429,
        # ok:false) restored last_attempt_at (see _failed), so its retry does not read the history.
        attempted = row.state == "sending" or row.last_attempt_at is not None
        self._pace(row.route)  # stage: wait — Retry-After of the channel, one post per interval
        self._take(row)
        try:
            channel_id = self.slack.resolve_channel(row.route)
            thread_ts = self._thread_ts(row, channel_id)
            if attempted:  # stage: dedup — the message may be in Slack already
                found = self.slack.find_by_notification_id(
                    channel_id, row.notification_id, oldest=(row.created_at - FIND_WINDOW).timestamp(),
                    thread_ts=thread_ts)
                if found is not None:
                    self._sent(row, "slack", found, report,
                               note="found in Slack after an earlier try; not posted again")
                    report.already_there += 1
                    return
        except DeliveryError as exc:
            exc.not_sent = True  # nothing was posted on this try
            raise
        posted = self.slack.post(channel_id, payload["text"], payload.get("blocks") or None, thread_ts,
                                 {"notification_id": row.notification_id})
        self._sent(row, "slack", posted, report)
        report.sent += 1
        if thread_ts and payload.get("parent_update"):
            self._update_parent(row, channel_id, thread_ts, payload["parent_update"])

    def _email(self, row: OutboxRow, report: DispatchReport) -> None:
        self._take(row)
        self.email.send(self._outgoing(row))
        self._sent(row, "smtp", None, report)
        report.sent += 1

    def _to_file(self, row: OutboxRow, report: DispatchReport) -> None:
        """Write the message to the file outbox; it is marked sent with the rest of its batch
        (``_filed_sent``): a crash in between writes the same files again, under the same names."""
        payload = outbox.payload_of(row)
        if row.transport == "slack":
            thread = f"{row.facility_id}/{row.covenant_id}" if row.thread_role == "reply" else None
            paths = [self.files.write_slack(row.notification_id, row.route, payload["text"],
                                            payload.get("blocks") or [], thread)]
        else:
            paths = self.files.write_email(self._outgoing(row), row.notification_id)
        self._filed.append((row, paths[0]))
        report.written += 1
        report.files.extend(paths)

    def _filed_sent(self) -> None:
        """Mark the messages written to files sent, in one transaction (a first day writes hundreds)."""
        if not self._filed:
            return
        now = self.now()
        with session_scope(self.engine) as session:
            for row, path in self._filed:
                self._record_sent(session, row, now, "file", None, f"written to {path}")
        self._filed = []

    # -- stages' helpers ---------------------------------------------------------------------------

    def _thread_ts(self, row: OutboxRow, channel_id: str) -> str | None:
        if row.thread_role != "reply":
            return None
        with session_scope(self.engine) as session:
            thread = outbox.thread_of(session, row.facility_id, row.covenant_id, channel_id)
            return thread.ts if thread is not None else None

    def _pace(self, channel: str) -> None:
        interval = self.settings.slack_min_interval_seconds
        last = self._last_post.get(channel)
        waits = [interval - (self.clock() - last) if last is not None else 0.0,
                 self._held_until.get(channel, 0.0) - self.clock()]
        wait = max(waits)
        if wait > 0:
            if self.clock() + wait > self._deadline:
                raise _Skipped()
            self.sleep(wait)
        self._last_post[channel] = self.clock()

    def _hold_channel(self, session, row: OutboxRow, seconds: float, now: datetime) -> None:
        """Slack asked to wait ``seconds`` before posting to this channel again: every message to
        it waits — here (in memory) and in every other dispatcher (their due time in the outbox)."""
        self._held_until[row.route] = max(self._held_until.get(row.route, 0.0), self.clock() + seconds)
        until = now + timedelta(seconds=seconds)
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.transport == "slack", OutboxRow.route == row.route,
                   OutboxRow.state.in_(("queued", "retry")), OutboxRow.next_attempt_at < until)
            .values(next_attempt_at=until)
            .execution_options(synchronize_session=False))

    def _take(self, row: OutboxRow) -> None:
        """Mark the row "sending" and commit, before anything leaves the building."""
        now = self.now()
        with session_scope(self.engine) as session:
            if not outbox.mark_sending(session, row, now, timedelta(seconds=self.settings.dispatch_lease_seconds)):
                raise _Skipped()  # another dispatcher took it
            self._audit(session, row, "delivery_attempt", now, f"try {row.attempts + 1} to {self._where(row)}")
        row.attempts += 1
        row.state = "sending"

    def _sent(self, row: OutboxRow, via: str, posted: PostedMessage | None, report: DispatchReport,
              note: str | None = None) -> None:
        now = self.now()
        with session_scope(self.engine) as session:
            self._record_sent(session, row, now, via, posted, note)

    def _record_sent(self, session, row: OutboxRow, now: datetime, via: str, posted: PostedMessage | None,
                     note: str | None) -> None:
        """The message is sent: its row says so, a Slack thread it starts is remembered, and the
        delivery log has its line."""
        outbox.mark_sent(session, row.id, now, via, posted.channel_id if posted else None,
                         posted.ts if posted else None)
        if posted is not None and row.thread_role is not None and (
                row.thread_role == "start" or outbox.thread_of(
                    session, row.facility_id, row.covenant_id, posted.channel_id) is None):
            outbox.save_thread(session, row.facility_id, row.covenant_id, posted.channel_id, posted.ts,
                               row.notification_id, now)
        self._audit(session, row, "delivered", now, note or f"delivered to {self._where(row)} by {via}")

    def _failed(self, row: OutboxRow, error: DeliveryError, report: DispatchReport) -> None:
        now = self.now()
        message = str(error)
        with session_scope(self.engine) as session:
            tries = max(row.attempts, 1)
            if error.retryable and tries < self.settings.dispatch_max_attempts:
                delay = error.retry_after if error.retry_after is not None else backoff_seconds(
                    tries, self.settings.dispatch_backoff_seconds, self.settings.dispatch_backoff_max_seconds,
                    self.rng)
                if row.transport == "slack" and error.retry_after is not None:
                    self._hold_channel(session, row, error.retry_after, now)
                outbox.mark_retry(session, row.id, now + timedelta(seconds=delay), message)
                if error.not_sent:  # certainly not in Slack: the next try need not look for it
                    session.execute(update(OutboxRow).where(OutboxRow.id == row.id)
                                    .values(last_attempt_at=row.last_attempt_at)
                                    .execution_options(synchronize_session=False))
                self._audit(session, row, "delivery_failed", now, f"{message} Next try in {delay:.1f} s.")
                report.retrying += 1
            else:
                outbox.mark_dead(session, row.id, message)
                why = "not worth retrying" if not error.retryable else f"gave up after {tries} tries"
                self._audit(session, row, "dead_letter", now, f"{message} ({why}; `covbot outbox retry {row.id}`)")
                report.dead += 1
        report.errors.append(message)

    def _update_parent(self, row: OutboxRow, channel_id: str, thread_ts: str, update: dict) -> None:
        """Best effort: the notice itself is delivered; a failed update is audited and the next
        notice in the thread updates the parent again."""
        try:
            self.slack.update(channel_id, thread_ts, update["text"], update.get("blocks") or None)
        except DeliveryError as exc:
            with session_scope(self.engine) as session:
                self._audit(session, row, "parent_update_failed", self.now(), str(exc))

    def _outgoing(self, row: OutboxRow) -> OutgoingEmail:
        p = outbox.payload_of(row)
        return OutgoingEmail(to=tuple(p["to"]), subject=p["subject"], text=p["text"], html=p["html"],
                             message_id=f"<{row.notification_id}@covbot>",
                             attachments=tuple(Attachment.from_stored(a) for a in p.get("attachments", ())))

    @staticmethod
    def _where(row: OutboxRow) -> str:
        return f"Slack {row.route}" if row.transport == "slack" else f"e-mail {row.route}"

    @staticmethod
    def _audit(session, row: OutboxRow, kind: str, now: datetime, detail: str) -> None:
        """One line in the delivery log per message and step (`covbot history` shows it beside the
        alerts the message is about)."""
        outbox.log_delivery(session, row.notification_id, kind, now, f"message {row.id}: {detail}")


class _Skipped(Exception):
    """Not this time: another dispatcher has the message, or the budget ran out while pacing."""


def dispatch(settings: Settings, engine: Engine, *, budget_seconds: float | None = None) -> DispatchReport:
    """Deliver the outbox (``bot.bootstrap.App.dispatch`` is what the commands and the service call).

    ``budget_seconds`` bounds the time spent (waiting for backoffs and pacing included); what is
    left stays queued. ``None``: deliver what is due now, without waiting for retries.
    """
    return Dispatcher(engine, settings).run(budget_seconds)
