"""CSV that spreadsheets open safely and correctly.

A spreadsheet runs a cell as a formula when its text starts with ``=``,
``+``, ``-`` or ``@`` (and some also after a leading tab or carriage
return), so candidate text such as ``=HYPERLINK(...)`` could act on the
recruiter's machine. Spreadsheets also skip leading spaces and line breaks
before such a character, and some (Excel with East Asian input, LibreOffice)
read the full-width forms ``＝ ＋ － ＠`` (U+FF1D, U+FF0B, U+FF0D, U+FF20) as
the ASCII ones: ``"\n=1+1"``, ``" =1+1"`` and ``"＝1+1"`` were found passing
through unchanged. So text whose first character that is not whitespace
(``str.isspace``: spaces, tabs, line breaks, no-break and ideographic
spaces) is one of those eight, and text starting with a tab or carriage
return, gets a leading ``'``, which spreadsheets show as plain text. Numbers
are written as numbers, so a negative number stays a negative number and is
never prefixed.

Files are UTF-8 with a byte-order mark (without it Excel reads UTF-8 as a
legacy code page) and CRLF line ends throughout (RFC 4180).
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from bson import ObjectId

from hiremate.timeutil import iso

BOM = "\ufeff"
# What starts a formula, in ASCII and full width (＝ ＋ － ＠).
FORMULA_CHARS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Cells starting with these are prefixed whatever follows (OWASP's list).
CONTROL_PREFIXES = ("\t", "\r")
LIST_SEPARATOR = "; "


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    if text.startswith(CONTROL_PREFIXES) or text.lstrip().startswith(FORMULA_CHARS):
        return "'" + text
    return text


def cell(value: Any) -> str | int | float:
    """One value as it goes into a CSV cell: numbers as numbers, times as
    ISO 8601, lists joined, every piece of text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before numbers: bool is an int
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else ""
    if isinstance(value, datetime):
        # pandas' NaT is a datetime that is not equal to itself.
        return "" if value != value else iso(value)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list | tuple):
        return neutralise(LIST_SEPARATOR.join(str(item) for item in value))
    if isinstance(value, ObjectId):
        return str(value)
    return neutralise(str(value))


class CsvWriter:
    """Rows in, a finished UTF-8 CSV (with BOM) out; counts what it wrote."""

    def __init__(self, header: Sequence[str]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._writer.writerow([cell(name) for name in header])
        self.rows_written = 0

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(value) for value in row])
        self.rows_written += 1

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)

    def to_bytes(self) -> bytes:
        return (BOM + self._buffer.getvalue()).encode("utf-8")
