"""The consultant's audit: a sampling frame from a run's outputs, a reproducible probability
sample of it, and the reviewed overpayment extrapolated to the frame (OIG / RAT-STATS practice).

Pure transforms (frames in, frames or plain values out); files are read and written by
`nmr_audit.io.consult` and `nmr_audit.io.consult_report`, the commands live in
`nmr_audit.commands.consult`.
"""
