"""`nmr-audit explain` on a run folder audited through the real path (reconcile → facts → GX
suites → findings), without Prefect: one visit's decision with its notes, lines and findings."""

import pytest
from typer.testing import CliRunner

from nmr_audit.cli import app
from nmr_audit.facts import build_facts
from nmr_audit.findings import build_findings
from nmr_audit.gx_engine import validate
from nmr_audit.io.suites import load_suites
from nmr_audit.io.writers import write_parquet
from nmr_audit.visits import reconcile_visits
from tests.builders import NPI, PTA_NPI, tables, visit

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, reference):
    """A PT's over-billed visit, a visit a PT and a PTA share (CQ on one unit), a visit with no note."""
    cases = [visit(patient_id="P1", billed={"97112": 3, "97110": 1}, minutes={"97112": 24, "97110": 23}),
             visit(patient_id="P2", billed={"97112": 2}, minutes={"97112": 13},
                   notes=[{"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                           "minutes": {"97112": 16}}]),
             visit(patient_id="P3", billed={"97112": 2}, note=False),
             visit(patient_id="P4", billed={"97112": 2}, note=False)]  # its note sits in quarantine
    claim_lines, notes, services = tables(*cases)
    visits = reconcile_visits(claim_lines, notes, services, reference)
    visits = visits.assign(note_quarantined=(visits["patient_id"] == "P4").to_numpy())
    facts = build_facts(claim_lines, notes, services, visits, reference).by_grain()
    folder = tmp_path_factory.mktemp("run")
    write_parquet(visits, folder / "visits.parquet")
    write_parquet(build_findings(validate(load_suites(), facts), facts), folder / "findings.parquet")
    write_parquet(claim_lines, folder / "claim_lines.parquet")
    write_parquet(notes, folder / "visit_notes.parquet")
    write_parquet(services, folder / "note_services.parquet")
    return folder


def test_one_visits_decision_with_its_notes_lines_and_findings(run_dir):
    done = runner.invoke(app, ["explain", "--out", str(run_dir), "--visit", f"P1,2026-03-04,{NPI}"])
    assert done.exit_code == 0, done.output
    said = done.stdout
    assert said.startswith(f"Visit of patient P1 on 2026-03-04 under NPI {NPI} (clinic CL1; payer medicare, cms rule)")
    assert ("cms: 97112 24 + 97110 23 = 47 timed min → 3 units; 97112 gets 1 full unit + the left-over unit (9 min "
            "remaining beats 97110's 8), 97110 1; billed 97112 3 → 1 over") in said
    assert "  97112         24      2           0\n  97110         23      1           0" in said  # the allotment
    assert "97112: billed 3, supported 2, beyond the minutes 1; all timed codes: billed 4, supported 3" in said
    assert "Notes (1):\n  N0  PT  NPI" in said and "minutes per code: 97110 23, 97112 24" in said
    assert "C0-0 line 1  97112 × 3  GP  charged $180.00" in said
    assert "high  UNITS_EXCEED_TIME  $" in said and "high  TIMED_UNITS_EXCEED_TOTAL" in said


def test_a_visit_whose_note_was_quarantined_is_not_said_to_be_beyond_the_minutes(run_dir):
    done = runner.invoke(app, ["explain", "--out", str(run_dir), "--visit", f"P4,2026-03-04,{NPI}"])
    assert done.exit_code == 0, done.output
    assert ("97112: billed 2; supported and beyond the minutes not judged until the quarantined note is fixed"
            in done.stdout)
    assert "beyond the minutes 2" not in done.stdout


def test_a_pts_and_a_ptas_notes_and_the_cq_unit(run_dir):
    done = runner.invoke(app, ["explain", "--out", str(run_dir), "--visit", f"P2,03/04/2026,{NPI}"])  # US date
    assert done.exit_code == 0, done.output
    assert "2 notes pooled (PT, PTA); cms: 97112 alone, 29 timed min → 2 units" in done.stdout
    assert f"PTA  NPI {PTA_NPI} (supervised by {NPI})" in done.stdout
    assert "  97112         29      2           1" in done.stdout
    assert "MISSING_ASSISTANT_MODIFIER" in done.stdout  # one unit should carry CQ and none does


def test_a_visit_with_no_note(run_dir):
    done = runner.invoke(app, ["explain", "--out", str(run_dir), "--visit", f"P3,2026-03-04,{NPI}"])
    assert done.exit_code == 0, done.output
    assert "no note documents this visit → 97112 0; billed 97112 2 → 2 over" in done.stdout
    assert "Notes: none" in done.stdout and "NO_NOTE" in done.stdout


@pytest.mark.parametrize(("visit_key", "said"), [
    (f"P1,2026-03-04,{PTA_NPI}", f"no visit of patient P1 on 2026-03-04 under NPI {PTA_NPI}; that day the patient "
                                 f"has visits under NPI {NPI}"),
    (f"P9,2026-03-04,{NPI}", "the patient has no visit with 97112 that day"),
    ("P1,2026-02-30,1", "'2026-02-30' is not a date (YYYY-MM-DD or MM/DD/YYYY)"),
    ("P1;2026-03-04", "is not PATIENT,DATE,NPI"),
])
def test_an_unknown_visit_or_a_bad_key_is_said_in_one_line(run_dir, visit_key, said):
    done = runner.invoke(app, ["explain", "--out", str(run_dir), "--visit", visit_key])
    assert done.exit_code == 2
    assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.output


def test_a_folder_that_is_no_run_and_a_run_from_before_explanations(run_dir, tmp_path):
    done = runner.invoke(app, ["explain", "--out", str(tmp_path), "--visit", f"P1,2026-03-04,{NPI}"])
    assert done.exit_code == 2 and "no visits.parquet: not the folder of a finished `nmr-audit audit` run" in done.stderr
    import pandas as pd

    old = pd.read_parquet(run_dir / "visits.parquet").drop(columns=["explanation", "allotment"])
    write_parquet(old, tmp_path / "visits.parquet")
    done = runner.invoke(app, ["explain", "--out", str(tmp_path), "--visit", f"P1,2026-03-04,{NPI}"])
    assert done.exit_code == 0, done.output
    assert "has no explanation: it was written before nmr-audit explained units" in done.stdout
    assert "Claim lines: none" in done.stdout  # the folder holds no claim_lines.parquet


def test_the_help_example_is_a_97112_visit_of_the_demo_sample():
    """`explain --help`'s example works on `python3.11 tasks.py demo`'s run (the canonical sample)."""
    import re
    from pathlib import Path

    import pandas as pd

    from nmr_audit.commands.explain import EPILOG

    patient, day, npi = re.search(r"--visit (\S+)", EPILOG).group(1).split(",")
    claims = pd.read_csv(Path(__file__).parents[2] / "data" / "sample" / "canonical" / "claims" / "claims.csv",
                         dtype="str")
    billed = claims[(claims["patient_id"] == patient) & (claims["date_of_service"] == day)
                    & (claims["rendering_npi"] == npi)]
    assert "97112" in set(billed["cpt_code"])
    assert runner.invoke(app, ["explain", "--help"]).stdout.count(f"{patient},{day},{npi}") >= 1
