"""Where each reference table comes from: `--reference`, then the reference home, then the
tables packaged with nmr-audit.

The reference home is a folder outside the installed package that `nmr-audit reference import`
writes CMS's tables into (`NMR_AUDIT_HOME`, else the platform's user data folder as
`platformdirs` names it: `~/.local/share/nmr-audit` on Linux, `~/Library/Application
Support/nmr-audit` on macOS, `%LOCALAPPDATA%\\nmr-audit` on Windows). Its layout:

    <home>/reference/<table>.csv                       the active edition of a table
    <home>/reference/<table>.provenance.json           file, SHA-256, quarter, import date of it
    <home>/reference/editions/<table>/<quarter>/…      every edition imported, kept for appeals

Layering is per table: a `--reference` folder needs to hold only the tables it changes; a table
it lacks comes from the home, and one the home lacks from the packaged defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

HOME_VARIABLE = "NMR_AUDIT_HOME"
APP_NAME = "nmr-audit"
LAYERS = ("reference", "home", "packaged")


def nmr_audit_home() -> Path:
    """`NMR_AUDIT_HOME` when set, else the platform's user data folder for nmr-audit."""
    given = os.environ.get(HOME_VARIABLE, "").strip()
    if given:
        return Path(given).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def reference_home() -> Path:
    """The folder of imported reference tables (it may not exist yet)."""
    return nmr_audit_home() / "reference"


def packaged_reference_dir() -> Path:
    """`data/reference` of this source tree: the defaults shipped with nmr-audit."""
    return Path(__file__).resolve().parents[2] / "data" / "reference"


@dataclass(frozen=True)
class TableSource:
    """Which file a reference table is read from, from which layer, and what is known of it."""

    name: str
    path: Path
    layer: str  # reference | home | packaged
    provenance: dict | None  # an imported edition's provenance.json, else None

    def as_dict(self) -> dict[str, object]:
        return {"table": self.name, "layer": self.layer, "path": str(self.path), "provenance": self.provenance}


def table_source(name: str, reference: Path | None = None) -> TableSource:
    """Where table `name` (`ncci_ptp`, `mue` …) is read from for a run given `--reference`
    (None when not given). The packaged path is returned even when missing, for the loader
    to say so."""
    candidates = [("reference", reference), ("home", reference_home()), ("packaged", packaged_reference_dir())]
    for layer, folder in candidates:
        if folder is None:
            continue
        path = folder / f"{name}.csv"
        if path.is_file() or layer == "packaged":
            return TableSource(name, path, layer, read_provenance(path))
    raise AssertionError("unreachable: the packaged layer always answers")


def table_path(name: str, reference: Path | None = None) -> Path:
    """The file table `name` is read from (see `table_source`)."""
    return table_source(name, reference).path


def read_provenance(table: Path) -> dict | None:
    """The provenance written beside an imported table (`<table>.provenance.json`), if any."""
    beside = table.with_name(f"{table.stem}.provenance.json")
    if not beside.is_file():
        return None
    try:
        return json.loads(beside.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": f"unreadable provenance file {beside}"}
