"""A large run's visits kept on disk bucket by bucket, and only what the reports read in memory.

At 10M claim lines the visits are 3.8M rows and 2.4 GB in pandas, a third of it the per-visit
texts and lists (`explanation`, `allotment`, `note_ids`) that only visits.parquet and the rows the
reports show carry. Holding them all in the flow's process, then converting the whole frame to
Arrow to write it, took the command's process tree to 9.6 GB. So a run spilled to disk works
this way instead:

- each bucket, as it is audited (in whichever process), sorts its visits in visits.parquet's order
  (`visits.in_visit_order`) and writes them whole to a part file of the run's work folder
  (`write_part`); what comes back to the flow is the same rows with only `KEPT_COLUMNS` (what
  the summary and the reports read over all visits);
- the flow merges those slim rows in visits.parquet's order (`runtime.results.merge_buckets`) and
  keeps, per visit, the bucket it came from (`VisitParts.buckets`); visit keys are unique, so the
  order is total and each bucket's rows keep their part's order;
- visits.parquet is written by streaming the parts (`VisitParts.write`): a chunk of the merged
  order takes the next rows of every part (a contiguous slice of each) and interleaves them, so
  memory stays at a chunk per part;
- the reports get the visits they list with every column (`VisitParts.with_details`).

visits.parquet holds the table a run held in memory writes (the same rows, order, columns and
types; only its row groups differ: tests/flows/test_audit_flow.py compares the two).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nmr_audit.io.writers import write_parquet
from nmr_audit.runtime.canonical_parts import part_path
from nmr_audit.visits import in_visit_order

DETAIL_COLUMNS = ("note_ids", "explanation", "allotment")  # per-visit texts and lists: parts and visits.parquet
# What the flow keeps in memory of a spilled run's visits: every column the summary and the reports
# read over all visits (`summary.visit_totals`, `report_data`, `report_xlsx.visits_listed`, the
# merge's order). The rest (payer, minutes, CQ units …: half the 0.93 GiB of 10M lines' visits)
# waits in the parts; the visits the reports list get them back (`VisitParts.with_details`).
KEPT_COLUMNS = ("clinic_id", "date_of_service", "patient_id", "rendering_npi", "rule_basis", "note_id",
                "billed_units_97112", "supported_units_97112", "excess_units_97112", "billed_timed_units",
                "supported_timed_units", "note_quarantined", "unit_inputs_unreadable")
CHUNK_VISITS = 50_000  # visits.parquet's row groups when written from parts
PART_ROW_GROUP = 5_000  # a part's row groups: the writer decodes one at a time per part (34 parts at 10M lines)


VISITS = "visits"  # the parts' table name (`canonical_parts.part_path`)


def write_part(folder: Path, bucket: int, visits: pd.DataFrame) -> pd.DataFrame:
    """Write one bucket's visits (as `pipeline.audit_tables` made them) in visits.parquet's order
    to its part file; return the same rows in that order with only `KEPT_COLUMNS`."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ordered = in_visit_order(visits)
    write_parquet(ordered, part_path(folder, VISITS, bucket), PART_ROW_GROUP)
    return ordered[[c for c in ordered.columns if c in KEPT_COLUMNS]]


@dataclass(frozen=True)
class VisitParts:
    """The parts of one run (`folder`, one per bucket: `parts`) and, for each visit of the merged
    slim frame in order, the bucket whose part holds it (`buckets`, int64)."""

    folder: Path
    parts: int
    buckets: np.ndarray

    def _rows_in_part(self) -> np.ndarray:
        """For each merged visit, its row number in its bucket's part."""
        order = np.argsort(self.buckets, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(self.buckets, minlength=self.parts))[:-1]])
        rows = np.empty(len(self.buckets), dtype="int64")
        rows[order] = np.arange(len(self.buckets)) - starts[self.buckets[order]]
        return rows

    def write(self, path: Path) -> Path:
        """visits.parquet from the parts, in the merged order, `CHUNK_VISITS` visits at a time.
        Raises ValueError for a run that wrote no part."""
        parts = [_PartReader(part_path(self.folder, VISITS, b)) for b in range(self.parts)]
        if not parts:
            raise ValueError("no visit parts to write")
        schema = parts[0].schema
        with pq.ParquetWriter(path, schema) as out:
            for start in range(0, len(self.buckets), CHUNK_VISITS):
                chunk = self.buckets[start:start + CHUNK_VISITS]
                counts = np.bincount(chunk, minlength=len(parts))
                slices = pa.concat_tables([part.next_rows(int(n)).cast(schema) for part, n in zip(parts, counts, strict=True)])
                order = np.argsort(chunk, kind="stable")  # the slices' rows, bucket by bucket, in order
                at = np.empty(len(chunk), dtype="int64")
                at[order] = np.arange(len(chunk))
                out.write_table(slices.take(pa.array(at)))
            if not len(self.buckets):
                out.write_table(schema.empty_table())
        return path

    def with_details(self, visits: pd.DataFrame, shown: np.ndarray) -> pd.DataFrame:
        """The visits `shown` (bool per row of `visits`, the merged frame of `KEPT_COLUMNS`) with
        every column as visits.parquet has them (the columns `visits` lacks read back from the
        parts, one part at a time, only for these rows), in visits.parquet's column order: the
        visits the reports list."""
        schema = pq.read_schema(part_path(self.folder, VISITS, 0))
        missing = [c for c in schema.names if c not in visits.columns]
        wanted_schema = pa.schema([schema.field(c) for c in missing], metadata=schema.metadata)
        rows = self._rows_in_part()
        wanted = np.flatnonzero(shown)
        found = []
        for bucket in range(self.parts):
            mine = wanted[self.buckets[wanted] == bucket]
            if len(mine):
                table = pq.read_table(part_path(self.folder, VISITS, bucket), columns=missing)
                found.append((mine, table.take(pa.array(rows[mine])).cast(wanted_schema)))
        positions = np.concatenate([mine for mine, _ in found]) if found else np.zeros(0, dtype="int64")
        table = pa.concat_tables([t for _, t in found]) if found else wanted_schema.empty_table()
        table = table.take(pa.array(np.argsort(positions, kind="stable")))  # in the order of `visits`
        subset = visits.iloc[np.sort(positions)]
        other = [c for c in missing if c not in DETAIL_COLUMNS]
        back = table.select(other).to_pandas()  # their dtypes as visits.parquet's pandas metadata says
        merged = subset.assign(**{c: _series(table[c], subset.index) if c in DETAIL_COLUMNS
                                  else pd.Series(back[c].to_numpy(), index=subset.index, dtype=back[c].dtype)
                                  for c in missing})
        return merged[[c for c in schema.names if c in merged.columns]
                      + [c for c in merged.columns if c not in schema.names]]


def _series(values: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """A detail column as the audit makes it: text as `str`, lists as Arrow-backed lists."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return pd.Series(values, index=index, dtype="str")
    return pd.Series(values, index=index, dtype=pd.ArrowDtype(values.type))


class _PartReader:
    """One part read forward a slice at a time."""

    def __init__(self, path: Path) -> None:
        self._file = pq.ParquetFile(path)
        self.schema = self._file.schema_arrow
        self._batches: Iterator[pa.RecordBatch] = self._file.iter_batches(batch_size=PART_ROW_GROUP)
        self._held: list[pa.RecordBatch] = []
        self._rows = 0

    def next_rows(self, count: int) -> pa.Table:
        while self._rows < count:
            batch = next(self._batches)
            self._held.append(batch)
            self._rows += batch.num_rows
        table = pa.Table.from_batches(self._held, schema=self.schema)
        taken, rest = table.slice(0, count), table.slice(count)
        self._held, self._rows = rest.to_batches(), rest.num_rows
        return taken
