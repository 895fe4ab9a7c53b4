"""Bytes of one CSV file → its header and records, each with the physical line it starts on.

Quoted values may span lines; a record's line is the line where it starts, so an error in a
record after a multi-line value still points at the right line. Blank lines are skipped.
Structural problems (not UTF-8, broken quoting) stop the file: nothing after them can be trusted.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

from bot.errors import Location, Problem


@dataclass
class CsvRecords:
    name: str
    header: list[str] = field(default_factory=list)
    records: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, values)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(Location(self.name, line, column), message))


def _decode(out: CsvRecords, data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        out.problem(
            line, 1,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on this line cannot be read); "
            "save it as \"CSV UTF-8\"",
        )
        return None
    nul = text.find("\x00")
    if nul >= 0:
        out.problem(text.count("\n", 0, nul) + 1, 1,
                    "the file contains a NUL character; it is not a text CSV file")
        return None
    return text


def _csv_error_message(error: csv.Error, start: int) -> str:
    text = str(error)
    if "unexpected end of data" in text:
        return f"the quoted value that starts on line {start} is never closed (a closing \" is missing)"
    if "expected after" in text:
        return ("a quoted value must be followed by a comma or the end of the line; "
                "write a quote inside a quoted value as \"\"")
    if "field larger than field limit" in text:
        return "a value is too long to be a CSV value (over 131072 characters)"
    return f"the line cannot be read as CSV ({text})"


def read_records(name: str, data: bytes) -> CsvRecords:
    """The header and records of one CSV file, or the problems that stop it being read."""
    out = CsvRecords(name)
    text = _decode(out, data)
    if text is None:
        return out
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    rows: list[tuple[int, list[str]]] = []
    append = rows.append
    try:
        for values in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if values:
                append((start, values))
    except csv.Error as error:
        out.problem(previous_end + 1, 1, _csv_error_message(error, previous_end + 1))
        return out
    if not rows:
        out.problem(1, 1, "the file is empty; a header row naming the columns is required on line 1")
        return out
    (header_line, header), out.records = rows[0], rows[1:]
    out.header = [h.strip() for h in header]
    if header_line != 1:
        out.problem(1, 1, "line 1 is blank; the header row naming the columns must be on line 1")
    return out
