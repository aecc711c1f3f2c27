"""X12 835 remittances (005010X221A1) in the readers' registry: for `--remits` only.

Recognised by content (an interchange whose first transaction set is an 835), whatever the
file's name. Its rows are one per adjustment (`nmr_audit.x12.remits_835.read_835`, typed:
amounts as numbers, dates as dates); a run reads them whole, matches them to its claim lines
(`nmr_audit.x12.match`) and never audits them as claim lines or notes.
"""

from __future__ import annotations

from pathlib import Path

from nmr_audit.contract import REMITS
from nmr_audit.io.readers.base import Opened, Reader, ReadOptions
from nmr_audit.io.readers.x12_837 import x12_transaction

FORMAT = "x12-835"


def recognises(head: bytes) -> bool:
    return x12_transaction(head) == "835"


def open_835(path: Path, options: ReadOptions) -> Opened:
    from nmr_audit.x12.remits_835 import read_835

    return Opened([read_835(path)])


def estimate_rows(path: Path, head: bytes) -> int:
    """Adjustment rows: the file's size times the share of `CAS` and `SVC` segments in its first bytes."""
    size = path.stat().st_size
    return size * max(head.count(b"CAS") + head.count(b"SVC"), 1) // max(len(head), 1)


READER = Reader(
    name=FORMAT,
    description="X12 835 remittances (.835, any name: recognised by its ISA)",
    extensions=(".835",),
    recognises=recognises,
    open=open_835,
    estimate_rows=estimate_rows,
    tables=(REMITS,),
)
