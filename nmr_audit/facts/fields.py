"""Field facts: one row per optional value intake could not read (FIELD_UNREADABLE)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import CLAIM_LINES, SOURCE_FILE, SOURCE_ROW, VISIT_NOTES
from nmr_audit.facts.common import KEY
from nmr_audit.rules import blocked_checks
from nmr_audit.unreadable import unreadable_cells

FIELD_COLUMNS = ("row_id", "table", SOURCE_FILE, SOURCE_ROW, "field", "value", "expected", "claim_id",
                 "line_number", "note_id", *KEY, "clinic_id", "payer_type", "blocked_checks", "blocked_text",
                 "blocks_unit_check", "readable")


def field_facts(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """Every unreadable optional value of the claim lines and notes, with the row it belongs to.

    `field` is the canonical column, `value` the cell as intake showed it, `expected` what was
    expected; `blocked_checks` names the registry's rules that read the column (they did not
    run on the row) and `blocks_unit_check` whether one decides units (the finding is then
    medium, else low). A note's row carries its visit's NPI (`visit_notes` are matched) and the
    visit's payer. `readable` is false on every row: each is a finding.
    """
    parts = [_cells(claim_lines, CLAIM_LINES), _cells(visit_notes, VISIT_NOTES)]
    facts = pd.concat(parts, ignore_index=True)
    if len(visits) and len(facts) and facts["payer_type"].isna().any():  # visits are unique by key
        payer = facts[KEY].merge(visits[[*KEY, "payer_type"]], on=KEY, how="left")["payer_type"]
        facts = facts.assign(payer_type=facts["payer_type"].fillna(payer.astype("str")))
    facts = pd.concat([facts, blocked_checks(facts["field"])], axis=1)
    return facts.assign(row_id=np.arange(len(facts)), readable=False)[list(FIELD_COLUMNS)]


def _cells(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    cells = unreadable_cells(frame)
    rows = frame.iloc[cells["row"].to_numpy()].reset_index(drop=True)
    blank = pd.Series(pd.NA, index=rows.index, dtype="str")

    def column(name: str, dtype: str = "str") -> pd.Series:
        return rows[name].astype(dtype) if name in rows.columns else blank.astype(dtype)

    return pd.DataFrame({
        "table": table, SOURCE_FILE: column(SOURCE_FILE), SOURCE_ROW: column(SOURCE_ROW, "Int64"),
        "field": cells["column"].to_numpy(), "value": cells["value"].to_numpy(),
        "expected": cells["expected"].to_numpy(),
        "claim_id": column("claim_id") if table == CLAIM_LINES else blank,
        "line_number": column("line_number", "Int64") if table == CLAIM_LINES else blank.astype("Int64"),
        "note_id": column("note_id") if table == VISIT_NOTES else blank,
        "patient_id": column("patient_id"), "date_of_service": rows["date_of_service"].astype("datetime64[s]"),
        "rendering_npi": column("rendering_npi"), "clinic_id": column("clinic_id"),
        "payer_type": column("payer_type") if table == CLAIM_LINES else blank,
    }).astype({"field": "str", "value": "str", "expected": "str"})
