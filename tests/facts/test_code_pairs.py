"""The one same-visit code-pair fact: NCCI and payer edits over any pair of codes."""

from dataclasses import replace

import pandas as pd
import pytest

from nmr_audit.facts.code_pairs import code_pair_facts, edits
from tests.builders import tables, visit


def payer_edits(*rows):
    """(payer_id, payer_type, column_1, column_2, bypass_modifiers, effective_from, effective_to)."""
    frame = pd.DataFrame(rows, columns=["payer_id", "payer_type", "column_1", "column_2", "bypass_modifiers",
                                        "effective_from", "effective_to"])
    return frame.assign(effective_from=pd.to_datetime(frame["effective_from"]).astype("datetime64[s]"),
                        effective_to=pd.to_datetime(frame["effective_to"]).astype("datetime64[s]"),
                        verified=False, source="test row")


def ptp(*rows):
    """(column_1, column_2, modifier_indicator, effective_from, effective_to)."""
    frame = pd.DataFrame(rows, columns=["column_1", "column_2", "modifier_indicator", "effective_from", "effective_to"])
    return frame.assign(effective_from=pd.to_datetime(frame["effective_from"]).astype("datetime64[s]"),
                        effective_to=pd.to_datetime(frame["effective_to"]).astype("datetime64[s]"),
                        verified=True, source="test", edition="2026Q1")


def pairs_of(reference, **kwargs):
    claim_lines, _, _ = tables(visit(**kwargs))
    return code_pair_facts(claim_lines, reference)


@pytest.fixture
def strict(reference):
    return replace(reference, payer_edits=payer_edits(
        ("P-STRICT", "", "97530", "97140", "", "2020-01-01", None),
        ("", "workers_comp", "97110", "97140", "59 XU", "2020-01-01", "2026-02-28")), ncci_ptp=ptp())


def test_a_payer_edit_of_two_codes_other_than_97112(strict):
    found = pairs_of(strict, payer_id="P-STRICT", payer_type="commercial", billed={"97530": 1, "97140": 2},
                     modifiers={"97140": "GP,59"})
    row = found.iloc[0]
    assert len(found) == 1 and (row["edit"], row["cpt_code"], row["partner_code"], row["line_number"]) == (
        "payer", "97140", "97530", 2)
    assert (row["bypassed"], row["checkable"], row["bypass_modifiers"], row["units"]) == (False, True, "none", 2)
    fee = strict.fee_schedule.set_index(["payer_type", "cpt_code", "year"]).loc[("commercial", "97140", 2026), "amount"]
    assert row["value_dollars"] == pytest.approx(2 * fee)
    assert pairs_of(strict, payer_id="OTHER", payer_type="commercial", billed={"97530": 1, "97140": 1}).empty


def test_a_payer_type_edit_applies_to_every_payer_of_the_type_until_its_end_and_its_modifiers_bypass_it(strict):
    kwargs = {"payer_type": "workers_comp", "billed": {"97110": 1, "97140": 1}}
    assert not pairs_of(strict, date_of_service="2026-02-28", **kwargs)["bypassed"].iloc[0]
    assert pairs_of(strict, date_of_service="2026-03-01", **kwargs).empty  # past effective_to
    assert pairs_of(strict, date_of_service="2026-02-02", modifiers={"97110": "GP,XU"}, **kwargs)["bypassed"].iloc[0]
    assert not pairs_of(strict, date_of_service="2026-02-02", modifiers={"97110": "GP,XS"}, **kwargs)["bypassed"].iloc[0]


@pytest.mark.parametrize(("indicator", "bypassed"), [(1, True), (0, False)])
def test_an_ncci_edit_is_bypassed_by_59_only_where_its_modifier_indicator_allows(reference, indicator, bypassed):
    ncci = replace(reference, payer_edits=payer_edits(), ncci_ptp=ptp(("97140", "97112", indicator, "2020-01-01", None)))
    found = pairs_of(ncci, billed={"97140": 1, "97112": 1}, modifiers={"97112": "GP,59"})
    assert found["bypassed"].tolist() == [bypassed] and found["edition"].tolist() == ["ncci_ptp 2026Q1"]
    assert found["bypass_modifiers"].iloc[0] == ("59 XE XP XS XU" if indicator == 1 else "none (modifier indicator 0)")


def test_an_edit_deleted_the_day_it_took_effect_is_never_in_force(reference):
    """CMS's modifier indicator 9: the import writes effective_to the day before the effective date."""
    never = replace(reference, payer_edits=payer_edits(),
                    ncci_ptp=ptp(("97140", "97112", 9, "2020-01-01", "2019-12-31")))
    assert pairs_of(never, billed={"97140": 1, "97112": 1}).empty


def test_unreadable_modifiers_make_the_pair_uncheckable(strict):
    found = pairs_of(strict, payer_id="P-STRICT", billed={"97530": 1, "97140": 1},
                     line_unreadable={"97530": [("modifiers", "GP;;", "0-4 modifiers")]})
    assert found["checkable"].tolist() == [False]


def test_the_packaged_tables_edits_carry_their_layer(reference):
    table = edits(reference)
    assert set(table["edit"]) == {"ncci", "payer"}
    assert set(table.loc[table["edit"] == "payer", "edition"]) == {"payer_edits packaged"}
    strict = table[(table["edit"] == "payer") & (table["column_1"] == "97530")].iloc[0]
    assert (strict["column_2"], strict["edit_payer_id"], strict["bypass"]) == ("97140", "SYNTH-STRICT-PPO", [])
