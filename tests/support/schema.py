"""Helpers for tests that compare the migrated schema with the table models."""

from __future__ import annotations


def table_of(diff) -> str:
    """The table an Alembic ``compare_metadata`` difference is about."""
    d = diff[0] if isinstance(diff, list) else diff
    kind, subject = d[0], d[1]
    if kind in ("add_table", "remove_table"):
        return subject.name
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        return subject.table.name
    if kind in ("add_fk", "remove_fk"):
        return subject.parent.name
    return d[2]  # add_column, remove_column, modify_*: (kind, schema, table, ...)
