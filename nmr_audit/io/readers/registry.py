"""The readers nmr-audit has, and how a file finds its reader: by content first, then extension.

`READERS` is the one list of formats. A new format (the X12 837P and 835 readers, for one) is a
module that builds a `Reader` (see `base.Reader`) and one line here, placed before the readers
whose recognition is looser (CSV, which takes any delimited text, stays last). Every message
about a file the readers do not take is worded here, from this list.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from nmr_audit.contract import CLAIM_LINES, REMITS, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.io.readers import delimited, excel, jsonl, parquet, x12_835, x12_837
from nmr_audit.io.readers.base import (
    HEAD_BYTES,
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Skipped,
    file_sha256,
    unreadable,
)

READERS: tuple[Reader, ...] = (
    parquet.READER,
    excel.READER,
    jsonl.READER,
    x12_837.READER,  # an interchange (ISA …) that is not an 835: before CSV, whose `*`-delimited guess it would be
    x12_835.READER,
    delimited.READER,  # last: any delimited text
)
_INPUTS = {CLAIM_LINES: "--claims", VISIT_NOTES: "--notes", REMITS: "--remits"}

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97–2003 (.xls) and other Office binaries
_DOCUMENTATION = ("readme", "read_me", "read-me", "license", "changelog")


@dataclass(frozen=True)
class Recognition:
    """The reader a file goes to, or None and why no reader takes it."""

    reader: Reader | None
    reason: str = ""


@dataclass(frozen=True)
class Export:
    """One input file opened: its format, hash, the tables it holds (one per sheet of a workbook)
    and the parts left out (hidden sheets …)."""

    path: Path
    format: str
    sha256: str
    tables: list[RawTable]
    skipped: list[Skipped] = field(default_factory=list)


def supported(table: str | None = None) -> str:
    """The formats read (of one input table, when given), for messages: `CSV (.csv, .tsv, …),
    Excel workbook (.xlsx, .xlsm), …`."""
    return ", ".join(r.description for r in READERS if table is None or table in r.tables)


def head_of(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def recognise(path: Path, head: bytes | None = None, table: str | None = None) -> Recognition:
    """The reader for a file: the first whose `recognises` claims its first bytes, else the one
    whose extensions hold its suffix. Files named as documentation (README, LICENSE …) and
    files no reader takes come back without a reader and with the reason. With `table`
    (`claim_lines`, `visit_notes`, `remits`), a file whose reader does not read that input (an
    835 given as claims, a CSV given as remittances) comes back without a reader, the reason
    saying which option takes it."""
    if path.stem.lower().startswith(_DOCUMENTATION):
        return Recognition(None, "documentation, not a table (README, LICENSE …)")
    try:
        head = head_of(path) if head is None else head
    except OSError as exc:
        return Recognition(None, f"cannot be opened: {exc.strerror or exc}")
    found = next((r for r in READERS if head and r.recognises(head)), None)
    suffix = path.suffix.lower()
    if found is None:
        found = next((r for r in READERS if suffix in r.extensions), None)
    if found is None:
        return Recognition(None, _why_not(head, suffix))
    if table is not None and table not in found.tables:
        return Recognition(None, _wrong_input(found, table))
    return Recognition(found)


def _wrong_input(reader: Reader, table: str) -> str:
    """Why a file of a known format is not read as `table`, and which option takes it."""
    options = " or ".join(_INPUTS[t] for t in reader.tables if t in _INPUTS)
    kind = reader.description.split(" (")[0]
    article = "an" if kind[:1] in "AEIOUX" else "a"
    wanted = {REMITS: "an X12 835 remittance", CLAIM_LINES: "claims", VISIT_NOTES: "notes"}.get(table, table)
    return f"{article} {kind} file, not {wanted} (pass it with {options})"


def _why_not(head: bytes, suffix: str) -> str:
    if head.startswith(_OLE):
        return "an Excel 97–2003 (.xls) or other Office binary file (save it as .xlsx)"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive that is not an Excel workbook (unzip it first)"
    if not head.strip():
        return "an empty file"
    if b"\x00" in head:
        return "a binary file of no format nmr-audit reads"
    return f"text that is not a delimited table{f' ({suffix})' if suffix else ''}"


def unsupported(path: Path | str, reason: str, table: str | None = None) -> InputError:
    """The one-line error for a named file that no reader takes (as `table`, when given)."""
    if table is not None and "(pass it with" in reason:
        return InputError(path, reason, f"{_INPUTS.get(table, table)} reads {supported(table)}")
    return InputError(path, f"unsupported file type: {reason}", f"nmr-audit reads {supported(table)}")


def open_export(path: Path, options: ReadOptions | None = None, table: str | None = None) -> Export:
    """Open one export file with its reader; its rows come through each table's `batches`.

    Raises InputError (one line naming the file) when no reader takes it (as `table`, when
    given) or it cannot be read.
    """
    options = options or ReadOptions()
    found = recognise(path, table=table)
    if found.reader is None:
        raise unsupported(path, found.reason, table)
    reader = found.reader
    try:
        opened: Opened = reader.open(path, options)
    except InputError:
        raise
    except (OSError, ValueError, pa.ArrowException, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise unreadable(path, reader.name, exc) from exc
    sha = file_sha256(path)
    tables = [dataclasses.replace(t, sha256=sha) for t in opened.tables]
    return Export(path, reader.name, sha, tables, list(opened.skipped))


def read_export(path: Path, delimiter: str | None = None, sheet: str | int | None = None) -> RawTable:
    """One table from an export file (a CSV, Parquet or JSON Lines file, or a workbook's one
    visible or named sheet). A workbook of several visible sheets needs `open_export`."""
    export = open_export(path, ReadOptions(delimiter=delimiter, sheet=sheet))
    if len(export.tables) != 1:
        raise InputError(path, f"holds {len(export.tables)} sheets to read", "read it with open_export")
    return export.tables[0]


def estimate_rows(paths: list[Path]) -> int:
    """About how many rows the files hold, without reading them (each reader's estimate).
    Sizes a run's patient buckets, nothing more."""
    total = 0
    for path in paths:
        head = head_of(path)
        found = recognise(path, head)
        if found.reader is not None:
            total += found.reader.estimate_rows(path, head)
    return total
