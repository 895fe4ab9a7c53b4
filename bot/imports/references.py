"""Every row that names a facility must name one in this import's facilities.csv or in the database."""

from __future__ import annotations

from typing import Iterable

from bot.errors import Location, Problem
from bot.imports.validate import ParsedFile


def facility_ids(parsed: ParsedFile) -> list[str]:
    index = parsed.spec.column_names.index("facility_id")
    return [row[index] for row in parsed.rows]


def unknown_facilities(files: Iterable[ParsedFile], known: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for parsed in files:
        if not parsed.spec.refers_to_facility or "facility_id" not in parsed.positions:
            continue  # (a file whose header was refused has no rows to check)
        column = parsed.positions["facility_id"]
        for facility_id, line in zip(facility_ids(parsed), parsed.lines):
            if facility_id not in known:
                problems.append(Problem(
                    Location(parsed.name, line, column),
                    f"facility_id: there is no facility {facility_id!r} in facilities.csv of this import "
                    "or in the database; add it to facilities.csv",
                ))
    return problems
