"""Small canonical frames for rule tests: describe a visit in a line, get the three tables.

A visit is written as billed units per code and documented minutes per code, e.g.
`visit(billed={"97112": 2, "97110": 1}, minutes={"97112": 24, "97110": 23})`; everything
else defaults to a fully documented, correctly billed PT visit that no rule flags. More notes of
the same visit (a PTA's, under its own NPI with `supervising_npi`) go in `notes=[{...}]`;
unreadable optional values, as intake records them, in `unreadable=[(column, value, expected)]`
(the note) and `line_unreadable={code: [...]}` (its line). Both tables carry `unreadable_fields`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from nmr_audit.parse import parse_modifiers
from nmr_audit.unreadable import UNREADABLE, UNREADABLE_TYPE

NPI = "1234567893"
PTA_NPI = "1245319599"  # a second valid NPI (check digit per the 80840 Luhn rule)
OTHER_PT_NPI = "1346798527"
DOCUMENTED = {
    "provider_credential": "PT",
    "diagnosis_codes": "R26.81;I69.351",
    "functional_deficit": "impaired standing balance after stroke, two falls this month",
    "treatment_goals": "Berg Balance Scale from 38 to 46 in 4 weeks",
    "techniques": "PNF patterns; perturbation training on foam",
    "patient_response": "fewer losses of balance; Berg 41 today",
    "one_on_one": True,
    "signed": True,
}


@dataclass
class Visit:
    patient_id: str = "P1"
    date_of_service: str = "2026-03-04"
    payer_type: str = "medicare"
    billed: dict[str, int] = field(default_factory=dict)
    minutes: dict[str, int] | None = field(default_factory=dict)  # None: the note does not itemize
    total_timed_minutes: int | None = None
    note: bool = True
    claims: int = 1  # bill the lines over this many claims
    payer_id: str | None = None
    rendering_npi: str = NPI
    modifiers: dict[str, str] = field(default_factory=dict)  # code -> modifiers (default GP)
    extra_lines: list[tuple[str, int, str]] = field(default_factory=list)  # (code, units, modifiers)
    note_fields: dict[str, object] = field(default_factory=dict)  # overrides of DOCUMENTED etc.
    plan_of_care_days_before: int | None = 10  # None: no certified plan of care
    # more notes of the same day: each a dict of note fields plus "minutes" (code -> minutes)
    notes: list[dict[str, object]] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # the note's (column, value, expected)
    line_unreadable: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # code -> cells


def visit(**kwargs: object) -> Visit:
    return Visit(**kwargs)  # type: ignore[arg-type]


def tables(*visits: Visit) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(claim_lines, visit_notes, note_services) in the canonical shape `conform` produces."""
    lines, notes, services = [], [], []
    for number, v in enumerate(visits):
        key = {"patient_id": v.patient_id, "date_of_service": pd.Timestamp(v.date_of_service),
               "rendering_npi": v.rendering_npi, "clinic_id": "CL1"}
        billed = [(c, u, v.modifiers.get(c, "GP")) for c, u in v.billed.items()] + v.extra_lines
        for i, (code, units, modifiers) in enumerate(billed):
            lines.append({"claim_id": f"C{number}-{i % v.claims}", "line_number": i + 1, **key,
                          "payer_type": v.payer_type, "payer_id": v.payer_id, "cpt_code": code,
                          "modifiers": modifiers, "units": units, "charge_amount": 60.0 * units,
                          UNREADABLE: _cells(v.line_unreadable.get(code, []))})
        if not v.note:
            continue
        note_id = f"N{number}"
        itemized = v.minutes is not None and len(v.minutes) > 0
        notes.append({"note_id": note_id, **key, **_documentation(v), "itemizes_minutes": itemized,
                      UNREADABLE: _cells(v.unreadable)})
        services += [{"note_id": note_id, "cpt_code": c, "minutes": m} for c, m in (v.minutes or {}).items()]
        for extra, more in enumerate(v.notes):
            fields = {k: w for k, w in more.items() if k not in ("minutes", "unreadable")}
            minutes = more.get("minutes") or {}
            one = Visit(**{**v.__dict__, "minutes": minutes, "note_fields": {**v.note_fields, **fields}})
            notes.append({"note_id": f"N{number}{chr(98 + extra)}", **key, **_documentation(one),
                          "itemizes_minutes": bool(minutes), UNREADABLE: _cells(more.get("unreadable", []))})
            services += [{"note_id": f"N{number}{chr(98 + extra)}", "cpt_code": c, "minutes": m}
                         for c, m in minutes.items()]
    claim_lines = _frame(lines, CLAIM_TYPES)
    claim_lines = claim_lines.assign(modifiers=parse_modifiers(claim_lines["modifiers"])[0])
    return (claim_lines, _frame(notes, NOTE_TYPES),
            _frame(services, {"note_id": "str", "cpt_code": "str", "minutes": "Int64"}))


def _cells(cells: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"column": c, "value": value, "expected": expected} for c, value, expected in cells]


def _documentation(v: Visit) -> dict[str, object]:
    """A complete note: total treatment time covers the minutes, the session covers the time."""
    timed = sum((v.minutes or {}).values()) if v.minutes else (v.total_timed_minutes or 0)
    total = v.note_fields.get("total_treatment_minutes", timed)
    end = 9 * 60 + (total or 0) + 5
    poc = (None if v.plan_of_care_days_before is None
           else pd.Timestamp(v.date_of_service) - pd.Timedelta(days=v.plan_of_care_days_before))
    return {**DOCUMENTED, "time_in": "09:00", "time_out": f"{end // 60:02d}:{end % 60:02d}",
            "total_treatment_minutes": total, "total_timed_minutes": v.total_timed_minutes,
            "plan_of_care_signed_date": poc, **v.note_fields}


CLAIM_TYPES = {"claim_id": "str", "line_number": "Int64", "patient_id": "str",
               "date_of_service": "datetime64[s]", "rendering_npi": "str", "clinic_id": "str",
               "payer_type": "str", "payer_id": "str", "cpt_code": "str", "modifiers": "str", "units": "Int64",
               "charge_amount": "Float64", UNREADABLE: UNREADABLE_TYPE}
NOTE_TYPES = {"note_id": "str", "patient_id": "str", "date_of_service": "datetime64[s]",
              "rendering_npi": "str", "clinic_id": "str", "provider_credential": "str",
              "diagnosis_codes": "str", "plan_of_care_signed_date": "datetime64[s]", "time_in": "str",
              "time_out": "str", "total_treatment_minutes": "Int64", "total_timed_minutes": "Int64",
              "functional_deficit": "str", "treatment_goals": "str", "techniques": "str",
              "patient_response": "str", "one_on_one": "boolean", "signed": "boolean",
              "supervising_npi": "str", "progress_report": "boolean", "itemizes_minutes": "bool",
              UNREADABLE: UNREADABLE_TYPE}


def _frame(rows: list[dict], dtypes: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(dtypes))
    if UNREADABLE in dtypes:  # a list column: through Arrow, empty lists where a row names none
        frame[UNREADABLE] = pd.Series(pd.arrays.ArrowExtensionArray(pa.array(
            [c if isinstance(c, list) else [] for c in frame[UNREADABLE]], type=UNREADABLE_TYPE.pyarrow_dtype)))
    return frame.astype({c: t for c, t in dtypes.items() if c != UNREADABLE})
