"""Which edition of the reference tables a finding rested on, for appeals.

A finding's `reference_edition` names the edition of each table it rests on, `; `-joined:

- the table its rule compares with, as the facts found it (the expectation's `edition` column):
  `ncci_ptp 2026Q1` (MISSING_NCCI_MODIFIER), `payer_edits packaged` (PAYER_EDIT), `mue 2026Q1`
  (MUE_EXCEEDED) — an imported row's own quarter (its `edition`), else the layer the table was
  read from (`packaged`, `home`, `reference` for `--reference DIR`);
- where the finding puts dollars at risk, the fee table that priced them (`money.unit_fees`):
  `fee_schedule packaged`, `pfs_fees 2026Q1 locality 01112/05`, `pfs_rvu 2026Q1 national (…)`.

`summary.json` → `reference_editions` says, per table, where it was read from and, for an
imported one, its quarter, import time and each CMS file with its SHA-256 (`editions_summary`):
the label on a finding and that record together are what an appeal cites. Pure.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nmr_audit.contract import NMR_CODE
from nmr_audit.money import unit_fees
from nmr_audit.reference import ReferenceData

TABLES = ("ncci_ptp", "mue", "payer_edits", "fee_schedule", "pfs_fees", "pfs_rvu", "carcs", "claim_filing_indicators",
          "denial_weights")


def with_fee_editions(findings: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """`findings` with the fee table's edition added to `reference_edition` where a finding puts
    dollars at risk (priced as 97112 units by the finding's payer type, date and clinic, as the
    facts price them). A new frame; `findings` is not changed."""
    priced = findings["dollars_at_risk"].notna().to_numpy()
    if not priced.any():
        return findings
    rows = findings.loc[priced, ["payer_type", "date_of_service", "clinic_id"]]
    fee = unit_fees(rows, NMR_CODE, reference)["fee_edition"]
    own = findings.loc[priced, "reference_edition"]
    joined = (own + "; " + fee).where(own.notna() & (own != ""), fee)
    edition = findings["reference_edition"].astype("str").copy()
    edition.loc[priced] = joined.to_numpy()
    return findings.assign(reference_edition=edition)


def editions_summary(reference: ReferenceData) -> dict[str, Any]:
    """Per reference table a run rests on: the layer it was read from and, for an imported table,
    its provenance (quarter, import date, files with SHA-256, rows; every edition accumulated)."""
    layers = reference.layers or {}
    provenance = reference.provenance or {}
    out: dict[str, Any] = {}
    for name in TABLES:
        if name not in layers or (name in ("pfs_fees", "pfs_rvu") and getattr(reference, name, None) is None):
            continue
        record: dict[str, Any] = {"layer": layers[name]}
        meta = provenance.get(name)
        if meta:
            record |= {k: meta[k] for k in ("quarter", "imported_at", "files", "editions") if k in meta}
        out[name] = record
    return out
