"""The sampling frame: units, amounts, dollars counted once per line, costliest rule, strata,
and a SHA-256 that depends on the rows only."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmr_audit.consult.frame import (
    AMOUNT_UNKNOWN,
    NO_FINDING,
    assign_strata,
    build_frame,
    canonical_text,
    cumulative_sqrt_f_boundaries,
    frame_sha256,
    unit_ids,
)
from nmr_audit.findings import FINDING_COLUMNS
from nmr_audit.summary import findings_totals

DAY1, DAY2 = pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09")


def claim_lines():
    rows = [("C1", 1, "P1", DAY1, "CL-A", "97112", 2, 124.0), ("C1", 2, "P1", DAY1, "CL-A", "97110", 1, 58.0),
            ("C2", 1, "P1", DAY2, "CL-A", "97112", 1, 62.0), ("C3", 1, "P2", DAY1, "CL-B", "97112", 3, None),
            ("C4", 1, "P2", DAY1, "CL-B", "97110", 1, 58.0)]
    frame = pd.DataFrame(rows, columns=["claim_id", "line_number", "patient_id", "date_of_service", "clinic_id",
                                        "cpt_code", "units", "charge_amount"])
    return frame.astype({"line_number": "Int64", "units": "Int64", "charge_amount": "Float64"})


def findings():
    rows = [  # rule, severity, claim, line, patient, day, dollars
        ("NO_NOTE", "high", "C1", 1, "P1", DAY1, 124.0),
        ("UNITS_EXCEED_TIME", "high", "C1", 1, "P1", DAY1, 62.0),  # same line: counted once, at 124
        ("MISSING_NECESSITY_FIELD", "medium", "C1", 2, "P1", DAY1, None),
        ("NOTE_UNSIGNED", "medium", "C2", 1, "P1", DAY2, 62.0),
        ("MISSING_THERAPY_MODIFIER", "high", "C2", 1, "P1", DAY2, 62.0),  # tie on dollars: the more severe
        ("UNBILLED_97112", "info", None, None, "P3", pd.Timestamp("2026-03-05"), None),  # no claim line at all
        ("NOTE_UNSIGNED", "medium", None, None, "P2", DAY1, None),  # a note's finding, no line
    ]
    frame = pd.DataFrame(rows, columns=["rule_id", "severity", "claim_id", "line_number", "patient_id",
                                        "date_of_service", "dollars_at_risk"])
    for column in FINDING_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[list(FINDING_COLUMNS)].astype(FINDING_COLUMNS)


def by_id(frame):
    return frame.units.set_index("sample_unit_id")


def test_claim_frame_counts_each_line_once_at_its_largest_amount():
    lines, found = claim_lines(), findings()
    before = (lines.copy(), found.copy())
    frame = build_frame(lines, found, "claim")
    units = by_id(frame)
    assert list(units.index) == ["C1", "C2", "C3", "C4"]
    assert units.loc["C1", ["claim_lines", "charge_amount", "amount", "dollars_at_risk", "findings"]].tolist() == \
        [2, 182.0, 182.0, 124.0, 3]
    assert units.loc["C1", "costliest_rule"] == "NO_NOTE"
    assert units.loc["C2", "costliest_rule"] == "MISSING_THERAPY_MODIFIER"
    assert units.loc["C3", "amount_basis"] == "unknown" and np.isnan(units.loc["C3", "amount"])
    assert units.loc["C4", "costliest_rule"] == NO_FINDING and units.loc["C4", "amount_basis"] == "charge"
    # The frame's exact total is the run's: summary.json counts each line once the same way.
    assert units["dollars_at_risk"].sum() == pytest.approx(findings_totals(found)["dollars_at_risk"])
    assert (frame.findings_outside, frame.dollars_outside) == (2, 0.0)
    pd.testing.assert_frame_equal(lines, before[0])
    pd.testing.assert_frame_equal(found, before[1])


def test_patient_day_frame_gathers_claims_of_one_day_and_a_notes_finding():
    units = by_id(build_frame(claim_lines(), findings(), "patient-day"))
    assert list(units.index) == ["P1|2026-03-02", "P1|2026-03-09", "P2|2026-03-02"]
    day = units.loc["P2|2026-03-02"]
    assert (day["claim_lines"], day["charge_amount"], day["amount_basis"]) == (2, 58.0, "unknown")
    assert (day["findings"], day["costliest_rule"], day["dollars_at_risk"]) == (1, "NOTE_UNSIGNED", 0.0)


def test_line_frame_keeps_a_finding_without_dollars_as_the_lines_rule():
    frame = build_frame(claim_lines(), findings(), "line")
    units = by_id(frame)
    assert list(units.index) == ["C1:1", "C1:2", "C2:1", "C3:1", "C4:1"]
    assert units.loc["C1:1", ["dollars_at_risk", "findings"]].tolist() == [124.0, 2]
    assert units.loc["C1:2", "costliest_rule"] == "MISSING_NECESSITY_FIELD"
    assert frame.findings_outside == 2


def test_paid_amounts_replace_charges_where_a_remittance_exists():
    paid = pd.DataFrame({"claim_id": ["C1", "C1", "C2"], "line_number": [1, 1, 1],
                         "paid_amount": [100.0, 100.0, 0.0]})  # one row per adjustment
    units = by_id(build_frame(claim_lines(), findings(), "claim", paid))
    assert units.loc["C1", ["paid_amount", "amount", "amount_basis"]].tolist() == [100.0, 158.0, "paid+charge"]
    assert units.loc["C2", ["amount", "amount_basis"]].tolist() == [0.0, "paid"]
    assert units.loc["C4", "amount_basis"] == "charge"


def test_unit_ids_split_back_from_the_right():
    rows = pd.DataFrame({"claim_id": ["A:B", "X"], "line_number": pd.array([3, None], dtype="Int64"),
                         "patient_id": [" P|1 ", "P2"], "date_of_service": [DAY1, DAY2]})
    assert unit_ids(rows, "line").tolist()[0] == "A:B:3" and pd.isna(unit_ids(rows, "line").iloc[1])
    assert unit_ids(rows, "patient-day").tolist() == ["P|1|2026-03-02", "P2|2026-03-09"]
    with pytest.raises(ValueError, match="unknown sample unit"):
        unit_ids(rows, "visit")


def test_strata_by_clinic_by_rule_and_by_given_amounts():
    units = build_frame(claim_lines(), findings(), "claim").units
    clinic = assign_strata(units, "clinic")
    assert clinic.stratum.tolist() == ["CL-A", "CL-A", "CL-B", "CL-B"]
    rule = assign_strata(units, "rule")
    assert rule.table["stratum"].tolist() == ["MISSING_THERAPY_MODIFIER", "NO_NOTE", NO_FINDING]
    amount = assign_strata(units, "amount", boundaries=[60, 100])
    assert amount.stratum.tolist() == ["3: over $100.00", "2: $60.01 to $100.00", AMOUNT_UNKNOWN, "1: up to $60.00"]
    assert amount.table["stratum"].tolist() == ["1: up to $60.00", "2: $60.01 to $100.00", "3: over $100.00",
                                                AMOUNT_UNKNOWN]
    assert amount.table[["lower", "upper"]].iloc[1].tolist() == [60.0, 100.0]
    with pytest.raises(ValueError, match="ascending"):
        assign_strata(units, "amount", boundaries=[100, 60])
    assert assign_strata(units, None).stratum.unique().tolist() == ["all"]


def test_cumulative_sqrt_f_cuts_between_two_like_clusters_of_amounts():
    # Two clusters of the same spread and size, far apart: the median edge (525, halfway between
    # them) halves the cumulative √(f·d) exactly.
    amounts = np.concatenate([np.linspace(40, 60, 300), np.linspace(990, 1010, 300)])
    assert cumulative_sqrt_f_boundaries(amounts, 2).tolist() == [525.0]
    assert len(cumulative_sqrt_f_boundaries(amounts, 4)) == 3
    assert len(cumulative_sqrt_f_boundaries(np.full(50, 62.0), 3)) == 0  # one amount: one stratum


def test_cumulative_sqrt_f_matches_a_hand_computation():
    # Ten distinct amounts: the classes run from one amount to the next, [1,2) … [8,9), [9,109].
    # f = 1 for the first eight, 2 for the last; d = 1 for the first eight, 100 for the last;
    # √(f·d) = 1 ×8, then √200 ≈ 14.14; Σ ≈ 22.14. Two strata: half is 11.07, nearest cumulative
    # is 8 (after [8,9)) → boundary $9. Three: steps 7.38 and 14.76 → cumulatives 7 and 8 → $8, $9.
    amounts = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 109], dtype=float)
    assert cumulative_sqrt_f_boundaries(amounts, 2).tolist() == [9.0]
    assert cumulative_sqrt_f_boundaries(amounts, 3).tolist() == [8.0, 9.0]


def test_canonical_text_is_the_documented_form():
    units = build_frame(claim_lines(), findings(), "claim").units
    text = canonical_text(units)
    lines = text.split("\n")
    assert lines[0] == ("sample_unit_id\tstratum\tclaim_lines\tclinic_id\tcharge_amount\tpaid_amount\tamount\t"
                        "amount_basis\tdollars_at_risk\tfindings\tcostliest_rule")
    assert lines[1] == "C1\tall\t2\tCL-A\t182.00\t\t182.00\tcharge\t124.00\t3\tNO_NOTE"
    assert lines[3] == "C3\tall\t1\tCL-B\t\t\t\tunknown\t0.00\t0\tno finding"
    assert text.endswith("no finding\n") and len(lines) == 6
    assert frame_sha256(units) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    refunded = units.assign(paid_amount=[-12.5, 0.1 + 0.2, np.nan, 1e6 + 0.01])  # dollars, as Parquet keeps them
    assert [line.split("\t")[5] for line in canonical_text(refunded).split("\n")[1:-1]] == \
        ["-12.50", "0.30", "", "1000000.01"]


def test_frame_hash_depends_on_rows_not_on_order_or_parquet_layout(tmp_path):
    units = build_frame(claim_lines(), findings(), "claim").units
    digest = frame_sha256(units)
    assert frame_sha256(units.sample(frac=1.0, random_state=1)) == digest
    table = pa.Table.from_pandas(units, preserve_index=False)
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=1, compression="zstd")
    pq.write_table(table, tmp_path / "b.parquet", compression="none", use_dictionary=False)
    assert (tmp_path / "a.parquet").read_bytes() != (tmp_path / "b.parquet").read_bytes()
    for name in ("a.parquet", "b.parquet"):
        assert frame_sha256(pd.read_parquet(tmp_path / name)) == digest
    changed = units.assign(dollars_at_risk=units["dollars_at_risk"].where(units.index != 0, 124.01))
    assert frame_sha256(changed) != digest


def test_text_that_would_break_a_line_is_escaped():
    units = build_frame(claim_lines().assign(claim_id=["C\t1", "C\t1", "C\n2", "C\\3", "C4"]), findings().iloc[:0],
                        "claim").units
    body = canonical_text(units).split("\n")[1:-1]
    assert [line.split("\t")[0] for line in body] == ["C\\t1", "C\\n2", "C4", "C\\\\3"]  # code point order


def test_the_documented_recipe_recomputes_the_digest_without_nmr_audit(tmp_path):
    """docs/consulting.md's few lines of plain Python, on a frame with awkward values."""
    import math

    units = build_frame(claim_lines().assign(claim_id=["C\t1", "C\t1", "Ç2", "C\\3", "C4"]), findings(), "claim").units
    units = units.assign(paid_amount=[-12.5, 0.1 + 0.2, np.nan, 7.0])
    pq.write_table(pa.Table.from_pandas(units, preserve_index=False), tmp_path / "frame.parquet")
    columns = ["sample_unit_id", "stratum", "claim_lines", "clinic_id", "charge_amount", "paid_amount", "amount",
               "amount_basis", "dollars_at_risk", "findings", "costliest_rule"]
    money = {"charge_amount", "paid_amount", "amount", "dollars_at_risk"}

    def cell(column, value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if column in money:
            return f"{value:.2f}"
        if isinstance(value, int):
            return str(value)
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            value = value.replace(raw, escaped)
        return value

    rows = sorted(pq.read_table(tmp_path / "frame.parquet").to_pylist(), key=lambda r: r["sample_unit_id"])
    text = "\t".join(columns) + "\n" + "".join("\t".join(cell(c, r[c]) for c in columns) + "\n" for r in rows)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == frame_sha256(units)
