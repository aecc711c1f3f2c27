"""The nightly flow: incremental intake by content hash, run folders, `latest`, the deployment."""

from __future__ import annotations

import json
import shutil
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.nightly import nightly_audit
from nmr_audit.runtime.config import NightlyConfig
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
    state = nightly_audit(NightlyConfig(claims=[str(exports / "claims")], notes=[str(exports / "notes")],
                                        output_root=str(root), as_of=as_of, data_docs=False, **options), return_state=True)
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


@pytest.mark.slow  # end to end: several nights
def test_a_renamed_copy_is_not_audited_again_and_full_re_audits(exports, tmp_path):
    root = tmp_path / "root"
    night(exports, root, date(2026, 11, 21)).result()
    shutil.copy(exports / "claims" / "night1.csv", exports / "claims" / "resent.csv")
    assert night(exports, root, date(2026, 11, 22)).result().run_dir is None
    full = night(exports, root, date(2026, 11, 22), full=True).result()
    assert full.run_dir is not None and len(full.new_files) == 2  # the copy is the same content
    ledger = pd.read_csv(root / "ledger.csv")
    assert ledger["run_id"].iloc[-1] == full.run_id and (ledger["run_id"] == full.run_id).sum() == 2
    assert json.loads((root / "latest.json").read_text())["run_id"] == full.run_id  # the ledger names it too


@pytest.mark.slow  # end to end: several nights
def test_a_note_exported_a_night_after_its_claim_clears_the_finding(tmp_path):
    """Night 1 has every claim line but one visit's note; night 2 brings that note alone. Night 2
    audits the note with the claim lines of its patient and day kept from night 1."""
    exports = tmp_path / "exports"
    for table in ("claims", "notes"):
        (exports / table).mkdir(parents=True)
    shutil.copy(SAMPLE / "canonical" / "claims" / "claims.csv", exports / "claims" / "night1.csv")
    notes = pd.read_csv(SAMPLE / "canonical" / "notes" / "notes.csv", dtype=str)
    late = notes["note_id"] == "NOTE000000005"  # PAT00000000 on 2026-03-07: its visit's one note (commercial)
    day = notes.loc[late, "date_of_service"].iloc[0]
    notes[~late].to_csv(exports / "notes" / "night1.csv", index=False)
    root = tmp_path / "root"
    first = night(exports, root, date(2026, 4, 1), look_back_days=60).result()
    found = pd.read_parquet(Path(first.run_dir) / "findings.parquet")
    on_day = found[(found["patient_id"] == "PAT00000000") & (found["date_of_service"] == day)]
    assert on_day["rule_id"].tolist() == ["NO_NOTE"]

    notes[late].to_csv(exports / "notes" / "night2.csv", index=False)
    second = night(exports, root, date(2026, 4, 2), look_back_days=60).result()
    assert second.new_files == [str(exports / "notes" / "night2.csv")]
    run = Path(second.run_dir)
    assert pd.read_parquet(run / "findings.parquet").query("rule_id == 'NO_NOTE'").empty
    visit = pd.read_parquet(run / "visits.parquet").set_index("patient_id").loc["PAT00000000"]
    assert visit["note_id"] == "NOTE000000005" and visit["billed_units_97112"] == 2
    seen = pd.read_parquet(run / "reexamined.parquet")
    assert seen[["finding_id", "outcome"]].to_numpy().tolist() == [[on_day["finding_id"].iloc[0], "cleared"]]
    assert second.reexamined == {"cleared": 1}
    history = json.loads((run / "summary.json").read_text())["run"]["history"]
    # the patient's year beside the day: 13 treatment days from the state (16 notes of the sample, less
    # tonight's and the 2 quarantined ones of 2026-03-25); commercial, so no KX amounts
    assert history == {"rows_audited_again": {"claim_lines": 2, "visit_notes": 0}, "patient_days_touched": 1,
                       "since": "2026-02-01", "therapy_rows": {"therapy_amounts": 0, "treatment_days": 13}}
    state = json.loads((root / "state" / second.run_id / "state.json").read_text())
    assert state["run_id"] == second.run_id and sorted(p.name for p in (root / "state").iterdir()) == [second.run_id]
    kept = pd.read_parquet(root / "state" / second.run_id / "findings.parquet")
    assert on_day["finding_id"].iloc[0] not in set(kept["finding_id"])  # cleared: no longer an open finding

    third = night(exports, root, date(2026, 4, 3), look_back_days=0).result()  # nothing new, nothing re-audited
    assert third.run_dir is None


@pytest.mark.slow  # end to end: several nights
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
    (exports / "claims" / "broken.xlsx").unlink()
    shutil.copy(next((SAMPLE / "canonical_jsonl" / "claims").iterdir()), exports / "claims" / "night2.jsonl")
    retried = night(exports, root, date(2026, 11, 22)).result()
    abandoned = [run for run in (root / "runs").iterdir() if (run / "abandoned.json").exists()]
    assert [run.name for run in abandoned] == [name for name in state.message.split() if name.startswith("2026-")]
    assert sorted(p.name for p in abandoned[0].iterdir()) == [".nmr-audit", "abandoned.json"]  # no patient data left
    assert sorted(Path(f).name for f in retried.new_files) == ["night2.jsonl", "night2.jsonl"]


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
    assert set(built.parameters) == {"config"}  # the flow's one parameter, NightlyConfig
    assert set(built.parameters["config"]) == {"claims", "notes", "output_root"}
    document = yaml.safe_load((REPO / "prefect.yaml").read_text())
    configured = NightlyConfig(**document["deployments"][0]["parameters"]["config"])  # what prefect.yaml passes
    assert configured.output_root == "/srv/nmr-audit" and configured.look_back_days == 30
    assert document["deployments"][0]["work_pool"]["name"] == "nmr-audit"


def test_a_run_started_while_another_holds_the_root_ends_cancelled_and_audits_nothing(exports, tmp_path):
    from tests.runtime.test_lock import holder_process

    root = tmp_path / "root"
    night(exports, root, date(2026, 11, 21)).result()
    ledger = (root / "ledger.csv").read_bytes()
    shutil.copy(next((SAMPLE / "canonical_jsonl" / "claims").iterdir()), exports / "claims" / "night2.jsonl")
    holder = holder_process(root)  # another run's process, holding the root
    try:
        state = night(exports, root, date(2026, 11, 22))
    finally:
        holder.kill()
        holder.wait()
    assert state.is_cancelled() and "another nmr-audit run holds this output folder" in state.message
    assert "flow run flow-run-1" in state.message and f"pid {holder.pid}" in state.message
    assert (root / "ledger.csv").read_bytes() == ledger and len(list((root / "runs").iterdir())) == 1


def test_nightly_outputs_are_private_and_the_flow_run_carries_the_artifacts(exports, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    root = tmp_path / "root"
    state = night(exports, root, date(2026, 11, 21))
    result = state.result()
    for path in [root / "ledger.csv", root / "latest.json", *Path(result.run_dir).iterdir(),
                 *(root / "state" / result.run_id).iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert stat.S_IMODE(Path(result.run_dir).stat().st_mode) == 0o700
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    keys = {a.key for a in found}
    assert {"nmr-audit-summary", "nmr-audit-top-findings", "nmr-audit-nightly", "nmr-audit-summary-json"} <= keys


def test_the_nightly_cron_at_dst_changes_as_the_prefect_server_computes_it():
    """docs/operations.md: on the spring-forward night 02:30 does not exist in New York; Prefect
    3.8's scheduler then runs that night's audit once, at 01:30 EST (06:30 UTC). The fall-back
    night runs once, at 02:30 EST. Every other night: 02:30 local time."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from prefect.server.schemas.schedules import CronSchedule

    from flows.serve import nightly_schedule

    entry = nightly_schedule()["schedules"][0]
    schedule = CronSchedule(cron=entry["cron"], timezone=entry["timezone"])
    new_york = ZoneInfo("America/New_York")

    def nights(start: datetime, n: int) -> list[str]:
        return [d.astimezone(new_york).strftime("%m-%d %H:%M %Z") for d in asyncio.run(schedule.get_dates(n, start=start))]

    assert nights(datetime(2027, 3, 12, 12, tzinfo=new_york), 4) == [
        "03-13 02:30 EST", "03-14 01:30 EST", "03-15 02:30 EDT", "03-16 02:30 EDT"]
    assert nights(datetime(2027, 11, 6, 12, tzinfo=new_york), 2) == ["11-07 02:30 EST", "11-08 02:30 EST"]


def _course_files(folder, name, visits):
    """A Medicare PT course as two CSV exports: per visit (number, date, progress report), 97112 ×4
    for 60 minutes ($130.92 in 2026) under one plan of care certified 2 January 2026."""
    claims = pd.DataFrame([{"claim_id": f"CLM-K{n:03d}", "line_number": 1, "patient_id": "PAT-KX",
                            "date_of_service": day, "rendering_npi": "1234567893", "clinic_id": "CL1",
                            "payer_type": "medicare", "cpt_code": "97112", "modifiers": "GP", "units": 4}
                           for n, day, _ in visits])
    notes = pd.DataFrame([{"note_id": f"NOTE-K{n:03d}", "patient_id": "PAT-KX", "date_of_service": day,
                           "rendering_npi": "1234567893", "clinic_id": "CL1", "provider_credential": "PT",
                           "time_in": "09:00", "time_out": "10:05", "total_treatment_minutes": 60,
                           "total_timed_minutes": 60, "diagnosis_codes": "R26.81",
                           "functional_deficit": "impaired balance", "treatment_goals": "Berg 46 in 4 weeks",
                           "techniques": "perturbation training", "patient_response": "fewer losses of balance",
                           "plan_of_care_signed_date": "2026-01-02", "one_on_one": "true", "signed": "true",
                           "progress_report": "true" if report else "false", "minutes_97112": 60}
                          for n, day, report in visits])
    for table, frame in (("claims", claims), ("notes", notes)):
        (folder / table).mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / table / f"{name}.csv", index=False)


def test_the_beneficiarys_year_carries_from_night_to_night_and_a_full_rerun_counts_nothing_twice(tmp_path):
    """Night 1: 18 visits ($2,356.56), a progress report on day 10. Night 2: visits 19–21 alone. The KX
    threshold ($2,480) is passed on visit 19, and day 21 is the 11th treatment day since the report:
    both found on night 2 from the state night 1 left, though night 2's files hold neither fact."""
    exports, root = tmp_path / "exports", tmp_path / "root"
    days = [(n, (pd.Timestamp("2026-01-05") + pd.Timedelta(days=3 * (n - 1))).strftime("%Y-%m-%d"), n == 10)
            for n in range(1, 22)]
    _course_files(exports, "night1", days[:18])
    first = night(exports, root, date(2026, 2, 26)).result()
    found = pd.read_parquet(Path(first.run_dir) / "findings.parquet")
    assert not found["rule_id"].isin(["KX_MISSING", "PROGRESS_REPORT_OVERDUE"]).any()
    _course_files(exports, "night2", days[18:])
    second = night(exports, root, date(2026, 3, 10)).result()
    found = pd.read_parquet(Path(second.run_dir) / "findings.parquet")
    assert sorted(found.loc[found["rule_id"] == "KX_MISSING", "claim_id"]) == ["CLM-K019", "CLM-K020", "CLM-K021"]
    assert found.loc[found["rule_id"] == "KX_MISSING", "message"].str.contains(r"reaches \$2487\.48").sum() == 1
    assert found.loc[found["rule_id"] == "PROGRESS_REPORT_OVERDUE", "note_id"].tolist() == ["NOTE-K021"]
    state = root / "state" / second.run_id
    assert pd.read_parquet(state / "therapy_amounts.parquet")["allowed_cents"].sum() == 21 * 13092
    again = night(exports, root, date(2026, 3, 10), full=True).result()  # every file audited again
    rerun = pd.read_parquet(Path(again.run_dir) / "findings.parquet")
    assert sorted(rerun.loc[rerun["rule_id"] == "KX_MISSING", "claim_id"]) == ["CLM-K019", "CLM-K020", "CLM-K021"]
    assert (rerun["rule_id"] == "PROGRESS_REPORT_OVERDUE").sum() == 1
    assert pd.read_parquet(root / "state" / again.run_id / "therapy_amounts.parquet")["allowed_cents"].sum() == 21 * 13092
    summary = json.loads((Path(again.run_dir) / "summary.json").read_text())
    assert summary["rules_skipped"] == []


@pytest.mark.slow  # end to end: two nights, twice
def test_nights_audited_in_patient_buckets_write_what_nights_held_in_memory_write(exports, tmp_path, monkeypatch):
    """A night large enough for buckets (forced small here) keeps its visits and canonical rows on
    disk bucket by bucket, earlier nights' rows included (runtime.visit_parts, canonical_parts)."""
    import dataclasses

    night_of = NightlyConfig.night
    outputs = {}
    for mode, lines in (("memory", None), ("buckets", 60)):
        if lines:
            monkeypatch.setattr(NightlyConfig, "night", lambda self, *a, lines=lines, **k: dataclasses.replace(
                night_of(self, *a, **k), lines_per_bucket=lines))
        for table in ("claims", "notes"):  # the same drop folder each time: findings name its files
            (exports / table / "night2.jsonl").unlink(missing_ok=True)
        root = tmp_path / mode / "root"
        night(exports, root, date(2026, 11, 21)).result()
        for table in ("claims", "notes"):
            shutil.copy(next((SAMPLE / "canonical_jsonl" / table).iterdir()), exports / table / "night2.jsonl")
        second = night(exports, root, date(2026, 11, 22)).result()
        outputs[mode] = root / "runs" / second.run_dir.split("/")[-1]
    summary = json.loads((outputs["buckets"] / "summary.json").read_text())
    assert summary["run"]["parameters"]["buckets"] > 1
    for name in ("visits.parquet", "findings.parquet", "quarantine.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(outputs["memory"] / name), pd.read_parquet(outputs["buckets"] / name))
    for name, order in (("claim_lines.parquet", ["source_file", "source_row"]),
                        ("visit_notes.parquet", ["source_file", "source_row"])):
        tables = [pd.read_parquet(out / name).sort_values(order).reset_index(drop=True) for out in outputs.values()]
        pd.testing.assert_frame_equal(*tables)
    assert not list(outputs["buckets"].glob(".spill-*")) and not list(outputs["buckets"].glob(".canonical-*"))
