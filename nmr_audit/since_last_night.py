"""Since the last night: what a nightly run changed against the output root's previous run.

A nightly output root keeps the findings still standing after its last committed run (the
look-back state, `runtime.state`), and every run's outputs under the ledger's run ids. Tonight's
findings are compared with them by their stable `finding_id` (`findings.finding_ids`):

- **new**: tonight's findings that were not standing after the previous run (neither in the
  state's findings nor in the previous run's own `findings.parquet`);
- **resolved**: standing findings whose patient and date of service tonight audited again
  (`runtime.state.reexamined`, dated inside the look-back window) and that tonight did not
  find again — a late note clears a claim line's NO_NOTE, a corrected claim its excess units;
- **by night**: each of the last `NIGHTS` runs (tonight last) with its findings and dollars at
  risk, and what it found new and resolved.

A finding standing but not re-examined tonight (its day untouched by tonight's files) is neither
new nor resolved: it stays open in the state. Money is counted as the headline counts it: each
claim line once, at the largest amount any of its findings puts on it, in US dollars.

Pure: frames in, frames out (reading the root is `runtime.last_night`'s job).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from nmr_audit.findings import FINDING_COLUMNS, dollars_per_line
from nmr_audit.runtime.state import FINDINGS, NightState, reexamined

NIGHTS = 30  # runs shown by night, tonight included
SERIES_COLUMNS = {"run_id": "str", "as_of": "str", "findings": "Int64", "dollars_at_risk": "Float64",
                  "new_findings": "Int64", "new_dollars_at_risk": "Float64", "resolved_findings": "Int64",
                  "resolved_dollars_at_risk": "Float64"}
RESOLVED_EXTRA = ("first_run_id", "first_as_of")  # the night that first found a resolved finding


@dataclass(frozen=True)
class SinceLastNight:
    """Tonight against the root's previous run.

    `previous_run_id`, `previous_as_of`: the ledger's last run before tonight (None on a root's
    first night: nothing to compare with, `new` and `resolved` empty). `new`: tonight's findings
    (`findings.FINDING_COLUMNS`) not standing after it. `resolved`: the standing findings tonight
    examined again and did not find (FINDING_COLUMNS plus `first_run_id`, `first_as_of`).
    `reexamined`: how many standing findings tonight examined again. `series`: one row per run,
    oldest first, tonight last, at most `NIGHTS` (`SERIES_COLUMNS`; the new/resolved figures are
    empty for a first night and for runs that did not record them). `look_back_days`: 0 when the
    root keeps no history, so nothing can be resolved.
    """

    previous_run_id: str | None
    previous_as_of: str | None
    new: pd.DataFrame
    resolved: pd.DataFrame
    reexamined: int
    series: pd.DataFrame
    look_back_days: int = 0
    notes: list[str] = field(default_factory=list)  # what the reader should know (first night, no look-back)

    @property
    def first_night(self) -> bool:
        return self.previous_run_id is None

    def totals(self) -> dict[str, Any]:
        """The figures for summary.json (`since_last_night`), read back by later nights' series."""
        compared = not self.first_night
        return {"previous_run_id": self.previous_run_id, "previous_as_of": self.previous_as_of,
                "new_findings": len(self.new) if compared else None,
                "new_dollars_at_risk": line_dollars(self.new) if compared else None,
                "resolved_findings": len(self.resolved) if compared else None,
                "resolved_dollars_at_risk": line_dollars(self.resolved) if compared else None,
                "reexamined_findings": self.reexamined, "look_back_days": self.look_back_days}

    def shown(self, how: Any) -> SinceLastNight:
        """A copy whose finding tables went through `how` (a frame → frame function: masking,
        names); the series holds no patient id."""
        return replace(self, new=how(self.new), resolved=how(self.resolved))


def line_dollars(findings: pd.DataFrame) -> float:
    """Dollars at risk of `findings`, each claim line once (its largest amount), to the cent."""
    if findings.empty:
        return 0.0
    return round(float(dollars_per_line(findings).sum()), 2)


def new_findings(findings: pd.DataFrame, standing: pd.DataFrame) -> pd.DataFrame:
    """Tonight's `findings` whose `finding_id` is not among the `standing` ones (those open after
    the previous run), in tonight's order."""
    return findings[~findings["finding_id"].isin(standing["finding_id"])].reset_index(drop=True)


def resolved_findings(state_findings: pd.DataFrame | None, touched: pd.DataFrame, findings: pd.DataFrame,
                      since: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """The standing findings of the look-back state that tonight examined again — their
    (patient_id, date_of_service) among `touched`, dated `since` or later — and did not find
    again, with how many it examined. The same selection as `reexamined.parquet`
    (`runtime.state.reexamined`), so the report and that file agree."""
    if state_findings is None or state_findings.empty or touched.empty:
        return _empty(RESOLVED_EXTRA), 0
    seen = reexamined(NightState({FINDINGS: state_findings}), touched, findings, since)
    cleared = seen.loc[seen["outcome"] == "cleared", "finding_id"]
    gone = state_findings[state_findings["finding_id"].isin(cleared)].drop_duplicates("finding_id")
    columns = [*FINDING_COLUMNS, *[c for c in RESOLVED_EXTRA if c in gone.columns]]
    return gone.reindex(columns=columns).reset_index(drop=True), len(seen)  # a state older than a column: empty


def night_series(earlier: pd.DataFrame, tonight: dict[str, Any], nights: int = NIGHTS) -> pd.DataFrame:
    """The last `nights` runs, oldest first, tonight last: `earlier` (the ledger's runs in the
    order it recorded them, `SERIES_COLUMNS`, figures missing where a run's summary lacks them)
    and `tonight` (a dict of the same keys). A run id given twice keeps its last row."""
    row = pd.DataFrame([{c: tonight.get(c) for c in SERIES_COLUMNS}])
    parts = [p for p in (earlier.reindex(columns=list(SERIES_COLUMNS)), row) if not p.empty]
    table = pd.concat([p.astype(SERIES_COLUMNS) for p in parts], ignore_index=True)
    table = table.drop_duplicates("run_id", keep="last")
    return table.tail(nights).reset_index(drop=True).astype(SERIES_COLUMNS)


def since_last_night(findings: pd.DataFrame, dollars_at_risk: float, run_id: str, as_of: str,
                     previous: dict[str, Any] | None, previous_findings: pd.DataFrame | None,
                     state_findings: pd.DataFrame | None, touched: pd.DataFrame, since: pd.Timestamp,
                     earlier: pd.DataFrame, look_back_days: int, nights: int = NIGHTS) -> SinceLastNight:
    """Tonight (`findings`, its headline `dollars_at_risk`, `run_id`, `as_of` YYYY-MM-DD) against
    the `previous` run (`run_id`, `as_of`; None on the first night), whose own findings are
    `previous_findings` and after which `state_findings` stood (the look-back state; None when
    the root keeps none). `touched`: the patient-days tonight's files touch (`runtime.state.
    touched_days`); `since`: the window's first date of service; `earlier`: the ledger's runs
    (`night_series`)."""
    notes = []
    if previous is None:
        notes.append("This is the first run in this output root: there is no earlier night to compare with.")
        new, resolved, examined = _empty(()), _empty(RESOLVED_EXTRA), 0
    else:
        parts = [f[["finding_id"]] for f in (state_findings, previous_findings) if f is not None and not f.empty]
        standing = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"finding_id": pd.Series(dtype="str")})
        new = new_findings(findings, standing)
        resolved, examined = resolved_findings(state_findings, touched, findings, since)
        if look_back_days <= 0:
            notes.append("The look-back is off (look_back_days 0): no earlier visit is audited again, so no "
                         "finding can be resolved; new findings are those the previous run did not have.")
    compared = previous is not None
    tonight = {"run_id": run_id, "as_of": as_of, "findings": len(findings), "dollars_at_risk": dollars_at_risk,
               "new_findings": len(new) if compared else None,
               "new_dollars_at_risk": line_dollars(new) if compared else None,
               "resolved_findings": len(resolved) if compared else None,
               "resolved_dollars_at_risk": line_dollars(resolved) if compared else None}
    return SinceLastNight(previous["run_id"] if previous else None, previous["as_of"] if previous else None,
                          new, resolved, examined, night_series(earlier, tonight, nights), look_back_days, notes)


def night_labels(series: pd.DataFrame) -> pd.Series:
    """Each run's night (its as-of date); a night with several runs numbers them: 2026-11-22 (2)."""
    nights = series["as_of"].astype("str").fillna("")
    number = nights.groupby(nights).cumcount() + 1
    several = nights.map(nights.value_counts()) > 1
    return nights.where(~several, nights + " (" + number.astype("str") + ")")


def _empty(extra: tuple[str, ...]) -> pd.DataFrame:
    columns = {**FINDING_COLUMNS, **dict.fromkeys(extra, "str")}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
