"""Waivers: when they apply, and what a lender is told when one cannot be granted."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.alerts.waivers import Waiver, make_waiver, waiver_problems
from bot.errors import UsageError

GRANTED = datetime(2026, 3, 2, 14, 30, tzinfo=timezone.utc)


def test_active_through_the_until_date_inclusive():
    w = make_waiver("FAC-1", "min-dscr", date(2026, 3, 31), "Q4 capex agreed", "ana@lender.example", GRANTED)
    assert w.active_on(date(2026, 3, 2))
    assert w.active_on(date(2026, 3, 31))
    assert not w.active_on(date(2026, 4, 1))


def test_valid_waiver_is_trimmed_and_kept():
    w = make_waiver(" FAC-1 ", "min-dscr", date(2026, 3, 2), " Q4 capex agreed ", " ana@lender.example ", GRANTED)
    assert w == Waiver("FAC-1", "min-dscr", date(2026, 3, 2), "Q4 capex agreed", "ana@lender.example", GRANTED)


def test_until_in_the_past_is_refused():
    with pytest.raises(UsageError, match=r"2026-03-01, which is before today \(2026-03-02\)"):
        make_waiver("FAC-1", "min-dscr", date(2026, 3, 1), "late", "ana@lender.example", GRANTED)


def test_every_problem_is_reported_at_once():
    with pytest.raises(UsageError) as caught:
        make_waiver("FAC-1", "", date(2026, 1, 1), "  ", "ana", GRANTED)
    message = str(caught.value)
    assert message.startswith("The waiver was not recorded:")
    for part in ("covenant it applies to", "before today", "needs a reason", "e-mail address", "'ana'"):
        assert part in message


@pytest.mark.parametrize("by", ["ana@lender.example", "a.b+risk@bank.co.uk"])
def test_email_like_authors_pass(by):
    assert waiver_problems("FAC-1", "min-dscr", date(2026, 3, 2), "ok", by, date(2026, 3, 2)) == []


@pytest.mark.parametrize("by", ["", "ana", "ana@", "@lender.example", "ana lender@x.example", "ana@lender"])
def test_authors_that_are_not_emails_fail(by):
    problems = waiver_problems("FAC-1", "min-dscr", date(2026, 3, 2), "ok", by, date(2026, 3, 2))
    assert len(problems) == 1 and "e-mail address" in problems[0]


def test_today_can_be_given_apart_from_created_at():
    w = make_waiver("FAC-1", "min-dscr", date(2026, 3, 5), "r", "ana@lender.example", GRANTED, today=date(2026, 3, 5))
    assert w.until == date(2026, 3, 5)
    with pytest.raises(UsageError):
        make_waiver("FAC-1", "min-dscr", date(2026, 3, 5), "r", "ana@lender.example", GRANTED, today=date(2026, 3, 6))
