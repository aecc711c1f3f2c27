"""Canonical tables this project wrote itself (Parquet, Feather): not clinic exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def read_canonical(path: Path) -> pd.DataFrame:
    """A canonical table this project wrote (`write_parquet`), list columns as list dtypes again."""
    return canonical_frame(pq.read_table(path))


def canonical_frame(table: pa.Table) -> pd.DataFrame:
    """pandas dtypes back from an Arrow table of canonical rows (lists, `unreadable_fields`
    included, as Arrow list dtypes; dates in s)."""
    frame = table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)
    dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.astype(dict.fromkeys(dates, "datetime64[s]"))
