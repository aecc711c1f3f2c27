"""The command's head start: inputs read while Prefect starts, taken over by the flow's read."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from nmr_audit.contract import CLAIM_LINES, VISIT_NOTES
from nmr_audit.errors import InputError
from nmr_audit.io import head_start
from nmr_audit.io.discover import discover
from nmr_audit.io.reference import load_reference
from nmr_audit.io.spill import Spill
from nmr_audit.mapping import IDENTITY
from nmr_audit.sizes import BATCH_ROWS
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "canonical"


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)


def files() -> dict[str, list]:
    return {CLAIM_LINES: discover([str(SAMPLE / "claims")], CLAIM_LINES)[0],
            VISIT_NOTES: discover([str(SAMPLE / "notes")], VISIT_NOTES)[0]}


def test_a_bad_path_is_reported_before_anything_is_read_or_started(tmp_path):
    with pytest.raises(InputError, match="no claim_lines file matches"):
        head_start.begin([str(tmp_path / "nope")], [str(SAMPLE / "notes")], tmp_path / "out")
    with pytest.raises(InputError, match="mapping profile cannot be read"):
        head_start.begin([str(SAMPLE / "claims")], [str(SAMPLE / "notes")], tmp_path / "out",
                         mapping=str(tmp_path / "missing.yaml"))
    assert not (tmp_path / "out").exists()


def test_the_flow_takes_over_what_it_would_have_read_itself(tmp_path):
    head = head_start.begin([str(SAMPLE / "claims")], [str(SAMPLE / "notes")], tmp_path)
    try:
        assert head.workers is None  # a run held in memory audits in the flow's process
        assert head_start.adopt(files(), 1, None, None, None, BATCH_ROWS + 1) is None  # another batch size
        assert head_start.adopt(files(), 2, None, None, None, BATCH_ROWS) is None  # other buckets
        assert head_start.adopt(files(), 1, None, None, None, BATCH_ROWS) is head
        assert head_start.adopt(files(), 1, None, None, None, BATCH_ROWS) is None  # taken once
        reference = load_reference()
        for table, paths in files().items():
            log, own_spill = Lines(), Spill(1)
            taken = head.intake(table, log)
            own = head_start.read_table_rows(table, paths, IDENTITY, reference, own_spill, BATCH_ROWS, Lines())
            for part in ("keys", "duplicates", "quarantine", "files"):
                pd.testing.assert_frame_equal(getattr(taken, part), getattr(own, part))
            pd.testing.assert_frame_equal(head.spill.load(table, 0), own_spill.load(table, 0))
            assert any(line.startswith(f"{table}: read ") for line in log.lines)  # held, then handed over
            assert "read by the command while Prefect started" in log.lines[-1]
    finally:
        head.close()


def test_a_head_start_no_flow_took_stops_and_leaves_no_spill(tmp_path):
    head = head_start.begin([str(SAMPLE / "claims")], [str(SAMPLE / "notes")], tmp_path, lines_per_bucket=100,
                            data_docs=False)
    assert head.spill.buckets > 1 and head.spill.folder.exists()
    assert head.plan.workers == 1 and head.workers is not None  # the bucket worker starts with the command
    head.close()
    assert not head.spill.folder.exists()
    with pytest.raises(RuntimeError, match="shutdown"):
        head.workers.submit(print)  # stopped with it


def test_the_first_input_file_is_logged_once_with_the_time_since_the_process_started():
    started = head_start.process_started()
    assert started <= time.time()
    first, later = Lines(), Lines()
    head_start.first_file_opened(SAMPLE / "claims" / "claims.csv", first)
    head_start.first_file_opened(SAMPLE / "notes" / "notes.csv", later)
    if first.lines:  # unless this process opened an input earlier (another test)
        assert first.lines[0].startswith("first input file opened ") and "(claims.csv)" in first.lines[0]
    assert later.lines == []
