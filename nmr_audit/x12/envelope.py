"""An X12 interchange read segment by segment, in bounded memory, with its envelope checked.

An interchange is `ISA … GS … ST … SE … GE … IEA`. The ISA segment is fixed-width (106
characters): its 4th character is the element separator, ISA11 the repetition separator (5010),
ISA16 the component separator and the character after it the segment terminator (ASC X12
standard; 005010X222A1 / X221A1 appendix B). Line breaks after a terminator are tolerated.

What this module decides:

- an interchange that cannot be read at all (no `ISA` at the start, a short ISA, no `IEA`
  closing it: a truncated file) raises `InputError` — one line, naming the file and the reason;
- count and control-number mismatches of the trailers (`SE01`/`SE02`, `GE01`/`GE02`,
  `IEA01`/`IEA02`) are `EnvelopeIssue`s: reported, while the segments are still read.

Segments are numbered from 1 (the ISA) in file order: that number is the `source_row` of
whatever a segment yields, so a person can find it (`tr '~' '\\n' < file | sed -n Np`).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nmr_audit.errors import InputError

ISA_LENGTH = 106
BLOCK_CHARS = 1 << 20  # characters read at a time: memory held is a block plus one batch of rows
_BOM = "\ufeff"
_HINT = "check that the file is a complete X12 interchange (ISA … IEA) as the clearinghouse sent it"


@dataclass(frozen=True)
class Delimiters:
    """The separators an interchange declares in its ISA segment."""

    element: str
    component: str
    segment: str
    repetition: str | None


@dataclass(frozen=True)
class EnvelopeIssue:
    """An envelope problem that does not stop the reading: `segment` is the segment number."""

    segment: int
    code: str  # se_count, se_control, ge_count, ge_control, iea_count, iea_control, outside_transaction, …
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"segment": self.segment, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class X12Head:
    """What the first segments of a file say: enough to pick a reader by content."""

    delimiters: Delimiters
    transaction: str | None  # ST01: 837, 835 …
    version: str | None  # GS08: 005010X222A1 …


def sniff(path: Path) -> X12Head | None:
    """The interchange's delimiters, first transaction set id and version, or None when the
    file does not start with an ISA segment (after a byte-order mark or blank space), whatever
    its name. Reads at most 64 KiB."""
    try:
        with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    return sniff_text(head)


def sniff_text(head: str) -> X12Head | None:
    """`sniff` of a file's first characters (the readers' registry hands over its first 64 KiB)."""
    text = head.lstrip(_BOM).lstrip()
    if not text.startswith("ISA") or len(text) < ISA_LENGTH:
        return None
    delimiters = _delimiters(text[:ISA_LENGTH])
    transaction = version = None
    for raw in text.split(delimiters.segment)[1:40]:
        elements = raw.strip("\r\n ").split(delimiters.element)
        if elements[0] == "GS" and len(elements) > 8 and version is None:
            version = elements[8]
        elif elements[0] == "ST" and len(elements) > 1:
            transaction = elements[1]
            if len(elements) > 3 and not version:
                version = elements[3]
            break
    return X12Head(delimiters, transaction, version)


def _delimiters(isa: str) -> Delimiters:
    element = isa[3]
    fields = isa.split(element)
    repetition = fields[11] if len(fields) > 12 and fields[12] >= "00501" else None
    return Delimiters(element=element, component=isa[104], segment=isa[105], repetition=repetition)


@dataclass
class _Envelope:
    """Open ISA/GS/ST and their counts, checked as the trailers arrive."""

    isa: tuple[int, str] | None = None  # segment number, ISA13
    gs: tuple[int, str] | None = None
    st: tuple[int, str] | None = None
    groups: int = 0  # GS in the open ISA
    transactions: int = 0  # ST in the open GS
    st_segments: int = 0  # segments from the open ST, itself included
    interchanges: int = 0
    issues: list[EnvelopeIssue] = field(default_factory=list)

    def note(self, segment: int, code: str, message: str) -> None:
        self.issues.append(EnvelopeIssue(segment, code, message))


class Interchange:
    """One X12 file, opened and checked at its two ends; `segments()` streams it.

    Raises `InputError` on opening when the file does not start with a well-formed ISA or does
    not end with an IEA segment, and from `segments()` when the envelope turns out to be cut
    short inside (a transaction or group never closed before the end).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        head = sniff(path)
        if head is None:
            raise InputError(path, "not an X12 interchange: it does not start with an ISA segment of 106 characters",
                             _HINT)
        self.delimiters = head.delimiters
        self.transaction = head.transaction
        self.version = head.version
        self.issues: list[EnvelopeIssue] = []
        if head.delimiters.element.isalnum() or head.delimiters.segment.isalnum():
            raise InputError(path, "the ISA segment declares letters or digits as separators", _HINT)
        if not self._ends_with_iea():
            raise InputError(path, "the interchange is truncated: its last segment is not the IEA trailer", _HINT)

    def _ends_with_iea(self) -> bool:
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            handle.seek(max(0, size - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
        terminator = self.delimiters.segment
        tail = tail.rstrip("".join(c for c in "\r\n \x00\x1a" if c != terminator))
        if not tail.endswith(terminator):
            return False
        last = tail[:-1].rsplit(terminator, 1)[-1].strip("\r\n ")
        return last.startswith("IEA" + self.delimiters.element)

    def blocks(self) -> Iterator[list[str]]:
        """The segments' texts (without terminators and line breaks), a block of the file at a
        time: lists, so that the per-segment work stays in the callers' loops."""
        terminator = self.delimiters.segment
        breaks = [c for c in "\r\n" if c != terminator]  # X12 text holds no line break of its own
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        with self.path.open("rb") as handle:
            first = True
            while True:
                block = handle.read(BLOCK_CHARS)
                text = decoder.decode(block, final=not block)
                for character in breaks:
                    text = text.replace(character, "")
                if first:
                    text = text.lstrip(_BOM).lstrip()
                    first = False
                parts = (pending + text).split(terminator)
                pending = parts.pop()
                yield [part for part in parts if part and not part.isspace()]
                if not block:
                    break
        if pending.strip("\r\n \x00\x1a"):
            raise InputError(self.path, "the interchange is truncated: it ends inside a segment", _HINT)

    def raw_segments(self) -> Iterator[str]:
        """Each segment's text, in order."""
        for block in self.blocks():
            yield from block

    def tagged(self) -> Iterator[tuple[int, str, str]]:
        """(segment number, segment id, text) of every segment inside a transaction set (the
        envelope's own segments included), the envelope checked on the way.

        Envelope issues accumulate in `self.issues` as they are found (complete once the
        iteration ends). Raises `InputError` when a transaction or group is left open at the end.
        """
        element = self.delimiters.element
        state = _Envelope(issues=self.issues)
        number = 0
        for block in self.blocks():
            for raw in block:
                number += 1
                cut = raw.find(element)
                tag = raw[:cut] if cut >= 0 else raw
                if state.st is not None:
                    state.st_segments += 1
                if tag in _CONTROL:
                    _CONTROL[tag](state, number, raw.split(element))
                elif state.st is None:
                    state.note(number, "outside_transaction", f"segment {number} ({tag}) stands outside any ST … SE "
                               "transaction set; it was ignored")
                    continue
                yield number, tag, raw
        for opened, what in ((state.st, "ST (transaction set) without its SE"),
                             (state.gs, "GS (functional group) without its GE"),
                             (state.isa, "ISA without its IEA")):
            if opened is not None:
                raise InputError(self.path, f"the interchange is truncated: the {what} trailer (opened at "
                                 f"segment {opened[0]})", _HINT)
        if state.interchanges == 0:
            raise InputError(self.path, "no complete interchange in the file", _HINT)

    def segments(self) -> Iterator[tuple[int, list[str]]]:
        """(segment number, elements) of every segment; element 0 is the segment id (see `tagged`)."""
        element = self.delimiters.element
        for number, _, raw in self.tagged():
            yield number, raw.split(element)


def _isa(state: _Envelope, number: int, elements: list[str]) -> None:
    if state.isa is not None:
        state.note(number, "isa_unclosed", f"ISA at segment {number} opens before the IEA of the one at "
                   f"segment {state.isa[0]}")
    state.isa = (number, _at(elements, 13))
    state.groups = 0


def _gs(state: _Envelope, number: int, elements: list[str]) -> None:
    if state.gs is not None:
        state.note(number, "gs_unclosed", f"GS at segment {number} opens before the GE of the one at segment {state.gs[0]}")
    state.gs = (number, _at(elements, 6))
    state.groups += 1
    state.transactions = 0


def _st(state: _Envelope, number: int, elements: list[str]) -> None:
    if state.st is not None:
        state.note(number, "st_unclosed", f"ST at segment {number} opens before the SE of the one at segment {state.st[0]}")
    state.st = (number, _at(elements, 2))
    state.transactions += 1
    state.st_segments = 1


def _trailer(state: _Envelope, number: int, elements: list[str], opened: tuple[int, str] | None,
             counted: int, names: tuple[str, str, str, str, str], what: str) -> bool:
    """Check a trailer (SE, GE, IEA) against what it closes: `opened` (segment number, control
    number of its ST, GS or ISA), `counted` what it should count. `names`: the trailer, its
    opener, its count and control elements, and the opener's control element. False when
    nothing is open."""
    trailer, opener, count_element, control_element, opener_element = names
    kind = trailer.lower()
    if opened is None:
        state.note(number, f"{kind}_unmatched", f"{trailer} at segment {number} closes no open {opener}")
        return False
    declared, control = _at(elements, 1), _at(elements, 2)
    if declared != str(counted):
        state.note(number, f"{kind}_count", f"{count_element} says {declared or 'nothing'} {what} "
                   f"{opened[1]}; it has {counted}" + (" (ST … SE)" if trailer == "SE" else ""))
    if control != opened[1]:
        state.note(number, f"{kind}_control", f"{control_element} {control!r} does not match {opener_element} {opened[1]!r}")
    return True


def _se(state: _Envelope, number: int, elements: list[str]) -> None:
    if _trailer(state, number, elements, state.st, state.st_segments, ("SE", "ST", "SE01", "SE02", "ST02"),
                "segments in transaction set"):
        state.st = None


def _ge(state: _Envelope, number: int, elements: list[str]) -> None:
    if _trailer(state, number, elements, state.gs, state.transactions, ("GE", "GS", "GE01", "GE02", "GS06"),
                "transaction sets in group"):
        state.gs = None


def _iea(state: _Envelope, number: int, elements: list[str]) -> None:
    if _trailer(state, number, elements, state.isa, state.groups, ("IEA", "ISA", "IEA01", "IEA02", "ISA13"),
                "functional groups in interchange"):
        state.isa = None
        state.interchanges += 1


_CONTROL = {"ISA": _isa, "GS": _gs, "ST": _st, "SE": _se, "GE": _ge, "IEA": _iea}


def _at(elements: list[str], index: int) -> str:
    """Element `index` of a segment, stripped ('' when the segment is shorter)."""
    return elements[index].strip() if len(elements) > index else ""


def component(value: str, index: int, separator: str) -> str:
    """Component `index` (0-based) of a composite element ('' when absent)."""
    parts = value.split(separator)
    return parts[index].strip() if len(parts) > index else ""


def x12_date(value: str) -> str:
    """CCYYMMDD as YYYY-MM-DD (the contract's spelling); other text is returned as given, for
    validation to refuse with its reason."""
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value
