"""Audit profiles: which unit-counting basis each payer follows, when a client differs.

A profile file (YAML) overrides the defaults of `data/reference/payer_rule_basis.csv` per payer
type, and adds payers to `data/reference/payers.csv` (a payer listed there overrides its payer
type), e.g. a Medicaid plan that counts each code alone and one commercial plan that counts the
CMS way while the other commercial plans stay AMA:

    rule_basis:
      medicaid: ama
    payers:
      - {payer_id: HIGHMARK-PPO, payer_type: commercial, rule_basis: cms, medicare_rules: false,
         source: "payer policy R-24 (2024)"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from nmr_audit.reference import ReferenceData

RULE_BASES = ("cms", "ama")
PAYER_COLUMNS = ("payer_id", "payer_type", "rule_basis", "medicare_rules", "effective_from", "verified", "source")


def apply_rule_basis(reference: ReferenceData, overrides: Mapping[str, str], source: str
                     ) -> ReferenceData:
    """The reference data with the profile's rule basis per payer type, its source noted."""
    known = set(reference.payer_rule_basis["payer_type"])
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown payer type(s) {', '.join(sorted(unknown))}; "
                         f"use {', '.join(sorted(known))}")
    bad = {k: v for k, v in overrides.items() if v not in RULE_BASES}
    if bad:
        raise ValueError(f"unknown rule basis {bad}; use cms or ama")
    table = reference.payer_rule_basis
    changed = table["payer_type"].isin(list(overrides))
    updated = table.assign(
        rule_basis=table["rule_basis"].mask(changed, table["payer_type"].map(overrides)),
        source=table["source"].mask(changed, pd.Series(f"audit profile {source}", index=table.index)),
    )
    return replace(reference, payer_rule_basis=updated)


def apply_payers(reference: ReferenceData, rows: Sequence[Mapping[str, Any]], source: str) -> ReferenceData:
    """The reference data with the profile's payers added; a payer_id already listed takes the
    profile's row. Each row needs payer_id, payer_type, rule_basis; `medicare_rules` defaults to
    the payer type's, `source` to the profile. Raises ValueError naming the bad row."""
    if not rows:
        return reference
    by_type = reference.payer_rule_basis.set_index("payer_type")["medicare_rules"]
    added = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping) or not row.get("payer_id") or not row.get("payer_type") \
                or not row.get("rule_basis"):
            raise ValueError(f"payers row {number}: needs payer_id, payer_type and rule_basis")
        payer_type = str(row["payer_type"]).strip().lower()
        flag = row.get("medicare_rules", by_type.get(payer_type, False))
        added.append({"payer_id": str(row["payer_id"]).strip(), "payer_type": payer_type,
                      "rule_basis": str(row["rule_basis"]).strip().lower(),
                      "medicare_rules": str(flag).strip().lower() in ("true", "yes", "1"),
                      "effective_from": pd.NaT, "verified": False,
                      "source": f"audit profile {source}: {row.get('source') or 'no source given'}"})
    frame = pd.DataFrame(added)
    problems = payer_row_problems(frame, reference)
    if problems:
        raise ValueError("; ".join(problems))
    kept = reference.payers[~reference.payers["payer_id"].isin(frame["payer_id"])]
    payers = pd.concat([kept, frame.astype({"effective_from": kept["effective_from"].dtype})
                        if "effective_from" in kept.columns else frame], ignore_index=True)
    return replace(reference, payers=payers)


def payer_row_problems(payers: pd.DataFrame, reference: ReferenceData) -> list[str]:
    """Rows of a payer table whose payer type or rule basis is unknown, or whose id repeats."""
    known = reference.payer_types
    problems = [f"payer {p}: unknown payer type {t!r} (use {', '.join(sorted(known))})"
                for p, t in zip(payers["payer_id"], payers["payer_type"], strict=True) if t not in known]
    problems += [f"payer {p}: unknown rule basis {b!r} (use cms or ama)"
                 for p, b in zip(payers["payer_id"], payers["rule_basis"], strict=True) if b not in RULE_BASES]
    repeated = payers["payer_id"][payers["payer_id"].duplicated()]
    return problems + [f"payer {p} is listed twice" for p in sorted(set(repeated))]
