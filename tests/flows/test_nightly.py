"""The nightly flow: incremental intake by content hash, run folders, `latest`, the deployment."""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
import yaml

from flows.nightly import nightly_audit
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("prefect_server")
SAMPLE = REPO / "data" / "sample"


@pytest.fixture
def exports(tmp_path):
    """An export drop folder holding the first night's claims and notes."""
    for table in ("claims", "notes"):
        (tmp_path / "exports" / table).mkdir(parents=True)
        shutil.copy(next((SAMPLE / "canonical" / table).iterdir()), tmp_path / "exports" / table / "night1.csv")
    return tmp_path / "exports"


def night(exports, root, as_of, **options):
    state = nightly_audit(claims=[str(exports / "claims")], notes=[str(exports / "notes")], output_root=str(root),
                          as_of=as_of, data_docs=False, return_state=True, **options)
    return state


def test_nights_audit_only_new_files_and_reruns_change_nothing(exports, tmp_path):
    root = tmp_path / "root"
    first = night(exports, root, date(2026, 11, 21)).result()
    run1 = root / "runs" / first.run_dir.split("/")[-1]
    assert (run1 / "summary.json").exists() and len(first.new_files) == 2
    ledger = (root / "ledger.csv").read_bytes()
    assert json.loads((root / "latest.json").read_text())["path"] == str(run1.resolve())
    assert (root / "latest").resolve() == run1.resolve()

    again = night(exports, root, date(2026, 11, 21)).result()
    assert again.run_dir is None and "nothing new" in again.reason
    assert (root / "ledger.csv").read_bytes() == ledger
    assert len(list((root / "runs").iterdir())) == 1

    for table, suffix in (("claims", "jsonl"), ("notes", "jsonl")):
        shutil.copy(next((SAMPLE / "canonical_jsonl" / table).iterdir()), exports / table / f"night2.{suffix}")
    second = night(exports, root, date(2026, 11, 22)).result()
    summary = json.loads((root / "runs" / second.run_dir.split("/")[-1] / "summary.json").read_text())
    assert sorted(entry["source_file"].split("/")[-1] for entry in summary["inputs"]) == ["night2.jsonl"] * 2
    assert summary["run"]["parameters"]["as_of"] == "2026-11-22"
    assert len((root / "ledger.csv").read_text().splitlines()) == 1 + 4
    assert json.loads((root / "latest.json").read_text())["run_id"] == second.run_dir.split("/")[-1]


def test_a_renamed_copy_is_not_audited_again_and_full_re_audits(exports, tmp_path):
    root = tmp_path / "root"
    night(exports, root, date(2026, 11, 21)).result()
    shutil.copy(exports / "claims" / "night1.csv", exports / "claims" / "resent.csv")
    assert night(exports, root, date(2026, 11, 22)).result().run_dir is None
    full = night(exports, root, date(2026, 11, 22), full=True).result()
    assert full.run_dir is not None and len(full.new_files) == 2  # the copy is the same content


def test_new_claims_without_new_notes_wait_for_the_notes(exports, tmp_path):
    root = tmp_path / "root"
    night(exports, root, date(2026, 11, 21)).result()
    ledger = (root / "ledger.csv").read_bytes()
    shutil.copy(next((SAMPLE / "canonical_jsonl" / "claims").iterdir()), exports / "claims" / "night2.jsonl")
    waiting = night(exports, root, date(2026, 11, 22)).result()
    assert waiting.run_dir is None and "waiting for the matching notes" in waiting.reason
    assert (root / "ledger.csv").read_bytes() == ledger


def test_a_failed_run_moves_neither_ledger_nor_latest(exports, tmp_path):
    root = tmp_path / "root"
    night(exports, root, date(2026, 11, 21)).result()
    ledger, latest = (root / "ledger.csv").read_bytes(), (root / "latest.json").read_bytes()
    (exports / "claims" / "broken.xlsx").write_bytes(b"not a workbook")
    shutil.copy(next((SAMPLE / "canonical_jsonl" / "notes").iterdir()), exports / "notes" / "night2.jsonl")
    state = night(exports, root, date(2026, 11, 22))
    assert state.is_failed() and "broken.xlsx" in state.message and "ledger and latest unchanged" in state.message
    assert (root / "ledger.csv").read_bytes() == ledger and (root / "latest.json").read_bytes() == latest
    complete = [run for run in (root / "runs").iterdir() if (run / "summary.json").exists()]
    assert len(complete) == 1  # the failed run's folder, if any, has no summary


def test_deployment_schedule_is_the_one_the_readme_gives():
    from prefect import Flow

    from flows.serve import deployment, nightly_schedule

    entry = nightly_schedule()
    module, name = entry["entrypoint"].split(":")
    import importlib

    flow_object = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), name)
    assert isinstance(flow_object, Flow) and flow_object.name == "nmr-audit-nightly"
    schedule = entry["schedules"][0]
    readme = (REPO / "docs" / "operations.md").read_text()
    assert f'cron: "{schedule["cron"]}"' in readme and f"timezone: {schedule['timezone']}" in readme
    built = deployment(["/x/claims"], ["/x/notes"], "/x/out")
    assert built.schedules[0].schedule.cron == schedule["cron"] == "30 2 * * *"
    assert built.schedules[0].schedule.timezone == schedule["timezone"] == "America/New_York"
    assert set(built.parameters) == {"claims", "notes", "output_root"}
    document = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert document["deployments"][0]["work_pool"]["name"] == "nmr-audit"
