import hashlib

import pandas as pd

from nmr_audit import parse
from nmr_audit.synth import write as synth_write
from nmr_audit.synth.write import ExportStyle, write_dataset


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    style = ExportStyle(format="csv")
    write_dataset(tmp_path / "a", visits=120, seed=5, defect_rate=0.05, style=style)
    write_dataset(tmp_path / "b", visits=120, seed=5, defect_rate=0.05, style=style)
    write_dataset(tmp_path / "c", visits=120, seed=6, defect_rate=0.05, style=style)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["claims/claims.csv"] != digest(tmp_path / "c")["claims/claims.csv"]


def test_a_fee_schedule_imported_into_the_reference_home_does_not_change_the_files(tmp_path, monkeypatch):
    """The courses are shaped by KX amounts; the generator prices them from the packaged tables only,
    so a user's imported PFS (here: 97112 at $200 a unit, national) leaves a seed's files as they were."""
    style = ExportStyle(format="csv")
    write_dataset(tmp_path / "a", visits=240, seed=5, defect_rate=0.05, style=style)
    home = tmp_path / "home"
    (home / "reference").mkdir(parents=True)
    pd.DataFrame({"cpt_code": ["97112"], "modifier": [""], "work_rvu": [2.0], "pe_rvu_nonfacility": [2.0],
                  "mp_rvu": [1.0], "conversion_factor": [40.0], "effective_from": ["2020-01-01"]}).to_csv(
        home / "reference" / "pfs_rvu.csv", index=False)
    monkeypatch.setenv("NMR_AUDIT_HOME", str(home))
    from nmr_audit.io.reference import load_reference
    assert load_reference().pfs_rvu is not None  # a run would price Medicare's 97112 at $200.00
    write_dataset(tmp_path / "b", visits=240, seed=5, defect_rate=0.05, style=style)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_streams_in_chunks_without_changing_row_counts(tmp_path, monkeypatch):
    monkeypatch.setattr(synth_write, "CHUNK_VISITS", 24)
    counts = write_dataset(tmp_path, visits=100, seed=1, defect_rate=0.0,
                           style=ExportStyle(format="parquet"))
    claims = pd.read_parquet(tmp_path / "claims" / "claims.parquet")
    notes = pd.read_parquet(tmp_path / "notes" / "notes.parquet")
    assert len(claims) == counts["claim_lines"] and len(notes) == counts["visit_notes"]
    assert notes["note_id"].str[-9:].nunique() == 100  # a visit's notes: the therapist's and/or the assistant's
    assert claims.groupby(["claim_id", "line_number"]).size().max() == 1


def test_clean_data_is_valid_and_realistic(tmp_path):
    write_dataset(tmp_path, visits=1200, seed=3, defect_rate=0.0, style=ExportStyle(format="csv"))
    claims = pd.read_csv(tmp_path / "claims" / "claims.csv", dtype=str)
    notes = pd.read_csv(tmp_path / "notes" / "notes.csv", dtype=str)
    assert parse.npi_check_digit_ok(claims["rendering_npi"]).all()
    assert len(set(claims["clinic_id"])) > 1 and len(set(claims["payer_type"])) >= 5
    assert (claims["cpt_code"] == "97112").mean() > 0.25
    per_visit = claims.groupby("claim_id")["cpt_code"].nunique()
    assert per_visit.max() >= 3
    minutes = notes["minutes_97112"].dropna().astype(int).groupby(notes["note_id"].str[-9:]).sum()
    assert minutes.between(5, 45).all()
    assert pd.read_parquet(tmp_path / "truth.parquet").empty
    # PTAs' notes under their own NPI, naming the supervising therapist the claim is billed under
    assistants = notes[notes["provider_credential"].isin(["PTA", "OTA"])]
    assert len(assistants) > 20 and assistants["supervising_npi"].notna().all()
    assert not set(assistants["rendering_npi"]) & set(claims["rendering_npi"])
    assert set(assistants["supervising_npi"]) <= set(claims["rendering_npi"])
    # CQ/CO splits: one code of one claim on a line with CQ and a line without
    code_lines = claims.groupby(["claim_id", "cpt_code"])["modifiers"].agg(lambda m: m.str.contains("CQ|CO").sum())
    assert ((claims.groupby(["claim_id", "cpt_code"]).size() == 2) & (code_lines == 1)).any()
    assert {"SYNTH-CMSWAY-PPO", "SYNTH-TRICARE-EAST"} <= set(claims["payer_id"])
    # long Medicare courses pass the yearly therapy threshold and carry KX from there on (issue 19)
    kx = claims[claims["modifiers"].str.contains("KX", na=False)]
    assert len(kx) > 10 and set(kx["payer_type"]) == {"medicare"}
    # a progress report on the therapist's note of treatment day 8, 9 or 10 of every episode of 10 days or more
    assert set(notes["progress_report"]) == {"true", "false"}
    reports = notes[notes["progress_report"] == "true"]
    assert reports["provider_credential"].isin(["PT", "OT"]).all()


def test_defects_are_injected_at_about_the_rate_and_recorded(tmp_path):
    write_dataset(tmp_path, visits=2400, seed=9, defect_rate=0.05, style=ExportStyle(format="parquet"))
    truth = pd.read_parquet(tmp_path / "truth.parquet")
    nmr_visits = (pd.read_parquet(tmp_path / "claims" / "claims.parquet")["cpt_code"] == "97112").sum()
    rate = (truth["defect"] == "overbilled_units").sum() / nmr_visits
    assert 0.02 < rate < 0.09
    fields = truth.loc[truth["defect"] == "missing_note_field", "field"]
    assert fields.notna().all() and len(fields) > 0


def test_canonical_tables_reconcile_to_the_injected_overbilling(reference):
    from nmr_audit.synth.canonical import canonical_tables
    from nmr_audit.synth.write import chunks
    from nmr_audit.visits import reconcile_visits

    chunk = next(chunks(600, seed=5, defect_rate=0.05))
    lines, notes, services = canonical_tables(chunk)
    held = chunk.truth["expected"].eq("QUARANTINE").sum()
    assert len(lines) + len(notes) + held == len(chunk.claim_lines) + len(chunk.visit_notes)
    visits = reconcile_visits(lines, notes, services, reference)
    over = visits.loc[(visits["excess_units_97112"] > 0) & visits["note_id"].notna()]
    truth = chunk.truth
    lost_note = set(truth.loc[truth["defect"] == "bad_note_row", "note_id"].str.replace("NOTE", "CLM")) | set(
        truth.loc[truth["defect"] == "missing_note", "claim_id"])
    overbilled = truth.loc[(truth["defect"] == "overbilled_units") & ~truth["claim_id"].isin(lost_note),
                           "claim_id"]
    flagged = lines.merge(over, on=["patient_id", "date_of_service", "rendering_npi"])["claim_id"]
    assert len(overbilled) and set(overbilled) == set(flagged)


def test_clean_generated_visits_give_no_finding_and_every_injected_defect_is_found_by_its_rule(reference):
    """The generator's promise, checked on its canonical tables (no files): the truth lists every
    defect with the rule that answers it, and nothing else is found beyond the known knock-ons."""
    from nmr_audit.gx_engine import RuleEngine
    from nmr_audit.io.suites import load_suites
    from nmr_audit.pipeline import audit_tables
    from nmr_audit.synth.canonical import canonical_tables
    from nmr_audit.synth.write import chunks

    engine = RuleEngine(load_suites())
    clean = audit_tables(*canonical_tables(next(chunks(1200, seed=3, defect_rate=0.0))), reference, engine)
    assert clean.findings.empty, clean.findings[["rule_id", "message"]].head().to_string()
    chunk = next(chunks(2400, seed=5, defect_rate=0.05))
    found = audit_tables(*canonical_tables(chunk), reference, engine).findings
    visit = lambda ids: ids.str[-9:].astype("int64")  # noqa: E731 (CLM…42, NOTE…42, NOTEA…42: visit 42)
    pairs = set(zip(found["rule_id"], visit(found["claim_id"].fillna(found["note_id"])), strict=True))
    truth = chunk.truth.assign(visit=visit(chunk.truth["claim_id"].fillna(chunk.truth["note_id"])))
    by_defect = {d: set(truth.loc[truth["defect"] == d, "visit"]) for d in truth["defect"].unique()}
    assert {"unreadable_note_time", "quarantined_note", "missing_assistant_modifier", "kx_missing",
            "passes_review_amount", "progress_report_missing"} <= set(by_defect)
    lost = by_defect["bad_note_row"] | by_defect["missing_note"] | by_defect["bad_claim_row"]
    wanted = {(r, v) for r, v in zip(truth["expected"], truth["visit"], strict=True) if r != "QUARANTINE"}
    assert {(r, v) for r, v in wanted if v not in lost} <= pairs
    knock_on = ({("NO_NOTE", v) for v in lost} | {("UNITS_EXCEED_TIME", v) for v in lost}  # the quarantine is not
                | {("UNBILLED_97112", v) for v in lost}  # passed here: a quarantined note reads NO_NOTE
                | {("TIMED_UNITS_EXCEED_TOTAL", v) for v in by_defect["overbilled_units"] | lost})
    assert pairs - wanted - knock_on == set()
    assert found.loc[found["rule_id"] == "FIELD_UNREADABLE", "field"].eq("time_in").all()
