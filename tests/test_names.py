"""Provider and clinic names beside ids: from the audited rows, then the reference tables."""

import pandas as pd

from nmr_audit.io.reference import load_reference
from nmr_audit.names import combine, label, names_from_reference, names_in_rows, with_names
from tests.conftest import REPO


def test_the_rows_most_frequent_name_wins_and_blank_names_are_ignored():
    rows = pd.DataFrame({"rendering_npi": ["1", "1", "1", "2", "3"],
                         "rendering_provider_name": ["Dana Reyes", "Dana Reyes, PT", "Dana Reyes", "  ", None],
                         "clinic_id": ["A", "A", "B", "B", "B"], "clinic_name": ["Lakeside", "Lakeside", "Hill", "Hill", "Hill"]})
    names = names_in_rows(rows)
    assert names.providers.to_dict("records") == [{"rendering_npi": "1", "provider_name": "Dana Reyes"}]
    assert names.clinics.set_index("clinic_id")["clinic_name"].to_dict() == {"A": "Lakeside", "B": "Hill"}
    assert not names_in_rows(rows.drop(columns=["rendering_provider_name", "clinic_name"])).any


def test_the_rows_names_win_over_the_reference_table_which_fills_the_rest():
    rows = names_in_rows(pd.DataFrame({"rendering_npi": ["1"], "rendering_provider_name": ["From export"]}))
    reference = names_from_reference(pd.DataFrame({"rendering_npi": ["1", "2"], "provider_name": ["Ref one", "Ref two"],
                                                   "verified": [True, True], "source": ["NPPES", "NPPES"]}), None)
    names = combine(rows, reference)
    assert names.provider(pd.Series(["1", "2", "9"])).tolist()[:2] == ["From export", "Ref two"]
    assert pd.isna(names.provider(pd.Series(["9"]))[0])


def test_with_names_places_each_name_after_its_id_and_leaves_the_input_alone():
    table = pd.DataFrame({"rendering_npi": ["1"], "clinic_id": ["A"], "findings": [3]})
    names = combine(names_from_reference(pd.DataFrame({"rendering_npi": ["1"], "provider_name": ["Dana"]}),
                                         pd.DataFrame({"clinic_id": ["A"], "clinic_name": ["Lakeside"]})))
    shown = with_names(table, names)
    assert list(shown.columns) == ["rendering_npi", "provider_name", "clinic_id", "clinic_name", "findings"]
    assert list(table.columns) == ["rendering_npi", "clinic_id", "findings"]
    assert label(shown["rendering_npi"], shown["provider_name"]).tolist() == ["Dana (1)"]
    assert label(pd.Series(["2"]), pd.Series([None], dtype="str")).tolist() == ["2"]


def test_reference_names_tables_are_optional(tmp_path):
    shipped = load_reference()
    assert shipped.providers is not None and list(shipped.providers.columns)[:2] == ["rendering_npi", "provider_name"]
    folder = tmp_path / "reference"
    folder.mkdir()
    for table in (REPO / "data" / "reference").glob("*.csv"):
        if table.name not in ("providers.csv", "clinics.csv"):
            (folder / table.name).write_bytes(table.read_bytes())
    assert load_reference(folder).providers.empty  # layered per table: the packaged (empty) table answers
    (folder / "providers.csv").write_text("rendering_npi,provider_name,verified,source\n"
                                          "1234567893,Dana Reyes PT,true,NPPES export 2026-10\n")
    loaded = load_reference(folder).providers
    assert loaded.loc[0, "provider_name"] == "Dana Reyes PT" and bool(loaded.loc[0, "verified"])
