"""Generated chunks in the canonical shape `conform` produces, without writing and reading files.

For benchmarks and tests of the steps after intake: the rows the generator meant for quarantine
are left out, as conform would leave them out, and the columns get the canonical types.
"""

from __future__ import annotations

import pandas as pd

from nmr_audit.synth.generate import Chunk


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
    )
    bad_notes = set(held["note_id"].dropna())
    notes = chunk.visit_notes[~chunk.visit_notes["note_id"].isin(bad_notes)]
    notes = notes.assign(
        date_of_service=_dates(notes["date_of_service"]),
        total_timed_minutes=notes["total_timed_minutes"].astype("Int64"),
        itemizes_minutes=notes["itemized"].astype("bool"),
    )
    services = chunk.services[chunk.services["note_id"].isin(notes["note_id"])].astype(
        {"minutes": "Int64"})
    return lines.reset_index(drop=True), notes.reset_index(drop=True), services.reset_index(drop=True)


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d").astype("datetime64[s]")
