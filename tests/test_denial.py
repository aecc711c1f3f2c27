"""Denial risk per claim: 1 − Π(1 − weight) over the claim's distinct rules."""

import numpy as np
import pandas as pd
import pytest

from nmr_audit.denial import PRIOR_STRENGTH, claim_risk, learnt_weights, weights_in_use, wilson_interval

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


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombes_published_examples(k, n, low, high):
    """Newcombe (1998), Statistics in Medicine 17:857–872, Table I, method 3 (score, no continuity correction)."""
    lower, upper = wilson_interval(np.array([k]), np.array([n]))
    assert (round(float(lower[0]), 4), round(float(upper[0]), 4)) == (low, high)


def test_no_answered_line_has_no_interval():
    lower, upper = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lower[0]) and np.isnan(upper[0])


def answered(*rows):
    """Findings (rule_id, claim_id, line_number, outcome)."""
    frame = pd.DataFrame(rows, columns=["rule_id", "claim_id", "line_number", "outcome"])
    return frame.assign(line_number=frame["line_number"].astype("Int64"))


def test_learnt_weight_is_the_share_denied_shrunk_toward_the_default():
    found = answered(
        ("B", "c1", 1, "denied"), ("B", "c2", 1, "denied"), ("B", "c3", 1, "reversed"), ("B", "c4", 1, "paid"),
        ("B", "c5", 1, "reduced"),  # in the share, as not denied
        ("B", "c6", 1, "rejected"),  # CARC 16: counted apart, left out of the share
        ("B", "c1", 1, "denied"),  # a second finding of B on the same line counts once
        ("A", "c1", 1, "denied"),  # the same line counts toward each of its rules
        ("C", "c7", 1, None),  # no remittance: not counted
    )
    table = learnt_weights(found, WEIGHTS).set_index("rule_id")
    b = table.loc["B"]
    assert (b["lines"], b["denied"], b["reversed"], b["rejected"], b["reduced"], b["paid"]) == (5, 2, 1, 1, 1, 1)
    assert b["share_denied"] == pytest.approx(0.6) and b["share_reduced"] == pytest.approx(0.2)
    # (k + s·w0) / (n + s) = (3 + 20 × 0.5) / (5 + 20) = 13 / 25
    assert PRIOR_STRENGTH == 20 and b["learnt_weight"] == pytest.approx(0.52)
    assert (b["ci_low"], b["ci_high"]) == pytest.approx((0.2307, 0.8824), abs=1e-4)  # Wilson, 3 of 5
    a = table.loc["A"]
    assert (a["lines"], a["learnt_weight"]) == (1, pytest.approx((1 + 20 * 0.9) / 21, abs=5e-5))  # 4 decimals
    c = table.loc["C"]
    assert c["lines"] == 0 and c["learnt_weight"] == pytest.approx(0.5) and np.isnan(c["share_denied"])


def test_many_answered_lines_decide_the_weight():
    found = answered(*[("C", f"c{i}", 1, "denied" if i < 180 else "paid") for i in range(200)])
    c = learnt_weights(found, WEIGHTS).set_index("rule_id").loc["C"]
    assert c["learnt_weight"] == pytest.approx((180 + 10) / 220, abs=5e-5) and c["share_denied"] == pytest.approx(0.9)


def test_the_claims_risk_uses_the_learnt_weights():
    learnt = learnt_weights(answered(*[("A", f"c{i}", 1, "paid") for i in range(80)]), WEIGHTS)
    used = weights_in_use(WEIGHTS, learnt).set_index("rule_id")["weight"]
    assert used["A"] == pytest.approx(18 / 100) and used["B"] == 0.5  # (0 + 20 × 0.9) / (80 + 20)
    risk = claim_risk(findings(("c1", 1, "A", 10.0)), weights_in_use(WEIGHTS, learnt))
    assert risk["denial_risk"].iloc[0] == pytest.approx(0.18) and risk["reasons"].iloc[0] == "A (0.18)"
    assert weights_in_use(WEIGHTS, None) is WEIGHTS
