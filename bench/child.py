"""Keep the benchmark runner small: Linux keeps a process's peak RSS across fork and exec, so every
step the runner starts would report at least the runner's own peak. Work that needs memory (the
generator, parsing a large JSON output) runs in a child process instead."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def in_child(fn, *args):
    """``fn(*args)`` (module-level, picklable) in a fresh child process; its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def json_rows(path: Path) -> int:
    """How many items the JSON array in ``path`` holds."""
    with Path(path).open() as handle:
        return len(json.load(handle))
