"""Short texts about a run for people: the Prefect artifacts and the CLI's closing lines.

Pure: the summary and findings in, text and small tables out. No patient identifiers: these
texts end up in Prefect's UI and logs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TOP_COLUMNS = ["rule_id", "severity", "clinic_id", "payer_type", "claim_id", "line_number",
               "date_of_service", "excess_units", "dollars_at_risk", "finding_id"]


def summary_markdown(summary: dict[str, Any], links: dict[str, str]) -> str:
    """The run in a few lines: what was read, what was found, what is at risk, where to look."""
    found, visits = summary["findings"], summary["visits"]
    lines = [f"# nmr-audit run {summary['run'].get('run_id', '')}".rstrip(), ""]
    lines += ["| table | rows read | audited | quarantined |", "|---|---:|---:|---:|"]
    lines += [f"| {t} | {c['rows_read']:,} | {c['rows_audited']:,} | {c['rows_quarantined']:,} |"
              for t, c in summary["totals"].items()]
    lines += ["", f"**97112 visits:** {visits['total']:,} — {visits['with_excess_units_97112']:,} bill more "
              f"units than the notes support ({visits['excess_units_97112']:,} excess units); "
              f"{visits['without_note']:,} without a note"
              + (f"; {visits['units_unchecked']:,} not checked (note quarantined or minutes unreadable)"
                 if visits.get("units_unchecked") else "") + ".", "",
              f"**Findings:** {found['total']:,}; **dollars at risk:** ${found['dollars_at_risk']:,.2f} on "
              f"{found['claim_lines_at_risk']:,} claim lines.", "",
              "| severity | findings |", "|---|---:|"]
    lines += [f"| {s} | {n:,} |" for s, n in found["by_severity"].items()]
    lines += ["", "| rule | findings | dollars at risk |", "|---|---:|---:|"]
    lines += [f"| {r} | {n:,} | ${found['dollars_at_risk_by_rule'].get(r, 0):,.2f} |"
              for r, n in found["by_rule"].items() if n]
    if links:
        lines += ["", *[f"- [{name}]({url})" for name, url in links.items()]]
    return "\n".join(lines) + "\n"


def top_findings(findings: pd.DataFrame, count: int = 25) -> list[dict[str, Any]]:
    """The findings with the most money at risk (then the most severe), without patient ids."""
    ranked = findings.assign(money=findings["dollars_at_risk"].astype("float64").fillna(0)).sort_values(
        ["money", "severity"], ascending=[False, True], kind="stable").head(count)
    table = ranked[TOP_COLUMNS].assign(date_of_service=ranked["date_of_service"].dt.strftime("%Y-%m-%d"))
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in table.astype(object).to_dict("records")]
