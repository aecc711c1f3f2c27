"""What the payer actually did with each claim line: outcomes from matched 835 remittances.

Pure: the remittance rows of `nmr_audit.x12.remits_835` matched to claim lines by
`nmr_audit.x12.match.match_remits` in, one outcome per claim line out, then onto the findings.

A claim line's outcome, from every remittance row that answers it (the CARCs' meaning from
`carcs.csv`, column `counts_as`; sources: X12 CARC list, 005010X221A1, nmr-audit domain facts
"835 adjustments"):

| outcome | when |
|---|---|
| `reversed` | a claim of status 22 (reversal of an earlier payment: a recoupment) answers the line |
| `denied` | nothing paid (paid ≤ 0 or no unit paid) with a denial CARC (4, 50, 97, 151, 236 …), or claim status 4 without 16 |
| `rejected` | nothing paid, with CARC 16 (missing information: fix and resubmit), and no denial CARC |
| `reduced` | paid, but fewer units than billed, or with a denial CARC on part of it |
| `paid` | paid otherwise (contractual CO-45, coinsurance, deductible: not denials) |

Claim-level rows (a claim adjudicated without service lines, or denied whole) answer every
line of their claim that no service line answers. `carcs` lists the line's adjustments as
`GROUP-CARC` (`CO-151; PR-2`), in code order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_FILE, SOURCE_ROW

OUTCOMES = ("paid", "reduced", "rejected", "denied", "reversed")
OUTCOME_COLUMNS = ("claim_id", "line_number", "outcome", "carcs", "paid_amount", "units_billed", "units_paid",
                   "remit_lines")
REVERSAL, DENIED_CLAIM = "22", "4"


def line_outcomes(matched: pd.DataFrame, carcs: pd.DataFrame, claim_lines: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """One row per claim line a remittance answers (`OUTCOME_COLUMNS`).

    `matched`: remittance rows with `line_number` and `matched_by` (`match_remits`): level,
    claim_id, claim_status, group_code, carc, paid_amount, units_paid, units_billed,
    source_file, source_row. `carcs`: `carcs.csv` (code, counts_as). `claim_lines` (claim_id,
    line_number): the lines a claim-level answer extends to. `paid_amount` is the sum over the
    service lines answering the line outside reversals (dollars), `units_*` likewise, `remit_lines`
    how many 835 service lines answer it.
    """
    matched = matched if SOURCE_FILE in matched.columns else matched.assign(**{SOURCE_FILE: ""})
    kinds = pd.Series(carcs["counts_as"].astype("str").to_numpy(), index=carcs["code"].astype("str").to_numpy())
    kinds = kinds[~kinds.index.duplicated()]
    lines = matched[(matched["level"] == "line").to_numpy() & matched["line_number"].notna().to_numpy()]
    lines = lines.astype({"line_number": "int64"})
    per_line = _per_line(lines, kinds, ["claim_id", "line_number"])
    claims = matched[(matched["level"] == "claim").to_numpy() & (matched["matched_by"] == "claim_id").to_numpy()]
    if len(claims) and claim_lines is not None and len(claim_lines):
        answered = claim_lines[["claim_id", "line_number"]].astype({"line_number": "int64"}).drop_duplicates()
        answered = answered[answered["claim_id"].isin(claims["claim_id"].unique())]
        whole = claims.drop(columns=["line_number"]).merge(answered, on="claim_id")
        paid = whole["claim_paid"].astype("float64").fillna(0.0)  # a claim answered whole: its own payment
        whole = whole.assign(paid_amount=paid, units_paid=(paid > 0).astype("float64"), units_billed=np.nan)
        extra = _per_line(whole, kinds, ["claim_id", "line_number"])
        have = pd.MultiIndex.from_frame(per_line[["claim_id", "line_number"]])
        extra = extra[~pd.MultiIndex.from_frame(extra[["claim_id", "line_number"]]).isin(have)]
        per_line = pd.concat([per_line, extra], ignore_index=True)
    return per_line.sort_values(["claim_id", "line_number"], kind="stable").reset_index(drop=True)


def _per_line(rows: pd.DataFrame, kinds: pd.Series, key: list[str]) -> pd.DataFrame:
    empty = pd.DataFrame({"claim_id": pd.Series(dtype="str"), "line_number": pd.Series(dtype="int64"),
                          "outcome": pd.Series(dtype="str"), "carcs": pd.Series(dtype="str"),
                          "paid_amount": pd.Series(dtype="float64"), "units_billed": pd.Series(dtype="float64"),
                          "units_paid": pd.Series(dtype="float64"), "remit_lines": pd.Series(dtype="int64")})
    if rows.empty:
        return empty
    status = rows["claim_status"].astype("str")
    kind = rows["carc"].astype("str").map(kinds)
    flags = pd.DataFrame({
        **{c: rows[c].to_numpy() for c in key},
        "reversal": (status == REVERSAL).to_numpy(),
        "denied_claim": (status == DENIED_CLAIM).to_numpy(),
        "denial": (kind == "denial").fillna(False).to_numpy(),
        "rejection": (kind == "rejection").fillna(False).to_numpy(),
    })
    grouped = flags.groupby(key, sort=False)
    found = grouped.agg(reversed=("reversal", "any"), denied_claim=("denied_claim", "any"),
                        denial=("denial", "any"), rejection=("rejection", "any"))
    service = rows.drop_duplicates([SOURCE_FILE, SOURCE_ROW, *key])  # amounts repeat on each adjustment row
    current = service[(service["claim_status"].astype("str") != REVERSAL).to_numpy()]
    money = current.groupby(key, sort=False).agg(paid_amount=("paid_amount", "sum"), units_paid=("units_paid", "sum"),
                                                 units_billed=("units_billed", "max"))
    count = service.groupby(key, sort=False).size().rename("remit_lines")
    found = found.join(money).join(count)
    found["paid_amount"] = found["paid_amount"].fillna(0.0)
    found["units_paid"] = found["units_paid"].fillna(0.0)
    nothing_paid = (found["paid_amount"] <= 0) | (found["units_paid"] <= 0)
    fewer = found["units_billed"].notna() & (found["units_paid"] < found["units_billed"])
    denied = found["denial"] | (found["denied_claim"] & ~found["rejection"])  # CARC 16 alone: a rejection
    outcome = np.select(
        [found["reversed"], nothing_paid & denied, nothing_paid & found["rejection"], fewer | found["denial"]],
        ["reversed", "denied", "rejected", "reduced"], "paid")
    adjusted = rows[rows["carc"].notna().to_numpy()]
    codes = (adjusted["group_code"].astype("str") + "-" + adjusted["carc"].astype("str"))
    listed = (pd.DataFrame({**{c: adjusted[c].to_numpy() for c in key}, "code": codes.to_numpy()})
              .drop_duplicates().sort_values([*key, "code"], key=_code_order)
              .groupby(key, sort=False)["code"].agg("; ".join))
    out = found.assign(outcome=outcome, carcs=listed.reindex(found.index)).reset_index()
    return out.astype({"outcome": "str", "carcs": "str", "remit_lines": "int64"})[list(empty.columns)]


def _code_order(values: pd.Series) -> pd.Series:
    """Sort `GROUP-CARC` by the CARC's number, then the group (other columns as they are)."""
    if values.name != "code":
        return values
    number = pd.to_numeric(values.str.split("-").str[1], errors="coerce").fillna(10**6)
    return number * 10 + values.str[:1].map({"C": 0, "P": 1, "O": 2}).fillna(3)


def with_outcomes(findings: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """`findings` with `outcome` and `carcs` of the claim line each rests on (claim_id,
    line_number; a visit-level finding's line is its visit's first 97112 line), where a
    remittance answers it; other findings keep them empty. A new frame, same rows and order."""
    if findings.empty or outcomes.empty:
        return findings
    keyed = findings[["claim_id", "line_number"]].astype({"claim_id": "str", "line_number": "Int64"})
    answer = outcomes[["claim_id", "line_number", "outcome", "carcs"]].astype(
        {"claim_id": "str", "line_number": "Int64"})
    found = keyed.merge(answer, on=["claim_id", "line_number"], how="left")
    return findings.assign(outcome=found["outcome"].astype("str").to_numpy(),
                           carcs=found["carcs"].astype("str").to_numpy())


def outcome_counts(outcomes: pd.DataFrame) -> dict[str, int]:
    """Claim lines answered, by outcome (every outcome named, 0 where none)."""
    counts = outcomes["outcome"].value_counts()
    return {o: int(counts.get(o, 0)) for o in OUTCOMES}


# remits.parquet: one row per adjustment (contract v1.1), in this order, then the read's columns.
REMIT_OUTPUT_COLUMNS = (
    SOURCE_FILE, SOURCE_ROW, "adjustment_segment", "level", "claim_id", "payer_claim_number", "claim_status",
    "line_number", "matched_by", "outcome", "line_control_number", "cpt_code", "modifiers", "submitted_cpt_code",
    "submitted_modifiers", "date_of_service", "charge_amount", "paid_amount", "allowed_amount", "units_paid",
    "units_billed", "group_code", "carc", "counts_as", "adjustment_amount", "adjustment_quantity", "rarcs",
)


@dataclass(frozen=True)
class Remittances:
    """A run's remittances matched: `rows` (remits.parquet), the 835 service lines no claim line
    matched (`unmatched`: `x12.match.UNMATCHED_COLUMNS`), and each answered claim line's outcome
    (`outcomes`: `OUTCOME_COLUMNS`)."""

    rows: pd.DataFrame
    unmatched: pd.DataFrame
    outcomes: pd.DataFrame

    def totals(self, unmatched_listed: int = 100) -> dict[str, object]:
        """For summary.json: rows, service lines matched and not (by reason, the first
        `unmatched_listed` of them listed), claim lines answered by outcome."""
        service = self.rows[self.rows["level"] == "line"].drop_duplicates([SOURCE_FILE, SOURCE_ROW])
        reasons = self.unmatched["reason"].value_counts()
        listed = self.unmatched.head(unmatched_listed)
        return {
            "rows": len(self.rows), "service_lines": len(service),
            "service_lines_matched": int(service["line_number"].notna().sum()),
            "service_lines_unmatched": len(self.unmatched),
            "unmatched_by_reason": {str(k): int(v) for k, v in reasons.items()},
            "unmatched": listed.astype(object).where(listed.notna(), None).to_dict("records"),
            "claim_lines_answered": len(self.outcomes), "outcomes": outcome_counts(self.outcomes),
            "provider_level_adjustments": int((self.rows["level"] == "provider").sum()),
        }


def remittances(remits: pd.DataFrame, claim_lines: pd.DataFrame, carcs: pd.DataFrame | None) -> Remittances:
    """Remittance rows (`read_835`'s, with `source_file`) matched to canonical claim lines
    (`x12.match.match_remits`), each line's outcome (`line_outcomes`) and the rows of
    remits.parquet (`REMIT_OUTPUT_COLUMNS` first: each row with its line's outcome and its CARC's
    `counts_as`). Neither input is changed."""
    from nmr_audit.x12.match import match_remits

    carcs = carcs if carcs is not None else pd.DataFrame({"code": pd.Series(dtype="str"),
                                                          "counts_as": pd.Series(dtype="str")})
    matched, unmatched = match_remits(remits, claim_lines)
    outcomes = line_outcomes(matched, carcs, claim_lines)
    keyed = matched.astype({"line_number": "Int64"}).merge(
        outcomes[["claim_id", "line_number", "outcome"]].astype({"line_number": "Int64"}),
        on=["claim_id", "line_number"], how="left")
    kinds = pd.Series(carcs["counts_as"].astype("str").to_numpy(), index=carcs["code"].astype("str").to_numpy())
    keyed = keyed.assign(counts_as=keyed["carc"].map(kinds[~kinds.index.duplicated()]).astype("str"),
                         matched_by=keyed["matched_by"].astype("str"), outcome=keyed["outcome"].astype("str"))
    order = [c for c in REMIT_OUTPUT_COLUMNS if c in keyed.columns]
    rows = keyed[order + [c for c in keyed.columns if c not in order]]
    return Remittances(rows.reset_index(drop=True), unmatched, outcomes)
