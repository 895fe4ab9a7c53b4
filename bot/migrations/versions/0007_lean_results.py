"""Lean results and compressed e-mails (issue 12: database growth on a steady day).

* ``evaluation_results`` stops storing ``headroom`` (readers derive it from the value and the
  stored, effective threshold: ``Threshold.headroom``) and ``metric`` (the covenant's, the same on
  every row of a run: now once per run and covenant in the new ``evaluation_metrics``, filled from
  the existing rows); the unused index ``ix_evaluation_results_as_of_status`` goes.
* ``outbox.payload`` becomes bytes (``bytea`` / ``BLOB``, ``bot.store.types.PackedText``): JSON text
  as UTF-8, zlib-compressed (behind a 0xFF byte) from 1 KiB up. Existing rows are converted, and
  the large ones (every e-mail) compressed, here.

The downgrade restores both columns (the metric from ``evaluation_metrics``, the headroom
recomputed in Python exactly as covbot computes it: 28 digits, half-even), the index, and plain
JSON text in the outbox.

The compression and the headroom formula are written out here rather than imported, so this
script keeps doing what it did whatever later code does.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import zlib
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 2000  # rows read and rewritten per round trip
_MARK = b"\xff"  # first byte of a compressed payload (never the first byte of UTF-8 text)
_PACK_FROM = 1024


def KEY() -> sa.types.TypeEngine:
    """Identifiers: code-point order on PostgreSQL too (see bot.store.types.KeyText)."""
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


_outbox = sa.table("outbox", sa.column("id", sa.Integer()), sa.column("payload", sa.LargeBinary()))
_results = sa.table("evaluation_results", sa.column("id", sa.Integer()), sa.column("value", sa.Text()),
                    sa.column("threshold", sa.Text()), sa.column("headroom", sa.Text()))


def _rewrite(table: sa.TableClause, column: str, where: sa.ColumnElement[bool], change) -> None:
    """Rewrite ``column`` of the rows matching ``where`` with ``change(row)`` (None: leave the row),
    in batches by id (the table's first column) so memory stays flat on a large table."""
    conn = op.get_bind()
    after = 0
    while True:
        rows = conn.execute(
            sa.select(*table.c).where(where, table.c.id > after).order_by(table.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        updates = [{"row_id": row[0], "new": new} for row in rows if (new := change(row)) is not None]
        if updates:
            conn.execute(table.update().where(table.c.id == sa.bindparam("row_id"))
                         .values({column: sa.bindparam("new")}), updates)
        after = rows[-1][0]


def _pack(row) -> bytes | None:
    data = bytes(row.payload)
    if data[:1] == _MARK or len(data) < _PACK_FROM:
        return None
    return _MARK + zlib.compress(data, 6)


def _unpack(row) -> bytes | None:
    data = bytes(row.payload)
    return zlib.decompress(data[1:]) if data[:1] == _MARK else None


_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, Overflow, DivisionByZero])


def _headroom(row) -> str | None:
    """(value − t)/|t| for >= and >, (t − value)/|t| for <= and <; None when t = 0 (DOMAIN.md)."""
    op_, number = row.threshold.split(" ", 1)  # stored as str(Threshold): "<op> <plain decimal>"
    t, value = Decimal(number), Decimal(row.value)
    if t == 0:
        return None
    diff = _CONTEXT.subtract(value, t) if op_ in (">=", ">") else _CONTEXT.subtract(t, value)
    return str(_CONTEXT.divide(diff, _CONTEXT.abs(t)))


def upgrade() -> None:
    op.create_table(
        "evaluation_metrics",
        sa.Column("run_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("covenant_id", KEY(), primary_key=True),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["evaluation_runs.id"], ondelete="CASCADE",
                                name="fk_evaluation_metrics_run_id"),
    )
    # one metric per run and covenant by construction (the covenant's label); MIN only picks it
    op.execute(
        "INSERT INTO evaluation_metrics (run_id, covenant_id, metric) "
        "SELECT run_id, covenant_id, MIN(metric) FROM evaluation_results GROUP BY run_id, covenant_id"
    )
    with op.batch_alter_table("evaluation_results") as batch:
        batch.drop_index("ix_evaluation_results_as_of_status")
        batch.drop_column("headroom")
        batch.drop_column("metric")

    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("payload", existing_type=sa.Text(), type_=sa.LargeBinary(), existing_nullable=False,
                           postgresql_using="convert_to(payload, 'UTF8')")
    _rewrite(_outbox, "payload", sa.true(), _pack)


def downgrade() -> None:
    _rewrite(_outbox, "payload", sa.true(), _unpack)
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("payload", existing_type=sa.LargeBinary(), type_=sa.Text(), existing_nullable=False,
                           postgresql_using="convert_from(payload, 'UTF8')")

    with op.batch_alter_table("evaluation_results") as batch:
        batch.add_column(sa.Column("metric", sa.Text(), nullable=True))
        batch.add_column(sa.Column("headroom", sa.Text(), nullable=True))
    op.execute(
        "UPDATE evaluation_results SET metric = (SELECT m.metric FROM evaluation_metrics m "
        "WHERE m.run_id = evaluation_results.run_id AND m.covenant_id = evaluation_results.covenant_id)"
    )
    _rewrite(_results, "headroom", _results.c.value.is_not(None), _headroom)
    with op.batch_alter_table("evaluation_results") as batch:
        batch.alter_column("metric", existing_type=sa.Text(), nullable=False)
        batch.create_index("ix_evaluation_results_as_of_status", ["as_of", "status"])
    op.drop_table("evaluation_metrics")
