"""Readers of clinic exports, in one registry.

Each format is one module that builds a `Reader` (`base.Reader`):

    name           the format as summary.json names it ("csv", "excel", "parquet", "jsonl")
    description    how messages name it, with its extensions
    extensions     suffixes it takes when no reader recognises the content
    recognises     (head: bytes) -> bool: the file's first 64 KiB are this format's
    open           (path, ReadOptions) -> Opened(tables: list[RawTable], skipped: list[Skipped])
    estimate_rows  (path, head) -> int: about how many rows, without reading them

and `registry.READERS` lists them. A file goes to the first reader that recognises its content,
else to the reader of its extension (`registry.recognise`); a file none takes is skipped in a
folder and listed, and an error when named. `open_export` opens a file: its `RawTable`s (one per
visible sheet of a workbook) hand out text frames in batches, each row tagged with its source
(`path`, or `path#sheet`) and line. docs/formats.md describes formats, recognition and limits.
"""

from nmr_audit.io.readers.base import (
    BAD_VALUE,
    BAD_VALUE_REASON,
    MAX_FIELD_BYTES,
    MAX_HEADER_BYTES,
    Opened,
    RawTable,
    Reader,
    ReadOptions,
    Skipped,
    Tally,
    file_sha256,
)
from nmr_audit.io.readers.canonical import canonical_frame, read_canonical
from nmr_audit.io.readers.registry import (
    READERS,
    Export,
    Recognition,
    check_head,
    estimate_rows,
    open_export,
    read_export,
    recognise,
    supported,
    unsupported,
)

__all__ = [
    "BAD_VALUE",
    "BAD_VALUE_REASON",
    "MAX_FIELD_BYTES",
    "MAX_HEADER_BYTES",
    "READERS",
    "Export",
    "Opened",
    "RawTable",
    "ReadOptions",
    "Reader",
    "Recognition",
    "Skipped",
    "Tally",
    "canonical_frame",
    "check_head",
    "estimate_rows",
    "file_sha256",
    "open_export",
    "read_canonical",
    "read_export",
    "recognise",
    "supported",
    "unsupported",
]
