"""A daily `covbot check` across a quarter end and its reports sends no alert caused by the gap.

The demo book with the shipped rules, a SQLite file and the file outbox (no Slack token, no SMTP
host), the real CLI run every morning from 2026-09-25 to 2026-11-05 (Q3 2026 ends on 2026-09-30;
the borrowers deliver it from 2026-10-21 to 2026-10-24; Meridian never does). Between a quarter's
end and its report the previous test period stands, so:

- no covenant on the test period (DSCR, forward DSCR, liquidity) turns no data, and no message
  says data is missing, except for Fjordlight, which has fewer than 4 quarters of history;
- such a covenant changes status only on the day its borrower's report arrives, as an ordinary
  escalation or improvement (Kestrel's DSCR 1.27x warning → 1.12x breach on 2026-10-21);
- every message after the first morning is a reminder of an open alert or follows a status change
  (reports, crypto prices, GPU marks, and Meridian's reporting covenant, whose job a late report is).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from pathlib import Path

import pytest
import time_machine

from bot.rulefiles.loader import load_rules
from tests.support.alerts_env import make_book

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "bot" / "demo" / "portfolio"
RULES = REPO / "rules"
FIRST, LAST = dt.date(2026, 9, 25), dt.date(2026, 11, 5)
TEST_PERIOD_COVENANTS = {"min-dscr", "miner-dscr", "fwd-dscr-12m", "min-liquidity"}
SHORT_HISTORY = {"AIDC-003"}  # Fjordlight: 3 of 4 quarters, no data before and after the gap alike
FACILITY = re.compile(r"\b[A-Z]{4}-\d{3}\b")
MISSING_WORDS = ("data missing", "missing data", "without data", "no data")


def report_dates() -> dict[str, set[dt.date]]:
    dates: dict[str, set[dt.date]] = {}
    lines = (DEMO / "financials.csv").read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        cells = line.split(",")
        dates.setdefault(cells[0], set()).add(dt.date.fromisoformat(cells[9] or cells[1]))
    return dates


class Message:
    def __init__(self, day: dt.date, kind: str, text: str, facility_ids: set[str], covenant_ids: set[str]):
        self.day, self.kind, self.text = day, kind, text
        self.facility_ids, self.covenant_ids = facility_ids, covenant_ids

    @property
    def reminder(self) -> bool:
        return "reminder" in self.text.lower()

    @property
    def says_data_missing(self) -> bool:
        return any(word in self.text.lower() for word in MISSING_WORDS)

    def __repr__(self) -> str:
        return f"{self.day} {self.kind}: {self.text[:120]!r}"


def read_message(path: Path, day: dt.date, titles: dict[str, str], owners: dict[str, str]) -> Message:
    if path.suffix == ".json":  # Slack: the chat.postMessage arguments
        body = json.loads(path.read_text(encoding="utf-8"))
        whole = json.dumps(body, ensure_ascii=False)
        return Message(day, "slack", body["text"], set(FACILITY.findall(body["text"])),
                       {cid for title, cid in titles.items() if title in whole})
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    subject = str(message["Subject"])
    recipients = str(message["To"]) + "," + str(message.get("Cc") or "")
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return Message(day, "email", subject + "\n" + text,
                   {fid for address, fid in owners.items() if address in recipients},
                   {cid for title, cid in titles.items() if title in text})


@pytest.fixture(scope="module")
def daily_run(tmp_path_factory):
    """Statuses per day and the messages each morning's check sent."""
    book = make_book(tmp_path_factory.mktemp("test-period-alerts"))
    book.ok(book.cli("import", str(DEMO)))
    ruleset = load_rules(RULES)
    titles = {c.title: c.id for c in ruleset.covenants if c.title}
    owners = {}
    for line in (DEMO / "facilities.csv").read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split(",")
        owners[cells[-2]] = cells[0]
    statuses: dict[dt.date, dict[tuple[str, str], str]] = {}
    messages: list[Message] = []
    seen: set[Path] = set()
    day = FIRST
    while day <= LAST:
        with time_machine.travel(dt.datetime.combine(day, dt.time(6), tzinfo=dt.timezone.utc), tick=True):
            result = book.ok(book.cli("check", "--rules", str(RULES), "--as-of", day.isoformat(), "--format", "json"))
        statuses[day] = {(r["facility_id"], r["covenant_id"]): r["status"] for r in json.loads(result.stdout)}
        files = {p for p in book.outbox_dir.rglob("*") if p.suffix in (".json", ".eml")}
        messages += [read_message(p, day, titles, owners) for p in sorted(files - seen)]
        seen |= files
        day += dt.timedelta(days=1)
    return statuses, messages


def changes(statuses) -> list[tuple[dt.date, str, str, str, str]]:
    """(day, facility, covenant, before, after) for every status change from one day to the next."""
    days = sorted(statuses)
    found = []
    for before, after in zip(days, days[1:]):
        for pair, status in statuses[after].items():
            if statuses[before].get(pair) != status:
                found.append((after, *pair, statuses[before].get(pair), status))
    return found


def test_no_covenant_on_the_test_period_turns_no_data_in_the_gap(daily_run):
    statuses, _ = daily_run
    no_data = {(day, fid, cid) for day, rows in statuses.items() for (fid, cid), status in rows.items()
               if status == "no_data" and cid in TEST_PERIOD_COVENANTS and fid not in SHORT_HISTORY}
    assert no_data == set()


def test_covenants_on_the_test_period_change_status_only_on_a_report_date(daily_run):
    statuses, _ = daily_run
    reported = report_dates()
    moved = [(day, fid, cid, before, after) for day, fid, cid, before, after in changes(statuses)
             if cid in TEST_PERIOD_COVENANTS]
    off_report = [change for change in moved if change[0] not in reported[change[1]]]
    assert off_report == []
    # not vacuous: the Q3 2026 reports did move covenants, as ordinary escalations
    assert (dt.date(2026, 10, 21), "GPUC-003", "min-dscr", "warning", "breach") in moved
    assert (dt.date(2026, 10, 24), "GPUC-006", "min-dscr", "ok", "warning") in moved
    assert all("no_data" not in (before, after) for *_, before, after in moved)


def test_no_alert_is_sent_because_of_the_reporting_gap(daily_run):
    statuses, messages = daily_run
    assert messages, "the daily checks sent nothing at all"
    reported = report_dates()
    changed_on: dict[dt.date, set[tuple[str, str]]] = {}
    for day, fid, cid, _, _ in changes(statuses):
        changed_on.setdefault(day, set()).add((fid, cid))

    # 1. no message about missing data, except reminders for the borrower with a short history
    missing = [m for m in messages if m.says_data_missing and not (m.facility_ids <= SHORT_HISTORY and m.facility_ids)]
    assert missing == []
    opened_missing = [m for m in messages if m.day > FIRST and m.says_data_missing and not m.reminder]
    assert opened_missing == []

    # 2. after the first morning, every message that is not a reminder follows a status change of
    #    its facility that day (or the day before: crypto-cover waits for 2 evaluations in a row);
    #    for a covenant on the test period, on a report date
    def changed_facilities(day: dt.date) -> set[str]:
        return {fid for d in (day, day - dt.timedelta(days=1)) for fid, _ in changed_on.get(d, ())}

    events = [m for m in messages if m.day > FIRST and not m.reminder]
    unexplained = [m for m in events if not m.facility_ids or not m.facility_ids & changed_facilities(m.day)]
    assert unexplained == [], "\n".join(map(repr, unexplained))
    on_test_period = [m for m in events if m.covenant_ids & TEST_PERIOD_COVENANTS]
    assert on_test_period, "the Q3 reports should have moved some DSCR covenants"
    assert [m for m in on_test_period if not any(m.day in reported[fid] for fid in m.facility_ids)] == []

    # 3. how many: every event on a covenant on the test period is one of the report-day changes
    report_day_changes = {(day, fid) for day, pairs in changed_on.items() for fid, cid in pairs
                          if cid in TEST_PERIOD_COVENANTS}
    assert {(m.day, fid) for m in on_test_period for fid in m.facility_ids} <= report_day_changes
