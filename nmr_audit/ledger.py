"""The nightly ledger: which export files (by content) earlier runs already audited.

A file is known by the SHA-256 of its bytes, not its name, so a re-sent or renamed export is
not audited twice and a corrected file under the same name is. Pure: frames in, frames out.
"""

from __future__ import annotations

import pandas as pd

LEDGER_COLUMNS = {"sha256": "str", "table": "str", "file": "str", "bytes": "int64", "run_id": "str",
                  "as_of": "str", "recorded_at": "str"}


def empty_ledger() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in LEDGER_COLUMNS.items()})


def select_new(files: pd.DataFrame, ledger: pd.DataFrame, full: bool = False) -> pd.DataFrame:
    """The files (table, file, sha256, bytes) no earlier run audited; all of them when `full`.

    The same content twice in one night (a copy under two names) is audited once.
    """
    fresh = files if full else files[~files["sha256"].isin(ledger["sha256"])]
    return fresh.drop_duplicates("sha256").reset_index(drop=True)


def record(ledger: pd.DataFrame, audited: pd.DataFrame, run_id: str, as_of: str, recorded_at: str
           ) -> pd.DataFrame:
    """The ledger with one entry per file this run audited, appended (a `--full` run that audits
    files again records them again under its own run id, so that the ledger names every run)."""
    entries = audited.assign(run_id=run_id, as_of=as_of, recorded_at=recorded_at)[list(LEDGER_COLUMNS)]
    combined = pd.concat([ledger, entries], ignore_index=True) if len(ledger) else entries.reset_index(drop=True)
    return combined.astype(LEDGER_COLUMNS)


def runs(ledger: pd.DataFrame) -> list[str]:
    """The run ids the ledger names, in the order they were recorded."""
    return list(dict.fromkeys(ledger["run_id"]))


def head(ledger: pd.DataFrame) -> str | None:
    """The last run the ledger names (the committed one: its state is current), None when empty."""
    return str(ledger["run_id"].iloc[-1]) if len(ledger) else None


def tables_seen(ledger: pd.DataFrame) -> set[str]:
    """The tables (claim_lines, visit_notes) of which some run audited a file."""
    return set(ledger["table"])
