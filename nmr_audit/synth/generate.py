"""Generate one chunk of visits: claim lines, notes and the truth about injected defects.

Visits come in 12-visit episodes of care per patient, so a chunk holds whole episodes and the
same seed always yields the same data. Units are billed correctly under the payer's rule
basis first; defects are then injected at a controlled rate and recorded in the truth table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit.reference import ReferenceData
from nmr_audit.synth import world as w
from nmr_audit.units import cms_allotment, units_for_minutes

EPISODE = 12
NECESSITY = ("diagnosis_codes", "functional_deficit", "treatment_goals", "techniques",
             "patient_response", "time_in", "time_out", "total_treatment_minutes")
DEFECTS = {  # kind: the rule (or quarantine) an audit should answer it with
    "overbilled_units": "UNITS_EXCEED_TIME",
    "missing_therapy_modifier": "MISSING_THERAPY_MODIFIER",
    "missing_assistant_modifier": "MISSING_ASSISTANT_MODIFIER",
    "missing_ncci_modifier": "MISSING_NCCI_MODIFIER",
    "missing_note": "NO_NOTE",
    "missing_note_field": "MISSING_NECESSITY_FIELD",
    "unsigned_note": "NOTE_UNSIGNED",
    "not_one_on_one": "NOT_ONE_ON_ONE",
    "canalith_as_97112": "CANALITH_AS_97112",
    "bad_claim_row": "QUARANTINE",
    "bad_note_row": "QUARANTINE",
}


@dataclass(frozen=True)
class Chunk:
    claim_lines: pd.DataFrame
    visit_notes: pd.DataFrame
    services: pd.DataFrame  # note_id, cpt_code, minutes
    truth: pd.DataFrame


def generate_chunk(rng: np.random.Generator, first_visit: int, visits: int, world: w.World,
                   reference: ReferenceData, defect_rate: float) -> Chunk:
    frame = _visits(rng, first_visit, visits, world)
    services = _services(rng, frame)
    lines = _claim_lines(frame, services, reference)
    notes = _notes(rng, frame, services)
    return _inject(rng, frame, lines, notes, services, defect_rate)


def _visits(rng: np.random.Generator, first: int, count: int, world: w.World) -> pd.DataFrame:
    visit = np.arange(first, first + count)
    patient = visit // EPISODE
    patients, at = np.unique(patient, return_inverse=True)
    n = len(patients)
    primary = rng.choice(world.providers.index[world.providers["provider_credential"].isin(
        ["PT", "OT"])], size=n)
    plans = rng.choice(len(w.PAYER_PLANS), size=n, p=[p[2] for p in w.PAYER_PLANS])
    start = np.datetime64("2026-01-05") + rng.integers(0, 280, size=n).astype("timedelta64[D]")
    step = rng.choice([2, 3, 4], size=count)
    k = visit % EPISODE
    offset = pd.Series(step).groupby(patient).cumsum().to_numpy() - step[k == 0].repeat(
        np.bincount(at))
    providers = world.providers
    lead = providers.loc[primary[at]].reset_index(drop=True)
    assistants = providers[providers["provider_credential"].isin(["PTA", "OTA"])]
    pick = assistants.groupby("clinic_id").sample(n=1, random_state=int(rng.integers(1 << 31)))
    helper = pick.set_index("clinic_id").reindex(lead["clinic_id"]).reset_index()
    by_assistant = (rng.random(count) < 0.3) & helper["rendering_npi"].notna().to_numpy() & (
        (lead["provider_credential"] == "PT").to_numpy()
        == (helper["provider_credential"] == "PTA").to_numpy())
    swap = np.repeat(by_assistant[:, None], len(lead.columns), axis=1)
    chosen = lead.where(~swap, helper[lead.columns])
    dx = np.array(w.DIAGNOSES)[rng.integers(0, len(w.DIAGNOSES), size=(n, 2))]
    return pd.DataFrame({
        "visit": visit,
        "k": k,
        "patient_id": _ids("PAT", patients, 8)[at],
        "date_of_service": (start[at] + offset.astype("timedelta64[D]")).astype("datetime64[s]"),
        "rendering_npi": chosen["rendering_npi"].to_numpy(),
        "provider_credential": chosen["provider_credential"].to_numpy(),
        "clinic_id": lead["clinic_id"].to_numpy(),
        "payer_id": np.array([p[0] for p in w.PAYER_PLANS])[plans][at],
        "payer_type": np.array([p[1] for p in w.PAYER_PLANS])[plans][at],
        "diagnosis_codes": (pd.Series(dx[:, 0]) + ";" + pd.Series(dx[:, 1])).to_numpy()[at],
        "poc_date": (start - rng.integers(0, 3, size=n).astype("timedelta64[D]"))[at].astype(
            "datetime64[s]"),
    })


def _services(rng: np.random.Generator, visits: pd.DataFrame) -> pd.DataFrame:
    """One row per code done on a visit, with its minutes (untimed codes carry their time)."""
    ot = visits["provider_credential"].isin(["OT", "OTA"]).to_numpy()
    count = len(visits)
    parts = [pd.DataFrame({"visit": visits["visit"], "cpt_code": "97112", "minutes": np.clip(
        np.rint(rng.normal(22, 7, count)), 5, 45), "done": rng.random(count) < 0.92})]
    for code, chance in w.OTHER_TIMED.items():
        codes = np.where(ot & (code == "97116"), "97535", code)
        parts.append(pd.DataFrame({"visit": visits["visit"], "cpt_code": codes, "minutes": np.clip(
            np.rint(rng.normal(14, 6, count)), 3, 30), "done": rng.random(count) < chance}))
    evaluation = np.where(ot, "97165", "97161")
    parts.append(pd.DataFrame({"visit": visits["visit"], "cpt_code": evaluation, "minutes": 30.0,
                               "done": (visits["k"] == 0).to_numpy()}))
    parts.append(pd.DataFrame({"visit": visits["visit"], "cpt_code": "97010", "minutes": 10.0,
                               "done": rng.random(count) < 0.15}))
    services = pd.concat(parts, ignore_index=True)
    services = services[services["done"]].drop(columns="done").astype({"minutes": "int64"})
    return services.sort_values(["visit", "cpt_code"], kind="stable").reset_index(drop=True)


def _claim_lines(visits: pd.DataFrame, services: pd.DataFrame, reference: ReferenceData
                 ) -> pd.DataFrame:
    """Correctly billed lines: units under the visit's rule basis, then modifiers."""
    info = visits.set_index("visit")
    timed = services["cpt_code"].isin(reference.timed_codes)
    basis = reference.rule_basis(services["visit"].map(info["payer_type"]))
    units = pd.Series(1, index=services.index, dtype="int64")
    units[timed] = units_for_minutes(services.loc[timed, "minutes"])
    cms = timed & (basis == "cms")
    if cms.any():
        units[cms] = cms_allotment(services[cms], favour="97112")
    lines = services.assign(units=units)[units > 0]
    credential = lines["visit"].map(info["provider_credential"])
    therapy = np.where(credential.isin(["OT", "OTA"]), "GO", "GP")
    medicare = lines["visit"].map(info["payer_type"]).isin(["medicare", "medicare_advantage"])
    assistant = np.where(credential == "PTA", "CQ", np.where(credential == "OTA", "CO", ""))
    with_assistant = pd.Series(therapy, index=lines.index) + "," + assistant
    modifiers = pd.Series(np.where(medicare & (assistant != ""), with_assistant, therapy), index=lines.index)
    modifiers = modifiers.where(~_column_two(lines, reference), modifiers + ",59")
    lines = lines.assign(
        claim_id=_ids("CLM", lines["visit"], 9),
        line_number=lines.groupby("visit").cumcount() + 1,
        modifiers=modifiers,
        charge_amount=lines["cpt_code"].map(w.PRICE) * lines["units"],
    )
    keys = ["patient_id", "date_of_service", "rendering_npi", "clinic_id", "payer_type",
            "payer_id", "diagnosis_codes"]
    return lines.join(info[keys], on="visit").reset_index(drop=True)


def _column_two(lines: pd.DataFrame, reference: ReferenceData) -> pd.Series:
    """Lines whose code is column 2 of an NCCI pair with another code of the visit: they get 59."""
    codes = lines[["visit", "cpt_code"]].reset_index()
    paired = codes.merge(reference.ncci_ptp[["column_1", "column_2"]], left_on="cpt_code",
                         right_on="column_2").merge(
        codes[["visit", "cpt_code"]].rename(columns={"cpt_code": "column_1"}), on=["visit", "column_1"])
    return pd.Series(lines.index.isin(paired["index"]), index=lines.index)


def _notes(rng: np.random.Generator, visits: pd.DataFrame, services: pd.DataFrame
           ) -> pd.DataFrame:
    count = len(visits)
    timed = services[~services["cpt_code"].isin(["97161", "97165", "97010"])]
    timed_total = timed.groupby("visit")["minutes"].sum().reindex(visits["visit"], fill_value=0)
    all_total = services.groupby("visit")["minutes"].sum().reindex(visits["visit"], fill_value=0)
    start = rng.integers(7 * 12, 17 * 12, size=count) * 5
    end = start + all_total.to_numpy() + rng.integers(0, 6, size=count)
    pick = lambda options: np.array(options)[rng.integers(0, len(options), size=count)]  # noqa: E731
    medicare = visits["payer_type"].isin(["medicare", "medicare_advantage"]).to_numpy()
    return pd.DataFrame({
        "visit": visits["visit"],
        "note_id": _ids("NOTE", visits["visit"], 9),
        "patient_id": visits["patient_id"], "date_of_service": visits["date_of_service"],
        "rendering_npi": visits["rendering_npi"], "clinic_id": visits["clinic_id"],
        "provider_credential": visits["provider_credential"],
        "time_in": _clock(start), "time_out": _clock(end),
        "total_treatment_minutes": all_total.to_numpy(), "total_timed_minutes": timed_total.to_numpy(),
        "diagnosis_codes": visits["diagnosis_codes"],
        "functional_deficit": pick(w.DEFICITS), "treatment_goals": pick(w.GOALS),
        "techniques": pick(w.TECHNIQUES), "patient_response": pick(w.RESPONSES),
        "plan_of_care_signed_date": visits["poc_date"],
        "one_on_one": True, "signed": True,
        "itemized": ~medicare | (rng.random(count) < 0.85),
    })


def _ids(prefix: str, numbers: np.ndarray | pd.Series, width: int) -> np.ndarray:
    return (prefix + pd.Series(np.asarray(numbers)).astype("str").str.zfill(width)).to_numpy()


def _clock(minutes: np.ndarray) -> np.ndarray:
    minutes = pd.Series(np.minimum(minutes, 23 * 60 + 59))
    hours = (minutes // 60).astype("str").str.zfill(2)
    return (hours + ":" + (minutes % 60).astype("str").str.zfill(2)).to_numpy()


def _inject(rng: np.random.Generator, visits: pd.DataFrame, lines: pd.DataFrame,
            notes: pd.DataFrame, services: pd.DataFrame, rate: float) -> Chunk:
    """Apply each defect kind to a random `rate` share of eligible visits; record the truth."""
    lines, notes = lines.copy(), notes.copy()  # defects change these copies only
    truth: list[pd.DataFrame] = []
    nmr = lines["cpt_code"] == "97112"
    nmr_visits = lines.loc[nmr, "visit"].to_numpy()
    draw = {kind: set(nmr_visits[rng.random(len(nmr_visits)) < rate]) for kind in DEFECTS}
    draw["missing_note"] -= draw["bad_note_row"]
    for kind in ("missing_note_field", "unsigned_note", "not_one_on_one", "canalith_as_97112"):
        draw[kind] -= draw["missing_note"] | draw["bad_note_row"]
    for kind in ("overbilled_units", "missing_therapy_modifier", "missing_assistant_modifier",
                 "missing_ncci_modifier"):
        draw[kind] -= draw["bad_claim_row"]
    line_at = nmr & lines["visit"].isin(draw["overbilled_units"])
    lines.loc[line_at, "units"] += 1
    truth.append(_line_truth(lines[line_at], "overbilled_units"))
    line_at = nmr & lines["visit"].isin(draw["missing_therapy_modifier"])
    lines.loc[line_at, "modifiers"] = lines.loc[line_at, "modifiers"].str.replace(
        r"G[PO],?", "", regex=True)
    truth.append(_line_truth(lines[line_at], "missing_therapy_modifier"))
    line_at = nmr & lines["visit"].isin(draw["missing_assistant_modifier"]) & lines[
        "modifiers"].str.contains("C[QO]", regex=True)
    lines.loc[line_at, "modifiers"] = lines.loc[line_at, "modifiers"].str.replace(
        r",?C[QO]", "", regex=True)
    truth.append(_line_truth(lines[line_at], "missing_assistant_modifier"))
    line_at = nmr & lines["visit"].isin(draw["missing_ncci_modifier"]) & lines["modifiers"].str.contains(
        "59", regex=False)
    lines.loc[line_at, "modifiers"] = lines.loc[line_at, "modifiers"].str.replace(",59", "", regex=False)
    truth.append(_line_truth(lines[line_at], "missing_ncci_modifier"))
    line_at = nmr & lines["visit"].isin(draw["bad_claim_row"])
    corrupt = rng.integers(0, 3, size=int(line_at.sum()))
    lines["date_text"] = lines["date_of_service"].dt.strftime("%Y-%m-%d")
    lines.loc[line_at, "units"] = np.where(corrupt == 0, -1, lines.loc[line_at, "units"])
    lines.loc[line_at, "rendering_npi"] = np.where(
        corrupt == 1, "1234567890", lines.loc[line_at, "rendering_npi"])
    lines.loc[line_at, "date_text"] = np.where(corrupt == 2, "2026-02-30",
                                               lines.loc[line_at, "date_text"])
    truth.append(_line_truth(lines[line_at], "bad_claim_row"))
    notes = notes.assign(date_text=notes["date_of_service"].dt.strftime("%Y-%m-%d"))
    at = notes["visit"].isin(draw["unsigned_note"])
    notes.loc[at, "signed"] = False
    truth.append(_note_truth(notes[at], "unsigned_note"))
    at = notes["visit"].isin(draw["not_one_on_one"])
    notes.loc[at, "one_on_one"] = False
    truth.append(_note_truth(notes[at], "not_one_on_one"))
    at = notes["visit"].isin(draw["canalith_as_97112"])
    notes.loc[at, "techniques"] = w.CANALITH
    truth.append(_note_truth(notes[at], "canalith_as_97112"))
    at = notes["visit"].isin(draw["missing_note_field"])
    field = np.array(NECESSITY)[rng.integers(0, len(NECESSITY), size=int(at.sum()))]
    notes = notes.astype({"total_treatment_minutes": "Int64"})
    for name in NECESSITY:
        notes.loc[notes.index[at][field == name], name] = None
    truth.append(_note_truth(notes[at], "missing_note_field").assign(field=field))
    at = notes["visit"].isin(draw["bad_note_row"])
    notes.loc[at, "time_in"] = "25:61"
    truth.append(_note_truth(notes[at], "bad_note_row"))
    at = notes["visit"].isin(draw["missing_note"])
    missing_lines = lines[nmr & lines["visit"].isin(draw["missing_note"])]
    truth.append(_line_truth(missing_lines, "missing_note"))
    kept_notes = notes[~at]
    services = services.merge(kept_notes.loc[kept_notes["itemized"], ["visit", "note_id"]],
                              on="visit")
    truth_frame = pd.concat(truth, ignore_index=True).astype({"line_number": "Int64"})
    lines = lines.assign(date_of_service=lines.pop("date_text"))
    kept_notes = kept_notes.assign(
        date_of_service=kept_notes.pop("date_text"),
        plan_of_care_signed_date=kept_notes["plan_of_care_signed_date"].dt.strftime("%Y-%m-%d"))
    return Chunk(lines.drop(columns="visit"), kept_notes.reset_index(drop=True),
                 services[["note_id", "cpt_code", "minutes"]], truth_frame)


def _line_truth(lines: pd.DataFrame, kind: str) -> pd.DataFrame:
    return pd.DataFrame({"defect": kind, "expected": DEFECTS[kind], "claim_id": lines["claim_id"],
                         "line_number": lines["line_number"], "note_id": pd.NA, "field": pd.NA})


def _note_truth(notes: pd.DataFrame, kind: str) -> pd.DataFrame:
    return pd.DataFrame({"defect": kind, "expected": DEFECTS[kind], "claim_id": pd.NA,
                         "line_number": pd.NA, "note_id": notes["note_id"], "field": pd.NA})
