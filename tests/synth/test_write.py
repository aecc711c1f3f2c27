"""The generator's export styles are read back into the same canonical rows (issue 17): 12-hour
times, `;` files with decimal commas, US dates, a BOM and CRLF, an EMR's column names."""

import pandas as pd
import pytest

from nmr_audit.intake import conform_file, conventions_for
from nmr_audit.io.mapping_file import load_mapping
from nmr_audit.io.readers import open_export
from nmr_audit.mapping import IDENTITY
from nmr_audit.synth.write import ExportStyle, twelve_hour, write_dataset
from tests.conftest import REPO


def test_twelve_hour_clock_times():
    clocks = pd.Series(["00:15", "09:05", "12:00", "13:30", "23:59", None], dtype="str")
    assert twelve_hour(clocks).iloc[:5].tolist() == ["12:15 AM", "9:05 AM", "12:00 PM", "1:30 PM", "11:59 PM"]


def canonical(folder, mapping, reference):
    out = {}
    for table, sub in (("claim_lines", "claims"), ("visit_notes", "notes")):
        tm = mapping.for_table(table)
        rows, held = [], []
        for path in sorted((folder / sub).iterdir()):
            for raw in open_export(path).tables:
                for frame in raw.batches():
                    part = conform_file(frame, table, tm, reference, raw.source,
                                        conventions_for(raw.format, raw.delimiter, tm))
                    rows.append(part.rows.drop(columns=["source_file"]))
                    held.append(part.quarantine)
        out[table] = (pd.concat(rows, ignore_index=True), pd.concat(held, ignore_index=True))
    return out


def test_a_european_semicolon_export_with_12_hour_times_reads_as_the_plain_one(tmp_path, reference):
    mapping = load_mapping(REPO / "data" / "mappings" / "therachart_csv.yaml")
    plain = tmp_path / "plain"
    styled = tmp_path / "styled"
    write_dataset(plain, 240, 5, 0.05, ExportStyle(format="csv"))
    write_dataset(styled, 240, 5, 0.05, ExportStyle(format="csv", delimiter=";", us_dates=True, windows=True,
                                                    twelve_hour=True, decimal_comma=True, mapping=mapping))
    text = (styled / "claims" / "claims.csv").read_text(encoding="utf-8-sig")
    assert ";62,00;" in text or ";58,00;" in text
    assert " AM;" in (styled / "notes" / "notes.csv").read_text(encoding="utf-8-sig")
    ours, theirs = canonical(plain, IDENTITY, reference), canonical(styled, mapping, reference)
    for table in ("claim_lines", "visit_notes"):
        rows, held = ours[table]
        styled_rows, styled_held = theirs[table]
        pd.testing.assert_frame_equal(rows[list(styled_rows.columns)], styled_rows, check_dtype=False)
        assert held["source_row"].tolist() == styled_held["source_row"].tolist()
    assert ours["visit_notes"][0]["unreadable_fields"].map(len).sum() > 0  # the generator's '25:61' notes


def test_decimal_commas_need_another_delimiter():
    with pytest.raises(ValueError, match="use ';'"):
        ExportStyle(format="csv", decimal_comma=True)


def test_the_generate_command_writes_the_styles_and_refuses_decimal_commas_with_commas(tmp_path):
    from typer.testing import CliRunner

    from nmr_audit.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["generate", "--visits", "12", "--out", str(tmp_path / "a"), "--format", "csv",
                                  "--decimal-comma"])
    assert refused.exit_code == 2 and "--delimiter ';'" in refused.output
    made = runner.invoke(app, ["generate", "--visits", "24", "--out", str(tmp_path / "b"), "--format", "csv",
                               "--delimiter", ";", "--decimal-comma", "--twelve-hour"])
    assert made.exit_code == 0, made.output
    claims = (tmp_path / "b" / "claims" / "claims.csv").read_text()
    assert ",00;" in claims and " PM;" in (tmp_path / "b" / "notes" / "notes.csv").read_text()
