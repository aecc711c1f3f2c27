"""Parquet: recognised by its magic bytes (`PAR1`), or by extension `.parquet`, `.pq`.

Read a batch of rows at a time, never whole. Typed columns become the text a CSV would hold
(dates as `YYYY-MM-DD`, times as `HH:MM`, booleans as `true`/`false`), except numbers, which stay
numbers for validation to check as numbers, and lists (a note's `services`), kept as lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nmr_audit.contract import SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import (
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Tally,
    check_names,
    line_numbers,
    whole_batches,
)

MAGIC = b"PAR1"
_TEXT = {pa.string(): pd.StringDtype(na_value=np.nan)}


def recognises(head: bytes) -> bool:
    return head.startswith(MAGIC)


def check_head(path: Path, head: bytes) -> None:
    """A file named as Parquet whose first bytes are not Parquet's (every Parquet file starts
    with `PAR1`) raises InputError: it cannot be read as Parquet, and says so before the run."""
    if not head.startswith(MAGIC):
        raise InputError(path, "is not a Parquet file (it does not start with PAR1)",
                         "export the table as Parquet again, or give the file the extension of its real type")


def open_parquet(path: Path, options: ReadOptions) -> Opened:
    """The file's row count and names now; its rows a batch at a time."""
    parquet = pq.ParquetFile(path)
    names = [n.strip() for n in parquet.schema_arrow.names]
    check_names(path, names)

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        first = 1
        source = pq.ParquetFile(path)
        for batch in whole_batches(source.iter_batches(batch_size=rows), rows, source.schema_arrow):
            frame = pd.DataFrame({name: as_text_column(column) for name, column in zip(names, batch.columns, strict=True)})
            yield frame.assign(**{SOURCE_ROW: line_numbers(first, len(frame))})
            first += len(frame)
    return Opened([RawTable(path, "parquet", "", batches, Tally(parquet.metadata.num_rows))])


def as_text_column(column: pa.ChunkedArray) -> pd.Series:
    """Typed Parquet columns as the text a CSV would hold, numbers as numbers (validation takes
    them as they are, or as text where text is wanted); nested ones (services) as lists."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = pc.cast(column, kind.value_type)
        kind = column.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        return pd.Series(column.to_pylist(), dtype="object")
    if pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.date32()) if _all_midnight(column) else column
    if pa.types.is_time(kind):
        column = pc.strftime(pc.cast(column, pa.time64("us")), format="%H:%M")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(column, pa.int64() if pa.types.is_integer(kind) else pa.float64()).to_pandas(
            types_mapper={pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get)
    text = column if pa.types.is_string(kind) else pc.cast(column, pa.string())
    return text.to_pandas(types_mapper=_TEXT.get)


def _all_midnight(column: pa.ChunkedArray) -> bool:
    return bool(pc.all(pc.equal(pc.cast(pc.cast(column, pa.date32()), column.type), column)).as_py()
                in (True, None))


def estimate_rows(path: Path, head: bytes) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException):
        return 0  # the reader will say what is wrong with it


READER = Reader(
    name="parquet",
    description="Parquet (.parquet, .pq)",
    extensions=(".parquet", ".pq"),
    recognises=recognises,
    open=open_parquet,
    estimate_rows=estimate_rows,
    check_head=check_head,
)
