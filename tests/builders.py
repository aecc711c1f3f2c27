"""Small canonical frames for rule tests: describe a visit in a line, get the three tables.

A visit is written as billed units per code and documented minutes per code, e.g.
`visit(billed={"97112": 2, "97110": 1}, minutes={"97112": 24, "97110": 23})`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

NPI = "1234567893"


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
    rendering_npi: str = NPI


def visit(**kwargs: object) -> Visit:
    return Visit(**kwargs)  # type: ignore[arg-type]


def tables(*visits: Visit) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(claim_lines, visit_notes, note_services) in the canonical shape `conform` produces."""
    lines, notes, services = [], [], []
    for number, v in enumerate(visits):
        key = {"patient_id": v.patient_id, "date_of_service": pd.Timestamp(v.date_of_service),
               "rendering_npi": v.rendering_npi, "clinic_id": "CL1"}
        for i, (code, units) in enumerate(v.billed.items()):
            lines.append({"claim_id": f"C{number}-{i % v.claims}", "line_number": i + 1, **key,
                          "payer_type": v.payer_type, "cpt_code": code, "units": units})
        if not v.note:
            continue
        note_id = f"N{number}"
        itemized = v.minutes is not None and len(v.minutes) > 0
        notes.append({"note_id": note_id, **key, "total_timed_minutes": v.total_timed_minutes,
                      "itemizes_minutes": itemized})
        services += [{"note_id": note_id, "cpt_code": c, "minutes": m} for c, m in (v.minutes or {}).items()]
    return (_frame(lines, {"claim_id": "str", "line_number": "Int64", "patient_id": "str",
                           "date_of_service": "datetime64[s]", "rendering_npi": "str", "clinic_id": "str",
                           "payer_type": "str", "cpt_code": "str", "units": "Int64"}),
            _frame(notes, {"note_id": "str", "patient_id": "str", "date_of_service": "datetime64[s]",
                           "rendering_npi": "str", "clinic_id": "str", "total_timed_minutes": "Int64",
                           "itemizes_minutes": "bool"}),
            _frame(services, {"note_id": "str", "cpt_code": "str", "minutes": "Int64"}))


def _frame(rows: list[dict], dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)
