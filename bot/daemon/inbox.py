"""The inbox (COVBOT_INBOX): CSV and Excel drops imported all-or-nothing, then evaluated.

A drop is a sub-folder of CSV files (made elsewhere and moved in whole: the recommended drop), a
single ``*.csv`` file or a single ``*.xlsx`` workbook (a sheet per contract file). A single file may
still be being written, so it is taken only once it has settled — its modification time is at least
``COVBOT_INBOX_SETTLE_SECONDS`` old (any write moves it, so neither size nor content changed
meanwhile) and, for a CSV file, it ends with a newline — or at once when a marker ``NAME.ready``
(e.g. ``prices.csv.ready``) appears beside it; the marker goes with the drop.
Drops are taken in name order. Each is imported in one transaction; then it moves to
``done/`` or ``failed/`` inside the inbox. A failed drop keeps its files in a folder of its own
under ``failed/`` with ``error.txt`` beside them: a folder drop ``failed/<drop>/``, a single file
``failed/<file stem>/<file>``. A name already taken there gets a ``-<UTC time>`` suffix.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine

from bot.errors import CovbotError, UsageError
from bot.usecases.imports import import_data

log = logging.getLogger("covbot.inbox")
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class DropOutcome:
    name: str
    imported: bool
    moved_to: Path
    message: str


READY_SUFFIX = ".ready"


def ready_marker(file: Path) -> Path:
    return file.with_name(file.name + READY_SUFFIX)


def settled(file: Path, settle_seconds: float, wall_now: float | None = None) -> bool:
    """A single-file drop is complete: marked ready, or unchanged for ``settle_seconds`` and (a CSV
    file) ending with a newline (a writer cut off mid-line never counts)."""
    if ready_marker(file).exists():
        return True
    try:
        stat = file.stat()
        if (wall_now if wall_now is not None else time.time()) - stat.st_mtime < settle_seconds:
            return False
        if stat.st_size == 0:
            return False
        if file.suffix.lower() != ".csv":  # a workbook is a zip: no last line to look at
            return True
        with file.open("rb") as handle:
            handle.seek(-1, 2)
            return handle.read(1) == b"\n"
    except OSError:  # gone or unreadable meanwhile: not yet
        return False


def pending_drops(inbox: Path, settle_seconds: float = 0.0, wall_now: float | None = None) -> list[Path]:
    """Drops waiting in the inbox, in name order (hidden entries, done/failed, markers and files
    that have not settled yet skipped)."""
    if not inbox.is_dir():
        return []
    return sorted(
        p for p in inbox.iterdir()
        if not p.name.startswith((".", "~$")) and p.name not in (DONE, FAILED)  # ~$: Excel's lock file
        and (p.is_dir() or (p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                             and settled(p, settle_seconds, wall_now)))
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
    """Import one drop (all or nothing) and move it to done/ or failed/ (its marker removed)."""
    ready_marker(drop).unlink(missing_ok=True)  # taken: a marker left behind would mean nothing
    try:
        summary = import_data(engine, drop)
    except CovbotError as exc:
        target = _move_failed(drop, inbox, str(exc), now)
        log.error("inbox drop %s refused, moved to %s: %s", drop.name, target, exc)
        return DropOutcome(drop.name, False, target, str(exc))
    target = _move_done(drop, inbox, now)
    log.info("inbox drop %s imported (%s), moved to %s", drop.name, summary, target)
    return DropOutcome(drop.name, True, target, str(summary))


def check_inbox(folder: str | None) -> None:
    """The inbox folder must exist: a mistyped COVBOT_INBOX is never created silently."""
    if folder and not Path(folder).is_dir():
        raise UsageError(f"COVBOT_INBOX={folder!r} is not an existing folder; create it (or correct "
                         "the setting): covbot does not create the inbox itself, so a typo cannot hide drops.")


def process_inbox(folder: str | None, engine: Engine, now: datetime,
                  after_import: Callable[[], None] | None = None, *,
                  settle_seconds: float = 10) -> list[DropOutcome]:
    """Every pending drop of the inbox ``folder`` (COVBOT_INBOX), in name order; ``after_import``
    (an evaluation) runs once if any was imported."""
    if not folder:
        return []
    check_inbox(folder)
    inbox = Path(folder)
    outcomes = [process_drop(engine, drop, inbox, now) for drop in pending_drops(inbox, settle_seconds)]
    if after_import is not None and any(o.imported for o in outcomes):
        after_import()
    return outcomes
