"""What the Prefect artifacts say about a run."""

import pandas as pd

from nmr_audit.digest import summary_markdown, top_findings


def test_summary_markdown_names_counts_money_and_links():
    summary = {"run": {"run_id": "r1"}, "totals": {"claim_lines": {"rows_read": 10, "rows_audited": 9,
                                                                   "rows_quarantined": 1}},
               "visits": {"total": 5, "with_excess_units_97112": 2, "excess_units_97112": 3, "without_note": 1},
               "findings": {"total": 4, "dollars_at_risk": 1234.5, "claim_lines_at_risk": 3,
                            "by_severity": {"high": 3, "medium": 0, "low": 0, "info": 1},
                            "by_rule": {"NO_NOTE": 1, "UNITS_EXCEED_TIME": 3, "MUE_EXCEEDED": 0},
                            "dollars_at_risk_by_rule": {"NO_NOTE": 100.0}}}
    text = summary_markdown(summary, {"findings.csv": "file:///x/findings.csv"})
    assert "run r1" in text and "$1,234.50" in text and "| NO_NOTE | 1 | $100.00 |" in text
    assert "MUE_EXCEEDED" not in text and "[findings.csv](file:///x/findings.csv)" in text


def test_top_findings_lead_with_money_and_leave_patients_out():
    findings = pd.DataFrame({"rule_id": ["A", "B"], "severity": ["high", "info"], "clinic_id": "C",
                             "payer_type": "medicare", "claim_id": ["c1", None], "line_number": [1, None],
                             "date_of_service": pd.to_datetime(["2026-01-02", "2026-01-03"]),
                             "excess_units": [None, None], "dollars_at_risk": [None, 50.0],
                             "finding_id": ["F1", "F2"], "patient_id": ["P1", "P2"]})
    rows = top_findings(findings)
    assert [r["finding_id"] for r in rows] == ["F2", "F1"] and "patient_id" not in rows[0]
    assert rows[1]["claim_id"] == "c1" and rows[0]["date_of_service"] == "2026-01-03"
