"""CSV: any common delimiter (`,` `;` tab `|`), UTF-8 with or without BOM, any line ends.

Recognised by content: UTF-8 text whose first records split into the same number (≥ 2) of
fields on one delimiter; by extension `.csv` and `.tsv` (a one-column CSV). A `.txt` file is
read only when its content is such a table (a README is not). Streamed in one serial pass so
that every row, malformed or not, gets the line it starts on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from nmr_audit.contract import SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import (
    HEAD_BYTES,
    MAX_FIELD_BYTES,
    MAX_HEADER_BYTES,
    Batches,
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Tally,
    bytes_per_line_estimate,
    check_names,
    whole_batches,
)
from nmr_audit.sizes import CSV_BLOCK

BOM = b"\xef\xbb\xbf"
DELIMITERS = ",;\t|"
_TEXT = {pa.string(): pd.StringDtype(na_value=np.nan)}
_SNIFF_RECORDS = 20
# A record must fit one block of Arrow's parser: files whose records do not fit CSV_BLOCK are
# read again with blocks that hold the longest record the limits allow.
_LARGE_BLOCK = 2 * MAX_FIELD_BYTES + MAX_HEADER_BYTES


def recognises(head: bytes) -> bool:
    """UTF-8 text (no NUL byte) whose first records have the header's number (≥ 2) of fields."""
    text = head[len(BOM):] if head.startswith(BOM) else head
    if not text.strip() or b"\x00" in text:
        return False
    try:
        sample = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(text) - 3:  # only a character cut at the end of the head is forgiven
            return False
        sample = text[:exc.start].decode("utf-8")
    lines = sample.splitlines()
    delimiter = _delimiter(lines[0])
    if delimiter is None:
        return False
    complete = sample if len(head) < HEAD_BYTES else sample[: sample.rfind("\n") + 1] or sample
    records = [r for r in csv.reader(io.StringIO(complete), delimiter=delimiter)][:_SNIFF_RECORDS]
    width = len(records[0]) if records else 0
    return width >= 2 and all(len(r) == width for r in records if r)


def _delimiter(first_line: str) -> str | None:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else None


def read_header(path: Path, delimiter: str | None) -> tuple[list[str], str, bool]:
    """The header's names, the delimiter (given, else the one the header uses most), and whether
    anything follows the header (a header-only file, with or without a final line end, has no
    records). A header line longer than `MAX_HEADER_BYTES` is refused."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        if not head.strip():
            raise InputError(path, "the file is empty", "export it again with a header row")
        start = len(BOM) if head.startswith(BOM) else 0
        check_text(path, head[start:], whole=len(head) < HEAD_BYTES)
        while _line_end(head, start) < 0:
            more = handle.read(1 << 20)
            if not more:
                break
            head += more
            if len(head) > MAX_HEADER_BYTES:
                raise InputError(path, f"the header row is longer than the {MAX_HEADER_BYTES >> 20} MiB limit",
                                 "check that the file is a table with one header line")
        end = _line_end(head, start)
        end = len(head) if end < 0 else end
        after = head[end:]
        while not after.strip():
            more = handle.read(1 << 16)
            if not more:
                break
            after = more
    try:
        first_line = head[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"the header row is not UTF-8 text (byte {exc.start + 1})",
                         "save the export as UTF-8 (Excel: CSV UTF-8)") from exc
    delimiter = delimiter or _delimiter(first_line) or ","
    names = [n.strip() for n in next(csv.reader(io.StringIO(first_line), delimiter=delimiter))]
    check_names(path, names)
    return names, delimiter, bool(after.strip())


def check_text(path: Path, head: bytes, whole: bool) -> None:
    """Raise `InputError` unless the first bytes of a CSV file are UTF-8 text: binary data (a NUL
    byte, or many control bytes) or text in another encoding, said without showing the bytes (a
    character cut at the end of a partial read is not an error)."""
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if b"\x00" in head or controls > len(head) // 10:
        raise InputError(path, "is not a text file (it holds binary data, not CSV)",
                         "export the table as CSV, or give the file the extension of its real type")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as problem:
        if whole or problem.start < len(head) - 3:
            raise InputError(path, f"cannot be read as a csv table: not UTF-8 text (byte 0x{head[problem.start]:02X} "
                             f"at offset {problem.start})", "save the export as UTF-8 CSV") from None


def check_head(path: Path, head: bytes) -> None:
    """The first bytes of a file named as CSV checked as opening it would (`check_text`, after
    a byte-order mark): binary data or another encoding raises InputError."""
    start = len(BOM) if head.startswith(BOM) else 0
    check_text(path, head[start:], whole=len(head) < HEAD_BYTES)


def _line_end(head: bytes, start: int) -> int:
    ends = [i for i in (head.find(b"\n", start), head.find(b"\r", start)) if i >= 0]
    return min(ends) if ends else -1


def open_csv(path: Path, options: ReadOptions) -> Opened:
    """The file as one table whose rows come a batch at a time (`RawTable.batches`)."""
    names, delimiter, has_records = read_header(path, options.delimiter)
    tally = Tally()
    batches = _batches(path, names, delimiter, tally) if has_records else _header_only(names)
    return Opened([RawTable(path, "csv", "", batches, tally, delimiter=delimiter)])


def _header_only(names: list[str]) -> Batches:
    """A file with a header and no records (a day without claims): one empty batch, with or
    without a line end after the header."""
    def batches(rows: int) -> Iterator[pd.DataFrame]:
        frame = pd.DataFrame({n: pd.Series(dtype="str") for n in names})
        yield frame.assign(**{SOURCE_ROW: pd.Series(dtype="int64")})
    return batches


def _batches(path: Path, names: list[str], delimiter: str, tally: Tally) -> Batches:
    """The file's rows a batch at a time from one serial streaming parse (Arrow's parallel parse
    cannot say on which line a malformed row stood), each row with the line it starts on.

    A record longer than Arrow's block is read again with blocks of `_LARGE_BLOCK` bytes, the
    rows already handed out skipped; a record longer than that breaks the field limit."""

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        given = 0
        for block in (CSV_BLOCK, _LARGE_BLOCK):
            try:
                for frame in _stream(path, names, delimiter, tally, rows, block, given):
                    given += len(frame)
                    yield frame
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc) and "block size" not in str(exc):
                    raise
                if block == _LARGE_BLOCK:
                    raise InputError(path, f"a record after row {given + 1} is longer than the "
                                     f"{MAX_FIELD_BYTES >> 20} MiB limit on one value",
                                     "check for an unclosed quote, or split the value") from exc
                continue
            break
        if tally.rows == 0 and tally.invalid:
            raise InputError(path, f"no row has the header's {len(names)} fields (delimiter {delimiter!r})",
                             "check the delimiter, or name it in the mapping profile (delimiter:)")
    return batches


def _stream(path: Path, names: list[str], delimiter: str, tally: Tally, rows: int, block: int,
            skip: int) -> Iterator[pd.DataFrame]:
    """Batches of the whole file with `block`-byte parse blocks; the first `skip` rows are
    counted and numbered but not handed out (they were, by an attempt with smaller blocks)."""
    tally.rows, tally.invalid = 0, []
    bad: list[pacsv.InvalidRow] = []

    def keep(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False, block_size=block),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=keep),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    lines = _LineNumbers(len(names))
    seen = 0
    for table in whole_batches(reader, rows, reader.schema):
        first = lines.record_lines(table, bad)
        tally.rows += table.num_rows
        tally.invalid += lines.resolved(bad)
        start = max(0, min(skip - seen, table.num_rows))
        seen += table.num_rows
        if start == table.num_rows and table.num_rows:
            continue
        part = table.slice(start)
        if SOURCE_ROW in part.column_names:  # a column of the file's own by that name: the line replaces it
            part = part.drop_columns([SOURCE_ROW])
        part = part.append_column(SOURCE_ROW, pa.array(first[start:], pa.int64()))  # in Arrow: cheaper than in pandas
        yield part.to_pandas(types_mapper=_TEXT.get)
    tally.invalid += lines.resolved(bad, finished=True)


class _LineNumbers:
    """The line on which each record starts (the header is line 1), exact for quoted values
    that span lines and for malformed rows, which Arrow numbers by record (header = 1).

    Records are numbered 0, 1, … after the header, good and malformed alike. The good record g
    is record g + k, k the malformed ones before it; a record starts on line 2 + its number +
    the line breaks inside every record before it.
    """

    def __init__(self, fields: int) -> None:
        self.fields = fields
        self.good = 0  # good records before the current batch
        self.breaks = 0  # line breaks inside those good records
        self.done = 0  # malformed rows already given a line
        self._breaks_at: tuple[int, np.ndarray] = (0, np.zeros(1, dtype="int64"))

    def record_lines(self, table: pa.Table, bad: list[pacsv.InvalidRow]) -> np.ndarray:
        inside = np.zeros(table.num_rows, dtype="int64")
        for column in table.columns:
            if _may_break_lines(column):
                inside += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False).astype("int64")
        before = self.breaks + np.concatenate([[0], np.cumsum(inside)])  # breaks before good g, and after the last
        good = self.good + np.arange(table.num_rows, dtype="int64")
        gaps, bad_breaks = _malformed(bad)
        k = np.searchsorted(gaps, good, side="right")
        self._breaks_at = (self.good, before)
        self.good += table.num_rows
        self.breaks = int(before[-1])
        return (2 + good + k + before[:-1] + bad_breaks[k]).astype("int64")

    def resolved(self, bad: list[pacsv.InvalidRow], finished: bool = False) -> list[tuple[int, str, str]]:
        """Lines and reasons of the malformed rows that stand before the last good record read
        (all of them once the file is finished)."""
        gaps, bad_breaks = _malformed(bad)
        start, before = self._breaks_at
        out = []
        while self.done < len(bad) and (finished or gaps[self.done] < self.good):
            j = self.done
            good_breaks = self.breaks if gaps[j] >= self.good else int(before[gaps[j] - start])
            row = bad[j]
            out.append(((row.number or 2) + int(bad_breaks[j]) + good_breaks,
                        f"expected {self.fields} fields, found {row.actual_columns}",
                        json.dumps({"line": row.text})))
            self.done += 1
        return out


def _may_break_lines(column: pa.ChunkedArray) -> bool:
    """Whether any byte of the column's text is a line break: one pass over its character data
    (most columns of most files have none) before counting them row by row."""
    return any(chunk.buffers()[2] is not None and bool((np.frombuffer(chunk.buffers()[2], dtype=np.uint8) == 10).any())
               for chunk in column.chunks)


def _malformed(bad: list[pacsv.InvalidRow]) -> tuple[np.ndarray, np.ndarray]:
    """For each malformed row j (in file order): how many good records precede it, and the line
    breaks inside the malformed rows before it (one more entry: all of them)."""
    numbers = np.array([(row.number or 2) - 2 for row in bad], dtype="int64")
    breaks = np.array([row.text.count("\n") for row in bad], dtype="int64")
    return numbers - np.arange(len(bad)), np.concatenate([[0], np.cumsum(breaks)]).astype("int64")


READER = Reader(
    name="csv",
    description="CSV (.csv, .tsv, or a delimited .txt)",
    extensions=(".csv", ".tsv"),
    recognises=recognises,
    open=open_csv,
    estimate_rows=bytes_per_line_estimate,
    check_head=check_head,
)
