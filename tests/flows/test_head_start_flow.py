"""A flow that takes over the command's head start writes what a flow reading for itself writes."""

import json

import pandas as pd
import pytest

from flows.audit import audit_flow
from nmr_audit.io import head_start
from tests.conftest import REPO

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.flow]
SAMPLE = REPO / "data" / "sample" / "canonical"


@pytest.mark.parametrize("sizes", [{}, {"batch_rows": 97, "lines_per_bucket": 300}], ids=["in memory", "buckets"])
def test_a_flow_that_takes_over_the_head_start_writes_what_its_own_read_writes(tmp_path, sizes):
    claims, notes = [str(SAMPLE / "claims")], [str(SAMPLE / "notes")]
    head = head_start.begin(claims, notes, tmp_path / "early", data_docs=False, **sizes)
    try:
        early = audit_flow(claims=claims, notes=notes, out=str(tmp_path / "early"), data_docs=False,
                           return_state=True, **sizes)
    finally:
        head.close()
    assert early.is_completed(), early.message
    assert head.adopted
    own = audit_flow(claims=claims, notes=notes, out=str(tmp_path / "own"), data_docs=False, return_state=True,
                     **sizes)
    assert own.is_completed(), own.message
    for name in ("findings.parquet", "visits.parquet", "quarantine.parquet", "claim_lines.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "early" / name), pd.read_parquet(tmp_path / "own" / name))
    summaries = [json.loads((tmp_path / out / "summary.json").read_text()) for out in ("early", "own")]
    for part in ("inputs", "totals", "findings", "visits"):
        assert summaries[0][part] == summaries[1][part]
    assert not list((tmp_path / "early").glob(".spill-*"))  # the flow removed the spill it took over
