"""A made-up but realistic alert, rendered in both channels, for `covbot notify test`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from bot.domain.model import Facility
from bot.domain.rulebook import Covenant
from bot.domain.thresholds import Threshold
from bot.notify.render import AlertContext, AlertNotice, EmailContent, SlackMessage, WaiverNote


@dataclass(frozen=True)
class TestMessage:
    """A sample alert in both channels, marked as a test, to check delivery end to end."""

    __test__ = False  # not a pytest test class

    slack: SlackMessage
    email: EmailContent


_TEST_STATUSES = {  # kind -> (status, previous status, value)
    "firing": ("breach", "ok", "1.18"),
    "escalated": ("breach", "warning", "1.18"),
    "improved": ("warning", "breach", "1.31"),
    "reminder": ("breach", "breach", "1.18"),
    "resolved": ("ok", "breach", "1.46"),
    "event_of_default": ("breach", "breach", "1.12"),
    "waived": ("breach", "breach", "1.18"),
    "waiver_expired": ("breach", "breach", "1.18"),
}
TEST_NOTE = "This is a test message from `covbot notify test`: no covenant has changed."


def render_test_message(
    kind: str = "firing", as_of: date | None = None, recipient: str = "you@lender.example"
) -> TestMessage:
    """A sample alert of ``kind`` for a made-up facility, as Slack message and e-mail."""
    from bot.notify.render_email import render_email
    from bot.notify.render_slack import context_block, render_slack

    event, ctx = sample_alert(kind, as_of or date(2026, 11, 20))
    slack = render_slack(event, ctx)
    slack = SlackMessage(text=f"[TEST] {slack.text}", blocks=[context_block(TEST_NOTE), *slack.blocks])
    email = render_email(recipient, [(event, ctx)], event.as_of)
    email = replace(email, subject=f"[TEST] {email.subject}")
    return TestMessage(slack=slack, email=email)


def sample_alert(kind: str, as_of: date) -> tuple[AlertNotice, AlertContext]:
    """A made-up but realistic alert event of ``kind`` (minimum DSCR of a GPU cloud)."""
    from datetime import timedelta

    from bot.domain.results import CovenantResult
    from bot.domain.rulebook import AlertOptions

    if kind not in _TEST_STATUSES:
        raise ValueError(f"There is no alert event kind {kind!r}; choose one of {', '.join(_TEST_STATUSES)}.")
    status, previous, value = _TEST_STATUSES[kind]
    threshold = Threshold.parse(">= 1.25")
    facility = Facility(
        facility_id="TEST-001", borrower="Example GPU Cloud Ltd (test)", facility_type="gpu_abl",
        currency="USD", commitment=Decimal("250000000"), outstanding=Decimal("212500000"),
        origination_date=date(2024, 6, 28), maturity_date=date(2031, 6, 28),
    )
    covenant = Covenant(
        id="min-dscr", title="Minimum DSCR", metric="dscr_ttm", must_be=threshold,
        warn_at=Threshold.parse(">= 1.40"), severity="high", alert=AlertOptions(cure_days=30),
    )
    result = CovenantResult(
        facility_id=facility.facility_id, covenant_id=covenant.id, metric="dscr_ttm", as_of=as_of,
        value=Decimal(value), threshold=threshold, status=status,
        headroom=threshold.headroom(Decimal(value)), reason=None, months_to_breach=0,
    )
    waiver = None
    if kind in ("waived", "waiver_expired"):
        waiver = WaiverNote(as_of + timedelta(days=-1 if kind == "waiver_expired" else 60),
                            "Q3 hosting contract signed; DSCR expected back above 1.25x by Q1",
                            "credit.analyst@lender.example")
    event = AlertNotice(
        kind=kind, facility_id=facility.facility_id, covenant_id=covenant.id, status=status,
        previous_status=previous, severity="critical" if kind == "event_of_default" else covenant.severity,
        as_of=as_of, result=result, waiver=waiver,
    )
    ctx = AlertContext(
        facility=facility, covenant=covenant,
        trend=[Decimal(v) for v in ("1.52", "1.47", "1.41", "1.36", "1.29", value)],
        explain_lines=[
            f"4 quarters counted: {(as_of - timedelta(days=325)).isoformat()} … {(as_of - timedelta(days=50)).isoformat()}",
            "H100 rental $2.35/GPU-hour, down 28 % on a year earlier",
        ],
        forward_note="DSCR below 1.25x within ~1 month at -28 %/yr rental deflation",
    )
    return event, ctx
