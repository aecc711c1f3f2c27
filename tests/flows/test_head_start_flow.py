"""A flow that takes over the command's head start writes what a flow reading for itself writes."""

import json

import pandas as pd
import pytest

from flows.audit import audit_flow
from nmr_audit.runtime import head_start
from nmr_audit.runtime.config import RunConfig
from nmr_audit.runtime.guard import held_by_command
from tests.conftest import REPO

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.flow]
SAMPLE = REPO / "data" / "sample" / "canonical"


@pytest.mark.parametrize("sizes", [{}, pytest.param({"batch_rows": 97, "lines_per_bucket": 300}, marks=pytest.mark.slow)],
                         ids=["in memory", "buckets"])  # buckets: worker processes, end to end
def test_a_flow_that_takes_over_the_head_start_writes_what_its_own_read_writes(tmp_path, sizes):
    early, own = (RunConfig(claims=[str(SAMPLE / "claims")], notes=[str(SAMPLE / "notes")], out=str(tmp_path / name),
                            data_docs=False, **sizes) for name in ("early", "own"))
    with held_by_command(tmp_path / "early", "run"):  # as the command holds it, before anything is written there
        head = head_start.begin(early)
        try:
            done = audit_flow(early, return_state=True)
        finally:
            head.close()
    assert done.is_completed(), done.message
    assert head.adopted
    alone = audit_flow(own, return_state=True)
    assert alone.is_completed(), alone.message
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet", "claim_lines.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "early" / name), pd.read_parquet(tmp_path / "own" / name))
    summaries = [json.loads((tmp_path / out / "summary.json").read_text()) for out in ("early", "own")]
    for part in ("inputs", "totals", "findings", "visits"):
        assert summaries[0][part] == summaries[1][part]
    assert not list((tmp_path / "early").glob(".spill-*"))  # the flow removed the spill it took over
