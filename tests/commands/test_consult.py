"""`nmr-audit sample` and `nmr-audit extrapolate` end to end on a run folder audited through
the real path (reconcile → facts → GX suites → findings), without Prefect."""

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from nmr_audit.cli import app
from nmr_audit.commands.consult import Allocation, DegreesOfFreedom, Stratify, Unit
from nmr_audit.consult.extrapolate import RESULT_KEYS, estimate
from nmr_audit.consult.frame import frame_sha256
from nmr_audit.facts import build_facts
from nmr_audit.findings import build_findings
from nmr_audit.gx_engine import validate
from nmr_audit.io.suites import load_suites
from nmr_audit.io.writers import write_json, write_parquet
from nmr_audit.summary import findings_totals
from nmr_audit.visits import reconcile_visits
from tests.builders import tables, visit

runner = CliRunner()
CLEAN = {"billed": {"97112": 2, "97110": 1}, "minutes": {"97112": 24, "97110": 23}}
KINDS = [CLEAN, CLEAN, CLEAN, {"billed": {"97112": 3, "97110": 1}, "minutes": {"97112": 24, "97110": 23}},
         {"billed": {"97112": 2}, "note": False}, {**CLEAN, "note_fields": {"signed": False}},
         {**CLEAN, "modifiers": {"97112": ""}}, {"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}}]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, reference):
    """A run folder as `nmr-audit audit` leaves it (the files `sample` reads): 80 visits of 40
    patients at two clinics, a fifth of them with findings that cost money."""
    visits = [visit(patient_id=f"P{i // 2:03d}", date_of_service=f"2026-03-{1 + i % 2 * 7 + i % 20:02d}",
                    **KINDS[i % len(KINDS)]) for i in range(80)]
    claim_lines, notes, services = tables(*visits)
    claim_lines = claim_lines.assign(clinic_id=np.where(claim_lines["patient_id"] < "P020", "CL-EAST", "CL-WEST"))
    visit_table = reconcile_visits(claim_lines, notes, services, reference)
    facts = build_facts(claim_lines, notes, services, visit_table, reference).by_grain()
    findings = build_findings(validate(load_suites(), facts), facts)
    folder = tmp_path_factory.mktemp("run")
    write_parquet(claim_lines, folder / "claim_lines.parquet")
    write_parquet(findings, folder / "findings.parquet")
    write_parquet(visit_table, folder / "visits.parquet")
    write_json({"run": {"run_id": "test-run"}, "inputs": [], "findings": findings_totals(findings)},
               folder / "summary.json")
    return folder


def sample(run_dir, out, *extra, seed="7"):
    result = runner.invoke(app, ["sample", "--run", str(run_dir), "--unit", "claim", "--seed", seed, "--out", str(out),
                                 *extra])
    return result


def fill_csv(folder, path, amounts=None):
    """A review CSV answering every sampled unit with its automated dollars at risk (or `amounts`)."""
    drawn = pd.read_parquet(folder / "sample.parquet")
    frame = pd.read_parquet(folder / "frame.parquet").set_index("sample_unit_id")
    values = amounts if amounts is not None else drawn["sample_unit_id"].map(frame["dollars_at_risk"]).to_numpy()
    pd.DataFrame({"sample_unit_id": drawn["sample_unit_id"], "overpayment_amount": values}).to_csv(path, index=False)
    return path


def test_sample_writes_a_reproducible_draw_and_its_record(run_dir, tmp_path):
    first = sample(run_dir, tmp_path / "a", "--size", "20", "--stratify", "amount", "--strata", "2")
    assert first.exit_code == 0, first.output
    second = sample(run_dir, tmp_path / "b", "--size", "20", "--stratify", "amount", "--strata", "2")
    assert second.exit_code == 0, second.output
    for name in ("frame.parquet", "sample.parquet", "review.xlsx", "design.json"):
        assert (tmp_path / "a" / name).stat().st_mode & 0o077 == 0  # claims and patients: the owner's only
    assert (tmp_path / "a").stat().st_mode & 0o077 == 0
    design = json.loads((tmp_path / "a" / "design.json").read_text())
    again = json.loads((tmp_path / "b" / "design.json").read_text())
    assert design["sample_sha256"] == again["sample_sha256"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "sample.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "sample.parquet"))
    frame = pd.read_parquet(tmp_path / "a" / "frame.parquet")
    assert design["frame"]["sha256"] == frame_sha256(frame) and design["frame"]["rows"] == len(frame)
    assert (design["seed"], design["unit"], design["design"], design["n"]) == (7, "claim", "stratified", 20)
    assert sum(s["n"] for s in design["strata"]) == 20 and sum(s["N"] for s in design["strata"]) == len(frame)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert design["frame"]["dollars_at_risk"] == summary["findings"]["dollars_at_risk"]
    assert "--seed 7" in design["command"] and "--strata 2" in design["command"]
    other = sample(run_dir, tmp_path / "c", "--size", "20", "--stratify", "amount", "--strata", "2", seed="8")
    assert json.loads((tmp_path / "c" / "design.json").read_text())["sample_sha256"] != design["sample_sha256"]
    assert other.exit_code == 0


def test_review_workbook_has_a_row_per_unit_its_evidence_and_empty_reviewer_columns(run_dir, tmp_path):
    assert sample(run_dir, tmp_path, "--size", "24", "--stratify", "rule").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "review.xlsx")
    assert book.sheetnames == ["Review", "Lines", "Findings", "Design", "How to review"]
    rows = list(book["Review"].values)
    header, body = list(rows[0]), rows[1:]
    drawn = pd.read_parquet(tmp_path / "sample.parquet")
    assert [r[header.index("sample_unit_id")] for r in body] == drawn["sample_unit_id"].tolist()
    for column in ("reviewer_decision", "overpayment_amount", "reviewer_note"):
        assert all(r[header.index(column)] is None for r in body)
    with_findings = [r for r in body if r[header.index("findings")] != "none"]
    assert with_findings and all(" line " in r[header.index("claim_lines")] for r in body)
    explained = set(pd.read_parquet(run_dir / "visits.parquet")["explanation"])
    said = [line.split(": ", 1)[1] for r in body for line in (r[header.index("visits")] or "").splitlines()]
    assert said and set(said) <= explained  # each visit's unit decision, as visits.parquet explains it
    validations = book["Review"].data_validations.dataValidation
    assert {v.type for v in validations} == {"list", "decimal"}
    design = json.loads((tmp_path / "design.json").read_text())
    assert design["strata"][-1]["stratum"] == "no finding"


def test_sample_sized_for_a_precision_records_the_projection(run_dir, tmp_path):
    result = sample(run_dir, tmp_path, "--precision", "40%", "--stratify", "clinic")
    assert result.exit_code == 0, result.output
    design = json.loads((tmp_path / "design.json").read_text())
    assert design["size_from"] == "precision" and design["precision_target"] == 0.4
    assert design["projected_precision"] <= 0.4
    assert [s["stratum"] for s in design["strata"]] == ["CL-EAST", "CL-WEST"]


def test_extrapolate_writes_the_contracts_keys_and_the_automated_check(run_dir, tmp_path):
    assert sample(run_dir, tmp_path / "s", "--size", "30", "--stratify", "amount", "--strata", "2").exit_code == 0
    review = fill_csv(tmp_path / "s", tmp_path / "review.csv")
    result = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review", str(review),
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "x" / "extrapolation.json").read_text())
    assert set(RESULT_KEYS) <= set(document["overall"])
    assert all(set(RESULT_KEYS) <= set(entry) for entry in document["strata"].values())
    design = json.loads((tmp_path / "s" / "design.json").read_text())
    assert list(document["strata"]) == [s["stratum"] for s in design["strata"]]
    # The same numbers through the estimator directly.
    drawn = pd.read_parquet(tmp_path / "s" / "sample.parquet")
    answers = pd.read_csv(review)
    values = drawn.merge(answers, on="sample_unit_id").rename(columns={"overpayment_amount": "value"})
    expected = estimate(values[["stratum", "value"]], pd.DataFrame(design["strata"])[["stratum", "N"]]).overall
    for key in RESULT_KEYS:
        assert document["overall"][key] == pytest.approx(expected[key], abs=0.01)
    # The review repeats the automated dollars: its estimate is the automated check's.
    automated = document["automated_review"]
    assert automated["estimate"]["point_estimate"] == document["overall"]["point_estimate"]
    assert automated["exact_total"] == design["frame"]["dollars_at_risk"]
    html = (tmp_path / "x" / "extrapolation.html").read_text()
    for shown in (design["frame"]["sha256"], "Seed", "Satterthwaite", "t(0.95; df)", "Frame SHA-256"):
        assert shown in html
    book = openpyxl.load_workbook(tmp_path / "x" / "extrapolation.xlsx")
    assert book.sheetnames == ["Extrapolation", "Strata", "Sizes", "Reviewed units", "Formulas"]
    assert "overpayment in the frame: estimate $" in result.output


@pytest.mark.parametrize("unit", ["line", "patient-day"])
def test_lines_and_patient_days_are_sampled_and_extrapolated_too(run_dir, tmp_path, unit):
    result = runner.invoke(app, ["sample", "--run", str(run_dir), "--unit", unit, "--size", "16", "--stratify", "rule",
                                 "--seed", "3", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(tmp_path / "s" / "frame.parquet")
    lines = pd.read_parquet(run_dir / "claim_lines.parquet")
    expected = len(lines) if unit == "line" else len(lines.drop_duplicates(["patient_id", "date_of_service"]))
    assert len(frame) == expected
    assert frame["dollars_at_risk"].sum() == pytest.approx(json.loads((run_dir / "summary.json").read_text())
                                                           ["findings"]["dollars_at_risk"])
    review = fill_csv(tmp_path / "s", tmp_path / "review.csv")
    rows = review.read_text().splitlines()
    review.write_text("\n".join(rows[:-1]) + "\n")  # one unit left unanswered
    refused = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review", str(review),
                                  "--out", str(tmp_path / "x")])
    assert refused.exit_code == 2 and "1 sampled unit(s) have no overpayment_amount" in refused.output
    left_out = rows[-1].split(",")[0]
    if unit == "patient-day":  # a patient-day's id holds a patient id: the message names the draw
        assert left_out not in refused.output and "P0" not in refused.output and " draw " in refused.output
    else:
        assert left_out in refused.output
    fill_csv(tmp_path / "s", review)
    done = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review", str(review),
                               "--out", str(tmp_path / "x")])
    assert done.exit_code == 0, done.output
    assert json.loads((tmp_path / "x" / "extrapolation.json").read_text())["overall"]["n"] == 16


def test_extrapolate_reads_the_filled_in_workbook(run_dir, tmp_path):
    assert sample(run_dir, tmp_path / "s", "--size", "12").exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "s" / "review.xlsx")
    sheet = book["Review"]
    header = [c.value for c in sheet[1]]
    for row in range(2, sheet.max_row + 1):
        sheet.cell(row, header.index("overpayment_amount") + 1).value = 0 if row % 3 else 12.5
        sheet.cell(row, header.index("reviewer_decision") + 1).value = "supported"
    book.save(tmp_path / "filled.xlsx")
    result = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review",
                                 str(tmp_path / "filled.xlsx"), "--out", str(tmp_path / "x"), "--df", "strata"])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "x" / "extrapolation.json").read_text())
    overall = document["overall"]
    reviewed = [0 if row % 3 else 12.5 for row in range(2, 14)]
    assert overall["n"] == 12 and overall["mean"] == pytest.approx(np.mean(reviewed), abs=0.01)
    assert overall["degrees_of_freedom"] == 11 and list(document["strata"]) == ["all"]


def test_extrapolate_names_each_problem_of_the_review_and_writes_nothing(run_dir, tmp_path):
    assert sample(run_dir, tmp_path / "s", "--size", "10").exit_code == 0
    review = fill_csv(tmp_path / "s", tmp_path / "review.csv")
    text = review.read_text().splitlines()
    review.write_text("\n".join([text[0], *text[2:], "NOT-A-UNIT,3"]) + "\n")
    result = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review", str(review),
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert f"{review}: row 11: unit NOT-A-UNIT is not in the sample" in result.output
    assert "1 sampled unit(s) have no overpayment_amount" in result.output
    assert not (tmp_path / "x" / "extrapolation.json").exists()


def test_extrapolate_refuses_a_frame_changed_after_the_draw(run_dir, tmp_path):
    assert sample(run_dir, tmp_path / "s", "--size", "10").exit_code == 0
    frame = pd.read_parquet(tmp_path / "s" / "frame.parquet")
    frame.loc[0, "dollars_at_risk"] += 1.0
    write_parquet(frame, tmp_path / "s" / "frame.parquet")
    review = fill_csv(tmp_path / "s", tmp_path / "review.csv")
    result = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "s"), "--review", str(review),
                                 "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "the frame changed after the draw" in result.output


@pytest.mark.parametrize(("arguments", "said"), [
    (["--size", "10", "--precision", "0.1"], "either --size N or --precision P"),
    (["--size", "10", "--stratify", "clinic", "--strata", "4"], "apply to --stratify amount only"),
    (["--precision", "150%"], "between 0 and 1"),
    (["--size", "100000"], "larger than the frame"),
    (["--size", "10", "--stratify", "amount", "--boundaries", "500,100"], "ascending"),
])
def test_sample_says_what_is_wrong_with_an_invocation(run_dir, tmp_path, arguments, said):
    result = sample(run_dir, tmp_path, *arguments)
    assert result.exit_code == 2 and said in result.output
    assert not (tmp_path / "design.json").exists()


def test_sample_will_not_overwrite_a_sample_being_reviewed(run_dir, tmp_path):
    assert sample(run_dir, tmp_path, "--size", "10").exit_code == 0
    again = sample(run_dir, tmp_path, "--size", "10")
    assert again.exit_code == 2 and "already holds a sample" in again.output and "--force" in again.output
    assert sample(run_dir, tmp_path, "--size", "10", "--force").exit_code == 0


def test_sample_needs_a_finished_run(tmp_path):
    result = sample(tmp_path, tmp_path / "s", "--size", "10")
    assert result.exit_code == 2 and "no summary.json" in result.output


@pytest.mark.parametrize("command", ["sample", "extrapolate"])
def test_help_shows_an_example(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and f"Example: nmr-audit {command}" in result.output


@pytest.mark.parametrize(("command", "choices"), [
    ("sample", [Unit, Stratify, Allocation]), ("extrapolate", [DegreesOfFreedom])])
def test_help_names_every_value_a_choice_option_takes(command, choices):
    """A consultant reads the values from --help, not from an error (`--stratify none` had been
    offered there and refused)."""
    text = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
    assert all(value.value in text for choice in choices for value in choice)
    assert "none:" not in text
