"""835 remittances (005010X221A1) as remit rows: one row per adjustment.

Each service line paid (loop 2110, `SVC`) gives one row per `CAS` adjustment triplet (group,
CARC, amount, quantity), or one row with an empty group when it was paid without adjustment.
Claim-level `CAS` (loop 2100) give rows of `level` = claim without a procedure, and a claim
adjudicated without any service line one claim row; provider-level adjustments (`PLB`, where
recoupments often appear) give rows of `level` = provider, their reason in `plb_reason` and its
reference (often the recouped claim's payer control number) in `plb_reference`.

| column | element |
|---|---|
| claim_id | `CLP01` (the patient control number = the 837's `CLM01`) |
| payer_claim_number | `CLP07` |
| claim_status | `CLP02` (1/2/3 processed, 4 denied, 22 reversal of an earlier payment …) |
| claim_charge, claim_paid, patient_responsibility | `CLP03`, `CLP04`, `CLP05` |
| cpt_code, modifiers | `SVC01-2`, `SVC01-3…6` (the code adjudicated) |
| submitted_cpt_code, submitted_modifiers | `SVC06` when the payer adjudicated another code, else `SVC01` |
| charge_amount, paid_amount | `SVC02`, `SVC03` |
| units_paid | `SVC05`, 1 when empty (the guide's default) |
| units_billed | `SVC07` when given, else the units paid (the guide sends `SVC07` only when they differ) |
| date_of_service | `DTM*472` of the line, else `DTM*150`, else the claim's `DTM*232` |
| line_control_number | `REF*6R` of the line |
| group_code, carc, adjustment_amount, adjustment_quantity | each `CAS` triplet |
| rarcs | the line's `LQ*HE` remark codes (claim rows: `MOA03…07`), `;`-joined |
| payer_id, payee_npi, check_number, payment_date | `N1*PR` (`REF*2U`, else `TRN03`), `N1*PE` `N104`, `TRN02`, `BPR16` |

`source_row` is the segment number of the row's `SVC`, `CLP` or `PLB`; `adjustment_segment` that
of its `CAS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nmr_audit.contract import SOURCE_ROW
from nmr_audit.errors import InputError
from nmr_audit.io.readers.base import Tally, file_sha256
from nmr_audit.x12.claims_837 import X12Table
from nmr_audit.x12.envelope import Interchange, component, x12_date

FORMAT = "x12-835"
VERSIONS = ("005010X221A1", "005010X221")
GROUP_CODES = frozenset({"CO", "PR", "OA", "PI", "CR"})
LEVELS = ("line", "claim", "provider")
REVERSAL = "22"
TEXT_COLUMNS = (
    "level", "claim_id", "payer_claim_number", "claim_status", "claim_filing_indicator", "claim_frequency",
    "line_control_number", "cpt_code", "modifiers", "submitted_cpt_code", "submitted_modifiers",
    "group_code", "carc", "rarcs", "plb_reason", "plb_reference", "payer_id", "payee_npi", "check_number",
)
AMOUNT_COLUMNS = ("claim_charge", "claim_paid", "patient_responsibility", "charge_amount", "paid_amount",
                  "allowed_amount", "units_paid", "units_billed", "adjustment_amount", "adjustment_quantity")
DATE_COLUMNS = ("date_of_service", "payment_date")
ELEMENTS = {"claim_charge": "CLP03", "claim_paid": "CLP04", "patient_responsibility": "CLP05", "charge_amount": "SVC02",
            "paid_amount": "SVC03", "allowed_amount": "AMT*B6", "units_paid": "SVC05", "units_billed": "SVC07",
            "adjustment_amount": "CAS or PLB amount", "adjustment_quantity": "CAS quantity",
            "date_of_service": "DTM*472/150/232", "payment_date": "BPR16 or PLB02"}
REMIT_COLUMNS = (*TEXT_COLUMNS, *AMOUNT_COLUMNS, *DATE_COLUMNS, SOURCE_ROW, "adjustment_segment")
_TEXT = pd.StringDtype(na_value=np.nan)


@dataclass
class _Claim:
    segment: int
    fields: dict[str, str]
    dates: dict[str, str] = field(default_factory=dict)
    adjustments: list[tuple[int, list[str]]] = field(default_factory=list)  # (CAS segment, elements)
    remarks: list[str] = field(default_factory=list)
    lines: int = 0


@dataclass
class _Service:
    segment: int
    elements: list[str]
    claim: _Claim
    dates: dict[str, str] = field(default_factory=dict)
    adjustments: list[tuple[int, list[str]]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    control: str = ""
    allowed: str = ""


def read_835(path: Path) -> X12Table:
    """Open an 835 interchange; its remit rows come through `batches()` as typed frames.

    Frames: `REMIT_COLUMNS` — text (missing = NaN), amounts and units as float64 (dollars,
    units), dates as datetime64[s], `source_row` and `adjustment_segment` int64. A row whose
    amount or date cannot be read is an invalid row (segment number, reason, segments).
    Raises `InputError` when the file is no readable interchange or holds no 835.
    """
    interchange = Interchange(path)
    if interchange.transaction != "835":
        raise InputError(path, f"holds X12 {interchange.transaction or 'nothing'} transactions, not 835 remittances",
                         "pass 837P claims with --claims")
    if interchange.version not in VERSIONS:
        raise InputError(path, f"declares implementation guide {interchange.version!r}; nmr-audit reads 835 "
                         "005010X221A1", "ask the payer for a 5010 remittance")
    tally = Tally()

    def batches(rows: int) -> Iterator[pd.DataFrame]:
        tally.rows, tally.invalid = 0, []
        interchange.issues.clear()
        reader = _RemitReader(interchange)
        for columns, bad in reader.rows(rows):
            frame, unreadable = _typed(columns)
            tally.rows += len(frame)
            tally.invalid += bad + unreadable
            yield frame
        tally.invalid.sort(key=lambda row: row[0])

    return X12Table(path, FORMAT, file_sha256(path), batches, tally, issues=interchange.issues)


class _RemitReader:
    """The loops of an 835 walked segment by segment; rows gathered column-wise."""

    def __init__(self, interchange: Interchange) -> None:
        self.interchange = interchange
        self.element = interchange.delimiters.element
        self.separator = interchange.delimiters.component
        self.columns: dict[str, list] = {c: [] for c in REMIT_COLUMNS}
        self.bad: list[tuple[int, str, str]] = []
        self._reset()

    def _reset(self) -> None:
        self.payment: dict[str, str] = {"payer_id": "", "payee_npi": "", "check_number": "", "payment_date": ""}
        self.party = ""  # the N1 loop being read: PR (payer) or PE (payee)
        self.claim: _Claim | None = None
        self.service: _Service | None = None

    def rows(self, rows: int) -> Iterator[tuple[dict[str, list], list[tuple[int, str, str]]]]:
        handlers = {"ST": self._st, "SE": self._se, "BPR": self._bpr, "TRN": self._trn, "N1": self._n1,
                    "REF": self._ref, "CLP": self._clp, "SVC": self._svc, "CAS": self._cas, "DTM": self._dtm,
                    "LQ": self._lq, "MOA": self._moa, "AMT": self._amt, "PLB": self._plb, "LX": self._lx}
        element = self.element
        for number, tag, raw in self.interchange.tagged():
            handler = handlers.get(tag)
            if handler is not None:
                handler(number, raw.split(element))
                if len(self.columns[SOURCE_ROW]) >= rows:
                    yield self._take()
        self._end_claim()
        yield self._take()

    def _take(self) -> tuple[dict[str, list], list[tuple[int, str, str]]]:
        taken, bad = self.columns, self.bad
        self.columns, self.bad = {c: [] for c in taken}, []
        return taken, bad

    # --- header -----------------------------------------------------------------------------
    def _st(self, number: int, elements: list[str]) -> None:
        self._reset()

    def _se(self, number: int, elements: list[str]) -> None:
        self._end_claim()
        self._reset()

    def _bpr(self, number: int, elements: list[str]) -> None:
        self.payment["payment_date"] = _at(elements, 16)

    def _trn(self, number: int, elements: list[str]) -> None:
        self.payment["check_number"] = _at(elements, 2)
        self.payment["payer_id"] = self.payment["payer_id"] or _at(elements, 3)

    def _n1(self, number: int, elements: list[str]) -> None:
        self.party = _at(elements, 1)
        if self.party == "PR" and _at(elements, 4):
            self.payment["payer_id"] = _at(elements, 4)
        elif self.party == "PE" and _at(elements, 3) == "XX":
            self.payment["payee_npi"] = _at(elements, 4)

    def _lx(self, number: int, elements: list[str]) -> None:
        self._end_claim()

    def _ref(self, number: int, elements: list[str]) -> None:
        qualifier = _at(elements, 1)
        if self.service is not None:
            if qualifier == "6R":
                self.service.control = _at(elements, 2)
        elif self.claim is None and self.party == "PR" and qualifier == "2U":
            self.payment["payer_id"] = _at(elements, 2)

    # --- claims and lines -------------------------------------------------------------------
    def _clp(self, number: int, elements: list[str]) -> None:
        self._end_claim()
        self.claim = _Claim(number, {
            "claim_id": _at(elements, 1), "claim_status": _at(elements, 2), "claim_charge": _at(elements, 3),
            "claim_paid": _at(elements, 4), "patient_responsibility": _at(elements, 5),
            "claim_filing_indicator": _at(elements, 6), "payer_claim_number": _at(elements, 7),
            "claim_frequency": _at(elements, 9)})

    def _svc(self, number: int, elements: list[str]) -> None:
        self._end_service()
        if self.claim is None:
            self.bad.append((number, f"SVC at segment {number} stands outside any claim (no CLP before it)",
                             json.dumps({"segments": [self.element.join(elements)]})))
            return
        self.service = _Service(number, elements, self.claim)
        self.claim.lines += 1

    def _cas(self, number: int, elements: list[str]) -> None:
        owner = self.service or self.claim
        if owner is not None:
            owner.adjustments.append((number, elements))

    def _dtm(self, number: int, elements: list[str]) -> None:
        owner = self.service or self.claim
        if owner is not None:
            owner.dates[_at(elements, 1)] = _at(elements, 2)

    def _lq(self, number: int, elements: list[str]) -> None:
        if self.service is not None and _at(elements, 1) == "HE":
            self.service.remarks.append(_at(elements, 2))

    def _moa(self, number: int, elements: list[str]) -> None:
        if self.claim is not None:
            self.claim.remarks += [_at(elements, i) for i in range(3, 8) if _at(elements, i)]

    def _amt(self, number: int, elements: list[str]) -> None:
        if self.service is not None and _at(elements, 1) == "B6":
            self.service.allowed = _at(elements, 2)

    def _plb(self, number: int, elements: list[str]) -> None:
        self._end_claim()
        base = {"level": "provider", "payee_npi": _at(elements, 1) or self.payment["payee_npi"],
                "payer_id": self.payment["payer_id"], "check_number": self.payment["check_number"],
                "payment_date": x12_date(_at(elements, 2)) or x12_date(self.payment["payment_date"])}
        for index in range(3, len(elements) - 1, 2):
            reason = _at(elements, index)
            if not reason:
                continue
            self._emit({**base, "plb_reason": component(reason, 0, self.separator),
                        "plb_reference": component(reason, 1, self.separator),
                        "adjustment_amount": _at(elements, index + 1)}, number, number)

    def _end_service(self) -> None:
        service, self.service = self.service, None
        if service is None:
            return
        elements, claim = service.elements, service.claim
        adjudicated, submitted = _at(elements, 1), _at(elements, 6)
        units_paid = _at(elements, 5) or "1"
        values = {
            **self._claim_values(claim), "level": "line",
            "cpt_code": component(adjudicated, 1, self.separator),
            "modifiers": self._modifiers(adjudicated),
            "submitted_cpt_code": component(submitted or adjudicated, 1, self.separator),
            "submitted_modifiers": self._modifiers(submitted or adjudicated),
            "charge_amount": _at(elements, 2), "paid_amount": _at(elements, 3), "allowed_amount": service.allowed,
            "units_paid": units_paid, "units_billed": _at(elements, 7) or units_paid,
            "line_control_number": service.control, "rarcs": ";".join(service.remarks),
            "date_of_service": x12_date(service.dates.get("472") or service.dates.get("150")
                                        or claim.dates.get("232", "")),
        }
        self._adjustments(values, service.adjustments, service.segment)

    def _end_claim(self) -> None:
        self._end_service()
        claim, self.claim = self.claim, None
        if claim is None or (claim.lines and not claim.adjustments):
            return
        values = {**self._claim_values(claim), "level": "claim", "rarcs": ";".join(claim.remarks),
                  "date_of_service": x12_date(claim.dates.get("232", ""))}
        self._adjustments(values, claim.adjustments, claim.segment)

    def _claim_values(self, claim: _Claim) -> dict[str, str]:
        return {**claim.fields, "payer_id": self.payment["payer_id"], "payee_npi": self.payment["payee_npi"],
                "check_number": self.payment["check_number"], "payment_date": x12_date(self.payment["payment_date"])}

    def _modifiers(self, procedure: str) -> str:
        return ",".join(m for m in (component(procedure, i, self.separator) for i in range(2, 6)) if m)

    def _adjustments(self, values: dict[str, str], adjustments: list[tuple[int, list[str]]], segment: int) -> None:
        """One row per CAS triplet; one row with an empty group when there is none."""
        emitted = False
        for cas_segment, elements in adjustments:
            group = _at(elements, 1)
            if group not in GROUP_CODES:
                self.bad.append((cas_segment, f"CAS at segment {cas_segment}: group code {group!r} is not one of "
                                 f"{', '.join(sorted(GROUP_CODES))}", json.dumps({"segments": [self.element.join(elements)]})))
                continue
            for index in range(2, len(elements), 3):
                reason = _at(elements, index)
                if not reason:
                    continue
                self._emit({**values, "group_code": group, "carc": reason,
                            "adjustment_amount": _at(elements, index + 1),
                            "adjustment_quantity": _at(elements, index + 2)}, segment, cas_segment)
                emitted = True
        if not emitted:
            self._emit(values, segment, segment)

    def _emit(self, values: dict[str, str], segment: int, adjustment_segment: int) -> None:
        for name in REMIT_COLUMNS[:-2]:
            self.columns[name].append(values.get(name, ""))
        self.columns[SOURCE_ROW].append(segment)
        self.columns["adjustment_segment"].append(adjustment_segment)


def _at(elements: list[str], index: int) -> str:
    return elements[index].strip() if len(elements) > index else ""


def _typed(columns: dict[str, list]) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """Text as text, amounts as float64, dates as datetime64[s]; a row with an amount or a date
    that cannot be read becomes an invalid row naming the column."""
    frame = pd.DataFrame({c: pd.Series(columns[c], dtype=_TEXT) for c in (*TEXT_COLUMNS, *AMOUNT_COLUMNS, *DATE_COLUMNS)})
    frame = frame.replace("", np.nan)
    frame[SOURCE_ROW] = np.asarray(columns[SOURCE_ROW], dtype="int64")
    frame["adjustment_segment"] = np.asarray(columns["adjustment_segment"], dtype="int64")
    failed = np.zeros(len(frame), dtype=bool)
    reasons = pd.Series("", index=frame.index, dtype="object")
    typed: dict[str, pd.Series] = {}
    for column in AMOUNT_COLUMNS:
        number = pd.to_numeric(frame[column], errors="coerce")
        bad = (number.isna() & frame[column].notna()).to_numpy()
        typed[column] = number.astype("float64")
        failed |= bad
        reasons[bad] += f"{column} ({ELEMENTS[column]}) is not a number; "
    for column in DATE_COLUMNS:
        date = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
        bad = (date.isna() & frame[column].notna()).to_numpy()
        typed[column] = date.astype("datetime64[s]")
        failed |= bad
        reasons[bad] += f"{column} ({ELEMENTS[column]}) is not a CCYYMMDD date; "
    frame = frame.assign(**typed)
    if not failed.any():
        return frame, []
    lost = frame[failed]
    records = lost.drop(columns=[SOURCE_ROW]).to_json(orient="records", date_format="iso", lines=True).splitlines()
    bad_rows = [(int(row), f"segment {row}: {reason.rstrip('; ')}", record)
                for row, reason, record in zip(lost[SOURCE_ROW], reasons[failed], records, strict=True)]
    return frame[~failed].reset_index(drop=True), bad_rows

