"""The ledger file (`ledger.csv` in the output root), file fingerprints and the `latest` pointer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from nmr_audit.io.readers import file_sha256
from nmr_audit.ledger import LEDGER_COLUMNS, empty_ledger

LEDGER = "ledger.csv"
LATEST = "latest.json"


def fingerprints(files: dict[str, list[Path]]) -> pd.DataFrame:
    """(table, file, sha256, bytes) for every discovered input file."""
    rows = [{"table": table, "file": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}
            for table, paths in files.items() for path in paths]
    return pd.DataFrame(rows, columns=["table", "file", "sha256", "bytes"]).astype(
        {"table": "str", "file": "str", "sha256": "str", "bytes": "int64"})


def read_ledger(root: Path) -> pd.DataFrame:
    path = root / LEDGER
    if not path.exists():
        return empty_ledger()
    return pd.read_csv(path, dtype=str, keep_default_na=False).astype(LEDGER_COLUMNS)


def write_ledger(root: Path, ledger: pd.DataFrame, mode: int = 0o600) -> Path:
    """Written aside and renamed (the nightly run's commit point: a run counts once the ledger
    names it), so a crash never leaves half a ledger. The file gets `mode`."""
    root.mkdir(parents=True, exist_ok=True)
    staged = root / f".{LEDGER}.tmp"
    ledger.to_csv(staged, index=False, lineterminator="\n")
    os.chmod(staged, mode)
    os.replace(staged, root / LEDGER)
    return root / LEDGER


def point_latest(root: Path, run_dir: Path, details: dict[str, Any], mode: int = 0o600) -> None:
    """`latest.json` (and, where the system allows, a `latest` symlink) → the run's folder."""
    staged = root / f".{LATEST}.tmp"
    staged.write_text(json.dumps({"path": str(run_dir.resolve()), **details}, indent=2) + "\n", encoding="utf-8")
    os.chmod(staged, mode)
    os.replace(staged, root / LATEST)
    link = root / ".latest.tmp"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_dir.relative_to(root), target_is_directory=True)
        os.replace(link, root / "latest")
    except OSError:
        pass  # no symlinks here (e.g. Windows without rights): latest.json is the pointer


def read_latest(root: Path) -> dict[str, Any] | None:
    path = root / LATEST
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
