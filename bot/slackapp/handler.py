"""The handlers both modes share: answer at once, do the slower work in background workers.

``SlackApp.handle(request)`` returns what goes back to Slack right away — the HTTP body in request
URL mode, the acknowledgement's payload in Socket Mode — always within Slack's 3 seconds: it
reads no database and calls no API, except the waive modal's own checks of its two fields.
Everything else (authorization with ``users.info``, database writes, explain) runs in a small
thread pool and answers through the payload's ``response_url`` or ``chat.postEphemeral``.

    command "help"/unknown → help in the body     command status|facility|explain|waivers → worker
    covbot_ack → worker: approver? ack (DB) → parents updated → ephemeral
    covbot_waive → form worker (never behind database work): approver? views.open(trigger_id)
    view_submission covbot_waive → until/reason checked here ("errors" or close) → worker: approver?
        grant (DB, once) → parents updated + thread reply → ephemeral on failure
    covbot_explain → worker: reader? explain → ephemeral
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.dates import utc_now
from bot.domain.rulebook import RuleSet
from bot.errors import CovbotError, UsageError
from bot.notify.escape import slack_escape
from bot.notify.render_slack import (
    ACTION_ACK,
    ACTION_EXPLAIN,
    ACTION_WAIVE,
    slack_user_mention,
)
from bot.rulefiles.loader import load_rules
from bot.slackapp import acts, parent, reads
from bot.slackapp.access import Access, SlackUser
from bot.slackapp.blocks import WAIVE_CALLBACK, submitted, text_message, waive_modal
from bot.slackapp.requests import BadRequest, SlackRequest, alert_key
from bot.slackapp.web import SlackCallFailed, SlackWeb
from bot.store.db import read_scope, session_scope, writer
from bot.store.repository import load_facilities

log = logging.getLogger("covbot.slack")

APPROVERS, READERS = "COVBOT_SLACK_APPROVERS", "COVBOT_SLACK_READERS"
READ_VERBS = ("status", "facility", "explain", "waivers")


class SlackApp:
    def __init__(self, settings: Settings, engine: Engine, *, web: SlackWeb | None = None,
                 rules: Callable[[], RuleSet | None] | None = None, clock: Callable[[], datetime] = utc_now,
                 workers: int = 4):
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        self.engine = engine
        self.web = web or SlackWeb(token, settings.slack_base_url)
        self.access = Access.from_settings(settings.slack_approvers, settings.slack_readers)
        self._rules = rules or (lambda: load_rules(settings.rules))
        self.clock = clock
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="covbot-slack")
        # opening the waive form must beat the trigger_id's 3 s: never queued behind database work
        self._forms = ThreadPoolExecutor(2, thread_name_prefix="covbot-slack-form")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def rules(self) -> RuleSet:
        """The live rule set (``covbot run``'s), or the rule files (COVBOT_RULES) read afresh."""
        ruleset = self._rules()
        if ruleset is None:
            raise UsageError("No rule set is loaded (COVBOT_RULES or --rules).")
        return ruleset

    # -- the immediate answer ----------------------------------------------------------------------

    def handle(self, request: SlackRequest) -> dict | None:
        """The answer Slack gets at once (None: an empty 200); slower work is queued."""
        if request.kind == "command":
            return self._command(request)
        if request.kind == "block_actions":
            return self._button(request)
        if request.kind == "view_submission" and request.callback_id == WAIVE_CALLBACK:
            return self._waive_submitted(request)
        return None  # other interactions (view_closed, shortcuts …): nothing to do

    def _command(self, request: SlackRequest) -> dict | None:
        words = request.text.split()
        verb = words[0].lower() if words else "help"
        if verb not in READ_VERBS:
            return {"response_type": "ephemeral", **reads.help_message()}
        self._submit(self._read, request, verb, words[1:])
        return None

    def _button(self, request: SlackRequest) -> dict | None:
        if request.action_id not in (ACTION_ACK, ACTION_WAIVE, ACTION_EXPLAIN):
            return None
        try:
            key = alert_key(request.value)
        except BadRequest as exc:
            log.warning("ignored a %s click with a bad value: %s", request.action_id, exc)
            return None
        work = {ACTION_ACK: self._acknowledge, ACTION_WAIVE: self._open_waiver,
                ACTION_EXPLAIN: self._explain}[request.action_id]
        self._submit(work, request, key, pool=self._forms if work == self._open_waiver else self._pool)
        return None

    def _waive_submitted(self, request: SlackRequest) -> dict | None:
        try:
            key = alert_key(request.view.get("private_metadata"))
        except BadRequest as exc:
            log.warning("ignored a waive submission with bad private_metadata: %s", exc)
            return None
        today = self.clock().date()
        until_text, reason = submitted(request.view, "until"), submitted(request.view, "reason")
        errors: dict[str, str] = {}
        until = None
        if until_text is None:
            errors["until"] = "Pick the last test date the waiver covers."
        else:
            try:
                until = date.fromisoformat(until_text)
            except ValueError:
                errors["until"] = "Pick a date (YYYY-MM-DD)."
            else:
                if until < today:
                    errors["until"] = (f"The waiver would end on {until.isoformat()}, which is before today "
                                       f"({today.isoformat()}); pick today or later.")
        if reason is None:
            errors["reason"] = "Give a reason: it is kept in the audit trail."
        if errors:
            return {"response_action": "errors", "errors": errors}
        assert until is not None and reason is not None
        self._submit(self._waive, request, key, until, reason.strip(), today)
        return None  # an empty 200 closes the modal

    # -- workers -----------------------------------------------------------------------------------

    def _submit(self, work: Callable, request: SlackRequest, *args, pool: ThreadPoolExecutor | None = None) -> None:
        def guarded() -> None:
            try:
                work(request, *args)
            except Exception as exc:  # tell the user; never let a worker die silently
                reason = str(exc) if isinstance(exc, (CovbotError, SlackCallFailed)) else type(exc).__name__
                log.exception("a Slack %s request failed: %s", request.kind, reason)
                self._tell_quietly(request, f":warning: covbot could not do that: {slack_escape(reason)}")

        future = (pool or self._pool).submit(guarded)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 30) -> bool:
        """Wait for the queued work (tests, shutdown); False if some is still running."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            try:
                future.result(timeout=timeout)
            except Exception:
                return False
        return True

    def close(self) -> None:
        self._forms.shutdown(wait=True, cancel_futures=False)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _read(self, request: SlackRequest, verb: str, args: list[str]) -> None:
        user = self.web.user(request.user_id)
        facility_id = args[0] if verb in ("facility", "explain") and args else None
        if not self.access.may_read(user):
            self._refuse(request, user, f"`{verb}`", READERS, facility_id, args[1] if len(args) > 1 else None)
            return
        today = self.clock().date()
        try:
            with read_scope(self.engine) as session:
                if verb == "status":
                    message = reads.status_message(session)
                elif verb == "waivers":
                    message = reads.waivers_message(session, today)
                elif facility_id is None:
                    message = text_message(f"Say which facility: `{verb} FACILITY_ID`"
                                           + (" `[COVENANT]`" if verb == "explain" else "") + ".")
                elif verb == "facility":
                    message = reads.facility_message(session, self.rules(), facility_id, today)
                else:
                    message = reads.explain_message(session, self.rules(), facility_id,
                                                    args[1] if len(args) > 1 else None, today)
        except UsageError as exc:
            message = text_message(slack_escape(str(exc)))
        self._tell(request, message)

    def _explain(self, request: SlackRequest, key: tuple[str, str]) -> None:
        user = self.web.user(request.user_id)
        if not self.access.may_read(user):
            self._refuse(request, user, "Why? (explain)", READERS, *key)
            return
        try:
            with read_scope(self.engine) as session:
                message = reads.explain_message(session, self.rules(), key[0], key[1], self.clock().date())
        except UsageError as exc:
            message = text_message(slack_escape(str(exc)))
        self._tell(request, message)

    def _acknowledge(self, request: SlackRequest, key: tuple[str, str]) -> None:
        user = self.web.user(request.user_id)
        if not self.access.may_act(user):
            self._refuse(request, user, "Acknowledge", APPROVERS, *key)
            return
        with session_scope(writer(self.engine)) as session:
            outcome = acts.acknowledge(session, *key, user, self.clock())
        what = f"*{slack_escape(key[0])}* · {slack_escape(key[1])}"
        if outcome.done:
            self._refresh_parents(key)
            self._tell(request, text_message(
                f":white_check_mark: You acknowledged {what} ({slack_escape(outcome.status or '')}). "
                "No reminders until its status changes; it is in the audit trail."))
        elif not outcome.open:
            self._tell(request, text_message(f"{what} has no open alert to acknowledge (it is cured or not "
                                             "firing); nothing was changed."))
        else:
            who = slack_user_mention(outcome.user) or slack_escape(outcome.by or "someone")
            self._tell(request, text_message(f"{what} was already acknowledged by {who}; nothing was changed."))

    def _open_waiver(self, request: SlackRequest, key: tuple[str, str]) -> None:
        user = self.web.user(request.user_id)
        if not self.access.may_act(user):
            self._refuse(request, user, "Waive", APPROVERS, *key)
            return
        if not request.trigger_id:
            raise UsageError("the click carried no trigger_id to open the waive form with")
        self.web.open_view(request.trigger_id, waive_modal(key[0], key[1], self._borrower(key[0]),
                                                            self.clock().date()))

    def _waive(self, request: SlackRequest, key: tuple[str, str], until: date, reason: str, today: date) -> None:
        user = self.web.user(request.user_id)
        if not self.access.may_act(user):
            self._refuse(request, user, "Waive", APPROVERS, *key)
            return
        what = f"*{slack_escape(key[0])}* · {slack_escape(key[1])}"
        try:
            with session_scope(writer(self.engine)) as session:
                waiver = acts.waive(session, *key, until, reason, user, self.clock(), today=today,
                                    ruleset=self._ruleset_or_none())
        except IntegrityError:
            self._tell(request, text_message(f"This waiver of {what} until {until.isoformat()} was recorded "
                                             "already; nothing was changed."), key)
            return
        except UsageError as exc:
            self._tell(request, text_message(f":warning: {slack_escape(str(exc))}"), key)
            return
        who = slack_user_mention(user.id) or slack_escape(user.by)
        reply = (f":shield: {who} ({slack_escape(waiver.by)}) waived {what} until {waiver.until.isoformat()}: "
                 f"_{slack_escape(waiver.reason)}_. No reminders and no event of default while it lasts; it "
                 "applies from the next evaluation.")
        threads = self._refresh_parents(key)
        for channel, ts in threads:
            try:
                self.web.post(channel, reply, text_message(reply)["blocks"], thread_ts=ts)
            except SlackCallFailed as exc:
                log.warning("could not post the waiver in the thread of %s/%s: %s", *key, exc)
        if not threads:
            self._tell(request, text_message(reply), key)

    # -- helpers -----------------------------------------------------------------------------------

    def _ruleset_or_none(self) -> RuleSet | None:
        try:
            return self.rules()
        except CovbotError as exc:
            log.warning("no rule set to check against: %s", exc)
            return None

    def _borrower(self, facility_id: str) -> str | None:
        with read_scope(self.engine) as session:
            found = load_facilities(session, [facility_id])
        return found[0].facility.borrower if found else None

    def _refresh_parents(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        """Update every thread parent of the alert; returns the threads (channel, ts)."""
        ruleset = self._ruleset_or_none()
        with read_scope(self.engine) as session:
            threads = parent.threads_of(session, *key)
            summary = parent.summary_of(session, *key, ruleset, self.clock().date()) if ruleset and threads else None
        if summary is not None:
            text, blocks = parent.parent_message(summary)
            for channel, ts in threads:
                try:
                    self.web.update(channel, ts, text, blocks)
                except SlackCallFailed as exc:
                    log.warning("could not update the alert message of %s/%s: %s", *key, exc)
        return threads

    def _refuse(self, request: SlackRequest, user: SlackUser, what: str, setting: str,
                facility_id: str | None = None, covenant_id: str | None = None) -> None:
        with session_scope(self.engine) as session:
            acts.refuse(session, user, what.strip("`"), setting, self.clock(), facility_id, covenant_id)
        log.info("refused %s from Slack user %s (not in %s)", what, user.id, setting)
        self._tell(request, text_message(
            f":no_entry: You may not use {what} from Slack: ask an administrator to add your Slack user "
            f"or e-mail to {setting}. Nothing was changed; the refusal is in the audit trail."),
            (facility_id, covenant_id) if facility_id and covenant_id else None)

    def _tell(self, request: SlackRequest, message: dict, key: tuple[str, str] | None = None) -> None:
        """An ephemeral answer: through response_url, else chat.postEphemeral where the user is
        (the channel of the request or of the alert's thread), else a direct message."""
        if request.response_url:
            self.web.respond(request.response_url, message)
            return
        channel = request.channel_id
        if channel is None and key is not None:
            with read_scope(self.engine) as session:
                threads = parent.threads_of(session, *key)
            channel = threads[0][0] if threads else None
        if channel is not None:
            self.web.post_ephemeral(channel, request.user_id, message["text"], message.get("blocks"))
        else:
            self.web.post(request.user_id, message["text"], message.get("blocks"))

    def _tell_quietly(self, request: SlackRequest, text: str) -> None:
        try:
            self._tell(request, text_message(text))
        except Exception as exc:  # the user cannot be reached: the log has it
            log.warning("could not tell Slack user %s: %s", request.user_id, type(exc).__name__)

