"""Reference tables the rules read (codes, rule basis, disciplines), held as frames.

Loading them is I/O (`nmr_audit.io.reference`); this module only answers questions of them so
the rules never embed a code list or a modifier.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    # Optional names for the reports (`providers.csv`, `clinics.csv`): None where absent.
    providers: pd.DataFrame | None = None
    clinics: pd.DataFrame | None = None

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
        """Modifiers of one kind in `modifiers.csv`: therapy, ncci_bypass, assistant."""
        return sorted(self.modifiers.loc[self.modifiers["kind"] == kind, "modifier"])

    def policy(self, name: str) -> float:
        """A number from `payment_policy.csv` (the latest row of that name)."""
        rows = self.payment_policy[self.payment_policy["policy"] == name]
        if rows.empty:
            raise KeyError(f"payment_policy.csv has no row for {name!r}")
        return float(rows.sort_values("effective_from")["value"].iloc[-1])

    def rule_basis(self, payer_types: pd.Series) -> pd.Series:
        """The unit-counting basis (`cms` or `ama`) for each payer type."""
        lookup = self.payer_rule_basis.set_index("payer_type")["rule_basis"]
        positions, distinct = pd.factorize(payer_types)  # a few payer types, millions of rows
        basis = pd.Index(distinct).map(lookup).to_numpy(dtype=object)
        return pd.Series(basis[positions], index=payer_types.index).where(positions >= 0)
