import pandas as pd
import pytest

from nmr_audit.errors import InputError
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.mapping import TableMapping, apply_mapping
from tests.conftest import REPO


def test_columns_renamed_one_export_column_feeding_two_and_values_translated():
    raw = pd.DataFrame({"Claim No": ["C1"], "Plan Code": [" mcr-b "], "Units ": ["2"],
                        "source_file": ["f.csv"], "source_row": [2]})
    mapping = TableMapping(columns={"claim no": ("claim_id",),
                                    "Plan Code": ("payer_id", "payer_type")},
                           values={"payer_type": {"MCR-B": "medicare"}})
    mapped = apply_mapping(raw, mapping)
    assert mapped[["claim_id", "payer_id", "payer_type", "units"]].iloc[0].tolist() == [
        "C1", " mcr-b ", "medicare", "2"]
    assert mapped["source_row"].tolist() == [2]


def test_unmapped_values_are_kept_for_validation_to_judge():
    raw = pd.DataFrame({"payer_type": ["Unknown Plan", None]})
    mapped = apply_mapping(raw, TableMapping(values={"payer_type": {"X": "medicare"}}))
    assert mapped["payer_type"].iloc[0] == "Unknown Plan" and pd.isna(mapped["payer_type"].iloc[1])


@pytest.mark.parametrize("name", ["therachart_csv.yaml", "rehabpro_xlsx.yaml"])
def test_shipped_profiles_load(name):
    profile = load_mapping(REPO / "data" / "mappings" / name)
    assert profile.claim_lines.columns and profile.visit_notes.columns


def test_profile_naming_a_column_outside_the_contract_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("claim_lines:\n  columns:\n    Amount: charge_amt\n")
    with pytest.raises(InputError, match="not a column of the contract"):
        load_mapping(path)


@pytest.mark.parametrize(("text", "claims_mark", "notes_mark"), [
    ("locale: de_DE\n", ",", ","),
    ("locale: de-CH\n", ".", "."),
    ("locale: en_US\nvisit_notes:\n  decimal_mark: ','\n", ".", ","),
    ("claim_lines:\n  locale: fr_FR\n", ",", None),
    ("", None, None),
])
def test_a_profile_names_the_decimal_mark_or_a_locale(tmp_path, text, claims_mark, notes_mark):
    path = tmp_path / "p.yaml"
    path.write_text(text + "name: p\n")
    profile = load_mapping(path)
    assert (profile.claim_lines.decimal_mark, profile.visit_notes.decimal_mark) == (claims_mark, notes_mark)


@pytest.mark.parametrize(("text", "says"), [
    ("locale: xx_YY\n", "decimal mark is not known"),
    ("decimal_mark: ';'\n", "neither"),
    ("visit_notes:\n  columns:\n    Comment: minutes_comment\n", "per-code minutes are minutes_<CPT>"),
])
def test_a_profile_that_would_be_misread_is_refused(tmp_path, text, says):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_mapping(path)
