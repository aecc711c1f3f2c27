"""Every unit decision in words: `visits.parquet`'s `explanation` and `allotment`, on the manual's
worked examples, the AMA contrasts, notes with only a total, no note, ties, and a PT's and a PTA's
notes pooled with CQ/CO units."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmr_audit.explain import ALLOTMENT_TYPE
from nmr_audit.io.readers import read_canonical
from nmr_audit.io.writers import write_parquet
from nmr_audit.visits import reconcile_visits
from tests.builders import NPI, PTA_NPI, tables, visit

CMS, AMA = "medicare", "commercial"


def explained(reference, **kwargs):
    result = reconcile_visits(*tables(visit(**kwargs)), reference)
    assert len(result) == 1
    return result.iloc[0]


def allotted(row):
    return [(a["cpt_code"], a["minutes"], a["units"], a["cq_units"]) for a in row["allotment"]]


def test_the_issues_example_walks_the_cms_allotment_in_words(reference):
    row = explained(reference, billed={"97112": 3, "97110": 1}, minutes={"97112": 24, "97110": 23})
    assert row["explanation"] == (
        "cms: 97112 24 + 97110 23 = 47 timed min → 3 units; 97112 gets 1 full unit + the left-over unit "
        "(9 min remaining beats 97110's 8), 97110 1; billed 97112 3 → 1 over; all timed codes billed 4 against 3 "
        "→ 1 over")
    assert allotted(row) == [("97112", 24, 2, 0), ("97110", 23, 1, 0)]


def test_ama_counts_each_code_on_its_own(reference):
    row = explained(reference, payer_type=AMA, billed={"97112": 2, "97110": 2}, minutes={"97112": 24, "97110": 23})
    assert row["explanation"] == ("ama, each code on its own: 97112 24 min → 2, 97110 23 min → 2 (4 timed units); "
                                  "billed 97112 2 → as supported")
    assert allotted(row) == [("97112", 24, 2, 0), ("97110", 23, 2, 0)]


def test_97112_loses_the_left_over_units_to_codes_with_more_minutes_remaining(reference):
    # the manual's third example: 49 minutes, 3 units, never 4; 97112's 8 minutes are the fewest left
    row = explained(reference, billed={"97110": 1, "97140": 1, "97116": 1, "97112": 1},
                    minutes={"97110": 18, "97140": 13, "97116": 10, "97112": 8})
    assert row["explanation"] == (
        "cms: 97112 8 + 97110 18 + 97116 10 + 97140 13 = 49 timed min → 3 units; 97112 gets 0 (the 2 left-over "
        "units go to 97140's 13, 97116's 10 min remaining, more than its 8), 97110 1, 97116 1, 97140 1; billed 97112 1 "
        "→ 1 over; all timed codes billed 4 against 3 → 1 over")
    assert sum(units for _, _, units, _ in allotted(row)) == row["supported_timed_units"] == 3


def test_a_tie_goes_to_97112_and_says_so(reference):
    row = explained(reference, billed={"97112": 1}, minutes={"97112": 7, "97110": 7, "97140": 7})
    assert "97112 gets the left-over unit (7 min remaining ties 97110's 7: ties go to 97112, the provider's choice)" \
        in row["explanation"]
    assert allotted(row) == [("97112", 7, 1, 0), ("97110", 7, 0, 0), ("97140", 7, 0, 0)]


def test_no_unit_left_over_and_97112_without_minutes(reference):
    row = explained(reference, billed={"97112": 2, "97110": 1}, minutes={"97112": 16, "97110": 16})
    assert "97112 gets 1 full unit (no unit is left over for its 1 min remaining), 97110 1" in row["explanation"]
    assert row["explanation"].endswith("billed 97112 2 → 1 over; all timed codes billed 3 against 2 → 1 over")
    none = explained(reference, billed={"97112": 1, "97110": 2, "97140": 1}, minutes={"97110": 33, "97140": 7})
    assert none["explanation"].startswith("cms: 97110 33 + 97140 7 = 40 timed min → 3 units; 97112 has no minutes, "
                                          "97110 2, 97140 1; billed 97112 1 → 1 over")


@pytest.mark.parametrize(("payer", "text"), [
    (CMS, "cms, the notes give only a total: 38 timed min → 3 units; the other timed codes billed take 2 → 97112 1; "
          "billed 97112 2 → 1 over; all timed codes billed 4 against 3 → 1 over"),
    (AMA, "ama, the notes give only a total: 38 timed min; the other timed codes' 2 units need at least 23 min, "
          "leaving 15 → 97112 1; billed 97112 2 → 1 over; all timed codes billed 4 against 3 → 1 over"),
])
def test_a_note_with_only_a_total(reference, payer, text):
    row = explained(reference, payer_type=payer, billed={"97112": 2, "97110": 2}, minutes=None, total_timed_minutes=38)
    assert row["explanation"] == text
    assert allotted(row) == [("97112", None, 1, 0)]  # no minutes per code: 97112's share of the total


def test_no_note(reference):
    row = explained(reference, billed={"97112": 2}, note=False)
    assert row["explanation"] == "no note documents this visit → 97112 0; billed 97112 2 → 2 over"
    assert allotted(row) == []


def test_a_pts_and_a_ptas_notes_pool_and_the_assistant_gets_cq_units(reference):
    # CMS's billing examples: minutes of PT and PTA combine per code, then CQ unit by unit
    row = explained(reference, billed={"97112": 2}, minutes={"97112": 13},
                    notes=[{"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                            "minutes": {"97112": 16}}])
    assert row["explanation"] == (
        "2 notes pooled (PT, PTA); cms: 97112 alone, 29 timed min → 2 units; 97112 gets 1 full unit + the left-over "
        "unit (14 min remaining); CQ/CO: the assistant's 16 min and the therapist's 13 min of 97112 → 1 of 2 with "
        "CQ/CO (billed 0); billed 97112 2 → as supported")
    assert allotted(row) == [("97112", 29, 2, 1)]
    assert row["cq_units_97112"] == 1


def test_cms_scenario_1_cq_units_per_code(reference):
    # CMS's scenario 1: PTA 23 and PT 13 min of 97110, PT 30 min of 97140 (66 min, 4 units):
    # 97140 ×2 without CQ; 97110 ×2, the unit of the PTA's 15 full minutes with CQ
    row = explained(reference, billed={"97112": 1, "97110": 2, "97140": 2}, minutes={"97110": 13, "97140": 30, "97112": 0},
                    notes=[{"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                            "minutes": {"97110": 23}}])
    assert {code: (units, cq) for code, _, units, cq in allotted(row)} == {"97110": (2, 1), "97140": (2, 0),
                                                                           "97112": (0, 0)}


def test_unreadable_inputs_and_unbilled_minutes_are_said(reference):
    row = explained(reference, billed={"97112": 1}, minutes={"97112": 10},
                    unreadable=[("total_timed_minutes", "ten", "whole minutes ≥ 0")])
    assert row["explanation"].startswith("a value the unit checks read could not be read (FIELD_UNREADABLE): no unit "
                                         "rule judges this visit; cms: ")
    unbilled = explained(reference, billed={"97110": 1}, minutes={"97112": 10, "97110": 10})
    assert "; 97112 not billed" in unbilled["explanation"]


def test_explanations_are_stable_and_the_allotment_keeps_its_arrow_type(reference, tmp_path):
    cases = [visit(patient_id=p, billed={"97112": 2, "97110": 1}, minutes={"97110": 23, "97112": 24}) for p in "AB"]
    first = reconcile_visits(*tables(*cases), reference)
    again = reconcile_visits(*tables(*reversed(cases)), reference)
    assert first["explanation"].tolist() == again["explanation"].tolist()
    assert first["allotment"].dtype == ALLOTMENT_TYPE
    path = write_parquet(first, tmp_path / "visits.parquet")
    schema = pq.read_schema(path)
    assert schema.field("allotment").type == pa.list_(pa.struct([("cpt_code", pa.string()), ("minutes", pa.int64()),
                                                                 ("units", pa.int64()), ("cq_units", pa.int64())]))
    assert pa.types.is_string(schema.field("explanation").type) or pa.types.is_large_string(
        schema.field("explanation").type)
    back = read_canonical(path)
    assert [list(a) for a in back["allotment"]] == [list(a) for a in first["allotment"]]


def test_the_allotment_agrees_with_the_supported_units_on_generated_visits(reference):
    from nmr_audit.synth.canonical import canonical_tables
    from nmr_audit.synth.write import chunks

    visits = reconcile_visits(*canonical_tables(next(chunks(1200, seed=4, defect_rate=0.05))), reference)
    itemized = visits[visits["itemizes_minutes"]]
    nmr = itemized["allotment"].map(lambda a: sum(e["units"] for e in a if e["cpt_code"] == "97112"))
    cq = itemized["allotment"].map(lambda a: sum(e["cq_units"] for e in a if e["cpt_code"] == "97112"))
    assert (nmr == itemized["supported_units_97112"]).all()
    medicare = itemized["medicare_rules"]
    assert (cq[medicare] == itemized.loc[medicare, "cq_units_97112"]).all()
    assert (cq[~medicare] == 0).all() and (itemized.loc[~medicare, "cq_units_97112"] > 0).any()  # CQ/CO is Medicare's
    cms = itemized[itemized["rule_basis"] == "cms"]
    total = cms["allotment"].map(lambda a: sum(e["units"] for e in a))
    assert (total == cms["supported_timed_units"]).all()
    assert visits["explanation"].str.len().gt(20).all()
    over = visits[visits["excess_units_97112"] > 0]
    assert (over["explanation"].str.contains(" over") & over["explanation"].str.contains("billed 97112")).all()


def test_the_allotment_in_words(reference):
    from nmr_audit.explain import allotment_text

    cases = [visit(patient_id="A", billed={"97112": 2}, minutes={"97112": 13},
                   notes=[{"rendering_npi": PTA_NPI, "supervising_npi": NPI, "provider_credential": "PTA",
                           "minutes": {"97112": 16, "97110": 10}}]),
             visit(patient_id="B", billed={"97112": 2}, minutes=None, total_timed_minutes=30),
             visit(patient_id="C", billed={"97112": 1}, note=False)]
    visits = reconcile_visits(*tables(*cases), reference).set_index("patient_id")
    said = allotment_text(visits["allotment"])
    assert said.to_dict() == {"A": "97112 29 min → 2 (1 with CQ/CO), 97110 10 min → 1 (1 with CQ/CO)",
                              "B": "97112 (total only) → 2", "C": ""}


def test_a_visit_whose_note_was_quarantined_is_not_explained_as_over(reference):
    import pandas as pd

    from nmr_audit.explain import with_quarantined_notes

    visits = reconcile_visits(*tables(visit(patient_id="P1", billed={"97112": 2}, note=False),
                                      visit(patient_id="P2", billed={"97112": 2}, note=False)), reference)
    held = with_quarantined_notes(visits.assign(note_quarantined=visits["patient_id"] == "P1"))
    said = held.set_index("patient_id")["explanation"]
    assert said["P1"] == ("its note was quarantined at intake (NOTE_QUARANTINED): no unit rule judges this visit "
                          "until the note is fixed; billed 97112 2")
    assert said["P2"] == "no note documents this visit → 97112 0; billed 97112 2 → 2 over"
    assert "note_quarantined" not in visits.columns  # a new frame: the input untouched
    assert isinstance(held, pd.DataFrame)



def test_a_visit_whose_97112_line_was_quarantined_says_so_after_97112_not_billed(reference):
    from nmr_audit.explain import with_quarantined_lines

    unbilled = {"billed": {"97110": 1}, "minutes": {"97112": 20, "97110": 15}}
    visits = reconcile_visits(*tables(visit(patient_id="P1", **unbilled), visit(patient_id="P2", **unbilled)),
                              reference)
    held = with_quarantined_lines(visits.assign(line_quarantined=visits["patient_id"] == "P1"))
    said = held.set_index("patient_id")["explanation"]
    assert said["P2"].endswith("; 97112 not billed")
    assert said["P1"] == said["P2"] + ("; a 97112 claim line of this visit was quarantined at intake (LINE_QUARANTINED): "
                                       "its units are not counted here; fix that row and rerun, and do not add a 97112 charge")
    assert "line_quarantined" not in visits.columns  # a new frame: the input untouched
    assert visits.set_index("patient_id").loc["P1", "explanation"] == said["P2"]
