"""Payer types and payers from a clinic's export to the rule basis (issue 17, k)."""

import pandas as pd

from nmr_audit.intake import conform_file
from nmr_audit.mapping import TableMapping

ROW = {"claim_id": "C1", "line_number": "1", "patient_id": "P1", "date_of_service": "2026-03-04",
       "rendering_npi": "1234567893", "clinic_id": "CL1", "cpt_code": "97112", "modifiers": "GP", "units": "2",
       "source_file": "claims.csv"}


def claims(*payer_types):
    return pd.DataFrame([{**ROW, "claim_id": f"C{n}", "payer_type": p, "source_row": n + 2}
                         for n, p in enumerate(payer_types)])


def test_tricare_is_a_payer_type_an_unknown_one_still_quarantines_and_a_profile_maps_a_spelling(reference):
    mapping = TableMapping(values={"payer_type": {"TRICARE PRIME": "tricare"}})
    done = conform_file(claims("tricare", "TRICARE PRIME", "champva"), "claim_lines", mapping, reference, "claims.csv")
    assert done.rows["payer_type"].tolist() == ["tricare", "tricare"]
    assert done.quarantine["source_row"].tolist() == [4] and "payer_type" in done.quarantine["reason"].iloc[0]


def test_payer_terms_come_from_the_payer_table_before_the_payer_type(reference):
    terms = reference.payer_terms(pd.Series(["commercial", "commercial", "tricare", "medicare"]),
                                  pd.Series(["SYNTH-CMSWAY-PPO", "BCBS-PPO", None, "MCR-B"]))
    assert terms["rule_basis"].tolist() == ["cms", "ama", "cms", "cms"]
    assert terms["medicare_rules"].tolist() == [False, False, False, True]
