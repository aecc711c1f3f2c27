"""Load the versioned reference tables (`data/reference/`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nmr_audit.errors import InputError
from nmr_audit.reference import ReferenceData

REQUIRED = {
    "cpt_codes": ("cpt_code", "timed", "source"),
    "payer_rule_basis": ("payer_type", "rule_basis", "source"),
    "therapy_disciplines": ("provider_credential", "discipline", "therapy_modifier", "source"),
}


def default_reference_dir() -> Path:
    """`data/reference` of this source tree (the project is installed editable from it)."""
    return Path(__file__).resolve().parents[2] / "data" / "reference"


def load_reference(folder: Path | None = None) -> ReferenceData:
    folder = folder or default_reference_dir()
    frames = {name: _read(folder / f"{name}.csv", columns) for name, columns in REQUIRED.items()}
    frames["cpt_codes"] = frames["cpt_codes"].assign(
        timed=frames["cpt_codes"]["timed"].str.lower().eq("true"))
    return ReferenceData(**frames)


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "reference table not found", "pass --reference DIR with the tables")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(path, f"reference table lacks column(s) {', '.join(missing)}")
    return frame
