"""837P professional claims (005010X222A1, and its errata 005010X222A2) as claim lines.

One claim line per service line (loop 2400, `LX`/`SV1`), in the contract's column names, as
text (validation types them), with `source_row` = the segment number of the line's `SV1`. The
mapping, element by element (docs/x12.md holds it with the reasons):

- claim_id `CLM01`; line_number `LX01`; date_of_service the line's `DTP*472` (D8, or RD8 of
  one day); cpt_code and modifiers `SV101-2`, `SV101-3…6` (`SV101-1` must be `HC`); charge_amount
  `SV102`; units `SV104` (the unit basis `SV103` must be `UN`); line_control_number `REF*6R`;
- patient_id: the subscriber's member id (2010BA `NM109`) by default, or the medical record
  number (2300 `REF*EA`) or `CLM01` as the profile's `x12.patient_id` says; the 2010CA patient
  loop carries no id in 5010, and the 2330A other subscriber never replaces it;
- rendering_npi: 2420A `NM1*82`, else 2310B `NM1*82`, else the billing provider (2010AA `NM1*85`);
- clinic_id: the billing provider's NPI, or the 2310C service facility's (`x12.clinic_id`); the
  profile's `values.clinic_id` then renames NPIs to clinic ids;
- payer_id 2010BB `NM1*PR` `NM109`; payer_type from the payer table by payer_id when given, else
  `SBR09` through `claim_filing_indicators.csv`;
- diagnosis_codes: the 2300 `HI` codes (ABK/ABF ICD-10, BK/BF ICD-9, as given) that the
  `SV107` pointers name.

Claim frequency (`CLM05-3`): a replacement (7) supersedes every earlier claim with the same
`CLM01` in the file, a void (8) removes them and bills nothing itself; the lines so removed are
reported as invalid rows with that reason (never dropped silently). A line the reader cannot
take (no `SV1`, a unit basis other than `UN`, no `DTP*472`, a line outside a claim, a filing
indicator with no payer type) is an invalid row with its segment number and reason; the rest of
the file is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nmr_audit.contract import CLAIM_COLUMNS, SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import RawTable, Tally, file_sha256
from nmr_audit.io.reference_home import table_path
from nmr_audit.reference import resolve_payer_types
from nmr_audit.x12.envelope import EnvelopeIssue, Interchange, component, x12_date

FORMAT = "x12-837p"
VERSIONS = ("005010X222A1", "005010X222A2", "005010X222")
LINE_CONTROL_NUMBER = "line_control_number"
EXTRA_COLUMNS = ("claim_frequency", "claim_filing_indicator", "billing_npi", "diagnosis_pointers")
_V1 = CLAIM_COLUMNS[: CLAIM_COLUMNS.index("diagnosis_codes") + 1]  # an 837P names no provider or clinic names
COLUMNS = (*_V1, LINE_CONTROL_NUMBER, *EXTRA_COLUMNS)
ROW = ("claim_id", "line_number", "patient_id", "date_of_service", "rendering_npi", "clinic_id", "cpt_code", "modifiers",
       "units", "payer_id", "charge_amount", "diagnosis_codes", LINE_CONTROL_NUMBER, *EXTRA_COLUMNS, SOURCE_ROW)
PATIENT_ID_SOURCES = ("member_id", "medical_record_number", "claim_id")
CLINIC_ID_SOURCES = ("billing_npi", "service_facility_npi")
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF"})
_TEXT = pd.StringDtype(na_value=np.nan)


@dataclass(frozen=True)
class ClaimOptions:
    """What the mapping profile's `claim_lines.x12` section chooses for 837P files."""

    patient_id: str = "member_id"  # member_id | medical_record_number | claim_id
    clinic_id: str = "billing_npi"  # billing_npi | service_facility_npi

    @classmethod
    def from_settings(cls, settings: Mapping[str, str] | None) -> ClaimOptions:
        """Options from a profile's `x12:` mapping; ValueError names a setting it does not know."""
        settings = dict(settings or {})
        allowed = {"patient_id": PATIENT_ID_SOURCES, "clinic_id": CLINIC_ID_SOURCES}
        for key, value in settings.items():
            if key not in allowed:
                raise ValueError(f"unknown x12 setting {key!r} (known: {', '.join(allowed)})")
            if value not in allowed[key]:
                raise ValueError(f"x12.{key} is {value!r}; use one of {', '.join(allowed[key])}")
        return cls(**settings)


@dataclass(frozen=True)
class X12Table(RawTable):
    """A RawTable (text batches, invalid rows) that also carries the interchange's envelope
    issues (complete once `batches` has been read to the end), for summary.json, and, for 837P,
    the replacement (CLM05-3 = 7) and void (8) claims of the file: (CLM01, frequency, segment)."""

    issues: list[EnvelopeIssue] = field(default_factory=list)
    replacing: list[tuple[str, str, int]] = field(default_factory=list)

    def replacements(self) -> pd.DataFrame:
        """claim_id, claim_frequency (7 replacement, 8 void), segment of each such claim of the
        file, in file order (complete once the batches have been read)."""
        return pd.DataFrame(self.replacing, columns=["claim_id", "claim_frequency", "segment"]).astype(
            {"claim_id": "str", "claim_frequency": "str", "segment": "int64"})


def load_filing_indicators(reference: Path | None = None) -> pd.DataFrame:
    """`claim_filing_indicators.csv` (code, payer_type, rule_basis, source, verified) through
    the reference layers (`--reference`, the reference home, the packaged table)."""
    path = table_path("claim_filing_indicators", reference)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except OSError as exc:
        raise InputError(path, f"reference table cannot be read: {exc}") from exc
    missing = {"code", "payer_type", "source"} - set(table.columns)
    if missing:
        raise InputError(path, f"reference table lacks column(s) {', '.join(sorted(missing))}")
    return table


def read_837(path: Path, options: ClaimOptions | None = None, filing_indicators: pd.DataFrame | None = None,
             payers: pd.DataFrame | None = None, resolve_payer_types: bool = True) -> X12Table:
    """Open an 837P interchange; its claim lines come through `batches()` as text frames.

    Frames: the `COLUMNS` (text, missing = NaN) and `source_row` (int64, the SV1's segment
    number). `filing_indicators`: `claim_filing_indicators.csv` (default: through the reference
    layers); `payers`: a frame with `payer_id`, `payer_type` whose rows take precedence.
    With `resolve_payer_types` false, `payer_type` is left missing for validation to resolve from
    `payer_id` and `claim_filing_indicator` with the run's own tables (`ReferenceData.payer_types_for`:
    the readers' registry reads 837P so). `replacements()` (complete once the batches are read)
    lists the file's replacement and void claims, for a run to apply across its files.
    Raises `InputError` (one line) when the file is no readable interchange, holds no 837
    transaction, or declares an implementation guide other than 005010X222(A1/A2).
    """
    interchange = Interchange(path)
    if interchange.transaction != "837":
        raise InputError(path, f"holds X12 {interchange.transaction or 'nothing'} transactions, not 837 claims",
                         "pass 835 remittances with --remits")
    if interchange.version not in VERSIONS:
        raise InputError(path, f"declares implementation guide {interchange.version!r}; nmr-audit reads 837P "
                         "005010X222A1 and its errata 005010X222A2", "ask the clearinghouse for a 5010 professional file")
    options = options or ClaimOptions()
    indicators = None
    if resolve_payer_types:
        indicators = filing_indicators if filing_indicators is not None else load_filing_indicators()
    tally = Tally()
    replacements: list[tuple[str, str, int]] = []

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        tally.rows, tally.invalid = 0, []
        interchange.issues.clear()
        replaced = _prescan(interchange)
        replacements[:] = sorted(((claim, frequency, segment) for claim, claims in replaced.items()
                                  for frequency, segment in claims if frequency in ("7", "8")), key=lambda r: r[2])
        reader = _ClaimReader(interchange, options, replaced)
        for lines, bad in reader.lines(rows):
            frame, unresolved = _with_payer_types(lines, indicators, payers, resolve_payer_types)
            tally.rows += len(frame)
            tally.invalid += bad + unresolved
            yield frame
        tally.invalid.sort(key=lambda row: row[0])

    return X12Table(path, FORMAT, file_sha256(path), batches, tally, issues=interchange.issues,
                    replacing=replacements)


def _prescan(interchange: Interchange) -> dict[str, list[tuple[str, int]]]:
    """For every CLM01 that a replacement (7) or void (8) names: (frequency, segment number) of
    each of its claims, in file order. A regular-expression scan first (at the speed of C) says
    whether the file holds any replacement or void at all; only then are its segments walked."""
    if not _has_replacements(interchange):
        return {}
    tag = "CLM" + interchange.delimiters.element
    element, separator = interchange.delimiters.element, interchange.delimiters.component
    seen: dict[str, list[tuple[str, int]]] = {}
    for number, raw in enumerate(interchange.raw_segments(), start=1):
        if raw.startswith(tag):
            elements = raw.split(element)
            claim = elements[1].strip() if len(elements) > 1 else ""
            frequency = component(elements[5], 2, separator) if len(elements) > 5 else ""
            seen.setdefault(claim, []).append((frequency, number))
    return {claim: claims for claim, claims in seen.items() if any(f in ("7", "8") for f, _ in claims)}


def _has_replacements(interchange: Interchange) -> bool:
    """Whether any CLM segment's CLM05-3 is 7 or 8 (blocks read with an overlap, so a segment
    across two blocks is seen)."""
    e, t, c = (re.escape(x) for x in (interchange.delimiters.element, interchange.delimiters.segment,
                                       interchange.delimiters.component))
    free = f"[^{e}{t}]*"
    pattern = re.compile(f"CLM{e}{free}{e}{free}{e}{free}{e}{free}{e}[^{e}{t}{c}]*{c}[^{e}{t}{c}]*{c}\\s*[78]")
    carry = ""
    with interchange.path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        while block := handle.read(8 << 20):
            if pattern.search(carry + block):
                return True
            carry = block[-1024:]
    return False


def _removal(claims: list[tuple[str, int]], occurrence: int) -> str | None:
    """Why the `occurrence`-th claim with this CLM01 bills nothing, or None when it stands."""
    frequency, _ = claims[occurrence]
    later = [(f, n) for f, n in claims[occurrence + 1:] if f in ("7", "8")]
    if later:
        f, n = later[-1] if later[-1][0] == "8" else later[0]
        word = "voided" if f == "8" else "replaced"
        return f"{word} by the claim with the same CLM01 at segment {n} (CLM05-3 = {f})"
    if frequency == "8":
        return "a void (CLM05-3 = 8): it withdraws the earlier claim and bills nothing itself"
    return None


@dataclass
class _Claim:
    claim_id: str
    segment: int
    frequency: str
    removed: str | None
    medical_record_number: str = ""
    rendering_npi: str = ""  # 2310B
    facility_npi: str = ""  # 2310C
    diagnoses: list[str] = field(default_factory=list)
    other_subscriber: bool = False  # inside 2320/2330 (after an SBR of the claim)


@dataclass
class _Line:
    segment: int  # the LX
    number: str
    claim: _Claim | None
    texts: list[str] = field(default_factory=list)
    service: list[str] | None = None
    service_segment: int = 0
    date: tuple[str, str] | None = None
    control: str = ""
    rendering_npi: str = ""  # 2420A
    problems: list[str] = field(default_factory=list)


class _ClaimReader:
    """The loops of an 837P walked segment by segment; claim lines gathered column-wise."""

    def __init__(self, interchange: Interchange, options: ClaimOptions, replaced: dict[str, list[tuple[str, int]]]
                 ) -> None:
        self.interchange = interchange
        self.options = options
        self.replaced = replaced
        self.occurrences: dict[str, int] = {}
        self.element = interchange.delimiters.element
        self.separator = interchange.delimiters.component
        self.rows: list[tuple] = []  # one tuple per claim line, in ROW order
        self.bad: list[tuple[int, str, str]] = []
        self._reset_transaction()

    def _reset_transaction(self) -> None:
        self.billing_npi = ""
        self.member_id = self.payer_id = self.filing = ""
        self.level = ""
        self.claim: _Claim | None = None
        self.line: _Line | None = None

    def lines(self, rows: int) -> Iterator[tuple[list[tuple], list[tuple[int, str, str]]]]:
        """Batches of (claim-line tuples in `ROW` order, invalid rows)."""
        handlers = {"ST": self._st, "SE": self._se, "HL": self._hl, "NM1": self._nm1, "SBR": self._sbr,
                    "CLM": self._clm, "REF": self._ref, "HI": self._hi, "LX": self._lx, "SV1": self._sv1,
                    "DTP": self._dtp}
        element = self.element
        for number, tag, raw in self.interchange.tagged():
            handler = handlers.get(tag)
            if handler is not None:
                handler(number, raw.split(element))
                if len(self.rows) >= rows:
                    yield self._take()
            if self.line is not None:  # the segments of the open service line, for its record
                self.line.texts.append(raw)
        self._end_line()
        yield self._take()  # the last rows (an empty batch for a file without lines)

    def _take(self) -> tuple[list[tuple], list[tuple[int, str, str]]]:
        taken, bad = self.rows, self.bad
        self.rows, self.bad = [], []
        return taken, bad

    # --- loops -------------------------------------------------------------------------------
    def _st(self, number: int, elements: list[str]) -> None:
        self._reset_transaction()

    def _se(self, number: int, elements: list[str]) -> None:
        self._end_line()
        self._reset_transaction()

    def _hl(self, number: int, elements: list[str]) -> None:
        self._end_line()
        self.claim = None
        self.level = _at(elements, 3)
        if self.level == "20":  # 2000A billing provider
            self.billing_npi = ""
        elif self.level == "22":  # 2000B subscriber: a new member, payer and filing indicator
            self.member_id = self.payer_id = self.filing = ""

    def _nm1(self, number: int, elements: list[str]) -> None:
        entity = elements[1] if len(elements) > 1 else ""
        value = elements[9].strip() if len(elements) > 9 else ""
        if entity == "82":
            if self.line is not None:
                self.line.rendering_npi = value
            elif self.claim is not None and not self.claim.other_subscriber:
                self.claim.rendering_npi = value
        elif self.claim is not None:
            if entity == "77" and self.line is None and not self.claim.other_subscriber:
                self.claim.facility_npi = value
        elif entity == "85" and self.level == "20":
            self.billing_npi = value
        elif entity == "IL" and self.level == "22":
            self.member_id = value
        elif entity == "PR" and self.level == "22":
            self.payer_id = value

    def _sbr(self, number: int, elements: list[str]) -> None:
        if self.claim is not None:  # 2320: other subscriber information, never the claim's own
            self.claim.other_subscriber = True
        elif self.level == "22":
            self.filing = _at(elements, 9)

    def _clm(self, number: int, elements: list[str]) -> None:
        self._end_line()
        claim_id = _at(elements, 1)
        frequency = component(elements[5], 2, self.separator) if len(elements) > 5 else ""
        removed = None
        if claim_id in self.replaced:
            occurrence = self.occurrences.get(claim_id, 0)
            self.occurrences[claim_id] = occurrence + 1
            removed = _removal(self.replaced[claim_id], occurrence)
        self.claim = _Claim(claim_id, number, frequency, removed)

    def _ref(self, number: int, elements: list[str]) -> None:
        qualifier = elements[1] if len(elements) > 1 else ""
        if self.line is not None:
            if qualifier == "6R":
                self.line.control = elements[2].strip() if len(elements) > 2 else ""
        elif self.claim is not None and qualifier == "EA" and not self.claim.other_subscriber:
            self.claim.medical_record_number = elements[2].strip() if len(elements) > 2 else ""

    def _hi(self, number: int, elements: list[str]) -> None:
        if self.claim is None or self.line is not None:
            return
        for value in elements[1:]:
            parts = value.split(self.separator)
            if len(parts) > 1 and parts[0].strip() in DIAGNOSIS_QUALIFIERS:
                self.claim.diagnoses.append(parts[1].strip())

    def _lx(self, number: int, elements: list[str]) -> None:
        self._end_line()
        self.line = _Line(number, elements[1].strip() if len(elements) > 1 else "", self.claim)
        if self.claim is None:
            self.line.problems.append(f"the service line (LX at segment {number}) stands outside any claim (no CLM "
                                      "before it in its subscriber or patient loop)")

    def _sv1(self, number: int, elements: list[str]) -> None:
        if self.line is None:
            self.bad.append((number, f"SV1 at segment {number} has no LX service line number before it",
                             _record([self.element.join(elements)])))
            return
        if self.line.service is not None:
            self.line.problems.append(f"a second SV1 at segment {number} in one service line")
            return
        self.line.service, self.line.service_segment = elements, number

    def _dtp(self, number: int, elements: list[str]) -> None:
        if self.line is not None and len(elements) > 3 and elements[1] == "472":
            self.line.date = (elements[2].strip(), elements[3].strip())

    # --- one service line --------------------------------------------------------------------
    def _end_line(self) -> None:
        line, self.line = self.line, None
        if line is None:
            return
        claim = line.claim
        service = line.service or []
        row = line.service_segment or line.segment
        problems = line.problems
        procedure = (service[1] if len(service) > 1 else "").split(self.separator)
        basis = service[3].strip() if len(service) > 3 else ""
        date = self._date(line, problems)
        if line.service is None:
            problems.append(f"the service line (LX at segment {line.segment}) has no SV1 professional service")
        elif procedure[0].strip() != "HC":
            problems.append(f"SV101-1 is {procedure[0].strip()!r}, not HC: the procedure is not a CPT/HCPCS code")
        if service and basis != "UN":
            problems.append(f"unit basis SV103 is {basis!r}, not UN: only units can be audited"
                            + (" (MJ = minutes; bill 15-minute units)" if basis == "MJ" else ""))
        if claim is not None and claim.removed:
            problems.insert(0, f"claim {claim.claim_id!r} (CLM at segment {claim.segment}) {claim.removed}")
        if problems:
            self.bad.append((row, f"{'SV1' if line.service else 'LX'} at segment {row}: " + "; ".join(problems),
                             _record(line.texts)))
            return
        assert claim is not None
        pointers = service[7].split(self.separator) if len(service) > 7 else []
        diagnoses = claim.diagnoses
        codes = []
        for pointer in pointers:
            pointer = pointer.strip()
            if pointer.isdigit() and 1 <= int(pointer) <= len(diagnoses):
                codes.append(diagnoses[int(pointer) - 1])
            elif pointer:
                self.interchange.issues.append(EnvelopeIssue(
                    row, "diagnosis_pointer", f"SV107 pointer {pointer!r} at segment {row} names no diagnosis of claim "
                    f"{claim.claim_id!r} (its HI has {len(diagnoses)}); the line keeps the others"))
        option = self.options.patient_id
        patient = (self.member_id if option == "member_id" else claim.medical_record_number
                   if option == "medical_record_number" else claim.claim_id)
        clinic = self.billing_npi  # 2310C is sent only where the service location is not the billing provider's
        if self.options.clinic_id == "service_facility_npi" and claim.facility_npi:
            clinic = claim.facility_npi
        self.rows.append((
            claim.claim_id, line.number, patient, date, line.rendering_npi or claim.rendering_npi or self.billing_npi,
            clinic, procedure[1].strip() if len(procedure) > 1 else "",
            ",".join(m.strip() for m in procedure[2:6] if m.strip()), service[4].strip() if len(service) > 4 else "",
            self.payer_id, service[2].strip() if len(service) > 2 else "", ";".join(codes), line.control,
            claim.frequency, self.filing, self.billing_npi, ":".join(p.strip() for p in pointers if p.strip()), row))

    def _date(self, line: _Line, problems: list[str]) -> str:
        if line.date is None:
            problems.append("no date of service (DTP*472) on the service line")
            return ""
        kind, value = line.date
        if kind == "RD8":
            start, _, end = value.partition("-")
            if start != end:
                problems.append(f"DTP*472 is a range {value!r}: one line must be one date of service to be "
                                "matched to one visit")
            return x12_date(start)
        return x12_date(value)


def _at(elements: list[str], index: int) -> str:
    return elements[index].strip() if len(elements) > index else ""


def _record(texts: list[str]) -> str:
    return json.dumps({"segments": texts}, ensure_ascii=False)



def _with_payer_types(rows: list[tuple], indicators: pd.DataFrame | None, payers: pd.DataFrame | None,
                      resolve: bool = True) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """The batch as a text frame (built column by column through Arrow, '' as missing) with
    payer types resolved (payer table first, then SBR09: `reference.resolve_payer_types`), and
    the lines whose payer type neither gives, as invalid rows. Without `resolve`, payer types
    stay missing (validation resolves them with the run's tables)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW)
    data = {}
    for name, values in zip(ROW[:-1], columns[:-1], strict=True):
        text = pa.array(values, type=pa.string())
        data[name] = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    table = pa.table(data)
    frame = table.to_pandas(types_mapper={pa.string(): _TEXT}.get)
    frame[SOURCE_ROW] = np.asarray(columns[-1], dtype="int64")
    if not resolve:
        frame.insert(_V1.index("payer_type"), "payer_type", pd.Series(np.nan, index=frame.index, dtype=_TEXT))
        return frame[[*COLUMNS, SOURCE_ROW]], []
    payer_type = resolve_payer_types(frame["payer_id"], frame["claim_filing_indicator"], payers, indicators)
    frame.insert(_V1.index("payer_type"), "payer_type", payer_type.astype(_TEXT))
    frame = frame[[*COLUMNS, SOURCE_ROW]]
    unresolved = frame["payer_type"].isna().to_numpy()
    if not unresolved.any():
        return frame, []
    lost = frame[unresolved]
    records = lost.drop(columns=[SOURCE_ROW]).to_json(orient="records", lines=True).splitlines()
    bad = [(int(row), f"SV1 at segment {row}: {unresolved_payer(filing, payer)}", record)
           for row, filing, payer, record in zip(lost[SOURCE_ROW], lost["claim_filing_indicator"], lost["payer_id"], records,
                                                 strict=True)]
    return frame[~unresolved].reset_index(drop=True), bad


def unresolved_payer(filing: object, payer: object) -> str:
    """Why a line has no payer type: its filing indicator and payer are in neither table."""
    return (f"claim filing indicator SBR09 {filing if isinstance(filing, str) else ''!r} of payer "
            f"{payer if isinstance(payer, str) else ''!r} has no payer type (add the code to "
            "claim_filing_indicators.csv or the payer to payers.csv)")
