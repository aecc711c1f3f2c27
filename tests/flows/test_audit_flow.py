"""The audit flow run for real on a Prefect server, and the CLI over it."""

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.audit import audit_flow
from nmr_audit.cli import app
from nmr_audit.runtime.config import RunConfig
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("prefect_server")
SAMPLE = REPO / "data" / "sample"
SETS = {  # sample set: (claims, notes, mapping profile)
    "canonical": ("canonical/claims", "canonical/notes", None),
    "canonical_jsonl": ("canonical_jsonl/claims", "canonical_jsonl/notes", None),
    "therachart": ("therachart/claims", "therachart/notes", "therachart_csv.yaml"),
    "rehabpro": ("rehabpro/claims/*.xlsx", "rehabpro/notes", "rehabpro_xlsx.yaml"),
}


@pytest.mark.parametrize("name", list(SETS))
def test_every_sample_set_is_audited_and_accounts_for_every_row(tmp_path, name):
    claims, notes, mapping = SETS[name]
    state = audit_flow(RunConfig(claims=[str(SAMPLE / claims)], notes=[str(SAMPLE / notes)], out=str(tmp_path),
                                 mapping=str(REPO / "data" / "mappings" / mapping) if mapping else None), return_state=True)
    assert state.is_completed(), state.message
    summary = json.loads((tmp_path / "summary.json").read_text())
    quarantine = pd.read_parquet(tmp_path / "quarantine.parquet")
    truth = pd.read_parquet(SAMPLE / name / "truth.parquet")
    for entry in summary["inputs"]:
        assert entry["rows_read"] == entry["rows_audited"] + entry["rows_quarantined"]
        assert len(entry["sha256"]) == 64
    expected = truth["defect"].value_counts()
    held = quarantine["table"].value_counts()
    assert held.get("claim_lines", 0) == expected.get("bad_claim_row", 0)
    assert held.get("visit_notes", 0) == expected.get("bad_note_row", 0)  # a required cell broken: set aside
    # an optional cell broken ('25:61' in time_in): the note is audited without it, the cell recorded
    unreadable = pd.read_parquet(tmp_path / "visit_notes.parquet")["unreadable_fields"].map(len).gt(0).sum()
    assert unreadable == expected.get("unreadable_note_time", 0)
    assert quarantine.loc[quarantine["table"] == "visit_notes", "patient_id"].notna().all()  # its visit key kept
    assert quarantine["source_row"].gt(0).all() and quarantine["reason"].str.len().gt(0).all()
    lines = pd.read_parquet(tmp_path / "claim_lines.parquet")
    assert lines["payer_type"].isin(["medicare", "medicare_advantage", "medicaid", "commercial",
                                     "workers_comp", "other", "tricare"]).all()
    assert not list(tmp_path.glob(".staging-*"))
    assert_visits_match_the_truth(tmp_path, truth, summary)
    assert_findings_match_the_truth(tmp_path, truth, summary)


def visit_number(ids: pd.Series) -> pd.Series:
    """The generator numbers claims and notes after their visit (CLM000000042, NOTE000000042)."""
    return ids.str[-9:].astype("int64")


def assert_visits_match_the_truth(out, truth, summary):
    """Excess 97112 units appear exactly where the generator overbilled or took the note away."""
    visits = pd.read_parquet(out / "visits.parquet")
    lines = pd.read_parquet(out / "claim_lines.parquet")
    key = ["patient_id", "date_of_service", "rendering_npi"]
    numbered = visits.merge(lines[[*key, "claim_id"]].drop_duplicates(key), on=key, how="left")
    numbered = numbered.assign(visit=visit_number(numbered["claim_id"].fillna(numbered["note_id"])))
    flagged = set(numbered.loc[numbered["excess_units_97112"] > 0, "visit"])
    overbilled = set(visit_number(truth.loc[truth["defect"] == "overbilled_units", "claim_id"]))
    without_note = set(visit_number(truth.loc[truth["defect"] == "missing_note", "claim_id"])) | set(
        visit_number(truth.loc[truth["defect"] == "bad_note_row", "note_id"]))
    assert overbilled <= flagged
    assert flagged <= overbilled | without_note
    assert set(numbered.loc[numbered["note_id"].isna(), "visit"]) <= without_note
    assert summary["visits"]["total"] == len(visits)
    held = visits["note_quarantined"] | visits["unit_inputs_unreadable"]  # units not checked: not excess
    bad_note_rows = set(visit_number(truth.loc[truth["defect"] == "bad_note_row", "note_id"]))
    assert set(numbered.loc[numbered["note_quarantined"], "visit"]) <= bad_note_rows
    assert summary["visits"]["excess_units_97112"] == int(visits.loc[~held, "excess_units_97112"].sum())
    assert summary["visits"]["note_quarantined"] == int(visits["note_quarantined"].sum())
    assert summary["visits"]["without_note"] == int((visits["note_id"].isna() & ~visits["note_quarantined"]).sum())
    quarantined = visits.loc[visits["note_quarantined"]]
    assert len(quarantined) and quarantined["explanation"].str.startswith(  # not "no note … over"
        "its note was quarantined at intake (NOTE_QUARANTINED): no unit rule judges this visit").all()


def assert_findings_match_the_truth(out, truth, summary):
    """Every injected defect is found by its rule, and nothing is found that no defect explains.

    Defects can overlap on one visit: a quarantined note turns units into NO_NOTE, a quarantined
    97112 line whose date could not be read makes its minutes unbilled (one whose key could be read
    reads LINE_QUARANTINED instead: the truth's `quarantined_line`), and overbilled 97112 units also
    exceed the visit's total.
    """
    findings = pd.read_parquet(out / "findings.parquet")
    assert (out / "findings.csv").exists() and (out / "data_docs" / "index.html").exists()
    assert 'href="data_docs/index.html"' in (out / "report.html").read_text()
    assert (out / "report.html").stat().st_size > 100_000 and (out / "report.xlsx").exists()
    assert summary["findings"]["total"] == len(findings)
    assert set(summary["findings"]["by_rule"]) >= {"UNITS_EXCEED_TIME", "CANALITH_AS_97112", "MUE_EXCEEDED"}
    found = set(zip(findings["rule_id"], visit_number(findings["claim_id"].fillna(findings["note_id"])),
                    strict=True))
    truth = truth.assign(visit=visit_number(truth["claim_id"].fillna(truth["note_id"])))
    wanted = truth[truth["expected"] != "QUARANTINE"]
    by_defect = {d: set(truth.loc[truth["defect"] == d, "visit"]) for d in truth["defect"].unique()}
    no_note = by_defect.get("bad_note_row", set()) | by_defect.get("missing_note", set())
    line_held = by_defect.get("quarantined_line", set())  # the visit key readable: LINE_QUARANTINED
    no_line = by_defect.get("bad_claim_row", set()) - line_held  # unreadable: no visit to name, so UNBILLED_97112
    missed = {(r, v) for r, v in zip(wanted["expected"], wanted["visit"], strict=True)
              if (r, v) not in found and (v not in no_note | no_line | line_held or r == "LINE_QUARANTINED")}
    assert not missed
    assert not {("UNBILLED_97112", v) for v in line_held} & found  # never "check for a missed charge" on them
    explained = set(zip(wanted["expected"], wanted["visit"], strict=True))
    knock_on = {("NO_NOTE", v) for v in no_note} | {("UNITS_EXCEED_TIME", v) for v in no_note} | {
        ("UNBILLED_97112", v) for v in no_line} | {("TIMED_UNITS_EXCEED_TOTAL", v) for v in
                                                   by_defect.get("overbilled_units", set()) | no_note}
    assert found - explained - knock_on == set()


def test_unreadable_file_fails_the_flow_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "claims.xlsx"
    bad.write_bytes(b"not a workbook")
    out = tmp_path / "out"
    state = audit_flow(RunConfig(claims=[str(bad)], notes=[str(SAMPLE / "canonical/notes")], out=str(out)), return_state=True)
    assert state.is_failed()
    assert str(bad) in state.message and "cannot be read" in state.message
    assert not (out / "summary.json").exists()


runner = CliRunner()


def test_cli_help_has_examples():
    for command in ("audit", "generate"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example: nmr-audit " + command in result.output


def test_cli_audit_exit_codes(tmp_path):
    ok = runner.invoke(app, ["audit", "--claims", str(SAMPLE / "canonical/claims"), "--notes",
                             str(SAMPLE / "canonical/notes"), "--out", str(tmp_path / "ok"), "--no-data-docs"])
    assert ok.exit_code == 0, ok.output
    assert "audit written to" in ok.output and "97112 visits: " in ok.output and "findings: " in ok.output
    assert not (tmp_path / "ok" / "data_docs").exists()  # and the report links none; the summary says so
    assert 'href="data_docs/index.html"' not in (tmp_path / "ok" / "report.html").read_text()
    assert json.loads((tmp_path / "ok" / "summary.json").read_text())["run"]["parameters"]["data_docs"] is False
    failing = runner.invoke(app, ["audit", "--claims", str(SAMPLE / "canonical/claims"), "--notes",
                                  str(SAMPLE / "canonical/notes"), "--out", str(tmp_path / "f"),
                                  "--fail-on", "high", "--no-data-docs"])
    assert failing.exit_code == 3 and "at or above 'high'" in failing.output
    assert (tmp_path / "f" / "findings.parquet").exists()  # the audit is written before the exit
    missing = runner.invoke(app, ["audit", "--claims", str(tmp_path / "nope"), "--notes",
                                  str(SAMPLE / "canonical/notes"), "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2
    assert "no claim_lines file matches" in missing.output and "Traceback" not in missing.output
    usage = runner.invoke(app, ["audit", "--claims", "x"])
    assert usage.exit_code == 2


def test_profile_changes_the_rule_basis_recorded_for_the_run(tmp_path):
    profile = tmp_path / "highmark.yaml"
    profile.write_text("name: cms-commercial\nrule_basis:\n  commercial: cms\n")
    state = audit_flow(RunConfig(claims=[str(SAMPLE / "canonical/claims")], notes=[str(SAMPLE / "canonical/notes")],
                                 out=str(tmp_path / "o"), profile=str(profile)), return_state=True)
    summary = state.result().summary
    assert summary["run"]["parameters"]["rule_basis"]["commercial"] == "cms"
    visits = pd.read_parquet(tmp_path / "o" / "visits.parquet")
    commercial = visits[visits["payer_type"] == "commercial"]
    assert len(commercial) and (commercial["rule_basis"] == "cms").all()
    pooled = commercial["pooled_timed_minutes"]
    assert commercial["supported_timed_units"].equals(((pooled + 7) // 15).where(pooled >= 8, 0))
    # the sample billed commercial visits code by code (AMA); pooled, some bill more than supported
    assert (commercial["billed_timed_units"] > commercial["supported_timed_units"]).any()


@pytest.mark.slow  # end to end: generated data through whole runs
def test_clean_generated_data_has_no_findings_and_passes_fail_on_info(tmp_path):
    made = runner.invoke(app, ["generate", "--visits", "600", "--seed", "8", "--defect-rate", "0",
                               "--out", str(tmp_path / "g"), "--format", "parquet"])
    assert made.exit_code == 0, made.output
    audited = runner.invoke(app, ["audit", "--claims", str(tmp_path / "g" / "claims"), "--notes",
                                  str(tmp_path / "g" / "notes"), "--out", str(tmp_path / "o"),
                                  "--fail-on", "info", "--no-data-docs"])
    assert audited.exit_code == 0, audited.output
    assert pd.read_parquet(tmp_path / "o" / "findings.parquet").empty
    assert "findings: 0 (none)" in audited.output


@pytest.mark.slow  # end to end: generated data through whole runs
def test_two_runs_over_the_same_input_write_identical_findings(tmp_path):
    for run in ("a", "b"):
        state = audit_flow(RunConfig(claims=[str(SAMPLE / "canonical_jsonl/claims")],
                                     notes=[str(SAMPLE / "canonical_jsonl/notes")], out=str(tmp_path / run), data_docs=False),
                           return_state=True)
        assert state.is_completed()
    first, second = (pd.read_parquet(tmp_path / run / "findings.parquet") for run in ("a", "b"))
    pd.testing.assert_frame_equal(first, second)
    assert (tmp_path / "a" / "findings.csv").read_bytes() == (tmp_path / "b" / "findings.csv").read_bytes()


@pytest.mark.slow  # end to end: generated data through whole runs
def test_cli_generate_then_audit_round_trip(tmp_path):
    result = runner.invoke(app, ["generate", "--visits", "60", "--seed", "4", "--out",
                                 str(tmp_path / "g"), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    audited = runner.invoke(app, ["audit", "--claims", str(tmp_path / "g" / "claims"), "--notes",
                                  str(tmp_path / "g" / "notes" / "*.jsonl"), "--out",
                                  str(tmp_path / "o")])
    assert audited.exit_code == 0, audited.output
    services = pd.read_parquet(tmp_path / "o" / "note_services.parquet")
    assert set(services["cpt_code"]) >= {"97112"}


def test_the_run_publishes_a_summary_and_top_findings_as_artifacts(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    state = audit_flow(RunConfig(claims=[str(SAMPLE / "canonical/claims")], notes=[str(SAMPLE / "canonical/notes")],
                                 out=str(tmp_path), data_docs=False), return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        def latest(key):
            found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return max(found, key=lambda a: a.created)

        summary = latest("nmr-audit-summary").data
        table = latest("nmr-audit-top-findings").data
    assert "**Findings:**" in summary and "dollars at risk" in summary and "findings.csv" in summary
    rows = json.loads(table) if isinstance(table, str) else table
    assert rows and "patient_id" not in rows[0] and rows[0]["dollars_at_risk"] > 0


@pytest.mark.slow  # end to end: generated data through whole runs
def test_partitioned_run_writes_what_the_single_process_run_writes(tmp_path):
    from nmr_audit.synth.write import ExportStyle, write_dataset

    write_dataset(tmp_path / "g", visits=16, seed=3, defect_rate=0.2, style=ExportStyle(format="jsonl"))
    for mode in (False, True):  # partitioned: buckets of about 12 claim lines, each a task of its own
        state = audit_flow(RunConfig(claims=[str(tmp_path / "g" / "claims")], notes=[str(tmp_path / "g" / "notes")],
                                     out=str(tmp_path / str(mode)), partitioned=mode, data_docs=False,
                                     lines_per_bucket=12 if mode else 1_000_000), return_state=True)
        assert state.is_completed(), state.message
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet"):  # canonical tables: bucket by bucket
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "False" / name),
                                      pd.read_parquet(tmp_path / "True" / name))
    summary = json.loads((tmp_path / "True" / "summary.json").read_text())
    assert summary["run"]["parameters"]["buckets"] >= 3 and summary["run"]["parameters"]["partitioned"] is True
    assert len(pd.read_parquet(tmp_path / "True" / "findings.parquet")) > 5
    assert not list((tmp_path / "True").glob(".spill-*"))


@pytest.mark.slow  # end to end: generated data through whole runs
def test_a_run_in_patient_buckets_writes_what_a_run_held_in_memory_writes(tmp_path):
    """Small batches and buckets force every path of a large run: spill, global de-duplication,
    bucket-by-bucket rules, canonical tables written a bucket at a time."""
    from nmr_audit.synth.write import ExportStyle, write_dataset

    write_dataset(tmp_path / "g", visits=60, seed=5, defect_rate=0.2, style=ExportStyle(format="csv"))
    claims = tmp_path / "g" / "claims"
    for table, key, column in (("claims", "rendering_npi", "rendering_provider_name"), ("notes", "clinic_id", "clinic_name")):
        for path in (tmp_path / "g" / table).iterdir():  # names the reports show, read bucket by bucket
            rows = pd.read_csv(path, dtype=str, keep_default_na=False)
            rows[column] = "Named " + rows[key].str[-3:]
            rows.to_csv(path, index=False)
    first = sorted(claims.iterdir())[0]
    lines = first.read_text().splitlines()
    (claims / "zz-resent.csv").write_text("\n".join([lines[0], *lines[1:4]]) + "\n")  # a file sent twice, in part
    runs = {"whole": {}, "buckets": {"batch_rows": 17, "lines_per_bucket": 40}}
    for name, sizes in runs.items():
        state = audit_flow(RunConfig(claims=[str(claims)], notes=[str(tmp_path / "g" / "notes")], out=str(tmp_path / name),
                                     data_docs=False, **sizes), return_state=True)
        assert state.is_completed(), state.message
    whole, buckets = tmp_path / "whole", tmp_path / "buckets"
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(whole / name), pd.read_parquet(buckets / name))
    for name, order in (("claim_lines.parquet", ["source_file", "source_row"]),
                        ("visit_notes.parquet", ["source_file", "source_row"]),
                        ("note_services.parquet", ["source_file", "source_row", "cpt_code"])):
        tables = [pd.read_parquet(out / name).sort_values(order).reset_index(drop=True) for out in (whole, buckets)]
        pd.testing.assert_frame_equal(*tables)
    summaries = [json.loads((out / "summary.json").read_text()) for out in (whole, buckets)]
    for part in ("inputs", "totals", "findings", "visits"):
        assert summaries[0][part] == summaries[1][part]
    assert [s["run"]["parameters"]["bucket_workers"] for s in summaries] == [0, 2]  # two worker processes audited the buckets
    quarantine = pd.read_parquet(buckets / "quarantine.parquet")
    assert quarantine["reason"].str.startswith("duplicate (claim_id, line_number)").sum() == 3
    assert not list(buckets.glob(".spill-*")) and len(pd.read_parquet(buckets / "findings.parquet")) > 10
    assert not list(buckets.glob(".canonical-*"))
    # the bucketed run wrote its workbook in a process of its own: the same sheets, the same cells
    books = [pd.read_excel(out / "report.xlsx", sheet_name=None) for out in (whole, buckets)]
    assert list(books[0]) == list(books[1]) and len(books[1]["Findings"]) > 10
    for sheet in ("Findings", "Claims at risk", "Visits", "By clinic and rule"):
        pd.testing.assert_frame_equal(books[0][sheet], books[1][sheet])
    # the bucketed run kept its visits' explanations on disk (runtime.visit_parts): the same report
    pages = [re.sub(r'<div class="meta">Run .*?</div>', "", (out / "report.html").read_text()) for out in (whole, buckets)]
    assert pages[0] == pages[1] and "cms: " in pages[1] and "Named " in pages[1]


@pytest.mark.slow  # end to end: generated data through whole runs
def test_a_rule_that_fails_in_a_bucket_worker_fails_the_run_with_its_rule_id(tmp_path):
    from nmr_audit.io.suites import GRAINS
    from nmr_audit.synth.write import ExportStyle, write_dataset

    write_dataset(tmp_path / "g", visits=30, seed=5, defect_rate=0.0, style=ExportStyle(format="parquet"))
    rules = tmp_path / "rules"
    rules.mkdir()
    for grain in GRAINS:
        (rules / f"{grain}.json").write_text((REPO / "expectations" / f"{grain}.json").read_text())
    suite = json.loads((rules / "visits.json").read_text())
    suite["expectations"][0]["kwargs"]["column_A"] = "no_such_fact"
    (rules / "visits.json").write_text(json.dumps(suite))
    state = audit_flow(RunConfig(claims=[str(tmp_path / "g" / "claims")], notes=[str(tmp_path / "g" / "notes")],
                                 out=str(tmp_path / "o"), expectations=str(rules), data_docs=False, lines_per_bucket=20),
                       return_state=True)
    assert state.is_failed()
    assert "UNITS_EXCEED_TIME" in state.message and "could not be evaluated" in state.message
    assert not (tmp_path / "o" / "summary.json").exists() and not list((tmp_path / "o").glob(".spill-*"))


def formula_export(tmp_path):
    """A one-visit export whose patient id and technique text look like spreadsheet formulas."""
    claims = tmp_path / "claims.csv"
    notes = tmp_path / "notes.csv"
    claims.write_text("claim_id,line_number,patient_id,date_of_service,rendering_npi,clinic_id,payer_type,"
                      "cpt_code,modifiers,units\n"
                      'C1,1,"=HYPERLINK(""http://x"",""y"")",2026-03-04,1234567893,CL1,medicare,97112,GP,3\n')
    notes.write_text("note_id,patient_id,date_of_service,rendering_npi,clinic_id,provider_credential,time_in,"
                     "time_out,total_treatment_minutes,diagnosis_codes,functional_deficit,treatment_goals,"
                     "techniques,patient_response,plan_of_care_signed_date,one_on_one,signed,minutes_97112\n"
                     'N1,"=HYPERLINK(""http://x"",""y"")",2026-03-04,1234567893,CL1,PT,09:00,09:30,25,R26.81,'
                     "balance,goals,+Epley maneuver,better,2026-03-01,yes,yes,25\n")
    return claims, notes


def test_a_formula_looking_patient_id_is_inert_in_every_export(tmp_path):
    import openpyxl

    claims, notes = formula_export(tmp_path)
    state = audit_flow(RunConfig(claims=[str(claims)], notes=[str(notes)], out=str(tmp_path / "o"),
                                 data_docs=False), return_state=True)
    assert state.is_completed(), state.message
    raw = '=HYPERLINK("http://x","y")'
    findings = pd.read_parquet(tmp_path / "o" / "findings.parquet")
    assert set(findings["patient_id"]) == {raw}  # Parquet keeps the raw value
    csv = pd.read_csv(tmp_path / "o" / "findings.csv", dtype=str)
    assert set(csv["patient_id"]) == {"'" + raw}
    book = openpyxl.load_workbook(tmp_path / "o" / "report.xlsx")
    cells = [c for row in book["Findings"].iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells) and "'" + raw in {c.value for c in cells}
    html = (tmp_path / "o" / "report.html").read_text()
    assert "&#39;=HYPERLINK(&#34;http://x&#34;" in html and 'href="http://x"' not in html


def test_masked_reports_carry_no_patient_ids(tmp_path, monkeypatch):
    import openpyxl

    monkeypatch.setenv("NMR_AUDIT_MASK_KEY", "client-secret")
    state = audit_flow(RunConfig(claims=[str(SAMPLE / "canonical/claims")], notes=[str(SAMPLE / "canonical/notes")],
                                 out=str(tmp_path / "o"), data_docs=False, mask_patients="hash"), return_state=True)
    assert state.is_completed(), state.message
    raw = set(pd.read_parquet(tmp_path / "o" / "findings.parquet")["patient_id"])
    csv = pd.read_csv(tmp_path / "o" / "findings.csv", dtype=str)
    assert csv["patient_id"].str.fullmatch(r"P-[0-9a-f]{16}").all() and not raw & set(csv["patient_id"])
    html = (tmp_path / "o" / "report.html").read_text()
    book = openpyxl.load_workbook(tmp_path / "o" / "report.xlsx", read_only=True)
    cells = {c for sheet in ("Findings", "Visits") for row in book[sheet].iter_rows(values_only=True) for c in row}
    assert not any(p in html for p in raw) and not raw & cells
    monkeypatch.delenv("NMR_AUDIT_MASK_KEY")
    failed = audit_flow(RunConfig(claims=[str(SAMPLE / "canonical/claims")], notes=[str(SAMPLE / "canonical/notes")],
                                  out=str(tmp_path / "x"), mask_patients="hash"), return_state=True)
    assert failed.is_failed() and "NMR_AUDIT_MASK_KEY" in failed.message


def test_an_exports_folder_of_workbook_sheets_a_readme_and_an_empty_day(tmp_path):
    """Issue 17 i, j and item 7: every visible sheet is audited and accounted as file + sheet, a
    hidden stale sheet is skipped and listed, a README.txt is listed not parsed, a header-only CSV
    without a final newline is an empty table (exit 0)."""
    import openpyxl

    claims = pd.read_csv(SAMPLE / "canonical/claims/claims.csv", dtype=str, keep_default_na=False)
    exports = tmp_path / "exports"
    exports.mkdir()
    with pd.ExcelWriter(exports / "claims.xlsx") as book:
        claims.assign(claim_id="STALE-" + claims["claim_id"]).head(50).to_excel(book, sheet_name="Old", index=False)
        claims.iloc[:500].to_excel(book, sheet_name="March", index=False)
        claims.iloc[500:].to_excel(book, sheet_name="April", index=False)
    workbook = openpyxl.load_workbook(exports / "claims.xlsx")
    workbook["Old"].sheet_state = "hidden"
    workbook.save(exports / "claims.xlsx")
    (exports / "README.txt").write_text("Nightly claims, one workbook a month.\n")
    (exports / "claims_0402.csv").write_text(",".join(claims.columns))  # a day without claims, no final newline
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", "--claims", str(exports), "--notes", str(SAMPLE / "canonical/notes"),
                                 "--out", str(out), "--no-data-docs"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    inputs = {(e["file"].rsplit("/", 1)[-1], e["sheet"]): e["rows_read"] for e in summary["inputs"]
              if e["table"] == "claim_lines"}
    assert inputs == {("claims.xlsx", "March"): 500, ("claims.xlsx", "April"): len(claims) - 500,
                      ("claims_0402.csv", None): 0}
    assert summary["skipped_files"] == [str(exports / "README.txt")]
    assert {(s["kind"], s["source"].rsplit("/", 1)[-1], s["reason"]) for s in summary["skipped"]} == {
        ("file", "README.txt", "documentation, not a table (README, LICENSE …)"),
        ("sheet", "claims.xlsx#Old", "hidden sheet")}
    lines = pd.read_parquet(out / "claim_lines.parquet")
    assert not lines["claim_id"].str.startswith("STALE").any()
    assert set(lines["source_file"]) == {f"{exports / 'claims.xlsx'}#March", f"{exports / 'claims.xlsx'}#April"}
    assert summary["totals"]["claim_lines"]["rows_read"] == len(claims)


def test_a_partition_counts_its_patients_year_from_the_other_partitions(tmp_path):
    """21 visits of one Medicare beneficiary from January to March: three clinic-month partitions.
    The threshold is passed on visit 19 (March) from January's and February's amounts, and day 21
    is the 11th treatment day since the report of day 10 — found by the partitioned run as by one
    process."""
    from tests.flows.test_nightly import _course_files

    days = [(n, (pd.Timestamp("2026-01-05") + pd.Timedelta(days=3 * (n - 1))).strftime("%Y-%m-%d"), n == 10)
            for n in range(1, 22)]
    _course_files(tmp_path / "g", "course", days)
    for mode in (False, True):
        state = audit_flow(RunConfig(claims=[str(tmp_path / "g" / "claims")], notes=[str(tmp_path / "g" / "notes")],
                                     out=str(tmp_path / str(mode)), partitioned=mode, data_docs=False), return_state=True)
        assert state.is_completed(), state.message
    found = pd.read_parquet(tmp_path / "True" / "findings.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "False" / "findings.parquet"), found)
    assert sorted(found.loc[found["rule_id"] == "KX_MISSING", "claim_id"]) == ["CLM-K019", "CLM-K020", "CLM-K021"]
    assert found.loc[found["rule_id"] == "PROGRESS_REPORT_OVERDUE", "note_id"].tolist() == ["NOTE-K021"]
    assert json.loads((tmp_path / "True" / "summary.json").read_text())["rules_skipped"] == []


def test_an_export_without_progress_reports_skips_the_rule_and_says_so(tmp_path):
    from tests.flows.test_nightly import _course_files

    days = [(n, (pd.Timestamp("2026-01-05") + pd.Timedelta(days=3 * (n - 1))).strftime("%Y-%m-%d"), False)
            for n in range(1, 13)]
    _course_files(tmp_path / "g", "course", days)
    notes = tmp_path / "g" / "notes" / "course.csv"
    pd.read_csv(notes, dtype=str).drop(columns="progress_report").to_csv(notes, index=False)
    state = audit_flow(RunConfig(claims=[str(tmp_path / "g" / "claims")], notes=[str(tmp_path / "g" / "notes")],
                                 out=str(tmp_path / "out"), data_docs=False), return_state=True)
    assert state.is_completed(), state.message
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["rule_id"] for s in summary["rules_skipped"]] == ["PROGRESS_REPORT_OVERDUE"]
    assert "no progress_report column" in summary["rules_skipped"][0]["reason"]
    assert summary["findings"]["by_rule"]["PROGRESS_REPORT_OVERDUE"] == 0  # not day 11 read as overdue


def test_a_day_without_claims_audits_its_notes_and_writes_every_report(tmp_path):
    """Issue 17 j with notes: a header-only claims export (no final newline) and one note whose
    97112 minutes were never billed — the run completes with the note's findings, and both reports
    are written (a clinic whose findings carry no money once crashed the workbook)."""
    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,line_number,patient_id,date_of_service,rendering_npi,clinic_id,payer_type,"
                      "cpt_code,modifiers,units")
    notes = tmp_path / "notes.csv"
    notes.write_text("note_id,patient_id,date_of_service,rendering_npi,clinic_id,minutes_97112\n"
                     "N1,P1,2026-03-02,1234567893,CL,20\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["audit", "--claims", str(claims), "--notes", str(notes), "--out", str(out),
                                 "--no-data-docs"])
    assert result.exit_code == 0, result.output
    findings = pd.read_parquet(out / "findings.parquet")
    assert "UNBILLED_97112" in set(findings["rule_id"]) and "NO_NOTE" not in set(findings["rule_id"])
    assert findings["dollars_at_risk"].fillna(0).eq(0).all()
    import openpyxl

    sheet = openpyxl.load_workbook(out / "report.xlsx")["By clinic and rule"]
    assert [row[0] for row in sheet.iter_rows(values_only=True) if row[0] not in (None, "total")][:2] == [
        "clinic_id", "CL"]
    assert (out / "report.html").exists()
