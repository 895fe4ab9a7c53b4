"""Set-based advancement: alerts advanced chunk by chunk as results stream in, written in bulk.

The same book checked with chunks of 3 results and of thousands gives the same alert states; a
steady day (nothing changed) writes no alert state; `check --format json` streams its rows and still
advances the alerts and queues the notifications.
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import nullcontext

from sqlalchemy import func, select

from bot.alerts import store
from bot.alerts.advance import AlertAdvance
from bot.alerts.tables import AlertStateChanges, AuditRow
from bot.config import load_settings
from bot.notify.tables import OutboxRow
from bot.rulefiles.loader import load_rules
from bot.store.db import session_scope
from bot.usecases.evaluate import evaluations as iter_evaluations
from tests.support.alerts_env import make_book, rule_text

DAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 6, tzinfo=dt.timezone.utc)
IDS = [f"FAC-{i:02d}" for i in range(12)]


def _book(tmp_path):
    book = make_book(tmp_path / "book")
    book.write_rules(rule_text(pending_evaluations=2))
    book.write_facilities([(fid, f"Borrower {fid}", "", "") for fid in IDS])
    book.set_status(DAY, "breach", IDS[:5])
    book.set_status(DAY, "warning", IDS[5:8])
    return book


def _advance(book, chunk: int, day: dt.date, now: dt.datetime):
    engine = book.engine()
    with book.environment():
        settings = load_settings()
    ruleset = load_rules(str(book.rules))
    with session_scope(engine) as session:
        advancing = AlertAdvance(lambda: nullcontext(session), ruleset, now, settings, store.current_waivers(session),
                                 chunk=chunk)
        for result in iter_evaluations(engine, ruleset, day, session=session, on_facilities=lambda chunk: advancing.facilities_seen(d.facility for d in chunk)):
            advancing.add(result)
        run = advancing.finish(session)
    with session_scope(engine) as session:
        return run, store.load_states(session)


def test_small_chunks_and_one_big_chunk_give_the_same_states(tmp_path):
    small, states_small = _advance(_book(tmp_path / "a"), 3, DAY, NOW)
    big, states_big = _advance(_book(tmp_path / "b"), 10_000, DAY, NOW)
    assert len(states_small) == 8  # the four met covenants are at rest: no stored state at all
    strip = {k: (s.state, s.candidate_count, s.status) for k, s in states_small.items()}
    assert strip == {k: (s.state, s.candidate_count, s.status) for k, s in states_big.items()}
    assert small.states_written == big.states_written == 8
    # pending_evaluations 2: nothing fires on the first test date, eight alerts are pending
    assert sum(1 for s in states_small.values() if s.state == "pending") == 8


def test_a_steady_day_writes_no_alert_state_and_no_audit(tmp_path):
    book = _book(tmp_path)
    _advance(book, 5, DAY, NOW)
    with session_scope(book.engine()) as session:
        audit_before = session.scalar(select(func.count()).select_from(AuditRow))
    run, _ = _advance(book, 5, DAY, NOW + dt.timedelta(hours=1))  # the same test date again: nothing moves
    assert run.states_written == 0 and not run.kinds
    with session_scope(book.engine()) as session:
        assert session.scalar(select(func.count()).select_from(AuditRow)) == audit_before


def test_the_next_day_with_the_same_statuses_writes_only_what_moved(tmp_path):
    book = _book(tmp_path)
    _advance(book, 5, DAY, NOW)
    _advance(book, 5, DAY + dt.timedelta(days=1), NOW + dt.timedelta(days=1))  # pending → firing: 8 written
    book.set_status(DAY + dt.timedelta(days=2), "breach", IDS[:5])
    book.set_status(DAY + dt.timedelta(days=2), "warning", IDS[5:8])
    run, states = _advance(book, 5, DAY + dt.timedelta(days=2), NOW + dt.timedelta(days=2))
    assert run.states_written == 0 and not run.kinds  # the firing alerts hold, the others stay at rest
    assert sum(1 for s in states.values() if s.state == "firing") == 8


def test_check_json_streams_rows_and_still_fires_the_alerts(tmp_path):
    book = make_book(tmp_path / "book")
    book.write_rules(rule_text())
    book.write_facilities([(fid, f"Borrower {fid}", "", "") for fid in IDS])
    book.set_status(DAY, "breach", IDS[:3])
    out = book.check(DAY, "--format", "json").output
    rows = json.loads(out)
    assert len(rows) == 12 and sum(r["status"] == "breach" for r in rows) == 3
    with session_scope(book.engine()) as session:
        states = store.load_states(session)
        assert sorted(k[0] for k, s in states.items() if s.state == "firing") == IDS[:3]
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 3  # one Slack notice each


def test_a_check_that_finishes_after_another_one_advances_the_alerts_again_without_a_second_message(tmp_path):
    from bot.notify.dispatcher import DispatchReport
    from bot.store.repository import RUNS, latest_run
    from bot.usecases.notify import check_and_notify

    book = make_book(tmp_path / "book")
    book.write_rules(rule_text())
    book.write_facilities([(fid, f"Borrower {fid}", "", "") for fid in IDS])
    book.set_status(DAY, "breach", IDS[:3])
    engine = book.engine()
    with book.environment():
        settings = load_settings()
    ruleset = load_rules(str(book.rules))
    inner = []

    def meanwhile(_result) -> None:  # while the first check evaluates, a second one runs whole
        if not inner:
            inner.append(check_and_notify(engine, ruleset, DAY, now=NOW, routing=settings, deliver=DispatchReport))

    outer = check_and_notify(engine, ruleset, DAY, now=NOW, routing=settings, deliver=DispatchReport,
                             on_result=meanwhile)
    assert inner[0].alerts.kinds["firing"] == 3
    assert not outer.alerts.kinds  # advanced again from its stored results: the alerts were already firing
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 3  # no second message
        assert latest_run(session, DAY).id == inner[0].run_id  # both finished; the inner one started last
        assert session.scalar(select(func.count()).select_from(RUNS).where(RUNS.c.finished_at.is_not(None))) == 2
        states = store.load_states(session)
        assert sorted(k[0] for k, s in states.items() if s.state == "firing") == IDS[:3]


def _daily(book, monkeypatch, pooled: bool, runs: int = 6, day: dt.date = DAY):
    import functools

    from bot.notify.dispatcher import DispatchReport
    from bot.store.db import make_engine
    from bot.usecases import check_pool
    from bot.usecases.notify import check_and_notify

    engine = book.engine()
    with book.environment():
        settings = load_settings()
    ruleset = load_rules(str(book.rules))
    if pooled:  # a small book on the worker pool: runs of 7 facilities
        monkeypatch.setattr(check_pool, "MIN_FACILITIES", 10)
        monkeypatch.setattr(check_pool, "RUN_SIZE", 7)
        monkeypatch.setattr(check_pool, "available_cpus", lambda: 2)
        real = check_pool.evaluated_runs

        def spied(*args, **kwargs):
            pools.append(args[4])  # the runs of facility ids handed to the workers
            return real(*args, **kwargs)

        monkeypatch.setattr(check_pool, "evaluated_runs", spied)
    pools: list = []
    seen = []
    now = dt.datetime.combine(day, NOW.timetz())
    checked = check_and_notify(engine, ruleset, day, now=now, routing=settings, deliver=DispatchReport,
                               on_result=seen.append,
                               worker_engine=functools.partial(make_engine, book.env["COVBOT_DATABASE_URL"])
                               if pooled else None)
    assert len(pools) == (1 if pooled else 0) and (not pooled or len(pools[0]) == runs)  # runs of 7 facilities
    with session_scope(engine) as session:
        messages = sorted((r.transport, r.route, r.kind, r.payload) for r in session.scalars(select(OutboxRow)))
        kinds = sorted((r.facility_id, r.covenant_id, r.kind, r.detail) for r in session.scalars(select(AuditRow)))
        states = store.load_states(session)
        assert not session.scalar(select(func.count()).select_from(AlertStateChanges))  # nothing left staged
    return checked, seen, messages, kinds, states


POOL_IDS = [f"FAC-{i:02d}" for i in range(40)]


def _two_books(tmp_path, statuses: list[tuple[dt.date, str, list[str]]] = ()):
    """The same book twice ("here" and "pool"): 40 facilities, three owners; 15 in breach and 10 in
    warning on DAY, then ``statuses``."""
    books = []
    for name in ("here", "pool"):
        book = make_book(tmp_path / name)
        book.write_rules(rule_text())
        book.write_facilities([(fid, f"Borrower {fid}", f"owner{int(fid[-2:]) % 3}@bank.example", "")
                               for fid in POOL_IDS])
        for day, status, ids in [(DAY, "breach", POOL_IDS[:15]), (DAY, "warning", POOL_IDS[15:25]), *statuses]:
            book.set_status(day, status, ids)
        books.append(book)
    return books


def test_the_worker_pool_gives_the_same_results_alerts_messages_and_audit_as_one_process(tmp_path, monkeypatch):
    books = _two_books(tmp_path)
    here = _daily(books[0], monkeypatch, pooled=False)
    from bot.alerts import routed

    monkeypatch.setattr(routed, "FLUSH", 3)  # the events to send go to the file 3 at a time
    pool = _daily(books[1], monkeypatch, pooled=True)
    assert [(r.facility_id, r.status) for r in pool[1]] == [(r.facility_id, r.status) for r in here[1]]
    assert pool[0].alerts.kinds == here[0].alerts.kinds and pool[0].alerts.kinds["firing"] == 25
    assert pool[0].alerts.emails == here[0].alerts.emails == 3
    strip = [(t, route, kind) for t, route, kind, _ in here[2]]
    assert [(t, route, kind) for t, route, kind, _ in pool[2]] == strip
    # the e-mails rendered by the workers say what those rendered here say (ids differ per message)
    assert [p.count("FAC-") for *_, p in pool[2]] == [p.count("FAC-") for *_, p in here[2]]
    assert [k[:3] for k in pool[3]] == [k[:3] for k in here[3]]
    assert [k[3].split("; ")[-1] for k in pool[3]] == [k[3].split("; ")[-1] for k in here[3]]  # queued for …
    assert pool[4] == here[4] and len(here[4]) == 25  # the states the workers staged, as written here


def test_on_later_days_the_workers_staged_changes_update_the_alerts_as_one_process_does(tmp_path, monkeypatch):
    """Day two moves alerts that exist (UPDATEd from the stage), opens new ones (INSERTed) and
    resolves others; day three is steady. Every state, message and audit row as in one process."""
    ids = POOL_IDS
    later, last = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    days: list = []
    books = _two_books(tmp_path, [(later, "breach", ids[15:20]),  # warning -> breach
                                  (later, "ok", ids[:5]),  # breach -> resolved
                                  (later, "warning", ids[30:35])])  # new alerts
    for book, pooled in zip(books, (False, True)):
        days.append([_daily(book, monkeypatch, pooled=pooled, day=d) for d in (DAY, later, last)])
    here, pool = days
    for one, other in zip(here, pool):
        assert other[0].alerts.kinds == one[0].alerts.kinds
        assert other[4] == one[4]
        assert [k[:3] for k in other[3]] == [k[:3] for k in one[3]]
        assert [(t, route, kind) for t, route, kind, _ in other[2]] == [(t, route, kind) for t, route, kind, _ in one[2]]
    assert pool[1][0].alerts.kinds["escalated"] == 5 and pool[1][0].alerts.kinds["resolved"] == 5
    assert pool[1][0].alerts.kinds["firing"] == 5
    assert not pool[2][0].alerts.kinds and pool[2][0].alerts.states_written == 0  # a steady day
    moved = {k: s for k, s in pool[1][4].items() if k[0] in ids[15:20]}
    assert {s.alert_status for s in moved.values()} == {"breach"}


def test_with_other_threads_running_the_workers_come_from_the_fork_server_and_give_the_same_messages(
        tmp_path, monkeypatch):
    import threading

    from bot.usecases import check_pool

    ids = [f"FAC-{i:02d}" for i in range(20)]
    book = make_book(tmp_path / "spawned")
    book.write_rules(rule_text())
    book.write_facilities([(fid, f"Borrower {fid}", "owner@bank.example", "") for fid in ids])
    book.set_status(DAY, "breach", ids[:6])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)  # as in the service: not the only thread
    other.start()
    try:
        assert check_pool._context().get_start_method() == "forkserver"
        checked, seen, messages, _, states = _daily(book, monkeypatch, pooled=True, runs=3)
    finally:
        stop.set()
    assert len(seen) == 20 and checked.alerts.kinds["firing"] == 6
    assert [(t, route) for t, route, *_ in messages if t == "email"] == [("email", "owner@bank.example")]
    assert sum(1 for t, *_ in messages if t == "slack") == 6  # one notice each in the rule's channel
    assert sum(1 for s in states.values() if s.state == "firing") == 6
