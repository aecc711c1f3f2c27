"""Load the versioned reference tables (`data/reference/`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nmr_audit.errors import InputError
from nmr_audit.io.reference_home import packaged_reference_dir, table_source
from nmr_audit.profile import payer_row_problems
from nmr_audit.reference import ReferenceData
from nmr_audit.rules import weight_problems

REQUIRED = {
    "cpt_codes": ("cpt_code", "timed", "source"),
    "payer_rule_basis": ("payer_type", "rule_basis", "medicare_rules", "source"),
    "therapy_disciplines": ("provider_credential", "discipline", "therapy_modifier", "assistant",
                            "assistant_modifier", "source"),
    "ncci_ptp": ("column_1", "column_2", "modifier_indicator", "effective_from", "effective_to",
                 "verified", "source"),
    "mue": ("cpt_code", "mue", "effective_from", "verified", "source"),
    "fee_schedule": ("payer_type", "cpt_code", "year", "amount", "verified", "source"),
    "payment_policy": ("policy", "value", "effective_from", "verified", "source"),
    "modifiers": ("modifier", "kind", "source"),
    "denial_weights": ("rule_id", "weight", "why", "verified", "source"),
    "payers": ("payer_id", "payer_type", "rule_basis", "medicare_rules", "verified", "source"),
    "therapy_thresholds": ("year", "payer_type", "bucket", "therapy_modifiers", "kx_threshold", "review_threshold",
                           "effective_from", "verified", "source"),
    "payer_edits": ("payer_id", "payer_type", "column_1", "column_2", "bypass_modifiers", "effective_from",
                    "effective_to", "verified", "source"),
    "carcs": ("code", "counts_as", "source"),
}
# Optional tables: read when the folder has them (names shown beside ids in the reports).
OPTIONAL = {
    "providers": ("rendering_npi", "provider_name", "verified", "source"),
    "clinics": ("clinic_id", "clinic_name", "verified", "source"),
    "claim_filing_indicators": ("code", "payer_type", "source"),  # 837P SBR09 → payer type
    # CMS's Physician Fee Schedule, where `nmr-audit reference import --pfs` wrote it (reference home)
    "pfs_fees": ("mac", "locality", "cpt_code", "nonfacility_amount", "effective_from"),
    "pfs_rvu": ("cpt_code", "modifier", "work_rvu", "pe_rvu_nonfacility", "mp_rvu", "conversion_factor",
                "effective_from"),
}
FLAGS = ("timed", "medicare_rules", "assistant", "verified")
NUMBERS = {"mue": "int64", "year": "int64", "amount": "float64", "value": "float64", "weight": "float64",
           "modifier_indicator": "int64", "nonfacility_amount": "float64", "facility_amount": "float64",
           "work_rvu": "float64", "pe_rvu_nonfacility": "float64", "pe_rvu_facility": "float64", "mp_rvu": "float64",
           "conversion_factor": "float64", "kx_threshold": "float64", "review_threshold": "float64"}
DATES = ("effective_from", "effective_to")


def default_reference_dir() -> Path:
    """The reference tables shipped with nmr-audit (`io.reference_home.packaged_reference_dir`)."""
    return packaged_reference_dir()


def load_reference(folder: Path | None = None) -> ReferenceData:
    """Each table from `folder` (`--reference`), else the reference home, else the packaged
    defaults (`nmr_audit.io.reference_home`), typed, and held to the rule registry; the optional
    tables (provider and clinic names) only where some layer has them.

    Raises InputError naming the file: a table or column missing, a bad number, a denial weight
    missing for a registered rule (it would otherwise weigh 0) or given for an unknown one, a
    payer row whose type or rule basis is unknown.
    """
    sources = {name: table_source(name, folder) for name in (*REQUIRED, *OPTIONAL)}
    paths = {name: source.path for name, source in sources.items()}
    frames = {name: _typed(_read(paths[name], columns), paths[name]) for name, columns in REQUIRED.items()}
    optional = {name: _typed(_read(paths[name], columns), paths[name])
                for name, columns in OPTIONAL.items() if paths[name].is_file()}
    optional["layers"] = {name: source.layer for name, source in sources.items()}
    optional["provenance"] = {name: source.provenance for name, source in sources.items() if source.provenance}
    problems = weight_problems(frames["denial_weights"])
    if problems:
        raise InputError(paths["denial_weights"], "; ".join(problems),
                         "every rule of the registry (nmr_audit/contract.py RULES) needs one weight")
    reference = ReferenceData(**frames, **optional)
    bad = payer_row_problems(reference.payers, reference)
    if bad:
        raise InputError(paths["payers"], "; ".join(bad))
    return reference


def _typed(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Flags, numbers and dates typed once here, so a bad cell stops the run naming its file."""
    typed = {}
    for column in frame.columns:
        if column in FLAGS:
            typed[column] = frame[column].str.strip().str.lower().eq("true")
        elif column in NUMBERS:
            typed[column] = pd.to_numeric(frame[column], errors="coerce")
            if typed[column].isna().any():
                row = int(typed[column].isna().to_numpy().argmax()) + 2
                raise InputError(path, f"line {row}: {column} is not a number")
            typed[column] = typed[column].astype(NUMBERS[column])
        elif column in DATES:
            typed[column] = pd.to_datetime(frame[column].replace("", None), format="%Y-%m-%d",
                                           errors="coerce").astype("datetime64[s]")
    return frame.assign(**typed)


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "reference table not found", "pass --reference DIR with the tables")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(path, f"reference table lacks column(s) {', '.join(missing)}")
    return frame
