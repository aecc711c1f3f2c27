"""Reference tables the rules read (codes, rule basis, disciplines), held as frames.

Loading them is I/O (`nmr_audit.io.reference`); this module only answers questions of them so
the rules never embed a code list or a modifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nmr_audit.contract import UNKNOWN_PAYER


@dataclass(frozen=True)
class ReferenceData:
    """The versioned tables of `data/reference/`, one frame per file."""

    cpt_codes: pd.DataFrame
    payer_rule_basis: pd.DataFrame
    therapy_disciplines: pd.DataFrame
    ncci_ptp: pd.DataFrame
    mue: pd.DataFrame
    fee_schedule: pd.DataFrame
    payment_policy: pd.DataFrame
    modifiers: pd.DataFrame
    denial_weights: pd.DataFrame
    payers: pd.DataFrame  # payer_id → payer_type, rule_basis, medicare_rules (overrides the payer type's)
    # Optional names for the reports (`providers.csv`, `clinics.csv`): None where absent.
    providers: pd.DataFrame | None = None
    clinics: pd.DataFrame | None = None
    # The yearly therapy (KX) thresholds per payer type and discipline bucket, with the targeted
    # medical review amount (`therapy_thresholds.csv`; issue 19). Empty: no threshold checked.
    therapy_thresholds: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["year", "payer_type", "bucket", "therapy_modifiers", "kx_threshold", "review_threshold"]))
    # 837P claim filing indicators (SBR09) → payer type (`claim_filing_indicators.csv`): None where absent.
    claim_filing_indicators: pd.DataFrame | None = None
    # Payer code-pair edits beside NCCI's (`payer_edits.csv`) and what each CARC counts as (`carcs.csv`).
    payer_edits: pd.DataFrame | None = None
    carcs: pd.DataFrame | None = None
    # Where each table was read from, for the findings' `reference_edition`: table → `packaged`,
    # `home` (imported) or `reference` (--reference), and the imported tables' provenance.
    layers: dict[str, str] | None = None
    provenance: dict[str, dict] | None = None
    # CMS's Physician Fee Schedule where imported (`nmr-audit reference import --pfs`): None otherwise.
    pfs_fees: pd.DataFrame | None = None
    pfs_rvu: pd.DataFrame | None = None

    @property
    def timed_codes(self) -> frozenset[str]:
        return frozenset(self.cpt_codes.loc[self.cpt_codes["timed"], "cpt_code"])

    @property
    def payer_types(self) -> frozenset[str]:
        """Payer types a claim line may carry (`unknown` is only for visits no claim names)."""
        return frozenset(self.payer_rule_basis["payer_type"]) - {UNKNOWN_PAYER}

    @property
    def credentials(self) -> frozenset[str]:
        return frozenset(self.therapy_disciplines["provider_credential"])

    @property
    def medicare_payer_types(self) -> frozenset[str]:
        """Payer types that follow Medicare's own rules (assistant modifiers, plan of care)."""
        table = self.payer_rule_basis
        return frozenset(table.loc[table["medicare_rules"], "payer_type"])

    def modifiers_of(self, kind: str) -> list[str]:
        """Modifiers of one kind in `modifiers.csv`: therapy, ncci_bypass, assistant, threshold (KX),
        liability (GA, GY, GZ)."""
        return sorted(self.modifiers.loc[self.modifiers["kind"] == kind, "modifier"])

    def policy(self, name: str) -> float:
        """A number from `payment_policy.csv` (the latest row of that name)."""
        rows = self.payment_policy[self.payment_policy["policy"] == name]
        if rows.empty:
            raise KeyError(f"payment_policy.csv has no row for {name!r}")
        return float(rows.sort_values("effective_from")["value"].iloc[-1])

    def rule_basis(self, payer_types: pd.Series, payer_ids: pd.Series | None = None) -> pd.Series:
        """The unit-counting basis (`cms` or `ama`) for each payer (see `payer_terms`)."""
        return self.payer_terms(payer_types, payer_ids)["rule_basis"]

    def payer_terms(self, payer_types: pd.Series, payer_ids: pd.Series | None = None) -> pd.DataFrame:
        """How each payer counts units and whether it follows Medicare's own rules.

        Returns `rule_basis` (str: cms, ama) and `medicare_rules` (bool: assistant modifiers, plan
        of care), aligned with `payer_types`. A `payer_id` listed in `payers.csv` (or added by
        an audit profile) takes its row's terms; any other payer takes its payer type's row of
        `payer_rule_basis.csv`; an unknown payer type has no basis (missing) and no Medicare
        rules. Lookups go through the few distinct values, not the millions of rows.
        """
        by_type = self.payer_rule_basis.set_index("payer_type")
        basis = _lookup(payer_types, by_type["rule_basis"])
        medicare = _lookup(payer_types, by_type["medicare_rules"])
        if payer_ids is not None and len(self.payers):
            by_id = self.payers.drop_duplicates("payer_id", keep="last").set_index("payer_id")
            basis = _lookup(payer_ids, by_id["rule_basis"]).fillna(basis)
            medicare = _lookup(payer_ids, by_id["medicare_rules"]).fillna(medicare)
        return pd.DataFrame({"rule_basis": basis.astype("str"),
                             "medicare_rules": medicare.fillna(False).astype("bool")}, index=payer_types.index)


    def payer_types_for(self, payer_ids: pd.Series, filing_indicators: pd.Series) -> pd.Series:
        """The payer type of claim lines that name none (837P): `resolve_payer_types` with this
        reference's payer table and claim filing indicators."""
        return resolve_payer_types(payer_ids, filing_indicators, self.payers, self.claim_filing_indicators)


def resolve_payer_types(payer_ids: pd.Series, filing_indicators: pd.Series, payers: pd.DataFrame | None,
                        indicators: pd.DataFrame | None) -> pd.Series:
    """Each 837P line's payer type: its `payer_id`'s row of the payer table (`payers.csv` plus an
    audit profile's `payers:`) first, else its claim filing indicator (`SBR09`) through
    `claim_filing_indicators.csv` (code → payer_type; 005010X222A1 code list), else missing.

    `payer_ids`, `filing_indicators`: text series aligned with each other (missing allowed);
    `payers` (payer_id, payer_type) and `indicators` (code, payer_type) may be None. Returns text
    (missing where neither table names the line's payer), aligned with `payer_ids`. Looked up
    through the distinct values, not row by row.
    """
    found = pd.Series(pd.NA, index=payer_ids.index, dtype="str")
    if indicators is not None and len(indicators):
        by_code = indicators.set_index("code")["payer_type"].astype("str").replace("", np.nan)
        found = _lookup(filing_indicators.astype("str"), by_code).astype("str")
    if payers is not None and len(payers):
        by_id = payers.drop_duplicates("payer_id", keep="last").set_index("payer_id")["payer_type"]
        named = _lookup(payer_ids.astype("str"), by_id).astype("str")
        found = named.where(named.notna(), found)
    return found


def _lookup(values: pd.Series, table: pd.Series) -> pd.Series:
    """`table[value]` for each value (missing where absent), through the distinct values."""
    positions, distinct = pd.factorize(values)
    found = pd.Index(distinct).map(table).to_numpy(dtype=object)
    return pd.Series(found[positions] if len(found) else np.full(len(values), None, dtype=object),
                     index=values.index).where(positions >= 0)
