"""Queue the digest to the default routes through the outbox, and record the run as sent.

The Slack message and the e-mail are queued in the same transaction as the digest run, so a digest
is never recorded as sent without its messages (nor the other way round). Delivery is the
dispatcher's job (``bot.notify.dispatcher.dispatch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.digest.model import Digest
from bot.errors import UsageError

KIND = "digest"


@dataclass(frozen=True)
class QueuedDigest:
    run_id: int
    slack: tuple[str, ...]
    email: tuple[str, ...]

    def describe(self) -> str:
        routes = [*self.slack, *self.email]
        return "Queued the digest for " + " and ".join(routes) + "."


def default_routes(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from bot.alerts.routing import channel_key

    slack = (channel_key(settings.default_slack_channel),) if settings.default_slack_channel else ()
    email = (settings.default_email.strip().lower(),) if settings.default_email else ()
    if not slack and not email:
        raise UsageError(
            "The digest has nowhere to go: set COVBOT_DEFAULT_SLACK_CHANNEL or COVBOT_DEFAULT_EMAIL "
            "(or both) to send it."
        )
    return slack, email


def queue_digest(settings: Settings, digest: Digest, now: datetime, engine=None) -> QueuedDigest:
    """Queue the digest for the default Slack channel and e-mail address; record it as sent.

    ``engine``: the database to use (default: the one of ``settings``).
    """
    from bot.usecases import check as services
    from bot.digest.render import render_email
    from bot.digest.slack import render_slack
    from bot.digest.store import record_digest_run
    from bot.notify.outbox import enqueue_email, enqueue_slack
    from bot.store.db import session_scope

    slack, email = default_routes(settings)
    message = render_slack(digest) if slack else None
    mail = render_email(digest) if email else None
    with session_scope(engine or services.open_engine(settings)) as session:
        for channel in slack:
            enqueue_slack(session, channel, message.text, message.blocks, kind=KIND, now=now)
        if mail is not None:
            enqueue_email(session, email, mail.subject, mail.text, mail.html, kind=KIND, now=now)
        run_id = record_digest_run(session, digest.as_of, digest.generated_at, sent_at=now)
    return QueuedDigest(run_id, slack, email)
