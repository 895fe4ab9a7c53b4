"""Hot reload of the rule files, polled between evaluations.

The watcher keeps the live ``RuleSet``. ``poll()`` looks at the files' names, sizes and mtimes;
when they changed it hashes the contents and, for a content it has not seen, loads the rules:

* valid: the new set replaces the old one in one assignment (an evaluation that already took the
  old set finishes with it; the next one gets the new set);
* invalid: refused, the last good set stays live, and the rule owners are told once per bad
  content (a Slack and/or e-mail notice queued in the outbox to the default routes, listing every
  problem as file:line:column). "Once" holds across instances and restarts: the notice is
  recorded by content digest in ``service_rules_notices``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.domain.rulebook import RuleSet
from bot.errors import Problem, RuleFileError
from bot.notify.escape import html_escape, slack_escape
from bot.notify.outbox import enqueue_email, enqueue_slack
from bot.rulefiles.loader import load_rules, rule_files
from bot.daemon.tables import RulesNoticeRow
from bot.store.db import write_scope

log = logging.getLogger("covbot.rules")


def fingerprint(path: str | Path) -> tuple:
    """Cheap change detector: (name, size, mtime) of every rule file (the folder's own mtime too)."""
    files, _ = rule_files(path)
    parts: list[tuple] = []
    root = Path(path)
    if root.is_dir():
        parts.append(("<dir>", root.stat().st_mtime_ns))
    for f in files:
        try:
            st = f.stat()
            parts.append((f.name, st.st_size, st.st_mtime_ns))
        except OSError:
            parts.append((f.name, None, None))
    return tuple(parts)


def content_digest(path: str | Path) -> str:
    """SHA-256 over the names and bytes of the rule files (what a notice is keyed by)."""
    files, _ = rule_files(path)
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError as exc:
            h.update(f"<unreadable {exc.errno}>".encode())
        h.update(b"\0")
    return h.hexdigest()


SETTLE_SECONDS = 0.2  # a save is judged once the files have stopped changing for this long
SETTLE_TRIES = 10


def _settled(path: str | Path, seen: tuple) -> tuple | None:
    """The fingerprint once two looks SETTLE_SECONDS apart agree (editors that truncate then
    write must not have a half-written file loaded or refused); None if it keeps changing."""
    for _ in range(SETTLE_TRIES):
        time.sleep(SETTLE_SECONDS)
        again = fingerprint(path)
        if again == seen:
            return seen
        seen = again
    return None


class RulesWatcher:
    """The live rule set of one instance and its hot reload."""

    def __init__(self, path: str, *, on_loaded: Callable[[RuleSet, datetime], None] | None = None,
                 on_refused: Callable[[str, list[Problem]], None] | None = None):
        self.path = path
        self._on_loaded = on_loaded
        self._on_refused = on_refused
        self._lock = threading.Lock()
        self.current: RuleSet | None = None
        self.loaded_at: datetime | None = None
        self._fingerprint: tuple | None = None
        self._seen_digest: str | None = None

    def load_at_start(self, now: datetime) -> RuleSet:
        """The first load: an invalid rule set here is an error (there is no good set to keep)."""
        with self._lock:
            self._fingerprint = fingerprint(self.path)
            self._seen_digest = content_digest(self.path)
            self._install(load_rules(self.path), now)
            return self.live()

    def live(self) -> RuleSet:
        """The live rule set (loaded at start, then the last good one)."""
        if self.current is None:
            raise RuntimeError("no rule set is loaded yet: load_at_start() comes first")
        return self.current

    def poll(self, now: datetime) -> RuleSet:
        """Reload when the files changed; returns the live rule set (the new one, or the last good)."""
        with self._lock:
            seen = fingerprint(self.path)
            if seen == self._fingerprint:
                return self.live()
            settled = _settled(self.path, seen)
            if settled is None:  # still being written: look again at the next poll
                return self.live()
            self._fingerprint = settled
            digest = content_digest(self.path)
            if digest == self._seen_digest:
                return self.live()
            self._seen_digest = digest
            try:
                rules = load_rules(self.path)
            except RuleFileError as exc:
                if content_digest(self.path) != digest:  # changed while being read: judge it next poll
                    self._fingerprint = self._seen_digest = None
                    return self.live()
                log.error("the changed rule files are not valid; keeping the rules loaded at %s (sha256 %s):\n%s",
                          self.loaded_at, self.live().digest[:12], "\n".join(f"  {p}" for p in exc.problems))
                if self._on_refused is not None:
                    self._on_refused(digest, exc.problems)
                return self.live()
            self._install(rules, now)
            log.info("reloaded the rule files: %d covenants (sha256 %s)", len(rules.covenants), rules.digest[:12])
            return self.live()

    def _install(self, rules: RuleSet, now: datetime) -> None:
        self.current, self.loaded_at = rules, now  # one assignment: readers see the old or the new set
        if self._on_loaded is not None:
            self._on_loaded(rules, now)


def notice_text(path: str, problems: list[Problem], live: RuleSet | None) -> str:
    kept = f"the rules loaded before (sha256 {live.digest[:12]})" if live else "the rules loaded before"
    lines = [f"The rule files at {path} were changed but are not valid, so covbot refused them and keeps "
             f"evaluating with {kept}. Fix these problems and save again:"]
    lines += [f"• {p}" for p in problems]
    return "\n".join(lines)


def queue_refusal_notice(engine: Engine, settings: Settings, path: str, digest: str, problems: list[Problem],
                         live: RuleSet | None, now: datetime) -> bool:
    """Tell the rule owners (default routes) once per bad content; False when already told."""
    message = notice_text(path, problems, live)
    try:
        with write_scope(engine) as session:
            if session.get(RulesNoticeRow, digest) is not None:
                return False
            session.add(RulesNoticeRow(digest=digest, noticed_at=now, problems="\n".join(map(str, problems))))
            session.flush()  # claim the digest before queueing
            if settings.default_slack_channel:
                enqueue_slack(session, settings.default_slack_channel, slack_escape(message),
                              kind="rules_refused", now=now)
            if settings.default_email:
                html = "<pre>" + html_escape(message) + "</pre>"
                enqueue_email(session, [settings.default_email], "covbot refused changed rule files",
                              message, html, kind="rules_refused", now=now)
            if not (settings.default_slack_channel or settings.default_email):
                log.warning("no COVBOT_DEFAULT_SLACK_CHANNEL or COVBOT_DEFAULT_EMAIL: the refused rule files are only logged")
    except IntegrityError:  # another instance recorded the same digest first
        return False
    return True
