"""X12 837P professional claims (005010X222A1, and its errata 005010X222A2) in the readers'
registry: claim lines only.

Recognised by content, whatever the file's name (`.837`, `.x12`, `.edi`, `.txt` or none): an
interchange starts with `ISA` (after a byte-order mark or blank space). Every interchange that
does not declare 835 remittances comes here, so that a 4010 file, an 837I or a 270 is refused
with the reason (`nmr_audit.x12.claims_837.read_837`) rather than read as delimited text. The
loops are mapped to the contract's columns by `nmr_audit.x12.claims_837` (docs/x12.md); the
profile's `x12:` section (ReadOptions.x12) chooses the patient id and the clinic's NPI. Payer
types are left for validation to resolve with the run's payer table and claim filing
indicators (`ReferenceData.payer_types_for`), so an audit profile's `payers:` apply to 837P too.
"""

from __future__ import annotations

from pathlib import Path

from nmr_audit.contract import CLAIM_LINES
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import Opened, Reader, ReadOptions

FORMAT = "x12-837p"
EXTENSIONS = (".837", ".x12", ".edi")


def x12_transaction(head: bytes) -> str | None:
    """The transaction set id (`ST01`) of an interchange's first bytes; '' when the file starts
    with an ISA but names no transaction within them; None when it is no X12 interchange."""
    from nmr_audit.x12.envelope import sniff_text

    found = sniff_text(head.decode("utf-8", errors="replace"))
    if found is None:
        return None
    return found.transaction or ""


def recognises(head: bytes) -> bool:
    transaction = x12_transaction(head)
    return transaction is not None and transaction != "835"


def open_837(path: Path, options: ReadOptions) -> Opened:
    from nmr_audit.x12.claims_837 import ClaimOptions, read_837

    try:
        claim_options = ClaimOptions.from_settings(options.x12)
    except ValueError as problem:
        raise InputError(path, f"mapping profile: {problem}", "fix the claim_lines.x12 section") from None
    return Opened([read_837(path, claim_options, resolve_payer_types=False)])


def estimate_rows(path: Path, head: bytes) -> int:
    """Service lines: the file's size times the share of `SV1` segments in its first bytes."""
    size = path.stat().st_size
    return size * max(head.count(b"SV1"), 1) // max(len(head), 1)


READER = Reader(
    name=FORMAT,
    description="X12 837P claims (.837, .x12, .edi, any name: recognised by its ISA)",
    extensions=EXTENSIONS,
    recognises=recognises,
    open=open_837,
    estimate_rows=estimate_rows,
    tables=(CLAIM_LINES,),
)
