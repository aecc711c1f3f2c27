"""Visit facts: `visits.parquet` rows with what the unit, assistant and quarantine rules compare."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nmr_audit.contract import NMR_CODE
from nmr_audit.facts.common import KEY
from nmr_audit.keys import keys_in
from nmr_audit.money import unit_fee
from nmr_audit.reference import ReferenceData


def visit_facts(visits: pd.DataFrame, first_lines: pd.DataFrame, reference: ReferenceData,
                held: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """`visits.parquet` rows with the facts the visit suite compares, and what they are worth.

    `first_lines` (visit key, claim_id, line_number) names each visit's first 97112 line; `held`
    (aligned with `visits`) the quarantined note and 97112 line of a visit (`facts.held`); `lines`
    (the line facts) tells whether
    a 97112 line's modifiers were readable. Columns the suite reads beside visits.parquet's:
    `has_note`, `unit_checkable` (no unreadable unit input and no quarantined note: no unit rule
    fires otherwise), `documents_no_97112_time`, `assistant_checkable` (Medicare-rules payer, unit
    inputs and 97112 modifiers readable), `note_quarantined` and its reason, file and line,
    `line_quarantined` (a 97112 claim line of the visit was quarantined: LINE_QUARANTINED instead of
    UNBILLED_97112) and its `line_quarantine_reason`, `line_quarantine_file`, `line_quarantine_row`, and
    the dollars: excess, billed, beyond 97112, and 15% of the units that should carry CQ/CO.
    """
    facts = visits.reset_index(drop=True).merge(first_lines, on=KEY, how="left")
    held = held.reset_index(drop=True)
    fee = unit_fee(facts, NMR_CODE, reference)
    has_note = facts["note_id"].notna()
    timed_excess = (facts["billed_timed_units"] - facts["supported_timed_units"]).clip(lower=0)
    beyond_97112 = (timed_excess - facts["excess_units_97112"]).clip(lower=0)
    unit_checkable = ~facts["unit_inputs_unreadable"].to_numpy() & ~held["note_quarantined"].to_numpy()
    modifiers_unreadable = lines.loc[~lines["modifiers_readable"], KEY].drop_duplicates()
    readable_modifiers = ~_has_key(facts, modifiers_unreadable)
    missing_cq = (facts["required_cq_units_97112"] - facts["billed_cq_units_97112"]).clip(lower=0)
    return facts.assign(
        row_id=np.arange(len(facts)),
        has_note=has_note,
        unit_checkable=unit_checkable,
        documents_no_97112_time=(has_note & facts["itemizes_minutes"]
                                 & facts["minutes_97112"].fillna(0).eq(0)).astype("bool"),
        timed_excess_units=timed_excess,
        units_below_time=(facts["supported_units_97112"] - facts["billed_units_97112"]).clip(lower=0),
        timed_units_to_spare=facts["billed_timed_units"] < facts["supported_timed_units"],
        assistant_checkable=(facts["medicare_rules"].to_numpy() & unit_checkable & readable_modifiers
                             & (facts["lines_97112"] > 0).to_numpy() & ~held["line_quarantined"].to_numpy()),
        missing_cq_units_97112=missing_cq,
        fee_97112=fee,
        excess_dollars=facts["excess_units_97112"] * fee,
        billed_97112_dollars=facts["billed_units_97112"] * fee,
        timed_beyond_97112_dollars=beyond_97112 * fee,
        assistant_dollars=missing_cq * fee * reference.policy("assistant_payment_reduction"),
        **{c: held[c].to_numpy() for c in held.columns},
    )


def _has_key(frame: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    return keys_in(frame[KEY], keys, KEY) if len(keys) else np.zeros(len(frame), dtype=bool)
