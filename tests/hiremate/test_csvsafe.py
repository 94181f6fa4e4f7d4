"""CSV cells a spreadsheet cannot run, and the bytes the writer produces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hiremate import csvsafe
from tests.support.reports_helpers import read_csv


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        # A formula after leading whitespace or line breaks, and in full width.
        ("\n=1+1", "'\n=1+1"),
        (" =1+1", "' =1+1"),
        ("\r\n\t@cmd", "'\r\n\t@cmd"),
        ("\n\n -2", "'\n\n -2"),
        ("\u00a0+1", "'\u00a0+1"),
        ("\u3000=1", "'\u3000=1"),
        ("＝SUM(A1)", "'＝SUM(A1)"),
        ("＋1", "'＋1"),
        ("－2", "'－2"),
        ("＠cmd", "'＠cmd"),
        (" ＝1", "' ＝1"),
        # Whitespace before anything else stays as it is.
        ("\nplain", "\nplain"),
        ("  indented", "  indented"),
        ("a ＝ b", "a ＝ b"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (-3, -3),
        (-2.5, -2.5),
        (0, 0),
        (True, "true"),
        (None, ""),
        (float("nan"), ""),
        (datetime(2026, 3, 2, 9, 0, 1, 234000, tzinfo=UTC), "2026-03-02T09:00:01.234Z"),
        (["=one", "two"], "'=one; two"),
    ],
)
def test_cell_neutralises_text_and_keeps_numbers(value, written):
    assert csvsafe.cell(value) == written


def test_csv_writer_raw_bytes_cell_by_cell():
    writer = csvsafe.CsvWriter(["text", "number", "float"])
    writer.writerow(["=SUM(A1)", -7, -0.5])
    writer.writerow(["-2+3", 12, 1.25])
    writer.writerow(["\tx", 0, None])
    writer.writerow(["@cmd", -1, 3.0])
    writer.writerow(["\rline", 5, 2.0])
    data = writer.to_bytes()
    assert data[:3] == b"\xef\xbb\xbf"
    text = data.decode("utf-8-sig")
    # Every line ends CRLF; the CR cell is quoted, so split on the records.
    assert text.count("\r\n") == 6 and "\n" not in text.replace("\r\n", "")
    assert read_csv(data) == [
        ["text", "number", "float"],
        ["'=SUM(A1)", "-7", "-0.5"],
        ["'-2+3", "12", "1.25"],
        ["'\tx", "0", ""],
        ["'@cmd", "-1", "3.0"],
        ["'\rline", "5", "2.0"],
    ]
    # Numbers are bare in the file, so a spreadsheet reads them as numbers.
    assert "'=SUM(A1),-7,-0.5\r\n'-2+3,12,1.25\r\n" in text
    assert writer.rows_written == 5
