"""Generate one chunk of visits: claim lines, notes and the truth about injected defects.

Visits come in 12-visit episodes of care, so a chunk holds whole episodes and the same seed always
yields the same data. A patient's course of care is one episode, or two or three in a row (each
a plan of care of its own, with its evaluation); a four-episode course is an injected defect
(the beneficiary's year passes the $3,000 targeted medical review amount). Each episode has a
progress report on treatment day 8, 9 or 10 (BPM ch. 15 §220.3.D: at least once every 10
treatment days). Lines of a Medicare course past the yearly therapy threshold ($2,480 in 2026)
carry KX; a course of three episodes or fewer whose allowed amount would pass $2,900 (a margin
below the review amount) ends at the visit before.
A visit is furnished by the patient's therapist, by the clinic's assistant (billed under the
therapist's NPI; the assistant's note names the therapist in `supervising_npi`) or by both (two
notes, a code's minutes possibly split). Units are billed correctly under the payer's rule
basis (`payers.csv` first, then the payer type) first, with CQ/CO on the units CMS's de minimis
method gives the assistant for payers that follow Medicare's rules (split lines where a code's
units are shared); defects are then injected at a controlled
rate and recorded in the truth table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nmr_audit.parse import parse_modifiers
from nmr_audit.reference import ReferenceData
from nmr_audit.synth import world as w
from nmr_audit.therapy import days_since_report, therapy_amounts, treatment_days, yearly_totals
from nmr_audit.units import assistant_units, cms_allotment, units_for_minutes

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
    "bad_claim_row": "QUARANTINE",  # a required cell broken (units -1, a bad NPI or date): the line is set aside…
    "quarantined_line": "LINE_QUARANTINED",  # …and its visit reads LINE_QUARANTINED, not UNBILLED_97112 (date readable)
    "bad_note_row": "QUARANTINE",  # a required cell broken: the note is set aside…
    "quarantined_note": "NOTE_QUARANTINED",  # …and its 97112 lines read NOTE_QUARANTINED (key readable)
    "unreadable_note_time": "FIELD_UNREADABLE",  # an optional cell broken: the note is audited without it
    "kx_missing": "KX_MISSING",  # a claim past the yearly therapy threshold billed without KX
    "passes_review_amount": "KX_REVIEW_THRESHOLD",  # a four-episode course passes $3,000
    "progress_report_missing": "PROGRESS_REPORT_OVERDUE",  # an episode's progress report not marked: day 11
}
FOLLOWING = ("quarantined_line",)  # kinds that follow another's draw (bad_claim_row) and draw nothing themselves:
# a seed's rows stay what they were before the kind was recorded
REVIEW_MARGIN_CENTS = 10_000  # a clean two-episode course stays $100 below the review amount (defects add units)
PER_COURSE = 4  # the kinds drawn per course, episode or claim past the threshold (far fewer than 97112
# visits) are drawn at this multiple of the rate, so that a small sample holds them too
REPORT_DAYS = (7, 8, 9)  # the visit (0 = the evaluation) that carries an episode's progress report: day 8–10
UNREADABLE_TIME = "25:61"
LEAD, ASSISTANT = "lead", "assistant"


@dataclass(frozen=True)
class Chunk:
    claim_lines: pd.DataFrame
    visit_notes: pd.DataFrame
    services: pd.DataFrame  # note_id, cpt_code, minutes
    truth: pd.DataFrame


def generate_chunk(rng: np.random.Generator, first_visit: int, visits: int, world: w.World,
                   reference: ReferenceData, defect_rate: float) -> Chunk:
    frame = _visits(rng, first_visit, visits, world, defect_rate)
    services = _services(rng, frame)
    lines = _claim_lines(frame, services, reference)
    frame, services, lines = _below_review_amount(frame, services, lines, reference)
    notes = _notes(rng, frame, services, reference)
    return _inject(rng, frame, lines, notes, services, defect_rate, reference)


def _visits(rng: np.random.Generator, first: int, count: int, world: w.World, defect_rate: float = 0.0
            ) -> pd.DataFrame:
    visit = np.arange(first, first + count)
    episode = visit // EPISODE
    patient, size = _courses(rng, episode, defect_rate)
    patients, at = np.unique(patient, return_inverse=True)
    n = len(patients)
    primary = rng.choice(world.providers.index[world.providers["provider_credential"].isin(
        ["PT", "OT"])], size=n)
    plans = rng.choice(len(w.PAYER_PLANS), size=n, p=[p[2] for p in w.PAYER_PLANS])
    course_size = pd.Series(size).groupby(at).first().to_numpy()
    latest = 360 - 48 * course_size  # a course starts early enough to end in 2026 (12 visits of ≤ 4 days each)
    start = np.datetime64("2026-01-05") + (rng.random(n) * latest).astype("int64").astype("timedelta64[D]")
    step = rng.choice([2, 3, 4], size=count)
    k = visit % EPISODE
    steps = pd.Series(step).groupby(patient)
    offset = (steps.cumsum() - steps.transform("first")).to_numpy()  # the course's first visit on its start
    providers = world.providers
    lead = providers.loc[primary[at]].reset_index(drop=True)
    assistants = providers[providers["provider_credential"].isin(["PTA", "OTA"])]
    pick = assistants.groupby("clinic_id").sample(n=1, random_state=int(rng.integers(1 << 31)))
    helper = pick.set_index("clinic_id").reindex(lead["clinic_id"]).reset_index()
    can_help = helper["rendering_npi"].notna().to_numpy() & (
        (lead["provider_credential"] == "PT").to_numpy() == (helper["provider_credential"] == "PTA").to_numpy())
    kinds, weights = zip(*w.CARE, strict=True)
    care = np.where(can_help, rng.choice(kinds, size=count, p=weights), "therapist")
    episodes, of_episode = np.unique(episode, return_inverse=True)
    report_at = rng.choice(REPORT_DAYS, size=len(episodes))[of_episode]
    report = k == report_at
    care = np.where(report, "therapist", care)  # the therapist writes the report, on a note of their own
    dx = np.array(w.DIAGNOSES)[rng.integers(0, len(w.DIAGNOSES), size=(n, 2))]
    dates = (start[at] + offset.astype("timedelta64[D]")).astype("datetime64[s]")
    first_day = pd.Series(dates).groupby(episode).transform("first").to_numpy()
    poc = first_day - rng.integers(0, 3, size=len(episodes))[of_episode].astype("timedelta64[D]")
    return pd.DataFrame({
        "visit": visit,
        "k": k,
        "episode": episode,
        "course_size": size,
        "progress_report": report,
        "patient_id": _ids("PAT", patients, 8)[at],
        "date_of_service": dates,
        "rendering_npi": lead["rendering_npi"].to_numpy(),  # the billing NPI: always the therapist's
        "provider_credential": lead["provider_credential"].to_numpy(),
        "assistant_npi": helper["rendering_npi"].where(care != "therapist").to_numpy(),
        "assistant_credential": helper["provider_credential"].where(care != "therapist").to_numpy(),
        "care": care,
        "clinic_id": lead["clinic_id"].to_numpy(),
        "payer_id": np.array([p[0] for p in w.PAYER_PLANS])[plans][at],
        "payer_type": np.array([p[1] for p in w.PAYER_PLANS])[plans][at],
        "diagnosis_codes": (pd.Series(dx[:, 0]) + ";" + pd.Series(dx[:, 1])).to_numpy()[at],
        "poc_date": poc.astype("datetime64[s]"),  # each episode its own plan of care
    })


def _courses(rng: np.random.Generator, episode: np.ndarray, defect_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per visit: its patient's number (the first episode of the course) and the course's size in
    episodes. Courses are consecutive episodes of the chunk: one (most), two or three (a long
    course of care), or, as an injected defect, four. A course never reaches past the chunk."""
    episodes = np.unique(episode)
    sizes = rng.choice([1, 2, 3, 4], size=len(episodes), p=_course_sizes(defect_rate))
    starts = np.cumsum(sizes) - sizes
    starts = starts[starts < len(episodes)]
    course = np.searchsorted(starts, np.arange(len(episodes)), side="right") - 1
    length = np.diff(np.r_[starts, len(episodes)])
    at = np.searchsorted(episodes, episode)
    return episodes[starts[course]][at], length[course][at]


def _course_sizes(defect_rate: float) -> list[float]:
    """Chances of a course of one to four episodes (four: the injected review-amount defect, at
    `PER_COURSE` × the rate)."""
    four = min(0.3, PER_COURSE * defect_rate)
    return [0.65 - four, 0.15, 0.2, four]


def _services(rng: np.random.Generator, visits: pd.DataFrame) -> pd.DataFrame:
    """One row per code done on a visit and clinician (`by`: lead or assistant), with its minutes.

    Untimed codes carry their time. Evaluations are the therapist's; on a shared visit 97112's
    minutes are split between the two and each other code goes to one of them."""
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
    care = services["visit"].map(visits.set_index("visit")["care"]).to_numpy()
    untimed = services["cpt_code"].isin(["97161", "97165", "97010"]).to_numpy()
    mine = rng.random(len(services)) < 0.5
    by = np.where(untimed | (care == "therapist"), LEAD,
                  np.where((care == "assistant") | mine, ASSISTANT, LEAD))
    services = services.assign(by=by)
    split = (care == "shared") & (services["cpt_code"] == "97112").to_numpy()
    share = np.floor(rng.random(len(services)) * (services["minutes"].to_numpy() + 1)).astype("int64")
    theirs = services[split].assign(by=np.where(by[split] == LEAD, ASSISTANT, LEAD), minutes=share[split])
    services = pd.concat([services.assign(minutes=services["minutes"] - np.where(split, share, 0)), theirs],
                         ignore_index=True)
    services = services[services["minutes"] > 0]
    return services.sort_values(["visit", "cpt_code", "by"], kind="stable").reset_index(drop=True)


def _claim_lines(visits: pd.DataFrame, services: pd.DataFrame, reference: ReferenceData
                 ) -> pd.DataFrame:
    """Correctly billed lines: units of each code from the clinicians' pooled minutes under the
    visit's rule basis, CQ/CO on the assistant's units (Medicare-rules payers; a code whose units
    are shared is billed on two lines, with and without), then the other modifiers."""
    info = visits.set_index("visit")
    pooled = services.assign(assistant=np.where(services["by"] == ASSISTANT, services["minutes"], 0)).groupby(
        ["visit", "cpt_code"], sort=False, as_index=False)[["minutes", "assistant"]].sum()
    timed = pooled["cpt_code"].isin(reference.timed_codes)
    terms = reference.payer_terms(pooled["visit"].map(info["payer_type"]), pooled["visit"].map(info["payer_id"]))
    units = pd.Series(1, index=pooled.index, dtype="int64")
    units[timed] = units_for_minutes(pooled.loc[timed, "minutes"])
    cms = timed & (terms["rule_basis"] == "cms")
    if cms.any():
        units[cms] = cms_allotment(pooled[cms], favour="97112")
    cq = assistant_units(units, pooled["assistant"], pooled["minutes"] - pooled["assistant"])
    cq = cq.where(terms["medicare_rules"] & timed, 0)
    with_cq = pooled.assign(units=cq, cq=True)
    without = pooled.assign(units=units - cq, cq=False)
    lines = pd.concat([without, with_cq]).sort_index(kind="stable")
    lines = lines[lines["units"] > 0].reset_index(drop=True)
    credential = lines["visit"].map(info["provider_credential"])
    therapy = pd.Series(np.where(credential.isin(["OT", "OTA"]), "GO", "GP"), index=lines.index)
    assistant_modifier = np.where(credential == "OT", "CO", "CQ")
    modifiers = therapy.where(~lines["cq"], therapy + "," + assistant_modifier)
    modifiers = modifiers.where(~_column_two(lines, reference), modifiers + ",59")
    lines = lines.drop(columns=["assistant", "cq"]).assign(
        claim_id=_ids("CLM", lines["visit"], 9),
        line_number=lines.groupby("visit").cumcount() + 1,
        modifiers=modifiers,
        charge_amount=lines["cpt_code"].map(w.PRICE) * lines["units"],
    )
    keys = ["patient_id", "date_of_service", "rendering_npi", "clinic_id", "payer_type",
            "payer_id", "diagnosis_codes"]
    return lines.join(info[keys], on="visit").reset_index(drop=True)


def _year_totals(lines: pd.DataFrame, reference: ReferenceData) -> pd.DataFrame:
    """Per claim line that counts toward a yearly therapy threshold (as the audit counts it:
    `therapy.therapy_amounts`, `therapy.yearly_totals`): claim_id, line_number, `cumulative_cents`,
    `before_cents` and the year's `kx_cents` and `review_cents`. `lines`: generated lines
    (modifiers as text, dates as dates)."""
    canonical = lines.assign(modifiers=parse_modifiers(lines["modifiers"].fillna(""))[0],
                             date_of_service=pd.to_datetime(lines["date_of_service"]).astype("datetime64[s]"),
                             line_number=lines["line_number"].astype("int64"))
    totals = yearly_totals(therapy_amounts(canonical, reference))
    limits = reference.therapy_thresholds.drop_duplicates(["year", "payer_type", "bucket"])
    totals = totals.merge(limits[["year", "payer_type", "bucket", "kx_threshold", "review_threshold"]].astype(
        {"year": "int64"}), on=["year", "payer_type", "bucket"], how="left") if len(totals) else totals.assign(
        kx_threshold=pd.Series(dtype="float64"), review_threshold=pd.Series(dtype="float64"))
    return totals.assign(kx_cents=np.rint(totals["kx_threshold"] * 100), review_cents=np.rint(
        totals["review_threshold"] * 100))[["claim_id", "line_number", "cumulative_cents", "before_cents", "kx_cents",
                                            "review_cents"]]


def _below_review_amount(visits: pd.DataFrame, services: pd.DataFrame, lines: pd.DataFrame,
                         reference: ReferenceData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A course of three episodes or fewer ends before its beneficiary's allowed amount would
    pass the review amount less `REVIEW_MARGIN_CENTS` (a clean course raises no
    KX_REVIEW_THRESHOLD, and an overbilled unit does not tip it over): its later visits are not
    furnished. Four-episode courses (the injected defect) go on."""
    totals = _year_totals(lines, reference)
    over = totals[totals["cumulative_cents"] > totals["review_cents"] - REVIEW_MARGIN_CENTS]
    if over.empty:
        return visits, services, lines
    at = lines.set_index(["claim_id", "line_number"])["visit"]
    visit_of = at.reindex(pd.MultiIndex.from_frame(over[["claim_id", "line_number"]])).to_numpy()
    info = visits.set_index("visit")
    first_over = pd.Series(visit_of).groupby(info.loc[visit_of, "patient_id"].to_numpy()).min()
    short = info.loc[first_over.to_numpy(), "course_size"].to_numpy() < 4
    first_over = first_over[short]
    patient = visits["patient_id"].map(first_over)
    cancelled = set(visits.loc[patient.notna().to_numpy() & (visits["visit"] >= patient.fillna(0)).to_numpy(), "visit"])
    keep = ~visits["visit"].isin(cancelled)
    return (visits[keep].reset_index(drop=True), services[~services["visit"].isin(cancelled)].reset_index(drop=True),
            lines[~lines["visit"].isin(cancelled)].reset_index(drop=True))


def _with_kx(lines: pd.DataFrame, reference: ReferenceData, quarantined: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KX on every line of a claim with a line past its beneficiary's yearly therapy threshold,
    counted as the audit counts it from the lines it will read (`quarantined` lines are left out);
    returns the lines and their totals."""
    totals = _year_totals(lines[~quarantined.to_numpy()], reference)
    past = totals.loc[totals["cumulative_cents"] > totals["kx_cents"], "claim_id"]
    claim = lines["claim_id"].isin(set(past))
    modifiers = lines["modifiers"].fillna("").astype("str")
    kx = modifiers.where(modifiers == "", modifiers + ",") + "KX"
    return lines.assign(modifiers=modifiers.where(~claim, kx)), totals


def _column_two(lines: pd.DataFrame, reference: ReferenceData) -> pd.Series:
    """Lines whose code is column 2 of an NCCI pair with another code of the visit: they get 59."""
    codes = lines[["visit", "cpt_code"]].reset_index()
    paired = codes.merge(reference.ncci_ptp[["column_1", "column_2"]], left_on="cpt_code",
                         right_on="column_2").merge(
        codes[["visit", "cpt_code"]].rename(columns={"cpt_code": "column_1"}), on=["visit", "column_1"])
    return pd.Series(lines.index.isin(paired["index"]), index=lines.index)


def _notes(rng: np.random.Generator, visits: pd.DataFrame, services: pd.DataFrame, reference: ReferenceData
           ) -> pd.DataFrame:
    """One note per visit and clinician who furnished something: the therapist's (NOTE…) under
    the billing NPI, the assistant's (NOTEA…) under the assistant's own NPI naming the therapist
    as `supervising_npi`. The therapist's session comes first, the assistant's right after."""
    count = len(visits)
    timed = services["cpt_code"].isin(reference.timed_codes).to_numpy()
    per = services.assign(timed=np.where(timed, services["minutes"], 0)).groupby(["visit", "by"])[
        ["minutes", "timed"]].sum()
    per = per.reindex(pd.MultiIndex.from_product([visits["visit"], [LEAD, ASSISTANT]], names=["visit", "by"]))
    lead = per.xs(LEAD, level="by").fillna(0)
    helper = per.xs(ASSISTANT, level="by")  # missing where the assistant furnished nothing
    start = rng.integers(7 * 12, 16 * 12, size=count) * 5
    lead_end = start + lead["minutes"].astype("int64").to_numpy() + rng.integers(0, 6, size=count)
    helper_end = lead_end + helper["minutes"].fillna(0).astype("int64").to_numpy() + rng.integers(0, 6, size=count)
    pick = lambda options: np.array(options)[rng.integers(0, len(options), size=count)]  # noqa: E731
    medicare = reference.payer_terms(visits["payer_type"], visits["payer_id"])["medicare_rules"].to_numpy()
    shared = {
        "visit": visits["visit"].to_numpy(), "patient_id": visits["patient_id"].to_numpy(),
        "date_of_service": visits["date_of_service"].to_numpy(), "clinic_id": visits["clinic_id"].to_numpy(),
        "diagnosis_codes": visits["diagnosis_codes"].to_numpy(),
        "functional_deficit": pick(w.DEFICITS), "treatment_goals": pick(w.GOALS),
        "techniques": pick(w.TECHNIQUES), "patient_response": pick(w.RESPONSES),
        "plan_of_care_signed_date": visits["poc_date"].to_numpy(), "one_on_one": True, "signed": True,
        "itemized": ~medicare | (rng.random(count) < 0.85),
    }
    therapist = pd.DataFrame({**shared, "by": LEAD, "note_id": _ids("NOTE", visits["visit"], 9),
                              "progress_report": visits["progress_report"].to_numpy(),
                              "rendering_npi": visits["rendering_npi"].to_numpy(), "supervising_npi": None,
                              "provider_credential": visits["provider_credential"].to_numpy(),
                              "time_in": _clock(start), "time_out": _clock(lead_end),
                              "total_treatment_minutes": lead["minutes"].to_numpy(),
                              "total_timed_minutes": lead["timed"].to_numpy()})
    assistant = pd.DataFrame({**shared, "by": ASSISTANT, "note_id": _ids("NOTEA", visits["visit"], 9),
                              "progress_report": False,
                              "rendering_npi": visits["assistant_npi"].to_numpy(),
                              "supervising_npi": visits["rendering_npi"].to_numpy(),
                              "provider_credential": visits["assistant_credential"].to_numpy(),
                              "time_in": _clock(lead_end), "time_out": _clock(helper_end),
                              "total_treatment_minutes": helper["minutes"].to_numpy(),
                              "total_timed_minutes": helper["timed"].to_numpy()})
    has_helper = helper["minutes"].notna().to_numpy()
    notes = pd.concat([therapist[(lead["minutes"] > 0).to_numpy() | ~has_helper], assistant[has_helper]])
    notes = notes.astype({"total_treatment_minutes": "int64", "total_timed_minutes": "int64",
                          "rendering_npi": "str", "supervising_npi": "str", "provider_credential": "str"})
    return notes.sort_values(["visit", "by"], kind="stable").reset_index(drop=True)


def _ids(prefix: str, numbers: np.ndarray | pd.Series, width: int) -> np.ndarray:
    return (prefix + pd.Series(np.asarray(numbers)).astype("str").str.zfill(width)).to_numpy()


def _clock(minutes: np.ndarray) -> np.ndarray:
    minutes = pd.Series(np.minimum(minutes, 23 * 60 + 59))
    hours = (minutes // 60).astype("str").str.zfill(2)
    return (hours + ":" + (minutes % 60).astype("str").str.zfill(2)).to_numpy()


def _inject(rng: np.random.Generator, visits: pd.DataFrame, lines: pd.DataFrame,
            notes: pd.DataFrame, services: pd.DataFrame, rate: float, reference: ReferenceData) -> Chunk:
    """Apply each defect kind to a random `rate` share of eligible visits; record the truth."""
    lines, notes = lines.copy(), notes.copy()  # defects change these copies only
    truth: list[pd.DataFrame] = []
    nmr = lines["cpt_code"] == "97112"
    nmr_visits = lines.loc[nmr, "visit"].to_numpy()
    draw = {kind: set(nmr_visits[rng.random(len(nmr_visits)) < rate]) for kind in DEFECTS if kind not in FOLLOWING}
    draw["missing_note"] -= draw["bad_note_row"]
    reports = set(visits.loc[visits["progress_report"], "visit"])  # an episode's progress report stays readable
    draw["missing_note"] -= reports
    draw["bad_note_row"] -= reports
    for kind in ("missing_note_field", "unsigned_note", "not_one_on_one", "canalith_as_97112", "unreadable_note_time"):
        draw[kind] -= draw["missing_note"] | draw["bad_note_row"]
    draw["missing_note_field"] -= draw["unreadable_note_time"] | draw["canalith_as_97112"]  # techniques kept
    one_line = lines[nmr].groupby("visit").size()
    draw["missing_assistant_modifier"] &= set(one_line.index[one_line == 1])  # not a CQ/CO split
    # and visible in the notes: minutes per code, or only the assistant's note (else CMS's split is unknowable)
    therapist_note = set(notes.loc[notes["by"] == LEAD, "visit"])
    draw["missing_assistant_modifier"] &= set(notes.loc[notes["itemized"], "visit"]) | (
        set(notes["visit"]) - therapist_note)
    for kind in ("overbilled_units", "missing_therapy_modifier", "missing_assistant_modifier",
                 "missing_ncci_modifier"):
        draw[kind] -= draw["bad_claim_row"]
    line_at = nmr & lines["visit"].isin(draw["overbilled_units"]) & ~lines.duplicated(["visit", "cpt_code"])
    lines.loc[line_at, "units"] += 1  # one unit more on the visit's (first) 97112 line
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
    lines.loc[line_at, "modifiers"] = lines.loc[line_at, "modifiers"].str.replace(r",?59", "", regex=True)
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
    # LINE_QUARANTINED where UNBILLED_97112 would fire: a note kept that itemizes the 97112 minutes (every note
    # of the visit itemizing), and the date readable, so intake keeps the visit key (an NPI that fails its
    # check digit is unreadable: the patient and date suffice)
    itemized = notes.groupby("visit")["itemized"].all()
    keyed = line_at & lines["visit"].isin(set(itemized.index[itemized]) - draw["bad_note_row"] - draw["missing_note"])
    keyed[line_at] = keyed[line_at] & (corrupt != 2)
    truth.append(_line_truth(lines[keyed], "quarantined_line"))
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
    at = notes["visit"].isin(draw["unreadable_note_time"]) & (notes["by"] == LEAD)
    notes.loc[at, "time_in"] = UNREADABLE_TIME
    truth.append(_note_truth(notes[at], "unreadable_note_time"))
    at = notes["visit"].isin(draw["bad_note_row"])
    notes.loc[at, "clinic_id"] = ""  # a required cell: the note is quarantined, its visit key still readable
    truth.append(_note_truth(notes[at], "bad_note_row"))
    truth.append(_line_truth(lines[nmr & lines["visit"].isin(draw["bad_note_row"])], "quarantined_note"))
    at = notes["visit"].isin(draw["missing_note"])
    missing_lines = lines[nmr & lines["visit"].isin(draw["missing_note"])]
    truth.append(_line_truth(missing_lines, "missing_note"))
    kept_notes = notes[~at]
    services = services.merge(kept_notes.loc[kept_notes["itemized"], ["visit", "by", "note_id"]],
                              on=["visit", "by"])
    lines, kx_truth = _threshold_defects(rng, lines, rate, reference, draw["bad_claim_row"])
    truth += kx_truth
    kept_notes, report_truth = _progress_defects(rng, visits, kept_notes, rate, reference, draw["bad_note_row"])
    truth.append(report_truth)
    truth_frame = pd.concat(truth, ignore_index=True).astype({"line_number": "Int64"})
    lines = lines.assign(date_of_service=lines.pop("date_text"))
    kept_notes = kept_notes.assign(
        date_of_service=kept_notes.pop("date_text"),
        plan_of_care_signed_date=kept_notes["plan_of_care_signed_date"].dt.strftime("%Y-%m-%d"))
    return Chunk(lines.drop(columns="visit"), kept_notes.reset_index(drop=True),
                 services[["note_id", "cpt_code", "minutes"]], truth_frame)


def _threshold_defects(rng: np.random.Generator, lines: pd.DataFrame, rate: float, reference: ReferenceData,
                       bad_rows: set) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """KX where the beneficiary's year is past the threshold (after the other defects: the audit
    counts the lines it reads), then KX taken off a `rate` share of those claims (KX_MISSING on
    their lines past it; `PER_COURSE` × the rate); the line of a course that passes the review amount
    (KX_REVIEW_THRESHOLD).
    `bad_rows`: visits whose 97112 line will be quarantined."""
    quarantined = lines["visit"].isin(bad_rows) & (lines["cpt_code"] == "97112")
    lines, totals = _with_kx(lines, reference, quarantined)
    past = totals[totals["cumulative_cents"] > totals["kx_cents"]]
    claims = np.array(sorted(set(past["claim_id"])))
    chosen = set(claims[rng.random(len(claims)) < min(1.0, PER_COURSE * rate)])
    at = lines["claim_id"].isin(chosen)
    lines.loc[at, "modifiers"] = lines.loc[at, "modifiers"].str.replace(r",?KX", "", regex=True)
    key = ["claim_id", "line_number"]
    missing = past[past["claim_id"].isin(chosen)][key].merge(lines.assign(line_number=lines["line_number"].astype(
        "int64")), on=key)
    crossing = totals[(totals["before_cents"] <= totals["review_cents"])
                      & (totals["cumulative_cents"] > totals["review_cents"])][key]
    crossed = crossing.merge(lines.assign(line_number=lines["line_number"].astype("int64")), on=key)
    return lines, [_line_truth(missing, "kx_missing"), _line_truth(crossed, "passes_review_amount")]


def _progress_defects(rng: np.random.Generator, visits: pd.DataFrame, notes: pd.DataFrame, rate: float,
                      reference: ReferenceData, bad_rows: set) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An episode's progress report left unmarked on a `PER_COURSE` × `rate` share of the episodes long enough to
    reach an 11th treatment day; the truth is where the audit will count one (`therapy.days_since_report`
    over the notes it reads — quarantined ones left out — of Medicare-rules payers)."""
    report_notes = notes["progress_report"].fillna(False).astype("bool") & (notes["by"] == LEAD)
    long_enough = visits.groupby("episode")["k"].max() >= 10
    episodes = np.array(sorted(long_enough.index[long_enough]))
    chosen = set(episodes[rng.random(len(episodes)) < min(1.0, PER_COURSE * rate)])
    episode_of = notes["visit"].map(visits.set_index("visit")["episode"])
    notes = notes.assign(progress_report=notes["progress_report"].where(~(report_notes & episode_of.isin(chosen)),
                                                                        False))
    read = notes[~notes["visit"].isin(bad_rows)]
    days = treatment_days(read, reference)
    numbered = days_since_report(days)
    info = visits.drop_duplicates("patient_id").set_index("patient_id")
    medicare = reference.payer_terms(numbered["patient_id"].map(info["payer_type"]),
                                     numbered["patient_id"].map(info["payer_id"]))["medicare_rules"].to_numpy()
    overdue = numbered[(numbered["day_number"] == 11).to_numpy() & medicare]
    return notes, _note_truth(notes[notes["note_id"].isin(overdue["note_id"])], "progress_report_missing")


def _line_truth(lines: pd.DataFrame, kind: str) -> pd.DataFrame:
    return pd.DataFrame({"defect": kind, "expected": DEFECTS[kind], "claim_id": lines["claim_id"],
                         "line_number": lines["line_number"], "note_id": pd.NA, "field": pd.NA})


def _note_truth(notes: pd.DataFrame, kind: str) -> pd.DataFrame:
    return pd.DataFrame({"defect": kind, "expected": DEFECTS[kind], "claim_id": pd.NA,
                         "line_number": pd.NA, "note_id": notes["note_id"], "field": pd.NA})
