"""Three nights in one output root: the reports compare each with the previous run.

Night 1 has every claim line but one visit's note (PAT00000000, 2026-03-07: NO_NOTE). Night 2
brings that note (the NO_NOTE is resolved) and a claim of a new patient without a note (a new
NO_NOTE). Night 3 brings that patient's note (resolved in turn).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.flows.test_nightly import SAMPLE, night

pytestmark = pytest.mark.usefixtures("prefect_server")
NEW_PATIENT, NEW_DAY = "PAT99999999", "2026-03-30"


def _outputs(result):
    run = Path(result.run_dir)
    return (run, json.loads((run / "summary.json").read_text()), pd.read_parquet(run / "findings.parquet"),
            (run / "report.html").read_text(encoding="utf-8"), openpyxl.load_workbook(run / "report.xlsx"))


def _sheet_rows(book):
    return [[c for c in row] for row in book["Since last night"].iter_rows(values_only=True)]


@pytest.mark.slow  # end to end: three nights
def test_three_nights_show_new_and_resolved_findings_and_dollars_by_night(tmp_path):
    exports, root = tmp_path / "exports", tmp_path / "root"
    for table in ("claims", "notes"):
        (exports / table).mkdir(parents=True)
    (exports / "claims" / "night1.csv").write_bytes((SAMPLE / "canonical" / "claims" / "claims.csv").read_bytes())
    notes = pd.read_csv(SAMPLE / "canonical" / "notes" / "notes.csv", dtype=str)
    late = notes["note_id"] == "NOTE000000005"  # PAT00000000 on 2026-03-07: its visit's one note (commercial)
    day = notes.loc[late, "date_of_service"].iloc[0]
    notes[~late].to_csv(exports / "notes" / "night1.csv", index=False)

    first = night(exports, root, date(2026, 4, 1), look_back_days=60).result()
    _, summary1, found1, html1, book1 = _outputs(first)
    assert summary1["since_last_night"]["previous_run_id"] is None
    assert 'id="since-last-night"' in html1 and "Nothing to compare with yet." in html1
    assert 'id="chart-nights"' in html1 and 'id="new-findings"' not in html1
    assert _sheet_rows(book1)[1][0] == "Nothing to compare with yet."
    cleared = found1[(found1["patient_id"] == "PAT00000000") & (found1["date_of_service"] == day)]
    assert cleared["rule_id"].tolist() == ["NO_NOTE"]

    notes[late].to_csv(exports / "notes" / "night2.csv", index=False)
    claims = pd.read_csv(SAMPLE / "canonical" / "claims" / "claims.csv", dtype=str)
    extra = claims[claims["cpt_code"] == "97112"].head(1).assign(
        claim_id="CLM-NEW-1", line_number="1", patient_id=NEW_PATIENT, date_of_service=NEW_DAY)
    extra.to_csv(exports / "claims" / "night2.csv", index=False)
    second = night(exports, root, date(2026, 4, 2), look_back_days=60).result()
    run2, summary2, found2, html2, book2 = _outputs(second)
    since2 = summary2["since_last_night"]
    new = found2[~found2["finding_id"].isin(found1["finding_id"])]
    assert new["patient_id"].unique().tolist() == [NEW_PATIENT] and "NO_NOTE" in set(new["rule_id"])
    on_new_line = float(new.groupby(["claim_id", "line_number"])["dollars_at_risk"].max().sum())
    assert since2 == {"previous_run_id": first.run_id, "previous_as_of": "2026-04-01",
                      "new_findings": len(new), "new_dollars_at_risk": pytest.approx(on_new_line),
                      "resolved_findings": 1, "resolved_dollars_at_risk": pytest.approx(
                          float(cleared["dollars_at_risk"].iloc[0])),
                      "reexamined_findings": 1, "look_back_days": 60}
    reexamined = pd.read_parquet(run2 / "reexamined.parquet")  # written at the commit: the same verdict
    assert reexamined.query("outcome == 'cleared'")["finding_id"].tolist() == cleared["finding_id"].tolist()
    assert f"Compared with run <b>{first.run_id}</b>" in html2
    assert 'id="new-findings"' in html2 and "CLM-NEW-1" in html2.split('id="new-findings"')[1].split("</table>")[0]
    resolved_table = html2.split('id="resolved-findings"')[1].split("</table>")[0]
    assert cleared["claim_id"].iloc[0] in resolved_table and "NO_NOTE" in resolved_table
    rows2 = _sheet_rows(book2)
    figures = {row[0]: row[1] for row in rows2 if row and row[0]}
    assert figures["Compared with run"] == first.run_id and figures["New findings"] == len(new)
    assert figures["Findings resolved"] == 1
    assert book2["Since last night"]._charts, "the sheet has its chart of dollars by night"

    (exports / "notes" / "night3.csv").write_text(
        notes[notes["note_id"] == "NOTE000000001"].assign(note_id="NOTE-NEW-1", patient_id=NEW_PATIENT,
                                                          date_of_service=NEW_DAY).to_csv(index=False))
    third = night(exports, root, date(2026, 4, 3), look_back_days=60).result()
    _, summary3, found3, html3, book3 = _outputs(third)
    since3 = summary3["since_last_night"]
    assert since3["previous_run_id"] == second.run_id and since3["resolved_findings"] >= 1
    assert not found3[(found3["patient_id"] == NEW_PATIENT) & (found3["rule_id"] == "NO_NOTE")].size
    # the series by night: the three runs in the ledger's order, each with its own summary's figures
    specs = json.loads(html3.split('id="chart-specs">')[1].split("</script>")[0])
    points = next(iter(specs["chart-nights"]["datasets"].values()))
    assert [p["run_id"] for p in points] == [first.run_id, second.run_id, third.run_id]
    assert [p["night"] for p in points] == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert [p["dollars_at_risk"] for p in points] == [s["findings"]["dollars_at_risk"]
                                                      for s in (summary1, summary2, summary3)]
    assert [p["findings"] for p in points] == [s["findings"]["total"] for s in (summary1, summary2, summary3)]
    assert points[0]["resolved"] is None and points[1]["resolved"] == pytest.approx(since2["resolved_dollars_at_risk"])
    assert points[2]["new_findings"] == since3["new_findings"]
    nights = [row for row in _sheet_rows(book3) if row and str(row[0]).startswith("2026-04-")]
    assert [row[0] for row in nights] == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert [row[3] for row in nights] == [s["findings"]["dollars_at_risk"] for s in (summary1, summary2, summary3)]
