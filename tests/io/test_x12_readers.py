"""837P and 835 in the readers' registry: recognised by content whatever the name, each read only
as the input it is, and 837P lines typed by validation with the run's payer tables."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.intake import conform_file
from nmr_audit.io.discover import discover
from nmr_audit.io.readers import ReadOptions, estimate_rows, open_export, recognise
from nmr_audit.mapping import IDENTITY
from tests.x12.interchanges import HEADER_837, claim, interchange, line, subscriber, write

FIXTURES = Path(__file__).resolve().parents[1] / "x12" / "fixtures"
CLAIMS = FIXTURES / "therapy_claims_x222a1.837"
REMITTANCE = FIXTURES / "remittance_x221a1.835"


@pytest.mark.parametrize("name", ["claims.837", "claims.x12", "claims.edi", "claims.txt", "CLAIMS", "claims.csv"])
def test_an_837p_is_recognised_by_its_content_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(CLAIMS.read_bytes())
    assert recognise(path).reader.name == "x12-837p"
    assert recognise(path, table=CLAIM_LINES).reader.name == "x12-837p"
    other = tmp_path / f"remits-{name}"
    other.write_bytes(REMITTANCE.read_bytes())
    assert recognise(other, table=REMITS).reader.name == "x12-835"


def test_each_x12_file_is_read_only_as_the_input_it_is(tmp_path):
    with pytest.raises(InputError, match=r"an X12 835 remittances file, not claims \(pass it with --remits\)"):
        discover([str(REMITTANCE)], CLAIM_LINES)
    with pytest.raises(InputError, match=r"not notes \(pass it with --claims\)"):
        discover([str(CLAIMS)], VISIT_NOTES)
    csv = tmp_path / "claims.csv"
    csv.write_text("claim_id,units\nC1,2\n")
    with pytest.raises(InputError, match=r"a CSV file, not an X12 835 remittance \(pass it with --claims or --notes\)"):
        discover([str(csv)], REMITS)
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "claims.837").write_bytes(CLAIMS.read_bytes())
    (folder / "remits.835").write_bytes(REMITTANCE.read_bytes())
    claims, skipped = discover([str(folder)], CLAIM_LINES)
    assert [p.name for p in claims] == ["claims.837"] and "pass it with --remits" in skipped[0].reason
    remits, skipped = discover([str(folder)], REMITS)
    assert [p.name for p in remits] == ["remits.835"] and "pass it with --claims" in skipped[0].reason


def test_another_transaction_or_guide_comes_to_the_837_reader_and_is_refused_by_name(tmp_path):
    path = write(tmp_path / "eligibility.edi", interchange(["BHT*0022*13*1*20260110*1200"], transaction="270",
                                                           version="005010X279A1"))
    assert recognise(path, table=CLAIM_LINES).reader.name == "x12-837p"
    with pytest.raises(InputError, match="holds X12 270 transactions, not 837 claims"):
        open_export(path, table=CLAIM_LINES)


def test_the_rows_estimate_counts_service_lines(tmp_path):
    assert 2 <= estimate_rows([CLAIMS]) <= 8  # four SV1 segments


def _lines(path, reference, x12=None):
    export = open_export(path, ReadOptions(x12=x12), CLAIM_LINES)
    raw = export.tables[0]
    frame = raw.frame
    return raw, conform_file(frame, CLAIM_LINES, IDENTITY.claim_lines, reference, raw.source)


def test_837p_lines_take_their_payer_type_from_the_payer_table_then_sbr09(reference):
    raw, done = _lines(CLAIMS, reference)
    assert raw.frame["payer_type"].isna().all()  # left to validation
    rows = done.rows.set_index(["claim_id", "line_number"])
    assert rows.loc[("CLM-1001", 1), "payer_type"] == "medicare"  # SBR09 MB
    assert rows.loc[("CLM-1002", 1), "payer_type"] == "medicare_advantage"  # SBR09 16
    assert rows.loc[("CLM-1001", 1), "line_control_number"] == "CLM-1001-1"  # 2400 REF*6R kept
    payers = pd.DataFrame({"payer_id": ["MA-SUN"], "payer_type": ["commercial"], "rule_basis": ["ama"],
                           "medicare_rules": [False], "verified": [False], "source": ["test"]})
    _, mine = _lines(CLAIMS, replace(reference, payers=payers))
    assert mine.rows.set_index(["claim_id", "line_number"]).loc[("CLM-1002", 1), "payer_type"] == "commercial"


def test_a_filing_indicator_no_table_knows_quarantines_the_line_saying_so(tmp_path, reference):
    path = write(tmp_path / "c.837", interchange([*HEADER_837, *subscriber(2, "09", "M1", "SELF"), claim("C1"),
                                                  "HI*ABK:R2681", *line(1, "97112:GP", "62", "1")]))
    _, done = _lines(path, reference)
    assert done.rows.empty
    reason = done.quarantine["reason"].iloc[0]
    assert "SBR09 '09' of payer 'SELF' has no payer type" in reason and "payer_type is missing" not in reason


def test_the_profile_x12_section_reaches_the_reader(reference):
    _, done = _lines(CLAIMS, reference, {"patient_id": "claim_id"})
    assert set(done.rows["patient_id"]) == {"CLM-1001", "CLM-1002"}
    with pytest.raises(InputError, match="mapping profile: unknown x12 setting"):
        open_export(CLAIMS, ReadOptions(x12={"payer": "x"}), CLAIM_LINES)
