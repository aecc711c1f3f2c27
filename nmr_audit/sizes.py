"""How much of a run is held at once: defaults shared by the flow, the CLI and the writers.

Measured on the 2-core development box (see README, Performance): a bucket of 1.5M claim lines
peaks near 2.5 GiB; batches of 500k rows keep validation well under that; XlsxWriter costs
several µs a cell, so the workbook's detail sheets stop at 10,000 rows.
"""

BATCH_ROWS = 500_000  # rows read and validated at a time, whatever a file's size
LINES_PER_BUCKET = 1_500_000  # claim lines audited in memory at once; more go bucket by bucket
WORKBOOK_ROWS = 10_000  # rows per detail sheet of report.xlsx, most severe / riskiest first
