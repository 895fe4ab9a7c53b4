"""Use case `covbot import` (and the service's inbox): CSV files into the store, all or nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from bot.errors import UsageError
from bot.imports import ImportSummary, import_directory
from bot.imports.importer import Progress


def import_data(engine: Engine, path: str | Path, progress: Progress | None = None) -> ImportSummary:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path!r} does not exist; give a folder of CSV files, one CSV file or an Excel workbook (.xlsx).")
    return import_directory(engine, p, progress=progress)
