"""Bytes of one CSV file → its header and records, each with the physical line it starts on.

Quoted values may span lines; a record's line is the line where it starts, so an error in a
record after a multi-line value still points at the right line. Blank lines are skipped.
Structural problems (not UTF-8, broken quoting) stop the file: nothing after them can be trusted.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from bot.errors import Location, Problem


@dataclass
class CsvRecords:
    name: str
    header: list[str] = field(default_factory=list)
    records: Iterable[tuple[int, list[str]]] = field(default_factory=list)  # (line, values)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, column: int, message: str) -> None:
        self.problems.append(Problem(Location(self.name, line, column), message))


_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def _text_lines(out: CsvRecords, binary: Iterable[bytes]) -> Iterator[str]:
    """Physical lines of a binary stream as text, one at a time (so a file of any size is read in
    flat memory), stopping with a problem at the first line that is not UTF-8 or holds a NUL."""
    for number, raw in enumerate(binary, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.problem(
                number, 1,
                f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on this line cannot be read); "
                "save it as \"CSV UTF-8\"",
            )
            return
        if "\x00" in text:
            out.problem(number, 1, "the file contains a NUL character; it is not a text CSV file")
            return
        if "\r" in text[:-2]:  # a lone CR ends a line too (as in old Mac files)
            yield from _LONE_CR.split(text)
        else:
            yield text


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


def stream_records(name: str, binary: Iterable[bytes]) -> CsvRecords:
    """The header of one CSV file and its records as an iterator (read as they are consumed).

    Problems that stop the file (not UTF-8, broken quoting) are appended to ``problems`` when the
    iteration reaches them; a file that has no header row is a problem at once."""
    out = CsvRecords(name)
    reader = csv.reader(_text_lines(out, binary), strict=True)
    state = {"end": 0}

    def records() -> Iterator[tuple[int, list[str]]]:
        try:
            for values in reader:
                start, state["end"] = state["end"] + 1, reader.line_num
                if values:
                    yield start, values
        except csv.Error as error:
            out.problem(state["end"] + 1, 1, _csv_error_message(error, state["end"] + 1))

    rows = records()
    first = next(rows, None)
    if first is None:
        if not out.problems:
            out.problem(1, 1, "the file is empty; a header row naming the columns is required on line 1")
        out.records = iter(())
        return out
    header_line, header = first
    out.header = [h.strip() for h in header]
    if header_line != 1:
        out.problem(1, 1, "line 1 is blank; the header row naming the columns must be on line 1")
    out.records = rows
    return out


def read_records(name: str, data: bytes) -> CsvRecords:
    """The header and records of one CSV file (all in memory), or the problems that stop it being read."""
    out = stream_records(name, io.BytesIO(data))
    out.records = list(out.records)
    if out.problems:  # a file that cannot be read holds no records worth validating
        out.records = []
    return out
