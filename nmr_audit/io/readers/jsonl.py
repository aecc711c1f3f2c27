"""JSON Lines: one JSON object per line. Recognised when the first character (after a BOM and
blanks) opens an object, or by extension `.jsonl`, `.ndjson`.

Scalars become the text a CSV would hold (`true`/`false`, `23` for 23.0); lists (a note's
`services`) are kept as lists. A line that is not a JSON object is an invalid row for the
quarantine; a file none of whose lines is an object is refused (a JSON document, not JSON Lines).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import (
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Tally,
    bytes_per_line_estimate,
    slices,
)

_BOM = b"\xef\xbb\xbf"


def recognises(head: bytes) -> bool:
    text = head[len(_BOM):] if head.startswith(_BOM) else head
    return text.lstrip().startswith(b"{")


def open_jsonl(path: Path, options: ReadOptions) -> Opened:
    frame, bad = read_jsonl(path)
    if frame.empty and bad:
        raise InputError(path, "no line is a JSON object (is it one JSON document rather than JSON Lines?)",
                         "write one JSON object per line")
    return Opened([RawTable(path, "jsonl", "", slices(frame), Tally(len(frame), bad))])


def read_jsonl(path: Path) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    records: list[dict] = []
    lines: list[int] = []
    bad: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.append((number, f"not valid JSON: {exc.msg} at column {exc.colno}", line[:500]))
                continue
            if not isinstance(value, dict):
                bad.append((number, "a JSON Lines row must be an object {…}", line[:500]))
                continue
            records.append({str(k).strip(): _cell(v) for k, v in value.items()})
            lines.append(number)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    text_columns = [c for c in frame.columns if c != "services"]
    frame = frame.astype(dict.fromkeys(text_columns, "str")).assign(
        **{SOURCE_ROW: np.array(lines, dtype="int64")})
    return frame, [(line, reason, json.dumps({"line": text})) for line, reason, text in bad]


def _cell(value: object) -> object:
    """JSON scalars as the text a CSV would hold; lists (services) kept as they are."""
    if value is None or isinstance(value, list | dict):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


READER = Reader(
    name="jsonl",
    description="JSON Lines (.jsonl, .ndjson)",
    extensions=(".jsonl", ".ndjson"),
    recognises=recognises,
    open=open_jsonl,
    estimate_rows=bytes_per_line_estimate,
)
