"""Column types that keep values exact across SQLite and PostgreSQL.

* ``DecimalText``: a Decimal stored as its text (``str(d)`` in, ``Decimal(text)`` out), so
  ``Decimal("1.50")`` comes back as ``Decimal("1.50")`` on every backend, at any precision.
* ``UTCDateTime``: timezone-aware UTC datetimes in, timezone-aware UTC datetimes out (SQLite keeps
  no offset, so the value is stored as naive UTC and marked UTC on the way out).
* ``PackedText``: text in, text out, stored as bytes (``bytea`` / ``BLOB``): zlib-compressed from
  1 KiB up (an e-mail's HTML and CSV shrink ten-fold or more), plain UTF-8 below.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import Column, Date, DateTime, LargeBinary, Table, Text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel does not declare ``__table__`` to type checkers)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class DecimalText(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                value = Decimal(value)
            else:
                raise TypeError(f"a decimal column takes Decimal, int or str, not {type(value).__name__}")
        return str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value)


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return datetime  # (TypeDecorator says ``object``) bulk inserts remember a datetime's conversion

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("datetimes must carry a timezone (covbot stores UTC)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw text from SQLite
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


PACKED_MARK = b"\xff"  # first byte of a compressed value: never the first byte of UTF-8 text
PACK_FROM = 1024  # bytes of UTF-8 from which a value is stored compressed


def pack_text(value: str) -> bytes:
    """How ``PackedText`` stores ``value``: its UTF-8, zlib-compressed (behind ``PACKED_MARK``) when
    it is at least ``PACK_FROM`` bytes long."""
    data = value.encode("utf-8")
    if len(data) < PACK_FROM:
        return data
    return PACKED_MARK + zlib.compress(data, 1)  # level 1: several times faster, nearly as small


def unpack_text(stored: bytes | memoryview | str) -> str:
    """The text ``pack_text`` stored (plain UTF-8 or compressed), or text kept as it was (SQLite)."""
    if isinstance(stored, str):
        return stored
    data = bytes(stored)
    if data[:1] == PACKED_MARK:
        data = zlib.decompress(data[1:])
    return data.decode("utf-8")


class Packed(bytes):
    """Text already packed by ``pack_text`` (e.g. on a worker process): ``PackedText`` stores it as
    it is."""

    @classmethod
    def of(cls, value: str) -> Packed:
        return cls(pack_text(value))


class PackedText(TypeDecorator):
    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, Packed):
            return bytes(value)
        if not isinstance(value, str):
            raise TypeError(f"a packed text column takes str, not {type(value).__name__}")
        return pack_text(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return unpack_text(value)


def KeyText() -> Text:
    """Text for identifiers and keys, ordered by code point on every backend.

    SQLite compares text byte-wise already; PostgreSQL gets ``COLLATE "C"`` so that ``ORDER BY``
    and range scans agree with Python's ``sorted`` whatever the database's locale.
    """
    return Text().with_variant(Text(collation="C"), "postgresql")


# Optional columns of the table models, one way everywhere (a NULL when unknown).
def optional_text():
    return Field(default=None, sa_column=Column(Text(), nullable=True))


def optional_when():
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


def optional_day():
    return Field(default=None, sa_column=Column(Date(), nullable=True))

