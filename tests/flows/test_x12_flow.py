"""The X12 sample end to end through the flows: 837P claims, CSV notes and 835 remittances.

Findings carry what the payers did with their lines, the outcomes follow the generator's truth
(its remittances deny what its injected defects would get denied), the weights learnt from them
reach summary.json and both reports; replacements and voids hold across the files of one run and
envelope count mismatches reach summary.json; a remittance arriving a night after its claim
finds the line audited again.
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import openpyxl
import pandas as pd
import pytest

from flows.audit import audit_flow
from flows.nightly import nightly_audit
from nmr_audit.runtime.config import NightlyConfig, RunConfig
from tests.conftest import REPO
from tests.x12.interchanges import HEADER_837, claim, interchange, line, subscriber, write

pytestmark = pytest.mark.usefixtures("prefect_server")
X12 = REPO / "data" / "sample" / "x12"
PROFILE = str(REPO / "data" / "mappings" / "x12_837p.yaml")
REMIT_COLUMNS = {"claim_id", "payer_claim_number", "claim_status", "line_control_number", "cpt_code", "modifiers",
                 "charge_amount", "paid_amount", "units_paid", "units_billed", "group_code", "carc", "rarcs",
                 "adjustment_amount", "line_number", "outcome"}
TRUTH = {"paid": "paid", "reduced": "reduced", "recouped": "reversed"}  # generator outcome → the audit's


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("x12-run")
    state = audit_flow(RunConfig(claims=[str(X12 / "claims")], notes=[str(X12 / "notes")], remits=[str(X12 / "remits")],
                                 out=str(out), mapping=PROFILE, data_docs=False), return_state=True)
    assert state.is_completed(), state.message
    return out


def test_findings_carry_their_lines_outcome_and_remits_parquet_one_row_per_adjustment(run):
    findings = pd.read_parquet(run / "findings.parquet")
    summary = json.loads((run / "summary.json").read_text())
    on_lines = findings[findings["claim_id"].notna()]
    assert on_lines["outcome"].notna().all()  # every audited line was remitted in the sample
    assert findings.loc[findings["claim_id"].isna(), "outcome"].isna().all()
    assert set(findings.loc[findings["rule_id"] == "MISSING_THERAPY_MODIFIER", "outcome"]) == {"denied"}
    assert findings.loc[findings["rule_id"] == "MISSING_THERAPY_MODIFIER", "carcs"].str.contains("CO-4").all()
    remits = pd.read_parquet(run / "remits.parquet")
    assert set(remits.columns) >= REMIT_COLUMNS
    service = remits[remits["level"] == "line"]
    adjustments = service.groupby(["source_file", "source_row"])["group_code"].agg(lambda g: max(g.notna().sum(), 1))
    assert len(service) == int(adjustments.sum())  # one row per CAS triplet, one for a line without
    assert summary["remits"]["rows"] == len(remits) and summary["remits"]["findings_with_outcome"] == len(on_lines)
    entry = next(e for e in summary["inputs"] if e["table"] == "remits")
    assert entry["rows_read"] == entry["rows_audited"] + entry["rows_quarantined"] == len(remits)
    unmatched = pd.read_csv(run / "remits_unmatched.csv")
    assert len(unmatched) == summary["remits"]["service_lines_unmatched"] > 0
    quarantined = set(pd.read_parquet(run / "quarantine.parquet").query("table == 'claim_lines'")["reason"])
    assert quarantined and unmatched["reason"].str.len().gt(0).all()  # the quarantined lines' remittances


def test_outcomes_follow_the_generators_truth(run):
    """The generator's remittances deny what its defects would get denied (CO-4 without GP, CO-236 an NCCI
    pair without 59), cut a unit of over-billed lines (CO-151), reject claims with a bad row (CO-16) and
    recoup reviewed documentation defects (claim status 22)."""
    truth = pd.read_parquet(X12 / "remit_truth.parquet")
    remits = pd.read_parquet(run / "remits.parquet")
    got = remits[remits["level"] == "line"].dropna(subset=["line_number"]).drop_duplicates(
        ["claim_id", "line_number"]).astype({"line_number": "int64"})
    both = truth.merge(got[["claim_id", "line_number", "outcome"]], on=["claim_id", "line_number"],
                       suffixes=("_truth", ""))
    assert len(both) >= len(truth) - 3  # the lines of the quarantined rows are unmatched
    expected = both["outcome_truth"].map(TRUTH).where(both["outcome_truth"] != "denied",
                                                      both["carc"].map(lambda c: "rejected" if c == "16" else "denied"))
    assert (both["outcome"] == expected).all(), both[both["outcome"] != expected].to_string()
    assert set(both["outcome"]) >= {"paid", "denied", "reduced", "reversed"}


def test_learnt_weights_reach_the_summary_and_both_reports(run):
    summary = json.loads((run / "summary.json").read_text())
    weights = {r["rule_id"]: r for r in summary["denial_weights"]["rules"]}
    therapy = weights["MISSING_THERAPY_MODIFIER"]
    n, k = therapy["lines"], therapy["denied"] + therapy["reversed"]
    assert k == n > 0 and therapy["learnt_weight"] == pytest.approx((k + 20 * 0.9) / (n + 20), abs=5e-5)
    units = weights["UNITS_EXCEED_TIME"]
    # over-billed lines are cut a unit, unless denied outright (a line also missing its GP: CO-4 beats CO-151)
    assert units["reduced"] == units["lines"] - units["denied"] > units["denied"]
    assert units["learnt_weight"] < 0.6  # reductions are not denials
    html = (run / "report.html").read_text()
    assert 'id="learnt-note"' in html and 'id="remits-summary"' in html and "learnt_weight" in html
    assert "<th scope=\"col\" data-kind=\"text\" aria-sort=\"none\" tabindex=\"0\">outcome</th>" in html
    book = openpyxl.load_workbook(run / "report.xlsx", read_only=True)
    assert {"Denial weights", "Unmatched remittances"} <= set(book.sheetnames)
    header = next(book["Findings"].iter_rows(max_row=1, values_only=True))
    assert {"outcome", "carcs", "reference_edition"} <= set(header)


def _note(patient, day="2026-01-05"):
    """A documented note of the 837P's visit: rendering and clinic are the billing NPI (no 2310B, no profile)."""
    return (f"N-{patient},{patient},{day},1234567893,1234567893,PT,09:00,09:40,38,38,R26.81,"
            f"balance deficit,Berg 38 to 46,PNF,improved,2025-12-20,true,true,38\n")


def test_replacements_across_files_and_envelope_issues_reach_the_outputs(tmp_path):
    body = [*HEADER_837, *subscriber(2, "MB", "M1", "MCR01")]
    (tmp_path / "claims").mkdir()
    first = write(tmp_path / "claims" / "a.837",
                  interchange([*body, claim("C9"), "HI*ABK:R2681", *line(1, "97112:GP", "93", "3", control="C9-1"),
                               *line(2, "97110:GP", "31", "1", control="C9-2")], se_count=99))
    second = write(tmp_path / "claims" / "b.837",
                   interchange([*body, claim("C9", frequency="7"), "HI*ABK:R2681", *line(1, "97112:GP", "62", "2"),
                                *line(2, "97110:GP", "30", "23", basis="MJ")]))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.csv").write_text(
        "note_id,patient_id,date_of_service,rendering_npi,clinic_id,provider_credential,time_in,time_out,"
        "total_treatment_minutes,total_timed_minutes,diagnosis_codes,functional_deficit,treatment_goals,techniques,"
        "patient_response,plan_of_care_signed_date,one_on_one,signed,minutes_97112\n" + _note("M1"))
    out = tmp_path / "out"
    state = audit_flow(RunConfig(claims=[str(tmp_path / "claims")], notes=[str(tmp_path / "notes")], out=str(out),
                                 data_docs=False), return_state=True)
    assert state.is_completed(), state.message
    lines = pd.read_parquet(out / "claim_lines.parquet")
    assert lines[["claim_id", "line_number", "units"]].to_numpy().tolist() == [["C9", 1, 2]]  # b's replacement
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    replaced = quarantine[quarantine["source_file"] == str(first)]
    assert len(replaced) == 2 and replaced["reason"].str.startswith(
        f"claim 'C9' replaced by the claim with the same CLM01 in {tmp_path / 'claims' / 'b.837'} at segment").all()
    minutes = quarantine[quarantine["source_file"] == str(second)].iloc[0]  # a bad service line, the rest audited
    assert minutes["reason"].startswith(f"SV1 at segment {minutes['source_row']}:") and "SV103 is 'MJ'" in minutes["reason"]
    summary = json.loads((out / "summary.json").read_text())
    issue = summary["x12_envelope_issues"][0]
    assert (issue["source_file"], issue["code"]) == (str(first), "se_count") and "SE01 says 99" in issue["message"]
    accounting = {e["source_file"]: e for e in summary["inputs"]}
    assert (accounting[str(first)]["rows_read"], accounting[str(first)]["rows_quarantined"]) == (2, 2)
    assert {e["format"] for e in summary["inputs"] if e["table"] == "claim_lines"} == {"x12-837p"}


@pytest.mark.slow  # two nights of the sample
def test_a_remittance_a_night_after_its_claim_finds_the_line_audited_again(tmp_path):
    drop = tmp_path / "drop"
    for folder in ("claims", "notes"):
        shutil.copytree(X12 / folder, drop / folder)
    (drop / "remits").mkdir()
    root = tmp_path / "root"

    def night(as_of):
        state = nightly_audit(NightlyConfig(claims=[str(drop / "claims")], notes=[str(drop / "notes")],
                                            remits=[str(drop / "remits")], output_root=str(root), as_of=as_of,
                                            mapping=PROFILE, data_docs=False, look_back_days=400), return_state=True)
        assert state.is_completed(), state.message
        return state.result()

    first = night(date(2026, 11, 20))
    assert "remits" not in json.loads((root / "runs" / first.run_id / "summary.json").read_text())
    shutil.copy(X12 / "remits" / "remits.835", drop / "remits" / "remits.835")
    second = night(date(2026, 11, 21))
    assert second.new_files == [str(drop / "remits" / "remits.835")]
    run = root / "runs" / second.run_id
    findings = pd.read_parquet(run / "findings.parquet")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["run"]["history"]["rows_audited_again"]["claim_lines"] > 300  # the answered claims' days
    assert findings.loc[findings["rule_id"] == "MISSING_THERAPY_MODIFIER", "outcome"].eq("denied").all()
    answered = (X12 / "remits" / "remits.835").read_text().count("SVC*")  # the sample's 835 service lines
    assert summary["remits"]["service_lines"] == answered
    assert summary["remits"]["service_lines_matched"] >= answered - 5  # all but the quarantined rows' (3)


def test_an_interchange_that_cannot_be_read_fails_the_run_with_one_line(tmp_path):
    (tmp_path / "claims").mkdir()
    whole = interchange([*HEADER_837, *subscriber(2, "MB", "M1", "MCR01"), claim("C1"), "HI*ABK:R2681",
                         *line(1, "97112:GP", "62", "1")])
    write(tmp_path / "claims" / "cut.edi", whole[: len(whole) // 2])  # cut off mid-transmission
    state = audit_flow(RunConfig(claims=[str(tmp_path / "claims")], notes=[str(X12 / "notes")],
                                 out=str(tmp_path / "out"), data_docs=False), return_state=True)
    assert state.is_failed()
    assert state.message.startswith(f"{tmp_path / 'claims' / 'cut.edi'}: the interchange is truncated: its last "
                                    "segment is not the IEA trailer")
    assert "\n" not in state.message and "complete X12 interchange" in state.message  # one line, what to do
