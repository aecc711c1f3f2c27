"""Denial risk per claim: 1 − Π(1 − weight) over the claim's distinct rules."""

import pandas as pd
import pytest

from nmr_audit.denial import claim_risk

WEIGHTS = pd.DataFrame({"rule_id": ["A", "B", "C"], "weight": [0.9, 0.5, 0.5]})


def findings(*rows):
    frame = pd.DataFrame(rows, columns=["claim_id", "line_number", "rule_id", "dollars_at_risk"])
    return frame.assign(clinic_id="CL1", payer_type="medicare", date_of_service=pd.Timestamp("2026-01-02"))


def test_one_reason_scores_its_weight_and_two_combine():
    risk = claim_risk(findings(("c1", 1, "A", 10.0), ("c2", 1, "B", 5.0), ("c2", 2, "C", 7.0)), WEIGHTS)
    scores = risk.set_index("claim_id")["denial_risk"]
    assert scores["c1"] == pytest.approx(0.9) and scores["c2"] == pytest.approx(0.75)
    assert list(risk["claim_id"]) == ["c1", "c2"]


def test_repeated_rule_counts_once_and_money_counts_each_line_once():
    risk = claim_risk(findings(("c1", 1, "B", 10.0), ("c1", 1, "B", 10.0), ("c1", 1, "C", 4.0),
                               ("c1", 2, "B", 3.0)), WEIGHTS).iloc[0]
    assert risk["denial_risk"] == pytest.approx(0.75)
    assert risk["dollars_at_risk"] == pytest.approx(13.0) and risk["findings"] == 4
    assert risk["reasons"] == "B (0.50); C (0.50)"


def test_findings_without_a_claim_are_not_scored():
    frame = findings(("c1", 1, "A", 1.0)).assign(claim_id=[None])
    assert claim_risk(frame, WEIGHTS).empty


def test_shipped_weights_cover_every_contract_rule(reference):
    from tests.test_suites import CONTRACT_RULES

    weights = reference.denial_weights.set_index("rule_id")["weight"]
    assert set(weights.index) == set(CONTRACT_RULES) and weights.between(0, 1).all()
