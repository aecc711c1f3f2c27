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

import pandas as pd

from nmr_audit.resources import shipped

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
    """The reference tables shipped with nmr-audit (`data/reference/` of the repository): inside
    the installed package (`importlib.resources`), or the checkout's in an editable install
    (`nmr_audit.resources.shipped`)."""
    return shipped("reference")


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


def write_edition(name: str, table: pd.DataFrame, provenance: dict, home: Path | None = None,
                  accumulate: bool = False) -> Path:
    """Write one imported edition of table `name` (its `quarter` in `provenance`) under
    `editions/<name>/<quarter>/`, then rebuild the active table from the editions: the latest
    quarter's alone (a PTP file carries every edit's own effective and deletion dates), or, with
    `accumulate`, every edition's rows one after the other (MUE, RVU, GPCI: each row effective
    from its quarter, so earlier dates of service keep the values then in force). Files are
    written aside and renamed, so a failed import leaves no half table. Returns the folder."""
    home = home or reference_home()
    folder = home / "editions" / name / str(provenance["quarter"])
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(table, folder / f"{name}.csv")
    _write_text(json.dumps(provenance, indent=2, default=str), folder / f"{name}.provenance.json")
    kept = sorted((home / "editions" / name).glob(f"*/{name}.provenance.json"), key=lambda p: p.parent.name)
    chosen = kept if accumulate else kept[-1:]
    metas = [json.loads(p.read_text(encoding="utf-8")) for p in chosen]
    frames = [pd.read_csv(p.with_name(f"{name}.csv"), dtype=str, keep_default_na=False) for p in chosen]
    _write_csv(pd.concat(frames, ignore_index=True), home / f"{name}.csv")
    active = {**metas[-1], "editions": [{k: m[k] for k in ("quarter", "imported_at", "files", "rows")} for m in metas]}
    _write_text(json.dumps(active, indent=2, default=str), home / f"{name}.provenance.json")
    return folder


def editions(home: Path | None = None) -> pd.DataFrame:
    """Every imported edition: table, quarter, import date, files, whether it is active."""
    home = home or reference_home()
    rows = []
    for meta in sorted((home / "editions").glob("*/*/*.provenance.json")):
        provenance = json.loads(meta.read_text(encoding="utf-8"))
        active = read_provenance(home / f"{provenance['table']}.csv") or {}
        in_force = {(e["quarter"], e["imported_at"]) for e in active.get("editions", [])}
        rows.append({"table": provenance["table"], "quarter": provenance["quarter"],
                     "imported_at": provenance.get("imported_at", ""), "rows": provenance.get("rows", 0),
                     "files": ", ".join(f["file"] for f in provenance.get("files", [])),
                     "active": (provenance["quarter"], provenance.get("imported_at")) in in_force})
    return pd.DataFrame(rows, columns=["table", "quarter", "imported_at", "rows", "files", "active"])


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    aside = path.with_name(f".{path.name}.partial")
    table.to_csv(aside, index=False)
    os.replace(aside, path)


def _write_text(text: str, path: Path) -> None:
    aside = path.with_name(f".{path.name}.partial")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, path)
