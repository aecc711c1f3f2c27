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


def test_shipped_weights_are_the_registry_defaults_for_every_rule(reference):
    from nmr_audit.contract import RULES

    weights = reference.denial_weights.set_index("rule_id")["weight"]
    assert weights.to_dict() == pytest.approx({r.rule_id: r.weight for r in RULES})


def test_a_rule_without_a_weight_fails_loudly_rather_than_weighing_nothing():
    with pytest.raises(ValueError, match="no weight for D"):
        claim_risk(findings(("c1", 1, "A", 1.0), ("c1", 1, "D", 1.0)), WEIGHTS)


@pytest.mark.parametrize(("edit", "said"), [
    (lambda t: t[~t.str.startswith("NOTE_UNSIGNED")], "no weight for NOTE_UNSIGNED"),
    (lambda t: pd.concat([t, pd.Series(['NOT_A_RULE,0.9,"x",2026-01-01,false,"y"'])]),
     "NOT_A_RULE is not in the rule registry"),
])
def test_a_weights_table_that_misses_or_adds_a_rule_stops_the_run_naming_the_file(tmp_path, edit, said):
    import shutil

    from nmr_audit.errors import InputError
    from nmr_audit.io.reference import default_reference_dir, load_reference

    shutil.copytree(default_reference_dir(), tmp_path / "ref")
    path = tmp_path / "ref" / "denial_weights.csv"
    lines = pd.Series(path.read_text(encoding="utf-8").splitlines())
    path.write_text("\n".join([lines.iloc[0], *edit(lines.iloc[1:])]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"denial_weights\.csv") as raised:
        load_reference(tmp_path / "ref")
    assert said in str(raised.value)
