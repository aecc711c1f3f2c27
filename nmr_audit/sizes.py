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
BUCKETS_AT_ONCE = 2  # buckets audited side by side: two worker processes (2 cores)
CSV_BLOCK = 16 << 20  # bytes of CSV parsed at a time (the batches are then cut to BATCH_ROWS)
WORKBOOK_ROWS = 10_000  # rows per detail sheet of report.xlsx, most severe / riskiest first
LOOK_BACK_DAYS = 30  # days of dates of service a nightly run keeps and audits again (runtime.state)
