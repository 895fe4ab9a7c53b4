"""CSV import (the interchange contract of DOMAIN.md): read, validate all, apply in one transaction.

    import_directory(engine, path, progress=None) -> ImportSummary   a folder (or one file)
    import_file(engine, path, progress=None) -> ImportSummary        one CSV file by its name, or a .xlsx
    import_workbook(engine, path, progress=None) -> ImportSummary    an Excel workbook, a sheet per file
    import_files(engine, {name: bytes}, progress=None)               the same, from memory
    read_rows(name, data) -> list[dict]                              one file, no database
"""

from bot.imports.apply import FileSummary
from bot.imports.importer import (
    FILE_NAMES, ImportSummary, import_directory, import_file, import_files, import_workbook,
)
from bot.imports.spec import SPECS, FileSpec
from bot.imports.validate import ParsedFile, parse_file, read_rows

__all__ = [
    "FILE_NAMES",
    "SPECS",
    "FileSpec",
    "FileSummary",
    "ImportSummary",
    "ParsedFile",
    "import_directory",
    "import_file",
    "import_files",
    "import_workbook",
    "parse_file",
    "read_rows",
]
