"""What several command modules share: the table/json choice and writing an output file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from bot.errors import CovbotError


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def write_output(path: str, text: str) -> Path:
    """Write ``text`` to ``path`` (folders created), or say in a sentence why it cannot be."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CovbotError(f"The output file {path!r} cannot be written ({exc.strerror or exc}).") from None
    return target
