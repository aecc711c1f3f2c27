"""A large run's canonical tables written by its buckets, then joined into one file each.

Each bucket, as it is audited, holds its claim lines (the later copies of a key taken out), notes
and note minutes in memory already; a run spilled to disk writes them to part files there
(`write_parts`). Once every bucket is audited,
`join_parts` streams each table's parts, in bucket order, into the output's file a row group at a
time: the rows of claim_lines.parquet, visit_notes.parquet and note_services.parquet are the ones
the spill held, in the same order, and nothing is read back into pandas (the flow's process had
re-read every bucket from the spill while the reports were built: a gigabyte and a core at 10M).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from nmr_audit.contract import CLAIM_LINES, NOTE_SERVICES, VISIT_NOTES
from nmr_audit.io.writers import write_parquet

CANONICAL_TABLES = (CLAIM_LINES, VISIT_NOTES, NOTE_SERVICES)
PART_ROW_GROUP = 100_000  # rows per row group of a part: the join holds one at a time


def part_path(folder: Path, table: str, bucket: int) -> Path:
    """Where bucket `bucket`'s rows of `table` wait (its visits too: `runtime.visit_parts`)."""
    return folder / f"{table}-b{bucket:05d}.parquet"


def write_parts(folder: Path, bucket: int, claim_lines: pd.DataFrame, visit_notes: pd.DataFrame,
                note_services: pd.DataFrame) -> None:
    """One bucket's canonical rows to their part files."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for table, rows in ((CLAIM_LINES, claim_lines), (VISIT_NOTES, visit_notes), (NOTE_SERVICES, note_services)):
        write_parquet(rows, part_path(folder, table, bucket), PART_ROW_GROUP)


def join_parts(folder: Path, table: str, buckets: int, target: Path) -> Path:
    """`table`'s parts, bucket 0 first, into `target`, one row group at a time; each part is
    removed once copied. Raises FileNotFoundError when a bucket's part is missing."""
    paths = [part_path(folder, table, b) for b in range(buckets)]
    schema = pq.read_schema(paths[0])
    with pq.ParquetWriter(target, schema) as out:
        for path in paths:
            part = pq.ParquetFile(path)
            for group in range(part.num_row_groups):
                out.write_table(part.read_row_group(group).cast(schema))
            path.unlink()
    return target
