"""The numbers and tables of the people-facing reports, computed once for HTML and Excel.

Money is counted per claim line first (the largest amount any finding puts on the line), then
summed by clinic, provider, payer or month, so every breakdown adds up to the headline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nmr_audit.contract import VISIT_KEY
from nmr_audit.keys import keys_in

TOP_PROVIDERS = 15


@dataclass(frozen=True)
class ReportData:
    headline: dict[str, Any]
    by_rule: pd.DataFrame
    by_clinic: pd.DataFrame
    by_provider: pd.DataFrame
    by_payer: pd.DataFrame
    trend: pd.DataFrame
    by_clinic_and_rule: pd.DataFrame


def build_report_data(summary: dict[str, Any], visits: pd.DataFrame, findings: pd.DataFrame,
                      claims_audited: int) -> ReportData:
    money = line_money(findings)
    return ReportData(
        headline=headline(summary, visits, findings, claims_audited),
        by_rule=_by_rule(findings),
        by_clinic=_by(findings, money, ["clinic_id"]).merge(_visit_counts(visits), on="clinic_id", how="left"),
        by_provider=_by(findings, money, ["rendering_npi", "clinic_id"]).head(TOP_PROVIDERS),
        by_payer=_by(findings, money, ["payer_type"]),
        trend=_trend(findings, money),
        by_clinic_and_rule=findings.pivot_table(index="clinic_id", columns="rule_id", values="finding_id",
                                                aggfunc="count", fill_value=0).reset_index()
        if len(findings) else pd.DataFrame({"clinic_id": []}),
    )


def line_money(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per claim line with money at risk: the largest amount of its findings."""
    keyed = findings[findings["claim_id"].notna()].assign(
        dollars=findings["dollars_at_risk"].astype("float64").fillna(0))
    top = keyed.sort_values("dollars", ascending=False, kind="stable").drop_duplicates(["claim_id", "line_number"])
    return top[["claim_id", "line_number", "clinic_id", "rendering_npi", "payer_type", "date_of_service", "dollars"]]


def headline(summary: dict[str, Any], visits: pd.DataFrame, findings: pd.DataFrame, claims_audited: int
             ) -> dict[str, Any]:
    flagged = int(keys_in(visits, findings[findings["severity"] == "high"], list(VISIT_KEY)).sum())
    totals = summary["totals"]
    return {
        "claims_audited": claims_audited,
        "claim_lines_audited": totals.get("claim_lines", {}).get("rows_audited", 0),
        "notes_audited": totals.get("visit_notes", {}).get("rows_audited", 0),
        "visits_97112": len(visits),
        "units_97112_billed": int(visits["billed_units_97112"].sum()),
        "units_97112_supported": int(visits["supported_units_97112"].sum()),
        "excess_units_97112": int(visits["excess_units_97112"].sum()),
        "dollars_at_risk": summary["findings"]["dollars_at_risk"],
        "findings": len(findings),
        "share_of_visits_with_high_finding": round(flagged / len(visits), 4) if len(visits) else 0.0,
        "rows_quarantined": sum(t.get("rows_quarantined", 0) for t in totals.values()),
    }


def _by(findings: pd.DataFrame, money: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    counts = findings.groupby(keys, dropna=False).size().rename("findings")
    dollars = money.groupby(keys, dropna=False)["dollars"].sum().round(2).rename("dollars_at_risk")
    table = pd.concat([counts, dollars], axis=1).fillna({"dollars_at_risk": 0.0}).reset_index()
    return table.sort_values(["dollars_at_risk", "findings"], ascending=False, kind="stable").reset_index(drop=True)


def _by_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """Each rule's findings and its own dollars at risk (rules overlap on lines: these do not add up)."""
    table = findings.groupby(["rule_id", "severity"]).agg(
        findings=("finding_id", "size"), dollars_at_risk=("dollars_at_risk", lambda d: round(float(d.sum()), 2)))
    return table.reset_index().sort_values(["findings", "rule_id"], ascending=[False, True]).reset_index(drop=True)


def _visit_counts(visits: pd.DataFrame) -> pd.DataFrame:
    return visits.groupby("clinic_id").agg(visits=("patient_id", "size"),
                                           excess_units_97112=("excess_units_97112", "sum")).reset_index()


def _trend(findings: pd.DataFrame, money: pd.DataFrame) -> pd.DataFrame:
    month = findings["date_of_service"].dt.to_period("M").astype("str")
    counts = findings.groupby(month).size().rename("findings")
    dollars = money.groupby(money["date_of_service"].dt.to_period("M").astype("str"))["dollars"].sum().round(2)
    table = pd.concat([counts, dollars.rename("dollars_at_risk")], axis=1).fillna(0.0)
    return table.rename_axis("month").reset_index().sort_values("month").reset_index(drop=True)
