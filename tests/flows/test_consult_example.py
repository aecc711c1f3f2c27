"""The worked example of docs/consulting.md, run for real: the bundled sample audited by the flow,
the documented draw, and the documented review (data/sample/consult/review.csv) extrapolated.

The draw depends on the claims and the seed only, and the extrapolated overpayment on the
review only, so these figures hold while the rules change; the automated review's figures (and
the frame's SHA-256, which covers the findings) move with the rules and are not pinned here.
"""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.audit import audit_flow
from nmr_audit.cli import app
from nmr_audit.runtime.config import RunConfig
from nmr_audit.summary import findings_totals
from tests.conftest import REPO

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.flow]
runner = CliRunner()


def test_the_documented_example_draws_the_reviewed_claims_and_gives_the_documented_figures(tmp_path):
    canonical = REPO / "data" / "sample" / "canonical"
    state = audit_flow(RunConfig(claims=[str(canonical / "claims")], notes=[str(canonical / "notes")],
                                 out=str(tmp_path / "run"), data_docs=False), return_state=True)
    assert state.is_completed(), state.message
    drawn = runner.invoke(app, ["sample", "--run", str(tmp_path / "run"), "--unit", "claim", "--size", "60",
                                "--stratify", "amount", "--strata", "3", "--seed", "20260401",
                                "--out", str(tmp_path / "sample")])
    assert drawn.exit_code == 0, drawn.output
    review = REPO / "data" / "sample" / "consult" / "review.csv"
    sample = pd.read_parquet(tmp_path / "sample" / "sample.parquet")
    assert sample["sample_unit_id"].tolist() == pd.read_csv(review)["sample_unit_id"].tolist()
    design = json.loads((tmp_path / "sample" / "design.json").read_text())
    assert [(s["stratum"], s["N"], s["n"]) for s in design["strata"]] == [
        ("1: up to $160.00", 158, 24), ("2: $160.01 to $246.00", 175, 27), ("3: over $246.00", 60, 9)]
    findings = pd.read_parquet(tmp_path / "run" / "findings.parquet")
    assert design["frame"]["dollars_at_risk"] == findings_totals(findings)["dollars_at_risk"]
    workbook = pd.read_excel(tmp_path / "sample" / "review.xlsx", sheet_name="Review").set_index("sample_unit_id")
    assert workbook.loc["CLM000000236", "visits"].startswith(  # the documented row: the visit's unit decision
        "2026-05-14 NPI 2051633644: cms: 97112 24 + 97116 6 + 97140 17 = 47 timed min → 3 units; 97112 gets 1 full "
        "unit + the left-over unit (9 min remaining beats 97116's 6)")
    explained = runner.invoke(app, ["explain", "--out", str(tmp_path / "run"), "--visit",
                                    "PAT00000018,2026-05-14,2051633644"])
    assert explained.exit_code == 0 and "UNITS_EXCEED_TIME  $32.73" in explained.stdout

    result = runner.invoke(app, ["extrapolate", "--sample", str(tmp_path / "sample"), "--review", str(review),
                                 "--out", str(tmp_path / "extrapolation")])
    assert result.exit_code == 0, result.output
    overall = json.loads((tmp_path / "extrapolation" / "extrapolation.json").read_text())["overall"]
    assert (overall["point_estimate"], overall["standard_error"], overall["lower_limit_90_two_sided"],
            overall["upper_limit_90_two_sided"], overall["lower_limit_90_one_sided"]) == \
        (3873.08, 992.33, 2213.0, 5533.17, 2585.96)
    assert overall["precision"] == pytest.approx(0.4286, abs=1e-4)
