"""The facts the rules read, one frame per grain, computed in pandas before any rule runs.

The rule suites (`expectations/*.json`) only compare columns of these frames; every fact that
needs another table (the visit's notes, the units the minutes support, a code on the same day
that forms an NCCI pair, the fee for a unit, a quarantined note or 97112 line) is joined here. Grains (one
suite each):

- `claim_lines`: one row per 97112 claim line (`facts.lines`);
- `visits`: one row per 97112 visit (`visits.parquet` plus the visit's first 97112 line; `facts.visits`);
- `notes`: one row per note of a 97112 visit (`facts.notes`);
- `patient_days`: one row per patient and date of service with 97112 billed (`facts.days`);
- `discipline_days`: one row per patient, date, clinic and discipline billed under several NPIs (`facts.days`);
- `fields`: one row per unreadable optional value of a claim line or note (`facts.fields`);
- `code_pairs`: one row per pair of claim lines of one visit (any codes) forming an NCCI or a
  payer edit in force (`facts.code_pairs`);
- `therapy_lines`: one row per claim line counting toward a yearly therapy threshold (`facts.therapy_year`);
- `treatment_days`: one row per patient, discipline, plan of care and date with a note (`facts.progress`).

Each frame has a `row_id` (0 … n − 1), the id GX reports unexpected rows by.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nmr_audit.facts.code_pairs import code_pair_facts
from nmr_audit.facts.common import KEY, LINE_ID
from nmr_audit.facts.days import discipline_day_facts, patient_day_facts
from nmr_audit.facts.fields import field_facts
from nmr_audit.facts.held import held_for_visits, held_lines, held_notes, held_rows, lines_held_for_visits
from nmr_audit.facts.lines import line_facts
from nmr_audit.facts.notes import note_facts
from nmr_audit.facts.progress import treatment_day_facts
from nmr_audit.facts.therapy_year import therapy_line_facts
from nmr_audit.facts.visits import visit_facts
from nmr_audit.reference import ReferenceData
from nmr_audit.therapy import TherapyHistory, progress_recorded
from nmr_audit.visits import match_notes

__all__ = ["Facts", "TherapyHistory", "build_facts", "held_notes", "held_rows"]


@dataclass(frozen=True)
class Facts:
    claim_lines: pd.DataFrame
    visits: pd.DataFrame
    notes: pd.DataFrame
    patient_days: pd.DataFrame
    discipline_days: pd.DataFrame
    fields: pd.DataFrame
    code_pairs: pd.DataFrame
    therapy_lines: pd.DataFrame
    treatment_days: pd.DataFrame

    def by_grain(self) -> dict[str, pd.DataFrame]:
        return {"claim_lines": self.claim_lines, "visits": self.visits, "notes": self.notes,
                "patient_days": self.patient_days, "discipline_days": self.discipline_days, "fields": self.fields,
                "code_pairs": self.code_pairs, "therapy_lines": self.therapy_lines,
                "treatment_days": self.treatment_days}


def build_facts(claim_lines: pd.DataFrame, visit_notes: pd.DataFrame, note_services: pd.DataFrame,
                visits: pd.DataFrame, reference: ReferenceData, quarantine: pd.DataFrame | None = None,
                therapy: TherapyHistory | None = None, progress: bool | None = None) -> Facts:
    """Every grain's facts from the canonical tables and `visits` (`reconcile_visits` of them).

    `quarantine`: the quarantined rows of the run (or of this bucket) with the visit key intake
    could read (or `held_rows` of them); its notes make NOTE_QUARANTINED instead of NO_NOTE, its
    97112 claim lines LINE_QUARANTINED instead of UNBILLED_97112. None: no quarantine known.
    `therapy`: the beneficiaries' earlier therapy from outside these rows (the nightly state,
    other partitions), counted first toward the KX threshold and progress reports. `progress`:
    whether the run's notes say which are progress reports (default: whether these notes or the
    earlier therapy does, `therapy.progress_recorded`).
    """
    notes = match_notes(claim_lines, visit_notes)
    held = pd.concat([held_for_visits(visits, held_notes(quarantine)),
                      lines_held_for_visits(visits, held_lines(quarantine))], axis=1)
    pairs = code_pair_facts(claim_lines, reference)
    lines = line_facts(claim_lines, visits, notes, reference, held, pairs)
    first_lines = lines.loc[lines["line_rank_97112"] == 1, [*KEY, *LINE_ID]]
    return Facts(
        claim_lines=lines,
        visits=visit_facts(visits, first_lines, reference, held, lines),
        notes=note_facts(notes, note_services, visits, first_lines, reference),
        patient_days=patient_day_facts(lines, reference),
        discipline_days=discipline_day_facts(claim_lines, notes, note_services, visits, reference,
                                             held["note_quarantined"]),
        fields=field_facts(claim_lines, notes, visits),
        code_pairs=pairs,
        therapy_lines=therapy_line_facts(claim_lines, reference, therapy),
        treatment_days=treatment_day_facts(claim_lines, notes, reference,
                                           progress_recorded(notes, therapy) if progress is None else progress, therapy),
    )
