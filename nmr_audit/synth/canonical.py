"""Generated chunks in the canonical shape `conform` produces, without writing and reading files.

For benchmarks and tests of the steps after intake: the rows the generator meant for quarantine
are left out, as conform would leave them out, and the columns get the canonical types. An
optional cell the generator broke on purpose (`unreadable_note_time`) becomes missing and is
listed in the row's `unreadable_fields`, as intake records it (data contract v1.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from nmr_audit.parse import parse_modifiers
from nmr_audit.synth.generate import UNREADABLE_TIME, Chunk
from nmr_audit.unreadable import UNREADABLE, UNREADABLE_TYPE

TIME_EXPECTED = "a time such as 09:00 or 9:00 AM"


def canonical_tables(chunk: Chunk) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(claim_lines, visit_notes, note_services) of one chunk, as after a clean intake."""
    held = chunk.truth[chunk.truth["expected"] == "QUARANTINE"]
    bad_lines = pd.MultiIndex.from_frame(held.dropna(subset=["claim_id"])[["claim_id", "line_number"]]
                                         .astype({"line_number": "int64"}))
    lines = chunk.claim_lines
    keep = ~pd.MultiIndex.from_frame(lines[["claim_id", "line_number"]].astype(
        {"line_number": "int64"})).isin(bad_lines)
    lines = lines[keep].assign(
        date_of_service=_dates(lines.loc[keep, "date_of_service"]),
        units=lines.loc[keep, "units"].astype("Int64"),
        line_number=lines.loc[keep, "line_number"].astype("Int64"),
        modifiers=parse_modifiers(lines.loc[keep, "modifiers"])[0],
    )
    lines = lines.assign(**{UNREADABLE: _cells(pd.Series(False, index=lines.index), "", "")})
    bad_notes = set(held["note_id"].dropna())
    notes = chunk.visit_notes[~chunk.visit_notes["note_id"].isin(bad_notes)]
    unreadable = notes["time_in"] == UNREADABLE_TIME
    notes = notes.assign(
        date_of_service=_dates(notes["date_of_service"]),
        total_timed_minutes=notes["total_timed_minutes"].astype("Int64"),
        total_treatment_minutes=notes["total_treatment_minutes"].astype("Int64"),
        plan_of_care_signed_date=_dates(notes["plan_of_care_signed_date"]),
        one_on_one=notes["one_on_one"].astype("boolean"), signed=notes["signed"].astype("boolean"),
        progress_report=notes["progress_report"].astype("boolean"),
        itemizes_minutes=notes["itemized"].astype("bool"),
        time_in=notes["time_in"].mask(unreadable),
        **{UNREADABLE: _cells(unreadable, "time_in", TIME_EXPECTED)},
    )
    services = chunk.services[chunk.services["note_id"].isin(notes["note_id"])].astype(
        {"minutes": "Int64"})
    return lines.reset_index(drop=True), notes.reset_index(drop=True), services.reset_index(drop=True)


def _cells(unreadable: pd.Series, column: str, expected: str) -> pd.Series:
    """`unreadable_fields` per row: one (column, the generator's bad value, expected) where flagged."""
    flags = unreadable.to_numpy(dtype=bool)
    count = int(flags.sum())
    items = pa.StructArray.from_arrays([pa.array([column] * count, pa.string()),
                                        pa.array([UNREADABLE_TIME] * count, pa.string()),
                                        pa.array([expected] * count, pa.string())],
                                       names=["column", "value", "expected"])
    offsets = pa.array(np.concatenate([[0], np.cumsum(flags)]).astype("int32"))
    values = pa.ListArray.from_arrays(offsets, items, type=UNREADABLE_TYPE.pyarrow_dtype)
    return pd.Series(pd.arrays.ArrowExtensionArray(values), index=unreadable.index)


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.replace("", None), format="%Y-%m-%d").astype("datetime64[s]")
