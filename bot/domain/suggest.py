""""Did you mean …?" for a name a rule author misspelt: close matches only (difflib)."""

from __future__ import annotations

import difflib
from typing import Iterable

CUTOFF = 0.6  # difflib's ratio; below it a suggestion is more noise than help


def close_matches(name: str, options: Iterable[str], n: int = 3) -> list[str]:
    """The options that look like ``name``, best first (case-insensitive; empty when none is close)."""
    options = list(dict.fromkeys(options))
    by_folded = {o.casefold(): o for o in options}
    found = difflib.get_close_matches(name.casefold(), list(by_folded), n=n, cutoff=CUTOFF)
    return [by_folded[f] for f in found if by_folded[f] != name]


def did_you_mean(name: str, options: Iterable[str], quote: str = "") -> str | None:
    """``did you mean ltv?`` (or ``… ltv or ltv_max?``), or None when nothing is close."""
    found = [f"{quote}{c}{quote}" for c in close_matches(name, options)]
    if not found:
        return None
    listed = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " or " + found[-1]
    return f"did you mean {listed}?"
