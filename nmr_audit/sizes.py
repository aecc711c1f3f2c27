"""How much of a run is held at once: defaults shared by the flow, the CLI and the writers.

Measured on the 2-core development box (see docs/performance.md → "fourth pass"): two buckets of
300k claim lines side by side in two worker processes (≤ 1.3 GiB each; 1.8 GiB each at 500k, at
the same speed) beside the flow's process (0.9 GiB while the workers audit), and batches of 250k
rows read in two threads (the flow's process 3.5 GiB at 500k rows), keep a 10M-line run's process
tree under 4 GiB; XlsxWriter costs several µs a cell, so the workbook's detail sheets stop at
10,000 rows.
"""

BATCH_ROWS = 250_000  # rows read and validated at a time, whatever a file's size (two tables side by side)
LINES_PER_BUCKET = 300_000  # claim lines per bucket of patients (a worker holds ~1.3 GiB at this size, 1.8 at 500k)
# On a Dask cluster (`--dask-address`) each bucket pays the rule engine's fixed cost on its worker
# and the workers' memory is the cluster's: buckets of about a million lines (10M lines on two
# local workers: 173–184 s, against 188 s at 300k; docs/performance.md → "fifth pass").
DASK_LINES_PER_BUCKET = 1_000_000
BUCKETS_AT_ONCE = 2  # buckets audited side by side: two worker processes (2 cores)
CSV_BLOCK = 16 << 20  # bytes of CSV parsed at a time (the batches are then cut to BATCH_ROWS)
WORKBOOK_ROWS = 10_000  # rows per detail sheet of report.xlsx, most severe / riskiest first
LOOK_BACK_DAYS = 30  # days of dates of service a nightly run keeps and audits again (runtime.state)


def lines_per_bucket(given: int | None, on_dask: bool) -> int:
    """Claim lines per bucket: `given` (the command's `--lines-per-bucket`), else the default of
    where the buckets are audited (`DASK_LINES_PER_BUCKET` on a Dask cluster, `LINES_PER_BUCKET`
    in the command's own worker processes, whose memory the command's tree holds)."""
    if given is not None:
        return given
    return DASK_LINES_PER_BUCKET if on_dask else LINES_PER_BUCKET
