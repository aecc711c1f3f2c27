"""Read clinic export files into text frames, each row tagged with its file and line.

Every cell is read as text (a typed Parquet file's numbers stay numbers): types are decided by
validation, which can then say which row and which value broke the contract. Rows a parser
cannot even split (a CSV line with the wrong number of fields, a JSON Lines line that is not
JSON) come back as `invalid` rows for the quarantine instead of failing the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nmr_audit.contract import SOURCE_FILE, SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.discover import file_format
from nmr_audit.sizes import BATCH_ROWS, CSV_BLOCK

_BOM = b"\xef\xbb\xbf"
_TEXT = {pa.string(): pd.StringDtype(na_value=np.nan)}
_DELIMITERS = ",;\t|"


Batches = Callable[[int], Iterator[pd.DataFrame]]


@dataclass
class Tally:
    """What reading a file has found: rows parsed and rows that could not be split (source_row,
    reason, record). A CSV file is streamed, so its tally is complete once its batches are read."""

    rows: int = 0
    invalid: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RawTable:
    """One file as read: text cells (in batches), rows that could not be split, what the file was.

    Parquet and CSV are read a batch of rows at a time, never whole (CSV in one serial pass,
    which numbers every row exactly); Excel and JSON Lines, small by nature, are read whole.
    `rows` and `invalid` are complete once `batches` has been read to the end.
    """

    path: Path
    format: str
    sha256: str
    _batches: Batches
    _tally: Tally

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
        """Text frames of at most `rows` rows each, in file order, tagged with file and line."""
        try:
            for frame in self._batches(max(1, rows)):
                yield frame.assign(**{SOURCE_FILE: str(self.path)})
        except (OSError, ValueError, pa.ArrowException, KeyError) as exc:
            raise _unreadable(self.path, self.format, exc) from exc

    @property
    def frame(self) -> pd.DataFrame:
        """The whole file as one frame (small files, tests)."""
        parts = list(self.batches(max(self.rows, BATCH_ROWS)))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def read_export(path: Path, delimiter: str | None = None, sheet: str | int | None = None) -> RawTable:
    """Open one export file of any supported format; its rows come through `RawTable.batches`."""
    kind = file_format(path)
    try:
        if kind == "csv":
            tally = Tally()
            batches = _open_csv(path, delimiter, tally)
        elif kind == "parquet":
            tally, batches = _open_parquet(path)
        elif kind == "excel":
            frame = _read_excel(path, sheet)
            tally, batches = Tally(len(frame)), _slices(frame)
        elif kind == "jsonl":
            frame, bad = _read_jsonl(path)
            tally, batches = Tally(len(frame), bad), _slices(frame)
        else:
            raise InputError(path, "unsupported file type", "use .csv, .xlsx, .parquet or .jsonl")
    except InputError:
        raise
    except (OSError, ValueError, pa.ArrowException, KeyError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, kind or "", exc) from exc
    return RawTable(path, kind or "", file_sha256(path), batches, tally)


def _unreadable(path: Path, kind: str, exc: Exception) -> InputError:
    return InputError(path, f"cannot be read as a {kind} table: {_first_line(exc)}",
                      "check that the file is complete and of the type its name says")


def _slices(frame: pd.DataFrame) -> Batches:
    def batches(rows: int) -> Iterator[pd.DataFrame]:
        for start in range(0, max(len(frame), 1), rows):
            yield frame.iloc[start:start + rows].reset_index(drop=True)
    return batches


def _first_line(exc: Exception) -> str:
    """The error's first line, cut to 200 characters, anything unprintable (raw bytes of a
    binary file) shown as `?`."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in line)


def _check_text(path: Path, head: bytes, whole: bool) -> None:
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


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (an input's identity in summaries and ledgers)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _header(path: Path, delimiter: str | None) -> tuple[list[str], str]:
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        raise InputError(path, "the file is empty", "export it again with a header row")
    text = head[len(_BOM):] if head.startswith(_BOM) else head
    _check_text(path, text, whole=len(head) < 1 << 16)
    sample = text.decode("utf-8", errors="ignore")
    first_line = sample.splitlines()[0]
    if delimiter is None:
        counts = {d: first_line.count(d) for d in _DELIMITERS}
        delimiter = max(counts, key=counts.__getitem__) if max(counts.values()) else ","
    names = [n.strip() for n in next(csv.reader(io.StringIO(first_line), delimiter=delimiter))]
    _check_names(path, names)
    return names, delimiter


def _check_names(path: Path, names: list[str]) -> None:
    if any(not n for n in names):
        raise InputError(path, "the header row has an empty column name", "name every column")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError(path, f"the header repeats column(s) {', '.join(duplicated)}",
                         "rename them so each column appears once")


def _open_csv(path: Path, delimiter: str | None, tally: Tally) -> Batches:
    """The file's rows a batch at a time from one serial streaming parse (Arrow's parallel parse
    cannot say on which line a malformed row stood), each row with the line it starts on."""
    names, delimiter = _header(path, delimiter)

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        tally.rows, tally.invalid = 0, []
        bad: list[pacsv.InvalidRow] = []

        def skip(row: pacsv.InvalidRow) -> str:
            bad.append(row)
            return "skip"

        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False, block_size=CSV_BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        lines = _LineNumbers(len(names))
        for table in _whole_batches(reader, rows, reader.schema):
            first = lines.record_lines(table, bad)
            tally.rows += table.num_rows
            tally.invalid += lines.resolved(bad)
            yield table.to_pandas(types_mapper=_TEXT.get).assign(**{SOURCE_ROW: first})
        tally.invalid += lines.resolved(bad, finished=True)
    return batches


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
                        f"expected {self.fields} fields, found {row.actual_columns}", json.dumps({"line": row.text})))
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


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=str,
                          na_filter=False, engine="openpyxl")
    names = [str(c).strip() for c in frame.columns]
    _check_names(path, names)
    frame.columns = names
    frame = frame.astype("str")
    return frame.assign(**{SOURCE_ROW: np.arange(2, 2 + len(frame), dtype="int64")})


def _open_parquet(path: Path) -> tuple[Tally, Batches]:
    """The file's row count and names now; its rows a batch at a time (never the whole file)."""
    parquet = pq.ParquetFile(path)
    names = [n.strip() for n in parquet.schema_arrow.names]
    _check_names(path, names)

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        first = 1
        source = pq.ParquetFile(path)
        for batch in _whole_batches(source.iter_batches(batch_size=rows), rows, source.schema_arrow):
            frame = pd.DataFrame({name: _as_text_column(column) for name, column in zip(names, batch.columns, strict=True)})
            yield frame.assign(**{SOURCE_ROW: np.arange(first, first + len(frame), dtype="int64")})
            first += len(frame)
    return Tally(parquet.metadata.num_rows), batches


def _whole_batches(source: Iterable[pa.RecordBatch], rows: int, schema: pa.Schema) -> Iterator[pa.Table]:
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


def _as_text_column(column: pa.ChunkedArray) -> pd.Series:
    """Typed Parquet columns as the text a CSV would hold, numbers as numbers (validation takes
    them as they are, or as text where text is wanted); nested ones (services) as lists."""
    kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return pd.Series(column.to_pylist(), dtype="object")
    if pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.date32()) if _all_midnight(column) else column
    if pa.types.is_time(kind):
        column = pc.strftime(pc.cast(column, pa.time64("us")), format="%H:%M")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):  # validated as numbers, not re-parsed from text
        return pc.cast(column, pa.float64() if pa.types.is_floating(kind) else pa.int64()).to_pandas(
            types_mapper={pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get)
    text = column if pa.types.is_string(kind) else pc.cast(column, pa.string())
    return text.to_pandas(types_mapper=_TEXT.get)


def _all_midnight(column: pa.ChunkedArray) -> bool:
    return bool(pc.all(pc.equal(pc.cast(pc.cast(column, pa.date32()), column.type), column)).as_py()
                in (True, None))


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    records: list[dict] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.append((number, f"not valid JSON: {exc.msg} at column {exc.colno}", line[:500]))
                continue
            if not isinstance(value, dict):
                bad.append((number, "a JSON Lines row must be an object {…}", line[:500]))
                continue
            records.append({k.strip(): _cell(v) for k, v in value.items()})
            lines.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    text_columns = [c for c in frame.columns if c != "services"]
    frame = frame.astype(dict.fromkeys(text_columns, "str")).assign(
        **{SOURCE_ROW: np.array(lines, dtype="int64")})
    return frame, [(line, reason, json.dumps({"line": text})) for line, reason, text in bad]


def _cell(value: object) -> object:
    """JSON scalars as the text a CSV would hold; lists (services) kept as they are."""
    if value is None or isinstance(value, list | dict):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_canonical(path: Path) -> pd.DataFrame:
    """A canonical table this project wrote (`write_parquet`), list columns as list dtypes again."""
    return canonical_frame(pq.read_table(path))


def canonical_frame(table: pa.Table) -> pd.DataFrame:
    """pandas dtypes back from an Arrow table of canonical rows (lists as list dtypes, dates in s)."""
    frame = table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)
    dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.astype(dict.fromkeys(dates, "datetime64[s]"))
