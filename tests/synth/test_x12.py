from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.mapping import apply_mapping
from nmr_audit.synth.write import ExportStyle, write_dataset
from nmr_audit.x12.claims_837 import ClaimOptions, read_837
from nmr_audit.x12.match import match_remits
from nmr_audit.x12.remits_835 import read_835

REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["claim_id", "line_number", "patient_id", "date_of_service", "rendering_npi", "clinic_id", "payer_type",
           "payer_id", "cpt_code", "modifiers", "units"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("x12")
    write_dataset(folder / "x12", visits=480, seed=4, defect_rate=0.06, style=ExportStyle(format="x12"))
    write_dataset(folder / "csv", visits=480, seed=4, defect_rate=0.06, style=ExportStyle(format="csv"))
    return folder


def test_the_837p_reads_back_as_the_same_claim_lines_as_the_csv(generated):
    profile = load_mapping(REPO / "data" / "mappings" / "x12_837p.yaml")
    table = read_837(generated / "x12" / "claims" / "claims.837", ClaimOptions.from_settings(profile.claim_lines.x12))
    x12 = apply_mapping(table.frame, profile.claim_lines)
    assert table.invalid.empty and table.issues == []
    csv = pd.read_csv(generated / "csv" / "claims" / "claims.csv", dtype=str, keep_default_na=False)
    x12 = x12[COLUMNS].fillna("").sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    csv = csv[COLUMNS].sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(x12, csv)
    assert (x12["line_number"] != "").all()
    assert (generated / "x12" / "notes" / "notes.csv").is_file()


def test_remittances_match_every_line_and_follow_the_injected_defects(generated):
    claims = read_837(generated / "x12" / "claims" / "claims.837").frame
    lines = claims.assign(line_number=claims["line_number"].astype("int64"),
                          date_of_service=pd.to_datetime(claims["date_of_service"], errors="coerce").astype("datetime64[s]"))
    table = read_835(generated / "x12" / "remits" / "remits.835")
    remits = table.frame
    assert table.invalid.empty and table.issues == []
    matched, unmatched = match_remits(remits, lines)
    assert unmatched.empty
    assert matched.loc[matched["level"] == "line", "matched_by"].eq("line_control_number").all()
    truth = pd.read_parquet(generated / "x12" / "remit_truth.parquet")
    assert len(truth) == len(lines)
    carcs = matched[matched["level"] == "line"].groupby(["claim_id", "line_number"])["carc"].agg(set)
    for defect, carc in [("missing_therapy_modifier", "4"), ("overbilled_units", "151"), ("missing_ncci_modifier", "236")]:
        answered = truth[(truth["defect"] == defect) & truth["outcome"].isin(["denied", "reduced"])]
        assert set(answered["carc"]) <= {carc, "16"}  # 16: the whole claim was refused for a bad row
        assert all(row.carc in carcs[(row.claim_id, row.line_number)] for row in answered.itertuples())
    assert (truth.loc[truth["defect"] == "missing_therapy_modifier", "outcome"] == "denied").all()
    assert (truth["defect"] == "overbilled_units").sum() > 0
    recouped = truth[truth["outcome"] == "recouped"]
    assert len(recouped) > 0
    reversals = remits[(remits["claim_status"] == "22") & (remits["carc"] == "50")]
    assert set(reversals["claim_id"]) == set(recouped["claim_id"])
    assert set(remits.loc[remits["level"] == "provider", "plb_reason"]) == {"WO"}
    reduced = remits[remits["carc"] == "151"]
    assert (reduced["units_billed"] - reduced["units_paid"] == 1).all()
