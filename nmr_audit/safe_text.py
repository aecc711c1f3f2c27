"""Text that a spreadsheet would run as a formula, made inert (OWASP: CSV injection).

Cells come from clinic exports (free text of notes, ids); one that begins with `=`, `+`, `-`,
`@`, a tab or a carriage return gets a leading `'`, so Excel, LibreOffice and Sheets show it as
text. Applied to every human-facing export (CSV, XLSX, HTML); Parquet keeps the raw values.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(values: pd.Series) -> pd.Series:
    text = values.astype("str")
    risky = text.str.startswith(FORMULA_START, na=False)
    return text.where(~risky, "'" + text)


def defuse_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column of `frame` defused; numbers and dates are left as they are."""
    text_columns = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])
                    and not pd.api.types.is_datetime64_any_dtype(frame[c])]
    return frame.assign(**{c: defuse(frame[c]) for c in text_columns})
