"""The findings table of the contract. Rules that fill it arrive with the rule suites."""

from __future__ import annotations

import pandas as pd

FINDING_COLUMNS = {
    "finding_id": "str",
    "rule_id": "str",
    "severity": "str",
    "claim_id": "str",
    "line_number": "Int64",
    "note_id": "str",
    "patient_id": "str",
    "date_of_service": "datetime64[s]",
    "rendering_npi": "str",
    "clinic_id": "str",
    "payer_type": "str",
    "field": "str",
    "message": "str",
    "excess_units": "Int64",
    "dollars_at_risk": "Float64",
}


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in FINDING_COLUMNS.items()})
