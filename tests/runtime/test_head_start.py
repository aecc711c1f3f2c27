"""The command's head start: inputs read while Prefect starts, taken over by the flow's read."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest

from nmr_audit.errors import InputError
from nmr_audit.runtime import head_start
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.plan import TABLES, load_settings, plan_run
from nmr_audit.runtime.reading import first_file_opened, process_started, read_table
from nmr_audit.runtime.spill import Spill
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "canonical"


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)


def config(out, **changes) -> RunConfig:
    return RunConfig(claims=[str(SAMPLE / "claims")], notes=[str(SAMPLE / "notes")], out=str(out), **changes)


def test_a_bad_path_is_reported_before_anything_is_read_or_started(tmp_path):
    with pytest.raises(InputError, match="no claim_lines file matches"):
        head_start.begin(dataclasses.replace(config(tmp_path / "out"), claims=(str(tmp_path / "nope"),)))
    with pytest.raises(InputError, match="mapping profile"):
        head_start.begin(config(tmp_path / "out", mapping=str(tmp_path / "missing.yaml")))
    assert not (tmp_path / "out").exists()


def test_the_flow_takes_over_what_it_would_have_read_itself(tmp_path):
    given = config(tmp_path)
    head = head_start.begin(given)
    try:
        assert head.workers is None  # a run held in memory audits in the flow's process
        assert head_start.adopt(dataclasses.replace(given, batch_rows=given.batch_rows + 1), plan_run(given)) is None
        assert head_start.adopt(given, plan_run(dataclasses.replace(given, lines_per_bucket=100))) is None  # buckets
        assert head_start.adopt(given, plan_run(given)) is head
        assert head_start.adopt(given, plan_run(given)) is None  # taken once
        settings = load_settings(given, suites=False)
        for table in TABLES:
            log, own_spill = Lines(), Spill(1)
            taken = head.intake(table, log)
            own = read_table(table, head.plan.files[table], settings.mapping, settings.reference, own_spill,
                             given.batch_rows, Lines())
            for part in ("keys", "duplicates", "quarantine", "files"):
                pd.testing.assert_frame_equal(getattr(taken, part), getattr(own, part))
            pd.testing.assert_frame_equal(head.spill.load(table, 0), own_spill.load(table, 0))
            assert any(line.startswith(f"{table}: read ") for line in log.lines)  # held, then handed over
            assert "read by the command while Prefect started" in log.lines[-1]
    finally:
        head.close()


def test_a_head_start_no_flow_took_stops_and_leaves_no_spill(tmp_path):
    head = head_start.begin(config(tmp_path, lines_per_bucket=100, data_docs=False))
    assert head.spill.buckets > 1 and head.spill.folder.exists()
    assert head.plan.workers == 2 and head.workers is not None  # the bucket workers start with the command
    head.close()
    assert not head.spill.folder.exists()
    with pytest.raises(RuntimeError, match="shutdown"):
        head.workers.submit(print)  # stopped with it


def test_the_first_input_file_is_logged_once_with_the_time_since_the_process_started():
    started = process_started()
    assert started <= time.time()
    first, later = Lines(), Lines()
    first_file_opened(SAMPLE / "claims" / "claims.csv", first)
    first_file_opened(SAMPLE / "notes" / "notes.csv", later)
    if first.lines:  # unless this process opened an input earlier (another test)
        assert first.lines[0].startswith("first input file opened ") and "(claims.csv)" in first.lines[0]
    assert later.lines == []
