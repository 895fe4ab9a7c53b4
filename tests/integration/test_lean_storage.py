"""Lean storage (issue 12), on SQLite and PostgreSQL: what a stored result holds, and compressed e-mails.

A stored result keeps what a reader cannot derive: no headroom (a function of the value and the
stored, effective threshold), no metric per row (the covenant's, once per run in
``evaluation_metrics``). Readers derive both, so a result read back equals the computed one to the
last digit. E-mail payloads in the outbox are stored zlib-compressed, transparently. Migration
0007 moves existing databases over, and back.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlmodel import SQLModel

from bot.domain.results import CovenantResult
from bot.domain.thresholds import Threshold
from bot.notify import outbox
from bot.notify.messages import Attachment
from bot.notify.tables import OutboxRow
from bot.rulefiles.loader import load_rules
from bot.store.db import MIGRATIONS, current_revisions, head_revisions, session_scope
from bot.store.repository import (
    METRICS,
    RESULTS,
    latest_result,
    run_results,
    save_evaluation,
    save_results,
    start_run,
)
from bot.store.retention import prune_results
from bot.usecases.check import run_check
from bot.usecases.evaluate import evaluations
from bot.usecases.imports import import_data
from tests.support.schema import table_of

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = ROOT / "bot" / "demo" / "portfolio"
RULES = ROOT / "rules"
AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)


def _computed(r: CovenantResult) -> CovenantResult:
    """What a stored result reads back as: everything but the forward rate (never stored)."""
    return dataclasses.replace(r, rental_deflation=None)


def _result(fid: str, cid: str, value: str | None, threshold: str = ">= 1.25", metric: str = "dscr_ttm",
            status: str = "ok") -> CovenantResult:
    t = Threshold.parse(threshold)
    v = None if value is None else Decimal(value)
    return CovenantResult(fid, cid, metric, AS_OF, v, t, status if v is not None else "no_data",
                          None if v is None else t.headroom(v), None if v is not None else "no data")


# --- what a stored result holds ----------------------------------------------------------------


def test_a_stored_result_reads_back_as_computed_to_the_last_digit(engine):
    import_data(engine, DEMO_DATA)
    ruleset = load_rules(str(RULES))
    for as_of in (AS_OF, date(2026, 3, 31)):
        outcome = run_check(engine, ruleset, as_of, now=NOW)
        with session_scope(engine) as session:
            back = run_results(session, outcome.run_id)
        computed = [_computed(r) for r in outcome.results]
        assert len(back) == len(computed) > 50
        assert back == computed
        # identical to the digit, not only equal in value: the JSON a reader would print is the same
        assert [json.dumps(r.as_json()) for r in back] == [json.dumps(r.as_json()) for r in computed]
        assert any(r.headroom is not None and r.headroom < 0 for r in back)
        assert any(r.status == "no_data" for r in back)


def test_the_results_table_keeps_no_headroom_no_metric_and_only_the_indexes_read(engine):
    found = inspect(engine)
    columns = {c["name"] for c in found.get_columns("evaluation_results")}
    assert "headroom" not in columns and "metric" not in columns
    assert {"run_id", "facility_id", "covenant_id", "as_of", "value", "threshold", "status", "reason",
            "months_to_breach"} <= columns
    indexes = {i["name"] for i in found.get_indexes("evaluation_results")}
    assert indexes == {"ix_evaluation_results_facility_covenant_as_of", "ix_evaluation_results_run_id"}


def test_the_metric_is_stored_once_per_run_and_covenant(engine):
    results = [_result(f"F-{i:03d}", cid, "1.3", metric=f"metric of {cid}")
               for i in range(40) for cid in ("a-cov", "b-cov", "c-cov")]
    with session_scope(engine) as session:
        run_id = save_evaluation(session, "check", AS_OF, NOW, "d", iter(results))
    with session_scope(engine) as session:
        stored = session.execute(select(METRICS.c.covenant_id, METRICS.c.metric)
                                 .where(METRICS.c.run_id == run_id).order_by(METRICS.c.covenant_id)).all()
        assert [tuple(r) for r in stored] == [("a-cov", "metric of a-cov"), ("b-cov", "metric of b-cov"),
                                              ("c-cov", "metric of c-cov")]
        back = run_results(session, run_id)
    assert back == sorted(results, key=lambda r: (r.facility_id, r.covenant_id))


def test_one_covenant_with_two_metrics_in_one_run_is_refused(engine):
    with pytest.raises(ValueError, match="a-cov"):
        with session_scope(engine) as session:
            save_evaluation(session, "check", AS_OF, NOW, "d",
                            [_result("F-1", "a-cov", "1", metric="x"), _result("F-2", "a-cov", "1", metric="y")])


def test_rows_can_be_written_to_a_run_in_pieces(engine):
    """The lower level: a run started, results written in several calls, then finished."""
    first = [_result(f"F-{i}", "a-cov", str(i)) for i in range(3)]
    second = [_result(f"F-{i}", "a-cov", str(i)) for i in range(3, 6)] + [_result("F-9", "b-cov", None, "<= 0.7")]
    with session_scope(engine) as session:
        run_id = start_run(session, "check", AS_OF, NOW, "d")
        assert save_results(session, run_id, iter(first)) == 3
    with session_scope(engine) as session:  # another transaction: the run's metrics are found again
        assert save_results(session, run_id, iter(second)) == 4
    with session_scope(engine) as session:
        assert run_results(session, run_id) == first + second
        assert session.scalar(select(func.count()).select_from(METRICS).where(METRICS.c.run_id == run_id)) == 2


def test_the_latest_result_of_an_alert_has_its_metric_and_headroom(engine):
    with session_scope(engine) as session:
        save_evaluation(session, "check", date(2026, 11, 19), NOW, "d", [_result("F-1", "a-cov", "2")])
        save_evaluation(session, "check", AS_OF, NOW, "d", [_result("F-1", "a-cov", "1.1", "<= 1.0", "ltv")])
    with session_scope(engine) as session:
        found = latest_result(session, "F-1", "a-cov")
        assert latest_result(session, "F-1", "other") is None
    assert found == _result("F-1", "a-cov", "1.1", "<= 1.0", "ltv")
    assert found.headroom == Decimal("-0.1") and found.metric == "ltv"


def test_pruning_a_run_removes_its_metrics(engine):
    with session_scope(engine) as session:
        old = save_evaluation(session, "check", date(2020, 1, 2), NOW, "d", [_result("F-1", "a-cov", "1")])
        kept = save_evaluation(session, "check", AS_OF, NOW, "d", [_result("F-1", "a-cov", "1")])
    with session_scope(engine) as session:
        assert prune_results(session, AS_OF, keep_days=400).runs == 1
    with session_scope(engine) as session:
        assert set(session.scalars(select(METRICS.c.run_id))) == {kept}
        assert set(session.scalars(select(RESULTS.c.run_id))) == {kept} and kept != old


# --- e-mails in the outbox ---------------------------------------------------------------------


def _raw_payload(engine, row_id: int) -> bytes | str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT payload FROM outbox WHERE id = :i"), {"i": row_id}).scalar_one()


def _big_html(n: int = 50) -> str:
    block = ('<tr><td style="padding:4px 8px;border-bottom:1px solid #e5e7eb;font-family:Arial">'
             'GPUC-{i:03d} · min-dscr</td><td style="color:#b91c1c;font-weight:bold">breach ✗</td></tr>')
    return "<table>" + "".join(block.format(i=i) for i in range(n)) + "</table>"


def test_an_email_payload_is_stored_compressed_and_read_as_it_was_queued(engine):
    html = _big_html()
    csv = Attachment("alerts.csv", "text/csv", ("facility_id,covenant_id\n" + "GPUC-001,min-dscr\n" * 500).encode())
    with session_scope(engine) as session:
        mail = outbox.enqueue_email(session, ["ana@lender.example"], "3 breaches — é", "text part", html,
                                    kind="alert_group", now=NOW, alerts=[("GPUC-001", "min-dscr")],
                                    attachments=[csv])
        slack = outbox.enqueue_slack(session, "#credit", "short", [{"type": "divider"}], kind="alert", now=NOW)
        session.flush()
        mail_id, slack_id = mail.id, slack.id
    raw = bytes(_raw_payload(engine, mail_id))
    plain = json.dumps(outbox.payload_of(mail), ensure_ascii=False).encode()
    assert len(raw) * 5 < len(plain)  # compressed
    assert json.loads(zlib.decompress(raw[1:])) == outbox.payload_of(mail)
    assert json.loads(bytes(_raw_payload(engine, slack_id))) == {"text": "short", "blocks": [{"type": "divider"}],
                                                                 "alerts": []}  # small: plain JSON
    with session_scope(engine) as session:
        row = session.get(OutboxRow, mail_id)
        payload = outbox.payload_of(row)
        assert json.loads(row.payload) == payload  # every reader of .payload gets the JSON text
    assert payload["html"] == html and payload["subject"] == "3 breaches — é"
    assert Attachment.from_stored(payload["attachments"][0]) == csv
    assert outbox.alerts_of(row) == [("GPUC-001", "min-dscr")]


# --- migration 0007 ----------------------------------------------------------------------------


def _migrate(engine, revision: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _old_result_row(run_id: int, r: CovenantResult) -> dict:
    """A row as covbot wrote it before 0007 (metric and headroom on every row)."""
    return {"run_id": run_id, "as_of": r.as_of, "facility_id": r.facility_id, "covenant_id": r.covenant_id,
            "metric": r.metric, "value": None if r.value is None else str(r.value), "threshold": str(r.threshold),
            "status": r.status, "headroom": None if r.headroom is None else str(r.headroom), "reason": r.reason,
            "months_to_breach": r.months_to_breach}


_OLD_INSERT = text(
    "INSERT INTO evaluation_results (run_id, as_of, facility_id, covenant_id, metric, value, threshold, status, "
    "headroom, reason, months_to_breach) VALUES (:run_id, :as_of, :facility_id, :covenant_id, :metric, :value, "
    ":threshold, :status, :headroom, :reason, :months_to_breach)")
_OLD_OUTBOX = text(
    "INSERT INTO outbox (notification_id, transport, route, kind, payload, state, attempts, created_at, "
    "next_attempt_at) VALUES (:n, :t, :r, 'alert_group', :p, 'sent', 1, :at, :at)")


def test_migration_0007_keeps_every_result_and_message_and_goes_back(database):
    engine = database.blank_engine()
    _migrate(engine, "0006")
    import_data(engine, DEMO_DATA)
    ruleset = load_rules(str(RULES))
    runs: dict[int, list[CovenantResult]] = {}
    mail = {"to": ["ana@lender.example"], "subject": "s", "text": "t", "html": _big_html(), "alerts": [["A", "b"]]}
    note = {"text": "x", "blocks": [], "alerts": []}
    at = NOW.replace(tzinfo=None) if database.backend == "sqlite" else NOW
    with engine.begin() as conn:
        for as_of in (date(2026, 3, 31), AS_OF):
            run_id = conn.execute(text(
                "INSERT INTO evaluation_runs (kind, as_of, started_at, finished_at, rules_digest) "
                "VALUES ('check', :d, :at, :at, 'x') RETURNING id"), {"d": as_of, "at": at}).scalar_one()
            results = sorted(evaluations(engine, ruleset, as_of), key=lambda r: (r.facility_id, r.covenant_id))
            conn.execute(_OLD_INSERT, [_old_result_row(run_id, r) for r in results])
            runs[run_id] = [_computed(r) for r in results]
        conn.execute(_OLD_OUTBOX, [{"n": "mail-1", "t": "email", "r": "ana@lender.example",
                                    "p": json.dumps(mail, ensure_ascii=False), "at": at},
                                   {"n": "slack-1", "t": "slack", "r": "#c", "p": json.dumps(note), "at": at}])
    with engine.connect() as conn:
        before = [tuple(r) for r in conn.execute(text(
            "SELECT id, run_id, facility_id, covenant_id, metric, value, threshold, headroom FROM evaluation_results "
            "ORDER BY id"))]

    _migrate(engine, "head")
    assert current_revisions(engine) == head_revisions()
    with session_scope(engine) as session:
        for run_id, computed in runs.items():
            assert run_results(session, run_id) == computed
        rows = {r.notification_id: r for r in session.scalars(select(OutboxRow))}
        assert outbox.payload_of(rows["mail-1"]) == mail and outbox.payload_of(rows["slack-1"]) == note
        assert session.scalar(select(func.count()).select_from(METRICS)) == sum(
            len({r.covenant_id for r in rs}) for rs in runs.values())
    compressed = bytes(_raw_payload(engine, rows["mail-1"].id))
    assert json.loads(zlib.decompress(compressed[1:])) == mail  # old e-mails are compressed too
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert [d for d in diffs if table_of(d) in ("evaluation_results", "evaluation_metrics", "outbox")] == []

    _migrate(engine, "0006", down=True)
    with engine.connect() as conn:
        after = [tuple(r) for r in conn.execute(text(
            "SELECT id, run_id, facility_id, covenant_id, metric, value, threshold, headroom FROM evaluation_results "
            "ORDER BY id"))]
        assert after == before  # headroom recomputed, metric back on every row
        payloads = dict(conn.execute(text("SELECT notification_id, payload FROM outbox")).all())
        indexes = {i["name"] for i in inspect(conn).get_indexes("evaluation_results")}
    assert json.loads(payloads["mail-1"]) == mail and isinstance(payloads["mail-1"], str)
    assert "ix_evaluation_results_as_of_status" in indexes
    _migrate(engine, "head")  # and up again
    with session_scope(engine) as session:
        for run_id, computed in runs.items():
            assert run_results(session, run_id) == computed
