"""Audit profiles: which unit-counting basis each payer type follows, when a client differs.

A profile file (YAML) overrides the defaults of `data/reference/payer_rule_basis.csv`, e.g.
a commercial payer that adopted the CMS rule or a Medicaid plan that counts each code alone:

    rule_basis:
      commercial: cms
      medicaid: ama
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from nmr_audit.reference import ReferenceData

RULE_BASES = ("cms", "ama")


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
