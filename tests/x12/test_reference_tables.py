"""The X12 reference tables say what the domain facts say (domain: Payers)."""

import pandas as pd

from nmr_audit.io.reference import load_reference
from nmr_audit.io.reference_home import packaged_reference_dir
from nmr_audit.x12.claims_837 import load_filing_indicators


def test_every_claim_filing_indicator_of_the_guide_has_a_contract_payer_type():
    table = load_filing_indicators().set_index("code")
    assert set(table.index) == {"MB", "MA", "16", "MC", "CH", "VA", "WC", "CI", "BL", "HM", "12", "13", "14", "15", "ZZ"}
    assert set(table["payer_type"]) <= load_reference().payer_types
    assert table.loc[["MB", "MA", "16", "MC", "WC", "BL"], "payer_type"].tolist() == [
        "medicare", "medicare", "medicare_advantage", "medicaid", "workers_comp", "commercial"]
    # CH files as payer type tricare, whose rule basis (payer_rule_basis.csv: cms) is unverified for unit counting
    assert (table.loc["CH", "payer_type"], table.loc["CH", "rule_basis"], table.loc["CH", "verified"]) == (
        "tricare", "", "false")
    assert load_reference().payer_rule_basis.set_index("payer_type").loc["tricare", "rule_basis"] == "cms"
    assert table["source"].str.len().gt(0).all()


def test_carcs_count_denials_rejections_and_contractual_reductions_apart():
    carcs = pd.read_csv(packaged_reference_dir() / "carcs.csv", dtype=str).set_index("code")
    assert carcs.loc["16", "counts_as"] == "rejection"
    assert carcs.loc["45", "counts_as"] == "contractual"
    assert set(carcs.loc[["4", "50", "96", "97", "119", "151", "204", "234", "236"], "counts_as"]) == {"denial"}
    assert set(carcs["counts_as"]) <= {"denial", "rejection", "reduction", "contractual", "other"}
    assert {"source", "verified"} <= set(carcs.columns)
