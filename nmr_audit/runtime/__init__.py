"""What a run needs around the audit itself: the output folder's lock, marker and permissions,
the crash-safe commit, the supervision of child processes and the nightly state.

Every module here is usable without Prefect; the flows call them.
"""
