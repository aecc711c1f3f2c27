"""`nmr-audit reference import` on small files written in CMS's layouts (synthetic rows: never
CMS's own files), and the layering --reference > reference home > packaged defaults."""

import hashlib
import json
import zipfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from nmr_audit.cli import app
from nmr_audit.io.reference import load_reference
from nmr_audit.io.reference_home import packaged_reference_dir, table_source

PTP_TEXT = "\n".join([
    "CPT only copyright 2025 American Medical Association. All rights reserved.",
    "",
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date\tModifier\tPTP Edit Rationale",
    "\t\t\t\t*=no data\t0=not allowed\t",
    "\t\t\t\t\t1=allowed\t",
    "\t\t\t\t\t9=not applicable\t",
    "97530\t97112\t\t20200101\t*\t1\tMutually exclusive procedures",
    "97164\t97530\t\t20200101\t*\t1\tStandards of medical / surgical practice",
    "97150\t97112\t*\t19960101\t20210101\t0\tMisuse of column two code with column one code",
    "97140\t97112\t\t20230101\t20230101\t9\tCPT Manual or CMS manual coding instructions",
    "29580\t29581\t\t20150101\t*\t1\tMutually exclusive procedures",
    "97113\t97112\t\t2020-01-01\t*\t1\tbad date",
    "",
])
MUE_TEXT = "\n".join([
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association."',
    "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale",
    "97112,6,3 Date of Service Edit: Clinical,Clinical: Data",
    "97110,8,2 Date of Service Edit: Policy,Nature of Service/Procedure",
    "G0283,1,1 Line Edit,CMS Policy",
    "97530,six,3 Date of Service Edit: Clinical,Clinical: Data",
    "",
])
RVU_HEADER = ["HCPCS", "MOD", "DESCRIPTION", "STATUS CODE", "NOT USED FOR MEDICARE PAYMENT", "WORK RVU",
              "NON-FAC PE RVU", "NON-FAC NA INDICATOR", "FACILITY PE RVU", "FACILITY NA INDICATOR", "MP RVU",
              "NON-FACILITY TOTAL", "FACILITY TOTAL", "PCTC IND", "GLOB DAYS", "MULT PROC", "BILAT SURG", "ASST SURG",
              "CO-SURG", "TEAM SURG", "ENDO BASE", "CONV FACTOR"]


def _rvu_row(code, work, pe_nonfac, pe_fac, mp, cf="33.4009", mod=""):
    row = [code, mod, "SYNTHETIC", "A", "", work, pe_nonfac, "", pe_fac, "", mp] + [""] * 10 + [cf]
    return ",".join(row)


RVU_TEXT = "\n".join(["ADDENDUM B - RELATIVE VALUE UNITS (synthetic test rows)", "", ",".join(RVU_HEADER),
                      _rvu_row("97112", "0.50", "0.47", "0.20", "0.01"),
                      _rvu_row("97110", "0.45", "0.40", "0.18", "0.01"),
                      _rvu_row("97112", "0.50", "0.47", "0.20", "0.01", mod="GP"),
                      _rvu_row("99213", "1.30", "1.10", "0.50", "0.10"), ""])
GPCI_TEXT = "\n".join([
    "ADDENDUM E. FINAL CY 2026 GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE AND MEDICARE LOCALITY",
    "Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,"
    "2026 PW GPCI (with 1.0 Floor),2026 PE GPCI,2026 MP GPCI",
    "10112,AL,0,ALABAMA,1.000,0.900,0.500",
    "01182,CA,18,LOS ANGELES,1.050,1.200,0.900",
    ""])


@pytest.fixture
def cms_files(tmp_path):
    ptp = tmp_path / "ccipra-v321r0-f1.txt"
    ptp.write_text(PTP_TEXT, encoding="latin-1")
    mue = tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
    mue.write_text(MUE_TEXT)
    pfs = tmp_path / "RVU26A.zip"
    with zipfile.ZipFile(pfs, "w") as archive:
        archive.writestr("PPRRVU26_JAN.csv", RVU_TEXT)
        archive.writestr("GPCI2026.csv", GPCI_TEXT)
        archive.writestr("RVU26A.pdf", "not read")
    return {"ptp": ptp, "mue": mue, "pfs": pfs}


def _import(home, files, *extra, quarter="2026Q1"):
    args = ["reference", "import", "--quarter", quarter, "--home", str(home), "--ptp", str(files["ptp"]),
            "--mue", str(files["mue"]), "--pfs", str(files["pfs"]), *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_writes_versioned_tables_with_provenance(tmp_path, cms_files):
    home = tmp_path / "home" / "reference"
    output = _import(home, cms_files)
    assert "ncci_ptp: 4 row(s) of 6 read, 1 rejected" in output
    assert "line 12: effective date is not YYYYMMDD" in output
    edition = home / "editions" / "ncci_ptp" / "2026Q1"
    provenance = json.loads((edition / "ncci_ptp.provenance.json").read_text())
    assert provenance["quarter"] == "2026Q1"
    assert provenance["files"] == [{"file": "ccipra-v321r0-f1.txt",
                                    "sha256": hashlib.sha256(cms_files["ptp"].read_bytes()).hexdigest()}]
    assert provenance["imported_at"][:4] >= "2026" or provenance["imported_at"]
    assert (home / "ncci_ptp.csv").read_text() == (edition / "ncci_ptp.csv").read_text()


def test_ptp_rows_keep_their_dates_and_indicator_and_the_pairs_of_other_codes_are_left_out(tmp_path, cms_files):
    home = tmp_path / "reference"
    _import(home, cms_files)
    ptp = pd.read_csv(home / "ncci_ptp.csv", dtype=str, keep_default_na=False).set_index(["column_1", "column_2"])
    assert ("29580", "29581") not in ptp.index  # neither code is a therapy code of cpt_codes.csv
    assert ptp.loc[("97530", "97112"), ["modifier_indicator", "effective_from", "effective_to", "verified"]].tolist() == [
        "1", "2020-01-01", "", "true"]
    deleted = ptp.loc[("97150", "97112")]
    assert (deleted["effective_to"], deleted["deletion_date"], deleted["prior_to_1996"]) == ("2020-12-31", "2021-01-01",
                                                                                              "true")
    never = ptp.loc[("97140", "97112")]  # indicator 9: deleted the day it took effect
    assert never["effective_to"] < never["effective_from"]
    assert "CMS NCCI practitioner PTP edits, 2026Q1" in ptp["source"].iloc[0]
    _import(tmp_path / "all", cms_files, "--all-codes")
    assert len(pd.read_csv(tmp_path / "all" / "ncci_ptp.csv")) == 5


def test_mue_keeps_its_adjudication_indicator_which_decides_line_or_day(tmp_path, cms_files):
    home = tmp_path / "reference"
    output = _import(home, cms_files)
    assert "mue: 3 row(s) of 4 read, 1 rejected" in output
    mue = pd.read_csv(home / "mue.csv", dtype=str).set_index("cpt_code")
    assert mue.loc["97112", ["mue", "adjudication_indicator", "per", "effective_from"]].tolist() == [
        "6", "3", "patient_day", "2026-01-01"]
    assert mue.loc["G0283", ["adjudication_indicator", "per"]].tolist() == ["1", "line"]


def test_fees_are_rvus_times_gpcis_times_the_conversion_factor(tmp_path, cms_files):
    home = tmp_path / "reference"
    _import(home, cms_files)
    fees = pd.read_csv(home / "pfs_fees.csv", dtype={"locality": str, "mac": str, "cpt_code": str}).set_index(
        ["locality", "cpt_code"])
    # Los Angeles: (0.50 × 1.05 + 0.47 × 1.20 + 0.01 × 0.90) × 33.4009 = 1.098 × 33.4009 = 36.67
    assert fees.loc[("18", "97112"), "nonfacility_amount"] == pytest.approx(36.67)
    # facility PE: (0.525 + 0.20 × 1.20 + 0.009) × 33.4009 = 0.774 × 33.4009 = 25.85
    assert fees.loc[("18", "97112"), "facility_amount"] == pytest.approx(25.85)
    assert fees.loc[("00", "97112"), "nonfacility_amount"] == pytest.approx(round((0.50 + 0.47 * 0.9 + 0.005) * 33.4009, 2))
    assert ("18", "99213") not in fees.index  # not a code of cpt_codes.csv
    assert len(pd.read_csv(home / "pfs_rvu.csv")) == 4
    assert len(pd.read_csv(home / "gpci.csv")) == 2


def test_a_run_reads_the_home_before_the_packaged_tables_and_reference_above_both(tmp_path, cms_files, monkeypatch):
    home = tmp_path / "nmr-home"
    _import(home / "reference", cms_files)
    monkeypatch.setenv("NMR_AUDIT_HOME", str(home))
    reference = load_reference()
    assert reference.mue.set_index("cpt_code").loc["97112", "mue"] == 6  # imported, not the packaged 4
    assert table_source("mue").layer == "home"
    assert table_source("cpt_codes").layer == "packaged"  # never imported
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "mue.csv").write_text((packaged_reference_dir() / "mue.csv").read_text())
    assert load_reference(mine).mue.set_index("cpt_code").loc["97112", "mue"] == 4
    assert table_source("mue", mine).layer == "reference"
    assert table_source("ncci_ptp", mine).layer == "home"
    # the imported locality fees reach the run (the KX amounts read them: tests/facts/test_therapy_year.py)
    fees = reference.pfs_fees.astype({"locality": "str"}).set_index(["locality", "cpt_code"])
    assert float(fees.loc[("18", "97112"), "nonfacility_amount"]) == pytest.approx(36.67)


def test_an_earlier_quarter_imported_later_keeps_the_latest_ptp_and_adds_to_the_mue(tmp_path, cms_files):
    home = tmp_path / "reference"
    _import(home, cms_files, quarter="2026Q2")
    _import(home, cms_files, quarter="2025Q4")
    ptp_meta = json.loads((home / "ncci_ptp.provenance.json").read_text())
    assert ptp_meta["quarter"] == "2026Q2"
    mue = pd.read_csv(home / "mue.csv", dtype=str)
    assert sorted(mue.loc[mue["cpt_code"] == "97112", "effective_from"]) == ["2025-10-01", "2026-04-01"]
    listing = CliRunner().invoke(app, ["reference", "list", "--home", str(home.parent)])
    assert listing.exit_code == 0
    assert "ncci_ptp 2026Q2 (active)" in listing.output and "ncci_ptp 2025Q4:" in listing.output


def test_bad_invocations_exit_2_with_one_line(tmp_path, cms_files):
    runner = CliRunner()
    result = runner.invoke(app, ["reference", "import", "--quarter", "2026-1", "--ptp", str(cms_files["ptp"])])
    assert result.exit_code != 0 and "write it as 2026Q1" in str(result.exception or result.output)
    other = tmp_path / "notes.txt"
    other.write_text("hello\tworld\n")
    result = runner.invoke(app, ["reference", "import", "--quarter", "2026Q1", "--home", str(tmp_path / "h"),
                                 "--ptp", str(other)])
    assert "no 'Column 1<TAB>Column 2' header row" in str(result.exception)


def test_a_run_rests_on_the_imported_editions_and_every_finding_names_them(tmp_path, cms_files, monkeypatch):
    """The imported PTP decides the NCCI pair, the imported MUE (MAI 3: per day) the day's limit, the Los
    Angeles fee prices the dollars, and each finding names those editions (summary.json the files)."""
    from nmr_audit.editions import editions_summary
    from nmr_audit.gx_engine import RuleEngine
    from nmr_audit.io.suites import load_suites
    from nmr_audit.pipeline import audit_tables
    from tests.builders import tables, visit

    home = tmp_path / "nmr-home"
    _import(home / "reference", cms_files)
    monkeypatch.setenv("NMR_AUDIT_HOME", str(home))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "clinics.csv").write_text("clinic_id,clinic_name,verified,source,mac,locality\n"
                                      "CL1,Balance PT Los Angeles,false,test,01182,18\n")
    reference = load_reference(mine)
    frames = tables(visit(patient_id="pair", billed={"97112": 1, "97530": 1}, minutes={"97112": 15, "97530": 15}),
                    visit(patient_id="mue", billed={"97112": 7}, minutes={"97112": 105}))
    findings = audit_tables(*frames, reference, RuleEngine(load_suites())).findings
    pair = findings[findings["rule_id"] == "MISSING_NCCI_MODIFIER"].iloc[0]
    assert pair["reference_edition"] == "ncci_ptp 2026Q1; pfs_fees 2026Q1 locality 01182/18"
    assert pair["dollars_at_risk"] == pytest.approx(36.67)  # one unit at the Los Angeles fee
    mue = findings[findings["rule_id"] == "MUE_EXCEEDED"].iloc[0]
    assert (mue["excess_units"], mue["dollars_at_risk"]) == (1, pytest.approx(36.67))  # 7 units against 6
    assert mue["reference_edition"].startswith("mue 2026Q1;") and "(MUE date-of-service edit)" in mue["message"]
    recorded = editions_summary(reference)
    assert recorded["ncci_ptp"]["layer"] == "home" and recorded["ncci_ptp"]["quarter"] == "2026Q1"
    assert recorded["ncci_ptp"]["files"][0]["sha256"] == hashlib.sha256(cms_files["ptp"].read_bytes()).hexdigest()
    assert recorded["pfs_fees"]["layer"] == "home" and recorded["fee_schedule"]["layer"] == "packaged"


def test_listing_another_home_leaves_the_process_home_alone(tmp_path, cms_files):
    """`reference list --home` once left NMR_AUDIT_HOME pointing at the listed home, so that the
    next load_reference in the same process (a test, a flow) read its imported fee schedule."""
    import os

    before = os.environ.get("NMR_AUDIT_HOME")
    home = tmp_path / "reference"
    _import(home, cms_files)
    listing = CliRunner().invoke(app, ["reference", "list", "--home", str(home.parent)])
    assert listing.exit_code == 0 and f"reference home: {home.parent}" in listing.output
    assert os.environ.get("NMR_AUDIT_HOME") == before
    assert load_reference().pfs_rvu is None  # the session's home has imported nothing
