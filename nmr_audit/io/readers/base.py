"""What every reader hands back, and the interface a reader implements (see the package's docs).

Every cell is read as text (a typed file's numbers stay numbers): types are decided by
validation, which can then say which row and which value broke the contract. Rows a parser
cannot even split (a CSV line with the wrong number of fields, a JSON Lines line that is not
JSON) come back as `invalid` rows for the quarantine instead of failing the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from nmr_audit.contract import CLAIM_LINES, SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.parse import BAD_VALUE, BAD_VALUE_REASON  # noqa: F401 (the readers' marker, re-exported)
from nmr_audit.sizes import BATCH_ROWS

Batches = Callable[[int], Iterator[pd.DataFrame]]

HEAD_BYTES = 1 << 16  # what recognition reads of a file's start
MAX_FIELD_BYTES = 64 << 20  # the longest value (and record) a text file may hold: 64 MiB
MAX_HEADER_BYTES = 16 << 20  # the longest header row a text file may have


@dataclass(frozen=True)
class ReadOptions:
    """What a mapping profile may say about reading a file: the CSV delimiter (else detected from
    the header), the workbook sheet (else every visible sheet), the decimal mark typed numbers are
    written with where a workbook column mixes numbers and text (else `.`), and the 837P choices
    of the profile's `x12:` section (which element is the patient id, which NPI the clinic)."""

    delimiter: str | None = None
    sheet: str | int | None = None
    decimal_mark: str | None = None
    x12: Mapping[str, str] | None = None


@dataclass
class Tally:
    """What reading a file has found: rows parsed and rows that could not be split (source_row,
    reason, record). A CSV file is streamed, so its tally is complete once its batches are read."""

    rows: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RawTable:
    """One table as read (a file, or one sheet of a workbook): text cells in batches, rows that
    could not be split, and where it came from.

    `source` is what its rows carry as source_file: the path, or `path#sheet` for a sheet.
    Parquet and CSV are read a batch of rows at a time, never whole (CSV in one serial pass,
    which numbers every row exactly); Excel and JSON Lines, small by nature, are read whole.
    `rows` and `invalid` are complete once `batches` has been read to the end.
    """

    path: Path
    format: str
    sha256: str
    _batches: Batches
    _tally: Tally
    sheet: str | None = None
    delimiter: str | None = None

    @property
    def source(self) -> str:
        return f"{self.path}#{self.sheet}" if self.sheet is not None else str(self.path)

    @property
    def rows(self) -> int:
        """Rows parsed (the invalid ones not counted)."""
        return self._tally.rows

    @property
    def invalid(self) -> pd.DataFrame:
        """source_row, reason, record of each row the parser could not split."""
        bad = self._tally.invalid
        return pd.DataFrame({SOURCE_ROW: [b[0] for b in bad], "reason": [b[1] for b in bad],
                             "record": [b[2] for b in bad]}).astype({SOURCE_ROW: "int64", "reason": "str", "record": "str"})

    @property
    def rows_read(self) -> int:
        return self.rows + len(self._tally.invalid)

    def batches(self, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """Text frames of at most `rows` rows each, in file order, tagged with source and line."""
        try:
            for frame in self._batches(max(1, rows)):
                yield frame.assign(**{SOURCE_FILE: self.source})
        except (OSError, ValueError, pa.ArrowException, KeyError) as exc:
            raise unreadable(self.path, self.format, exc) from exc

    @property
    def frame(self) -> pd.DataFrame:
        """The whole table as one frame (small files, tests)."""
        parts = list(self.batches(max(self.rows, BATCH_ROWS)))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class Skipped:
    """A part of an input that was not read, and why (a hidden sheet, a README): listed in summary.json."""

    source: str
    reason: str


@dataclass(frozen=True)
class Opened:
    """What a reader's `open` returns: the tables it will read and the parts it leaves out."""

    tables: list[RawTable]
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Reader:
    """One format of clinic export. A reader module builds one and the registry lists it.

    name: the format as summary.json names it (`csv`, `excel`, `parquet`, `jsonl`, …).
    description: how messages name it, with its extensions (`CSV (.csv, .tsv)`).
    extensions: lower-case suffixes it takes when no reader recognises the content.
    recognises(head): whether the first `HEAD_BYTES` of a file are this format's (magic bytes,
        a JSON object, delimited text …); decisive, so it must not claim what is not its own.
    open(path, options): the file's tables (`RawTable`, rows streamed through `batches`) and the
        parts it leaves out; raises InputError for a file it cannot read at all, or lets
        OSError / ValueError / ArrowException escape (the registry words them).
    estimate_rows(path, head): about how many rows, cheaply (sizes a run's buckets; never exact).
    tables: the inputs it reads (`claim_lines`, `visit_notes`, `remits`): a tabular export can be
        either table; an X12 837P only claims, an 835 only remittances.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    recognises: Callable[[bytes], bool]
    open: Callable[[Path, ReadOptions], Opened]
    estimate_rows: Callable[[Path, bytes], int]
    tables: tuple[str, ...] = (CLAIM_LINES, VISIT_NOTES)


def unreadable(path: Path, kind: str, exc: Exception) -> InputError:
    """A file of a known format that cannot be read, said in one line."""
    return InputError(path, f"cannot be read as a {kind} table: {first_line(exc)}",
                      "check that the file is complete and of the type its name says")


def first_line(exc: Exception) -> str:
    """The error's first line, cut to 200 characters, anything unprintable (raw bytes of a
    binary file) shown as `?`."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in line)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (an input's identity in summaries and ledgers)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_names(path: Path | str, names: list[str]) -> None:
    """A header must name every column once (compared as written, trimmed)."""
    if any(not n for n in names):
        raise InputError(path, "the header row has an empty column name", "name every column")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(path, f"the header repeats column(s) {', '.join(duplicated)}",
                         "rename them so each column appears once")


def slices(frame: pd.DataFrame) -> Batches:
    """Batches cut from a frame held whole (workbooks, JSON Lines)."""
    def batches(rows: int) -> Iterator[pd.DataFrame]:
        for start in range(0, max(len(frame), 1), rows):
            yield frame.iloc[start:start + rows].reset_index(drop=True)
    return batches


def whole_batches(source: Iterable[pa.RecordBatch], rows: int, schema: pa.Schema) -> Iterator[pa.Table]:
    """Tables of `rows` rows (the last one shorter; one empty table for a file without rows),
    whatever the sizes of the record batches read."""
    pending: list[pa.RecordBatch] = []
    count, given = 0, False
    for batch in source:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, rows)
            given = True
            pending, count = table.slice(rows).to_batches(), count - rows
    if count or not given:
        yield pa.Table.from_batches(pending, schema) if pending else schema.empty_table()


def bytes_per_line_estimate(path: Path, head: bytes) -> int:
    """Rows of a line-based text file, from its size and the lines in its first bytes."""
    size = path.stat().st_size
    return size * max(head.count(b"\n"), 1) // max(len(head), 1)


def line_numbers(first: int, count: int) -> np.ndarray:
    return np.arange(first, first + count, dtype="int64")
