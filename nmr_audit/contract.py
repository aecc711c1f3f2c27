"""The data contract (v1): canonical tables and their columns.

Kept in one module so that readers, validation, the generator and the docs agree on one
spelling of every column. The contract may grow; these names never change.
"""

from __future__ import annotations

CLAIM_LINES = "claim_lines"
VISIT_NOTES = "visit_notes"
NOTE_SERVICES = "note_services"  # the notes' minutes, one row per note and code
TABLES = (CLAIM_LINES, VISIT_NOTES)

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
