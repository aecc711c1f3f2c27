"""What each rule means and what to fix, for the reports: one row per rule id.

The reports take this catalogue as a frame (`rule_id, severity, meaning, fix, source`) and
never read the rules' text anywhere else; it is built from the rule registry
(`nmr_audit.contract.RULES`), the one place a rule's meaning, fix and source are written.
"""

from __future__ import annotations

import pandas as pd

from nmr_audit.contract import RULES

CATALOGUE_COLUMNS = ("rule_id", "severity", "meaning", "fix", "source")


def rule_catalogue() -> pd.DataFrame:
    """One row per registered rule: `rule_id, severity, meaning, fix, source` (all `str`).

    `severity` is the rule's usual severity; a rule whose findings may carry more than one
    (FIELD_UNREADABLE: low, medium when it blocked a unit check) lists them joined by `/`.
    """
    rows = [(r.rule_id, "/".join(r.severities), r.meaning, r.fix, r.source) for r in RULES]
    return pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS)).astype("str")
