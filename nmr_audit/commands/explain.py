"""`nmr-audit explain`: one visit's unit decision, with its notes, claim lines and findings.

Reads a finished run's folder (`visits.parquet`; the canonical `claim_lines.parquet`,
`visit_notes.parquet`, `note_services.parquet` and `findings.parquet` where present) and prints
what `visits.parquet`'s `explanation` and `allotment` say about one visit. Registered in
`nmr_audit.cli`; heavy imports wait until the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nmr_audit.errors import InputError

EPILOG = (
    "Example: nmr-audit explain --out out/sample --visit PAT00000018,2026-05-14,2051633644\n\n"
    "A visit is a patient, a date of service (YYYY-MM-DD or MM/DD/YYYY) and the rendering NPI the claim line was "
    "billed under (an assistant's note joins the visit of its supervising therapist's NPI). Visits with a 97112 "
    "line or 97112 minutes are listed in visits.parquet. Exit status: 0 shown; 2 bad invocation, run folder or "
    "unknown visit. See docs/consulting.md."
)
KEY_HELP = "The visit: PATIENT,DATE,NPI (e.g. PAT00000018,2026-05-14,2051633644)."


def explain(
    out: Annotated[Path, typer.Option(help="Output folder of an `nmr-audit audit` run (its --out).")],
    visit: Annotated[str, typer.Option(help=KEY_HELP)],
) -> None:
    """Show how one visit's 97112 units were decided: minutes pooled, allotment, CQ/CO, billed."""
    from nmr_audit.explain import describe_visit
    from nmr_audit.io.explain import read_visit

    patient, day, npi = _key(visit)
    found = read_visit(out, patient, day, npi)
    typer.echo(describe_visit(found.visit, found.notes, found.services, found.lines, found.findings))


def _key(text: str) -> tuple[str, str, str]:
    """(patient_id, YYYY-MM-DD, NPI) from `PATIENT,DATE,NPI`; InputError naming the option otherwise."""
    import pandas as pd

    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise InputError(None, f"--visit {text!r} is not PATIENT,DATE,NPI",
                         "give e.g. --visit PAT00000018,2026-05-14,2051633644")
    patient, day, npi = parts
    parsed = pd.to_datetime(pd.Series([day]), format="%Y-%m-%d", errors="coerce").fillna(
        pd.to_datetime(pd.Series([day]), format="%m/%d/%Y", errors="coerce"))[0]
    if pd.isna(parsed):
        raise InputError(None, f"--visit {text!r}: {day!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)")
    return patient, parsed.strftime("%Y-%m-%d"), npi
