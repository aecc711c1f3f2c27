"""Canonical rows held by patient bucket between reading the inputs and auditing them.

A run of one bucket keeps its rows in memory. A larger run writes each batch's rows of each
bucket to an Arrow IPC file (uncompressed: written and memory-mapped back at disk speed) in a
work folder, so that only the buckets being audited have their rows in memory.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from nmr_audit.io.readers import canonical_frame


class Spill:
    """Rows of each table, appended batch by batch to their bucket, read back bucket by bucket."""

    def __init__(self, buckets: int, folder: Path | None = None) -> None:
        if buckets > 1 and folder is None:
            raise ValueError("more than one bucket needs a folder to spill to")
        self.buckets = buckets
        self.folder = folder
        self._parts: dict[tuple[str, int], list[pd.DataFrame | Path]] = defaultdict(list)
        self._empty: dict[str, pd.DataFrame] = {}
        self._released: set[str] = set()
        if folder is not None:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # patients' rows: private, whenever made

    def add(self, table: str, rows: pd.DataFrame, bucket: np.ndarray) -> None:
        """Append `rows` (bucket[i] is row i's bucket), keeping their order within each bucket."""
        if table not in self._empty:  # taken, not sliced: a slice of Arrow columns holds the whole batch
            self._empty[table] = rows.take([])
        if self.folder is None:
            self._parts[table, 0].append(rows)
            return
        order = np.argsort(bucket, kind="stable")
        ends = np.searchsorted(bucket[order], np.arange(self.buckets), side="right")
        arrow = pa.Table.from_pandas(rows.iloc[order], preserve_index=False)
        start = 0
        for number, end in enumerate(ends):
            if end > start:
                path = self.folder / f"{table}-b{number:04d}-{len(self._parts[table, number]):05d}.arrow"
                feather.write_feather(arrow.slice(start, end - start), path, compression="uncompressed")
                self._parts[table, number].append(path)
            start = end

    @property
    def tables(self) -> set[str]:
        """The tables rows were added to (even zero rows: their columns are known)."""
        return set(self._empty)

    def load(self, table: str, bucket: int) -> pd.DataFrame:
        """The bucket's rows of `table`, in the order they were added."""
        if table in self._released:
            raise RuntimeError(f"the spilled {table} rows were removed once written: audit the run again")
        parts = self._parts.get((table, bucket), [])
        if not parts:
            return self._empty[table]
        if isinstance(parts[0], pd.DataFrame):
            return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        return canonical_frame(pa.concat_tables([feather.read_table(p, memory_map=True) for p in parts]))

    def release(self, table: str) -> None:
        """Remove every bucket's files of `table` now, once nothing reads them again: a run's
        spill is gigabytes, and removing it all at the end took 4–5 s of waiting at 10M lines."""
        self._released.add(table)
        for bucket in range(self.buckets):
            for part in self._parts.pop((table, bucket), []):
                if isinstance(part, Path):
                    part.unlink(missing_ok=True)

    def close(self) -> None:
        self._parts.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
