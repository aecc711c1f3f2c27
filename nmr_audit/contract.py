"""The data contract (v1): canonical tables and their columns.

Kept in one module so that readers, validation, the generator and the docs agree on one
spelling of every column. The contract may grow; these names never change.
"""

from __future__ import annotations

from dataclasses import dataclass

CLAIM_LINES = "claim_lines"
VISIT_NOTES = "visit_notes"
NOTE_SERVICES = "note_services"  # the notes' minutes, one row per note and code
TABLES = (CLAIM_LINES, VISIT_NOTES)
REMITS = "remits"  # X12 835 remittances (`--remits`): read, matched to claim lines, never audited as rows

# Required columns place a row (a malformed value quarantines it); a malformed optional value
# becomes missing and is listed in the row's `unreadable_fields` (contract v1.1).
CLAIM_REQUIRED = (
    "claim_id",
    "line_number",
    "patient_id",
    "date_of_service",
    "rendering_npi",
    "clinic_id",
    "payer_type",
    "cpt_code",
    "units",
)
CLAIM_OPTIONAL = (
    "modifiers",
    "payer_id",
    "charge_amount",
    "diagnosis_codes",
    "line_control_number",
    "rendering_provider_name",
    "clinic_name",
)
CLAIM_COLUMNS = (*CLAIM_REQUIRED[:8], "modifiers", "units", *CLAIM_OPTIONAL[1:])  # the v1 order, then v1.1's

NOTE_REQUIRED = ("note_id", "patient_id", "date_of_service", "rendering_npi", "clinic_id")
NECESSITY_TEXT_FIELDS = ("functional_deficit", "treatment_goals", "techniques", "patient_response")
NOTE_OPTIONAL = (
    "provider_credential",
    "time_in",
    "time_out",
    "total_treatment_minutes",
    "total_timed_minutes",
    "diagnosis_codes",
    *NECESSITY_TEXT_FIELDS,
    "plan_of_care_signed_date",
    "one_on_one",
    "signed",
    "supervising_npi",
    "progress_report",
    "rendering_provider_name",
    "clinic_name",
)
NOTE_COLUMNS = NOTE_REQUIRED + NOTE_OPTIONAL

# How a note itemizes minutes per code: a JSON list, or one column per code.
SERVICES_COLUMN = "services"
MINUTES_PREFIX = "minutes_"
SERVICE_COLUMNS = ("note_id", "cpt_code", "minutes")

VISIT_KEY = ("patient_id", "date_of_service", "rendering_npi")

# Where a row came from: every canonical and quarantined row keeps these.
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
LINEAGE = (SOURCE_FILE, SOURCE_ROW)

# A quarantined row keeps its visit key where its cells give one (null where unreadable).
QUARANTINE_KEY = ("patient_id", "date_of_service", "rendering_npi")
QUARANTINE_COLUMNS = ("table", SOURCE_FILE, SOURCE_ROW, "reason", "record", *QUARANTINE_KEY)

# Optional values that could not be read: one list per canonical row (both tables), each entry
# {column, value (as read, at most 80 characters, control characters replaced), expected}.
UNREADABLE_FIELDS = "unreadable_fields"

# Spellings of "missing" that clinic exports use; compared case-insensitively after trimming.
NULL_SPELLINGS = frozenset({"", "na", "n/a", "null", "-", "nan", "#n/a"})

REQUIRED_COLUMNS = {CLAIM_LINES: CLAIM_REQUIRED, VISIT_NOTES: NOTE_REQUIRED}
OPTIONAL_COLUMNS = {CLAIM_LINES: CLAIM_OPTIONAL, VISIT_NOTES: NOTE_OPTIONAL}
UNIQUE_KEYS = {CLAIM_LINES: ("claim_id", "line_number"), VISIT_NOTES: ("note_id",)}

SEVERITIES = ("info", "low", "medium", "high")

# The code the audit is about, and the payer type of a visit whose payer no claim names.
NMR_CODE = "97112"
UNKNOWN_PAYER = "unknown"

# visits.parquet: the contract's columns, then what nmr-audit adds to explain them.
VISIT_COLUMNS = (
    *VISIT_KEY,
    "clinic_id",
    "payer_type",
    "rule_basis",
    "note_id",
    "total_timed_minutes",
    "minutes_97112",
    "billed_units_97112",
    "supported_units_97112",
    "excess_units_97112",
    "billed_timed_units",
    "supported_timed_units",
)
VISIT_EXTRA_COLUMNS = (
    "note_count",
    "itemizes_minutes",
    "pooled_timed_minutes",
    "lines_97112",
    "timed_codes_billed",
)


# The rule registry: every rule the audit applies, once. The suites (`expectations/*.json`), the
# denial weights (`data/reference/denial_weights.csv`), the rule table of `docs/rules.md` and the
# tests are checked against it when they load (`nmr_audit.rules`). A rule is added here, in its
# suite, in the facts it reads and in its tests — nothing else lists rules.

# What one finding is about (`Rule.grain`) and which facts frame its suite reads (`Rule.suite`).
RULE_GRAINS = ("claim_line", "visit", "note", "patient_day", "discipline_day", "field")


@dataclass(frozen=True)
class Rule:
    """One rule: its stable id, its findings' severity and grain, and what a person needs to act.

    `weight` is the default chance, on its own, that a finding gets the claim denied or recouped
    (`denial_weights.csv` ships these and may be tuned per client). `reads` names the canonical
    input columns the rule decides from: an unreadable value in one of them blocks the rule on
    that row (FIELD_UNREADABLE names it); `unit_check` marks the rules that decide units, which
    make such a finding medium instead of low. `severities` lists every severity its
    expectations may carry (the first is the usual one).
    """

    rule_id: str
    severities: tuple[str, ...]
    grain: str
    suite: str
    weight: float
    meaning: str
    fix: str
    source: str
    at_risk: str = "—"
    unit_check: bool = False
    reads: tuple[str, ...] = ()
    since: str = "v1"

    @property
    def severity(self) -> str:
        return self.severities[0]


_UNITS = ("units", "cpt_code", "minutes_*", "services", "total_timed_minutes", "payer_id", "supervising_npi")
RULES: tuple[Rule, ...] = (
    Rule("UNITS_EXCEED_TIME", ("high",), "visit", "visits", 0.60,
         "97112 units billed on the visit exceed what its documented minutes support under the visit's "
         "rule basis (CMS: the pooled minutes allotted among codes, ties in 97112's favour; AMA: 97112's "
         "own minutes).",
         "Bill the units the minutes support, or complete the note if time was left out (late entry under "
         "the clinic's policy).",
         "CMS Pub. 100-04 ch. 5 §20.2 (8-minute rule); AMA CPT midpoint rule",
         "the excess units × the 97112 fee", True, _UNITS),
    Rule("TIMED_UNITS_EXCEED_TOTAL", ("high",), "visit", "visits", 0.50,
         "All timed units billed on a 97112 visit exceed what the visit's documented timed minutes "
         "support (CMS: the pooled table; AMA: each code on its own).",
         "Reduce the timed units to what the total timed minutes support, or document the missing time.",
         "CMS Pub. 100-04 ch. 5 §20.2; BPM ch. 15 §220.3 (total timed minutes recorded)",
         "timed units beyond the 97112 excess × the 97112 fee", True, _UNITS),
    Rule("UNITS_BELOW_TIME", ("info",), "visit", "visits", 0.00,
         "The documented 97112 minutes support more units than were billed and the visit's timed units "
         "have room (revenue left behind).",
         "Check the charge entry; bill the supported units if the service was furnished as documented.",
         "CMS Pub. 100-04 ch. 5 §20.2", "—", True, _UNITS),
    Rule("NO_NOTE", ("high",), "claim_line", "claim_lines", 0.90,
         "A 97112 line has no treatment note for its visit (patient, date, rendering or supervising "
         "NPI), and no note of that visit was quarantined.",
         "Find the note and export it, or void the line.",
         "BPM ch. 15 §220.3 (the treatment note documents each visit); OIG A-05-14-00041",
         "the line's units × fee", True, ("patient_id", "date_of_service", "rendering_npi", "supervising_npi")),
    Rule("NO_97112_TIME", ("high",), "visit", "visits", 0.85,
         "97112 was billed but the visit's notes itemize minutes per code and none for 97112.",
         "Document the 97112 minutes or correct the code billed.",
         "CMS Pub. 100-04 ch. 5 §20.2; BPM ch. 15 §220.3", "97112 units billed × fee", True, _UNITS),
    Rule("UNBILLED_97112", ("info",), "visit", "visits", 0.00,
         "The notes document 97112 minutes that support at least one unit and no 97112 line was billed.",
         "Check the charge entry for a missed 97112 charge.", "CMS Pub. 100-04 ch. 5 §20.2", "—", True, _UNITS),
    Rule("MISSING_THERAPY_MODIFIER", ("high",), "claim_line", "claim_lines", 0.90,
         "A 97112 line carries none of GP, GO, GN.",
         "Add the discipline's modifier (GP physical, GO occupational, GN speech therapy).",
         "CMS CR 10176 (always-therapy services carry GP/GO/GN)", "the line's value", False, ("modifiers",)),
    Rule("THERAPY_MODIFIER_MISMATCH", ("medium",), "claim_line", "claim_lines", 0.50,
         "The line's GP/GO/GN is not the discipline of any note of the visit.",
         "Use the modifier of the plan of care the service was furnished under.", "CMS CR 10176",
         "the line's value", False, ("modifiers", "provider_credential")),
    Rule("MISSING_NCCI_MODIFIER", ("high",), "claim_line", "claim_lines", 0.80,
         "97112 is billed on a visit with a code that forms an NCCI procedure-to-procedure pair with it, in "
         "force on the date, and neither line carries 59, XE, XS, XP or XU.",
         "Add 59 or the X modifier that applies when the services were distinct; otherwise drop the "
         "column-2 code.", "CMS NCCI practitioner PTP edits (data/reference/ncci_ptp.csv)", "the line's value",
         False, ("modifiers", "cpt_code")),
    Rule("MUE_EXCEEDED", ("high",), "patient_day", "patient_days", 0.80,
         "97112 units for one patient and day exceed the MUE in the reference data.",
         "Bill no more than the MUE unless the record supports an exception the payer accepts.",
         "CMS Medically Unlikely Edits (data/reference/mue.csv)", "units above the MUE × fee", True, ("units",)),
    Rule("MISSING_ASSISTANT_MODIFIER", ("medium",), "visit", "visits", 0.40,
         "Fewer 97112 units carry CQ/CO than CMS's de minimis method assigns to the assistant from the "
         "clinicians' minutes (Medicare-rules payers; contract v1.1 meaning).",
         "Bill the assistant's units on a line with GP,CQ (GO,CO) and the therapist's on a line without.",
         "BBA 2018 §53107; CY 2020 PFS final rule (84 FR 62702); CY 2022 PFS final rule (86 FR 64996); CMS "
         "'Billing Examples Using CQ/CO Modifiers for Services Furnished In Whole or In Part by PTAs and OTAs'",
         "15% of the units that should carry CQ/CO × fee", False,
         ("modifiers", "provider_credential", "minutes_*", "services", "supervising_npi"), "v1.1"),
    Rule("MISSING_NECESSITY_FIELD", ("medium",), "note", "notes", 0.30,
         "A note of a 97112 visit lacks one of diagnosis_codes, functional_deficit, treatment_goals, "
         "techniques, patient_response, time_in, time_out, total_treatment_minutes (`field` names it; an "
         "unreadable value is FIELD_UNREADABLE instead).",
         "Complete the note (late entry under the clinic's policy).",
         "BPM ch. 15 §220.3; OIG A-05-14-00041", "—", False,
         ("diagnosis_codes", "functional_deficit", "treatment_goals", "techniques", "patient_response",
          "time_in", "time_out", "total_treatment_minutes")),
    Rule("PLAN_OF_CARE_MISSING", ("high",), "visit", "notes", 0.70,
         "Medicare-rules payer: no certified plan of care on the visit's note, or certified after the date "
         "of service (raised once per visit).",
         "Obtain the physician/NPP certification (dated signature) and keep it with the record.",
         "BPM ch. 15 §220.1", "the visit's 97112 value", False, ("plan_of_care_signed_date", "payer_id")),
    Rule("PLAN_OF_CARE_EXPIRED", ("medium",), "visit", "notes", 0.50,
         "The date of service is more than 90 days after the plan of care was certified (raised once per "
         "visit).", "Recertify the plan of care.", "BPM ch. 15 §220.1.3", "the visit's 97112 value",
         False, ("plan_of_care_signed_date",)),
    Rule("TIME_INCONSISTENT", ("medium",), "note", "notes", 0.30,
         "The note's times contradict each other: the session (time in → time out, past midnight when time "
         "out is earlier) is shorter than the total treatment minutes, or the minutes per code or the total "
         "timed minutes exceed the total treatment minutes, or the total timed minutes differ from the "
         "minutes itemized per code.", "Correct the times in the note.", "BPM ch. 15 §220.3", "—", False,
         ("time_in", "time_out", "total_treatment_minutes", "total_timed_minutes", "minutes_*", "services")),
    Rule("NOT_ONE_ON_ONE", ("high",), "visit", "notes", 0.60,
         "97112 was billed for time the note records as group or concurrent (raised once per visit).",
         "Bill group time as 97150.", "CPT 97112 (direct one-on-one contact); CMS Pub. 100-04 ch. 5 §20.2",
         "the visit's 97112 units and value", False, ("one_on_one",)),
    Rule("NOTE_UNSIGNED", ("medium",), "note", "notes", 0.50, "The treatment note is not signed.",
         "Have the provider sign the note.", "BPM ch. 15 §220.3", "the visit's 97112 value", False, ("signed",)),
    Rule("DUPLICATE_LINE", ("high",), "claim_line", "claim_lines", 0.90,
         "97112 on more than one line for one patient, date and provider (across claims), other than a "
         "split into one line with CQ/CO and one without.",
         "Report the units on one line (two only for a CQ/CO split).",
         "CMS timed-code single-line edit (claims received on or after 19 April 2021; MAC notices)",
         "that line's units × fee", False, ("modifiers", "cpt_code")),
    Rule("CANALITH_AS_97112", ("medium",), "visit", "notes", 0.50,
         "The note's techniques describe canalith repositioning (Epley, Semont), billed as 95992, not "
         "97112 (raised once per visit).", "Bill 95992 for canalith repositioning.",
         "CPT 95992 (since 2011)", "the visit's 97112 units and value", False, ("techniques",)),
    Rule("FIELD_UNREADABLE", ("low", "medium"), "field", "fields", 0.05,
         "An optional value could not be read; the row was audited without it and the checks that read it "
         "did not run on that row (named in the message). Medium when it blocked a unit check.",
         "Correct the value in the export (or name the column's spelling in the mapping profile) and rerun.",
         "nmr-audit data contract v1.1 (a malformed optional value becomes missing and is a finding)",
         "—", False, (), "v1.1"),
    Rule("NOTE_QUARANTINED", ("medium",), "visit", "visits", 0.30,
         "The visit's note exists but was quarantined at intake (its reason, file and line are named); "
         "NO_NOTE and the unit checks did not run on the visit.",
         "Fix the note's row in the export (the quarantine names what was wrong) and rerun.",
         "nmr-audit data contract v1.1", "—", True, (), "v1.1"),
    Rule("LINE_QUARANTINED", ("medium",), "visit", "visits", 0.30,
         "The notes document 97112 minutes that support at least one unit, no 97112 line of the visit was "
         "read, and a claim line of the visit (its code 97112 or unreadable) was quarantined at intake (its "
         "reason, file and line are named): the line was billed but could not be read, so UNBILLED_97112 was "
         "not judged.",
         "Fix the claim line's row in the export (the quarantine names what was wrong) and rerun; do not add "
         "a 97112 charge for the visit.",
         "nmr-audit data contract v1.1", "—", True, _UNITS, "v1.1"),
    Rule("DAY_UNITS_EXCEED_TIME", ("medium",), "discipline_day", "discipline_days", 0.50,
         "cms basis: a patient's timed units of one discipline (GP, GO, GN) on one date at one clinic, "
         "billed under several rendering NPIs, exceed what the day's pooled minutes support, beyond what "
         "each visit's own check already found.",
         "Allot the day's units across the providers from the pooled minutes (one unit per 8–22 minutes …).",
         "CMS Pub. 100-04 ch. 5 §20.2 (minutes per day, per patient) and §20.1 (GP/GO/GN plans of care)",
         "excess units × the 97112 fee", True, _UNITS, "v1.1"),
    Rule("PAYER_EDIT", ("high",), "claim_line", "code_pairs", 0.85,
         "A line's code is billed on a visit with another code that the line's payer does not pay together on "
         "one day by its own edit (data/reference/payer_edits.csv, beside NCCI's), in force on the date, and "
         "neither line carries a modifier the payer accepts for the pair (some accept none). Any pair of codes, "
         "not only pairs with 97112; the finding is on the column-2 line.",
         "Do not bill the column-2 code with the column-1 code for this payer on one day (or add a modifier the "
         "payer lists for the pair, where it lists one and the services were distinct); check the payer's "
         "policy for the date of service.",
         "The payer's published edit (payer_edits.csv, its `source` per row)",
         "the column-2 line's units × its fee", False, ("modifiers", "cpt_code", "payer_id"), "v1.1"),
    # Issue 19: the yearly therapy threshold (KX) and progress reports, over the history of the
    # beneficiary's year that the nightly state keeps (`runtime.state`).
    Rule("KX_MISSING", ("high",), "claim_line", "therapy_lines", 0.90,
         "A therapy line (GP or GN: PT and SLP counted together; GO: OT apart) of a payer with a yearly therapy "
         "threshold (Medicare) whose allowed amount, added in date order to the beneficiary's earlier therapy of "
         "the same bucket this calendar year, passes the threshold, and the line carries no KX — nor GA, GY or "
         "GZ (liability decided otherwise). The total counts this clinic's claims only.",
         "Add KX where the record documents that the services above the threshold are medically necessary; "
         "otherwise bill with GA (an ABN on file) or GZ.",
         "BBA 2018 §50202; CMS Therapy Services page (KX thresholds: data/reference/therapy_thresholds.csv)",
         "the line's allowed amount", False, ("modifiers",), "v1.1"),
    Rule("KX_REVIEW_THRESHOLD", ("info",), "claim_line", "therapy_lines", 0.00,
         "With this line the beneficiary's therapy of one bucket this calendar year passed the targeted medical "
         "review amount ($3,000; once per beneficiary, bucket and year; this clinic's claims only): its claims "
         "may be picked for targeted medical review.",
         "Make sure the record documents medical necessity for the care beyond the threshold.",
         "BBA 2018 §50202 (targeted medical review above $3,000)", "—", False, ("modifiers",), "v1.1"),
    Rule("PROGRESS_REPORT_OVERDUE", ("medium",), "note", "treatment_days", 0.40,
         "Medicare-rules payer: the 11th treatment day of one discipline's plan of care since its last progress "
         "report (the evaluation is day 1) has no progress report; read from the notes' `progress_report` "
         "(skipped, with a line in summary.json, when the export has no such column).",
         "Write the progress report (at least once every 10 treatment days) and mark its note as one.",
         "BPM ch. 15 §220.3.D (a progress report at least once every 10 treatment days)", "—", False,
         ("progress_report", "provider_credential", "plan_of_care_signed_date"), "v1.1"),
)
RULE_IDS = tuple(rule.rule_id for rule in RULES)
