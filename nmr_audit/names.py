"""Provider and clinic names to show beside rendering NPIs and clinic ids in the reports.

Names come from the audited rows themselves (the optional canonical columns
`rendering_provider_name` and `clinic_name`, which a mapping profile can fill from an
export) and from the optional reference tables `providers.csv` (`rendering_npi,
provider_name, verified, source`) and `clinics.csv` (`clinic_id, clinic_name, verified,
source`). The run's own rows win: they are what the clinic calls its people today; the
reference fills the rest. An id with no name shows alone. Names are display text only:
nothing is audited on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

PROVIDER_COLUMNS = ("rendering_npi", "provider_name")
CLINIC_COLUMNS = ("clinic_id", "clinic_name")
ROW_NAME_COLUMNS = {"rendering_provider_name": PROVIDER_COLUMNS, "clinic_name": CLINIC_COLUMNS}


def _empty(columns: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})


@dataclass(frozen=True)
class Names:
    """`providers`: rendering_npi → provider_name; `clinics`: clinic_id → clinic_name (one row
    per id, `str` columns)."""

    providers: pd.DataFrame = field(default_factory=lambda: _empty(PROVIDER_COLUMNS))
    clinics: pd.DataFrame = field(default_factory=lambda: _empty(CLINIC_COLUMNS))

    @property
    def any(self) -> bool:
        return bool(len(self.providers) or len(self.clinics))

    def provider(self, npis: pd.Series) -> pd.Series:
        """The provider name of each NPI (missing where none is known)."""
        return npis.map(self.providers.set_index("rendering_npi")["provider_name"]).astype("str")

    def clinic(self, clinic_ids: pd.Series) -> pd.Series:
        return clinic_ids.map(self.clinics.set_index("clinic_id")["clinic_name"]).astype("str")


def names_in_rows(rows: pd.DataFrame) -> Names:
    """The names a batch of canonical rows carries (none when it lacks the name columns): for
    each id, its most frequent non-empty name (ties: the first in alphabetical order)."""
    found = {}
    for column, (key, name) in ROW_NAME_COLUMNS.items():
        if column in rows.columns and key in rows.columns:
            pairs = rows[[key, column]].dropna().rename(columns={column: name})
            pairs = pairs[pairs[name].astype("str").str.strip() != ""]
            found[name] = _most_frequent(pairs, key, name)
    return Names(providers=found.get("provider_name", _empty(PROVIDER_COLUMNS)),
                 clinics=found.get("clinic_name", _empty(CLINIC_COLUMNS)))


def _most_frequent(pairs: pd.DataFrame, key: str, name: str) -> pd.DataFrame:
    counted = pairs.groupby([key, name]).size().rename("n").reset_index()
    counted = counted.sort_values([key, "n", name], ascending=[True, False, True], kind="stable")
    return counted.drop_duplicates(key)[[key, name]].astype("str").reset_index(drop=True)


def combine(*parts: Names) -> Names:
    """Names from several sources, the earlier part winning for an id both name."""
    providers = pd.concat([p.providers for p in parts], ignore_index=True).drop_duplicates("rendering_npi")
    clinics = pd.concat([p.clinics for p in parts], ignore_index=True).drop_duplicates("clinic_id")
    return Names(providers.reset_index(drop=True), clinics.reset_index(drop=True))


def names_from_reference(providers: pd.DataFrame | None, clinics: pd.DataFrame | None) -> Names:
    """Names from the reference tables (`providers.csv`, `clinics.csv`; absent tables: none)."""
    return Names(
        providers=_empty(PROVIDER_COLUMNS) if providers is None or providers.empty
        else providers[list(PROVIDER_COLUMNS)].astype("str").drop_duplicates("rendering_npi"),
        clinics=_empty(CLINIC_COLUMNS) if clinics is None or clinics.empty
        else clinics[list(CLINIC_COLUMNS)].astype("str").drop_duplicates("clinic_id"))


def with_names(table: pd.DataFrame, names: Names) -> pd.DataFrame:
    """`table` with `provider_name` after `rendering_npi` and `clinic_name` after `clinic_id`
    (where the table has those ids; empty where no name is known). Never mutates `table`."""
    shown = table.copy()
    for key, name, lookup in (("rendering_npi", "provider_name", names.provider),
                              ("clinic_id", "clinic_name", names.clinic)):
        if key in shown.columns and name not in shown.columns:
            shown.insert(shown.columns.get_loc(key) + 1, name, lookup(shown[key]))
    return shown


def label(ids: pd.Series, named: pd.Series) -> pd.Series:
    """'name (id)' where a name is known, else the id: the charts' axis labels."""
    ids = ids.astype("str")
    return (named.fillna("").astype("str") + " (" + ids + ")").where(named.notna() & (named.astype("str") != ""), ids)
