"""The CSV interchange contract (DOMAIN.md): each file's columns, key and value parsers."""

from __future__ import annotations

from dataclasses import dataclass

from bot.imports import fields as f
from bot.imports.fields import Parser


@dataclass(frozen=True)
class FileSpec:
    name: str                              # e.g. "financials.csv"
    table: str                             # table in bot.store.tables.DATA_TABLES
    columns: tuple[tuple[str, Parser], ...]
    key: tuple[str, ...]  # always the first columns, so a row's key is row[:len(key)]

    def __post_init__(self) -> None:
        if self.column_names[: len(self.key)] != self.key:
            raise ValueError(f"{self.name}: the key columns must come first")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def value_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.column_names if name not in self.key)

    @property
    def refers_to_facility(self) -> bool:
        return self.table != "facilities" and "facility_id" in self.column_names


_FACILITY_ID = ("facility_id", f.facility_id)

# In the order an import applies them: facilities first, so the others may refer to them.
SPECS: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(
            "facilities.csv", "facilities",
            (
                _FACILITY_ID,
                ("borrower", f.text),
                ("facility_type", f.text),
                ("currency", f.text),
                ("commitment", f.non_negative_decimal),
                ("outstanding", f.non_negative_decimal),
                ("origination_date", f.iso_date),
                ("maturity_date", f.iso_date),
                ("owner_email", f.optional_text),
                ("slack_channel", f.optional_text),
            ),
            ("facility_id",),
        ),
        FileSpec(
            "balances.csv", "balances",
            (_FACILITY_ID, ("as_of", f.iso_date), ("outstanding", f.non_negative_decimal)),
            ("facility_id", "as_of"),
        ),
        FileSpec(
            "financials.csv", "financials",
            (
                _FACILITY_ID,
                ("period_end", f.iso_date),
                ("revenue", f.decimal),
                ("opex", f.decimal),
                ("capex", f.decimal),
                ("taxes", f.decimal),
                ("interest", f.decimal),
                ("principal", f.decimal),
                ("cash", f.decimal),
                ("reported_on", f.optional_date),
            ),
            ("facility_id", "period_end"),
        ),
        FileSpec(
            "gpu_lots.csv", "gpu_lots",
            (
                _FACILITY_ID,
                ("lot_id", f.text),
                ("gpu_model", f.identifier),  # prices name it as GPU:<model>, without spaces
                ("quantity", f.non_negative_decimal),
                ("acquired_on", f.iso_date),
                ("unit_cost", f.non_negative_decimal),
            ),
            ("facility_id", "lot_id"),
        ),
        FileSpec(
            "crypto.csv", "crypto_holdings",
            (
                _FACILITY_ID,
                ("asset", f.symbol),
                ("as_of", f.iso_date),
                ("quantity", f.non_negative_decimal),
            ),
            ("facility_id", "asset", "as_of"),
        ),
        FileSpec(
            "prices.csv", "prices",
            (("symbol", f.symbol), ("date", f.iso_date), ("price", f.non_negative_decimal)),
            ("symbol", "date"),
        ),
    )
}
