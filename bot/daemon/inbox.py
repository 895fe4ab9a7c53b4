"""The inbox (COVBOT_INBOX): CSV and Excel drops imported all-or-nothing, then evaluated.

A drop is a sub-folder of CSV files (made elsewhere and moved in whole), a single ``*.csv`` file
or a single ``*.xlsx`` workbook (a sheet per contract file). Drops are taken in name order. Each is imported in one transaction; then it moves to
``done/`` or ``failed/`` inside the inbox. A failed drop keeps its files in a folder of its own
under ``failed/`` with ``error.txt`` beside them: a folder drop ``failed/<drop>/``, a single file
``failed/<file stem>/<file>``. A name already taken there gets a ``-<UTC time>`` suffix.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine

from bot.errors import CovbotError
from bot.usecases.imports import import_data

log = logging.getLogger("covbot.inbox")
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class DropOutcome:
    name: str
    imported: bool
    moved_to: Path
    message: str


def pending_drops(inbox: Path) -> list[Path]:
    """Drops waiting in the inbox, in name order (hidden entries and done/failed skipped)."""
    if not inbox.is_dir():
        return []
    return sorted(
        p for p in inbox.iterdir()
        if not p.name.startswith((".", "~$")) and p.name not in (DONE, FAILED)  # ~$: Excel's lock file
        and (p.is_dir() or (p.is_file() and p.suffix.lower() in (".csv", ".xlsx")))
    )


def _free_name(folder: Path, name: str, now: datetime) -> Path:
    target = folder / name
    if not target.exists():
        return target
    stem, dot, suffix = name.partition(".")
    return folder / f"{stem}-{now.strftime('%Y%m%dT%H%M%S%fZ')}{dot}{suffix}"


def _move_done(drop: Path, inbox: Path, now: datetime) -> Path:
    (inbox / DONE).mkdir(exist_ok=True)
    target = _free_name(inbox / DONE, drop.name, now)
    shutil.move(str(drop), str(target))
    return target


def _move_failed(drop: Path, inbox: Path, error: str, now: datetime) -> Path:
    (inbox / FAILED).mkdir(exist_ok=True)
    folder = _free_name(inbox / FAILED, drop.name if drop.is_dir() else drop.stem, now)
    if drop.is_dir():
        shutil.move(str(drop), str(folder))
    else:
        folder.mkdir()
        shutil.move(str(drop), str(folder / drop.name))
    (folder / "error.txt").write_text(error.rstrip() + "\n", encoding="utf-8")
    return folder


def process_drop(engine: Engine, drop: Path, inbox: Path, now: datetime) -> DropOutcome:
    """Import one drop (all or nothing) and move it to done/ or failed/."""
    try:
        summary = import_data(engine, drop)
    except CovbotError as exc:
        target = _move_failed(drop, inbox, str(exc), now)
        log.error("inbox drop %s refused, moved to %s: %s", drop.name, target, exc)
        return DropOutcome(drop.name, False, target, str(exc))
    target = _move_done(drop, inbox, now)
    log.info("inbox drop %s imported (%s), moved to %s", drop.name, summary, target)
    return DropOutcome(drop.name, True, target, str(summary))


def process_inbox(folder: str | None, engine: Engine, now: datetime,
                  after_import: Callable[[], None] | None = None) -> list[DropOutcome]:
    """Every pending drop of the inbox ``folder`` (COVBOT_INBOX), in name order; ``after_import``
    (an evaluation) runs once if any was imported."""
    if not folder:
        return []
    inbox = Path(folder)
    inbox.mkdir(parents=True, exist_ok=True)
    outcomes = [process_drop(engine, drop, inbox, now) for drop in pending_drops(inbox)]
    if after_import is not None and any(o.imported for o in outcomes):
        after_import()
    return outcomes
