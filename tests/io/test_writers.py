import json

import pandas as pd
import pytest

from nmr_audit.io.writers import StagedOutputs, write_json
from nmr_audit.summary import at_or_above


def test_outputs_move_into_place_only_when_the_run_succeeds(tmp_path):
    with StagedOutputs(tmp_path) as staged:
        write_json({"ok": True}, staged.path("summary.json"))
        (staged.path("quarantine.parquet")).write_bytes(b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".nmr-audit.outputs", "quarantine.parquet", "summary.json"]
    assert json.loads((tmp_path / ".nmr-audit.outputs").read_text()) == ["quarantine.parquet", "summary.json"]


def test_a_failed_run_leaves_nothing_that_looks_complete(tmp_path):
    with pytest.raises(RuntimeError), StagedOutputs(tmp_path) as staged:
        (staged.path("quarantine.parquet")).write_bytes(b"x")
        raise RuntimeError("write failed half way")
    assert list(tmp_path.iterdir()) == []


def test_fail_on_threshold():
    findings = pd.DataFrame({"severity": ["info", "medium"]})
    assert at_or_above(findings, "medium") and at_or_above(findings, "low")
    assert not at_or_above(findings, "high")
    assert not at_or_above(findings.iloc[:0], "info")


def test_csv_cells_that_would_run_as_formulas_open_as_text(tmp_path):
    import pandas as pd

    from nmr_audit.io.writers import write_csv

    frame = pd.DataFrame({"message": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "plain", None],
                          "units": [1, 2, 3, 4, 5, 6]})
    text = write_csv(frame, tmp_path / "f.csv").read_text()
    back = pd.read_csv(tmp_path / "f.csv", dtype=str, keep_default_na=False)
    assert list(back["message"]) == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "plain", ""]
    assert list(back["units"]) == ["1", "2", "3", "4", "5", "6"]
    assert "\r" not in text
