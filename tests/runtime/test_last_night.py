"""Reading a nightly root's earlier runs: only those the ledger names, in its order."""

from __future__ import annotations

import json

import pandas as pd

from nmr_audit.io.ledger_file import write_ledger
from nmr_audit.io.writers import write_parquet
from nmr_audit.ledger import empty_ledger, record
from nmr_audit.runtime.last_night import earlier_nights, state_findings
from tests.test_since_last_night import STANDING


def _run(root, run_id, figures, since=None):
    folder = root / "runs" / run_id
    folder.mkdir(parents=True)
    summary = {"findings": figures} | ({"since_last_night": since} if since else {})
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def _root(tmp_path, count):
    ledger = empty_ledger()
    for n in range(count):
        run_id = f"2026-10-{1 + n % 28:02d}_{n:012d}"
        file = pd.DataFrame({"table": ["claim_lines"], "file": [f"n{n}.csv"], "sha256": [f"{n:064x}"], "bytes": [9]})
        ledger = record(ledger, file, run_id, f"2026-10-{1 + n % 28:02d}", "2026-10-01T03:00:00+00:00")
        _run(tmp_path, run_id, {"total": n, "dollars_at_risk": 1.5 * n},
             {"new_findings": n, "new_dollars_at_risk": 0.5 * n, "resolved_findings": 1, "resolved_dollars_at_risk": 2.0}
             if n else None)
    write_ledger(tmp_path, ledger)
    return ledger


def test_the_previous_run_and_the_series_come_from_the_ledger_alone(tmp_path):
    ledger = _root(tmp_path, 32)
    last = ledger["run_id"].iloc[-1]
    write_parquet(STANDING, tmp_path / "runs" / last / "findings.parquet")
    # a run folder the ledger does not name (killed before its commit) is never read, however recent
    _run(tmp_path, "2026-12-31_ffffffffffff", {"total": 999, "dollars_at_risk": 999.0})
    # a named run whose summary was removed by hand is left out
    (tmp_path / "runs" / ledger["run_id"].iloc[-3] / "summary.json").unlink()
    found = earlier_nights(tmp_path)
    assert found.previous == {"run_id": last, "as_of": "2026-10-04"}
    assert found.previous_findings["finding_id"].tolist() == STANDING["finding_id"].tolist()
    expected = [r for r in ledger["run_id"].tolist()[-30:] if r != ledger["run_id"].iloc[-3]]
    assert found.series["run_id"].tolist() == expected and len(expected) == 29
    row = found.series.set_index("run_id").loc[last]
    assert row["findings"] == 31 and row["dollars_at_risk"] == 46.5 and row["new_findings"] == 31
    assert row["as_of"] == "2026-10-04" and row["resolved_dollars_at_risk"] == 2.0


def test_a_root_without_runs_has_no_previous_night(tmp_path):
    found = earlier_nights(tmp_path)
    assert found.previous is None and found.previous_findings is None and found.series.empty


def test_state_findings_are_read_from_the_state_folder(tmp_path):
    assert state_findings(None) is None and state_findings(tmp_path) is None
    write_parquet(STANDING, tmp_path / "findings.parquet")
    assert state_findings(tmp_path)["first_run_id"].tolist() == ["r1"] * 3
