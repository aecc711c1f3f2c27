"""Denial risk per claim: an explainable score from the claim's findings.

Each rule has a weight in `data/reference/denial_weights.csv`: the chance, on its own, that a
finding of that rule gets the claim denied or recouped. A claim's score treats its distinct
rules as independent reasons: 1 − Π(1 − weight). One reason of 0.9 scores 0.90; two of 0.5
score 0.75. The reasons are listed beside the score, heaviest first, so an analyst sees why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.findings import dollars_per_line

CLAIM_RISK_COLUMNS = ["claim_id", "clinic_id", "payer_type", "date_of_service", "denial_risk",
                      "reasons", "findings", "dollars_at_risk"]


def _joined(claims: np.ndarray, reasons: pd.Series) -> pd.Series:
    """Each claim's reasons joined with '; ' in the order given (Arrow's ordered list aggregation:
    a Python join per claim took seconds for hundreds of thousands of claims)."""
    table = pa.table({"claim": pa.array(claims), "reason": pa.array(reasons, type=pa.string())})
    lists = table.group_by("claim", use_threads=False).aggregate([("reason", "list")])
    joined = pc.binary_join(lists["reason_list"], "; ")
    return pd.Series(joined, index=pd.Index(lists["claim"]), dtype="str")


def _reason_text(rule_ids: pd.Series, weights: pd.Series) -> pd.Series:
    """'RULE (0.50)', each weight formatted once, not once per finding."""
    return rule_ids + " (" + weights.map({w: f"{w:.2f}" for w in weights.unique()}) + ")"


def claim_risk(findings: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """One row per claim with a finding: its denial risk (0–1), the reasons and the money.

    Raises ValueError naming the rules that have no weight in `weights` (rule_id, weight).

    Claims are numbered once in claim_id order and every step groups and sorts those numbers:
    grouping and sorting text ids took 7 s for 750,000 findings."""
    read = ["claim_id", "line_number", "rule_id", "clinic_id", "payer_type", "date_of_service", "dollars_at_risk"]
    on_claims = findings.loc[findings["claim_id"].notna(), [c for c in read if c in findings.columns]]
    if on_claims.empty:
        return pd.DataFrame(columns=CLAIM_RISK_COLUMNS)
    claim, claim_ids = pd.factorize(on_claims["claim_id"], sort=True)
    rule, _ = pd.factorize(on_claims["rule_id"], sort=True)
    unweighted = sorted(set(on_claims["rule_id"]) - set(weights["rule_id"]))
    if unweighted:  # a rule without a weight must not read as a risk of 0
        raise ValueError(f"denial_weights.csv has no weight for {', '.join(unweighted)}; "
                         "every rule of the registry (nmr_audit/contract.py RULES) needs one")
    weight = on_claims["rule_id"].map(weights.set_index("rule_id")["weight"]).to_numpy("float64")
    _, first = np.unique(claim.astype("int64") * (int(rule.max()) + 1) + rule, return_index=True)
    first = first[np.lexsort((rule[first], -weight[first], claim[first]))]  # per claim: heaviest rule first
    rules = on_claims.iloc[first].assign(claim=claim[first], weight=weight[first])
    rules = rules.assign(survive=np.log1p(-rules["weight"].clip(upper=0.999999)),
                         reason=_reason_text(rules["rule_id"], rules["weight"]))
    per_claim = rules.groupby("claim", sort=False).agg(
        survive=("survive", "sum"), clinic_id=("clinic_id", "first"),
        payer_type=("payer_type", "first"), date_of_service=("date_of_service", "min"))
    per_line = dollars_per_line(on_claims, claim)
    risk = per_claim.assign(
        reasons=_joined(rules["claim"].to_numpy(), rules["reason"]).reindex(per_claim.index),
        findings=np.bincount(claim)[per_claim.index],
        dollars_at_risk=per_line.groupby(level=0).sum().round(2).reindex(per_claim.index),
        denial_risk=lambda f: (1 - np.exp(f["survive"])).round(4),
        claim_id=pd.Series(claim_ids[per_claim.index], index=per_claim.index, dtype="str"))
    order = np.lexsort((risk.index.to_numpy(), -risk["dollars_at_risk"].to_numpy(), -risk["denial_risk"].to_numpy()))
    return risk.iloc[order][CLAIM_RISK_COLUMNS].reset_index(drop=True)


# Denial risk learnt from the clinic's own remittances.
#
# Where a run is given 835 remittances, each rule's weight is estimated from what the payers did
# with the claim lines that carry a finding of that rule: the share denied or recouped (outcome
# `denied` or `reversed`: `nmr_audit.remits`). A line with findings of several rules counts
# toward each. Lines rejected with CARC 16 (missing information: fixed and resubmitted, the
# payer's answer still to come) are counted apart and left out of the share; lines paid with
# fewer units than billed (`reduced`) are counted apart and stay in it as not denied.
#
# Shrinkage: the share of a few lines says little, so the learnt weight is the mean of a beta
# posterior whose prior has the default weight w₀ as its mean and the strength of
# `PRIOR_STRENGTH` lines: Beta(s·w₀, s·(1 − w₀)) updated with k denials of n lines gives
#     learnt = (k + s·w₀) / (n + s)
# — the default when no line was answered, the observed share as n grows past s. The interval
# reported beside it is Wilson's 95% score interval of the observed share k/n (Wilson 1927).

PRIOR_STRENGTH = 20  # the prior weighs as much as 20 answered lines
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile
LEARNT_COLUMNS = ["rule_id", "default_weight", "lines", "denied", "reversed", "rejected", "reduced", "paid",
                  "share_denied", "share_reduced", "ci_low", "ci_high", "learnt_weight"]


def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for a binomial proportion k/n (arrays; NaN where n = 0):
    (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)."""
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.where(n > 0, centre - half, np.nan), np.where(n > 0, centre + half, np.nan)


def learnt_weights(findings: pd.DataFrame, defaults: pd.DataFrame, prior_strength: float = PRIOR_STRENGTH
                   ) -> pd.DataFrame:
    """Per rule of `defaults` (rule_id, weight: `denial_weights.csv`): the lines its findings rest
    on that a remittance answered, by outcome, the observed share denied or recouped with its
    Wilson 95% interval, and the learnt weight shrunk toward the default (see above).

    `findings`: with `claim_id`, `line_number`, `outcome` (`nmr_audit.remits.with_outcomes`;
    missing where no remittance answers the line). Columns `LEARNT_COLUMNS`: `lines` = n (answered,
    not rejected), `denied` + `reversed` = k, shares and interval NaN where n = 0, `learnt_weight`
    in [0, 1]. Rules in `defaults` without findings keep their default.
    """
    answered = findings[findings["outcome"].notna().to_numpy() & findings["claim_id"].notna().to_numpy()]
    per_line = answered[["rule_id", "claim_id", "line_number", "outcome"]].drop_duplicates(
        ["rule_id", "claim_id", "line_number"])
    counts = pd.crosstab(per_line["rule_id"], per_line["outcome"]) if len(per_line) else pd.DataFrame()
    table = defaults[["rule_id", "weight"]].rename(columns={"weight": "default_weight"}).reset_index(drop=True)
    for outcome in ("denied", "reversed", "rejected", "reduced", "paid"):
        found = counts[outcome] if outcome in counts.columns else pd.Series(dtype="int64")
        table[outcome] = table["rule_id"].map(found).fillna(0).astype("int64")
    k = (table["denied"] + table["reversed"]).to_numpy()
    n = (k + table["reduced"] + table["paid"]).to_numpy()
    low, high = wilson_interval(k, n)
    w0 = table["default_weight"].to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, k / n, np.nan)
        reduced = np.where(n > 0, table["reduced"].to_numpy() / n, np.nan)
    learnt = (k + prior_strength * w0) / (n + prior_strength)
    table = table.assign(lines=n.astype("int64"), share_denied=np.round(share, 4), share_reduced=np.round(reduced, 4),
                         ci_low=np.round(low, 4), ci_high=np.round(high, 4), learnt_weight=np.round(learnt, 4))
    return table[LEARNT_COLUMNS]


def weights_in_use(defaults: pd.DataFrame, learnt: pd.DataFrame | None) -> pd.DataFrame:
    """`denial_weights.csv` with each rule's weight replaced by its learnt one where remittances
    were given (`learnt_weights`), for `claim_risk`; the defaults as they are otherwise."""
    if learnt is None or learnt.empty:
        return defaults
    weight = defaults["rule_id"].map(learnt.set_index("rule_id")["learnt_weight"])
    return defaults.assign(weight=weight.fillna(defaults["weight"]).astype("float64"))


def learnt_summary(learnt: pd.DataFrame, prior_strength: float = PRIOR_STRENGTH) -> dict[str, object]:
    """summary.json's `denial_weights`: how the weights were learnt and each rule's figures (the
    rules no answered line carries are left out: their weight is the default)."""
    seen = learnt[learnt["lines"] + learnt["rejected"] > 0]
    return {
        "method": "share of a rule's answered claim lines denied or recouped (835 outcome denied or reversed), "
                  "shrunk toward the default weight: (k + s·w0) / (n + s); Wilson 95% interval of k/n; CARC 16 "
                  "rejections and units reductions counted apart",
        "prior_strength": prior_strength,
        "rules": seen.astype(object).where(seen.notna(), None).to_dict("records"),
    }
