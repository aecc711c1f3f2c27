"""The nightly ledger: new files by content, recorded once."""

import pandas as pd

from nmr_audit.ledger import empty_ledger, head, record, runs, select_new, tables_seen


def files(*rows):
    return pd.DataFrame(rows, columns=["table", "file", "sha256", "bytes"])


def test_only_unseen_content_is_new_and_a_copy_counts_once():
    seen = record(empty_ledger(), files(("claim_lines", "a.csv", "h1", 10)), "run1", "2026-11-21", "t")
    tonight = files(("claim_lines", "a.csv", "h1", 10), ("claim_lines", "b.csv", "h2", 5),
                    ("claim_lines", "b-copy.csv", "h2", 5))
    assert list(select_new(tonight, seen)["file"]) == ["b.csv"]
    assert list(select_new(tonight, seen, full=True)["file"]) == ["a.csv", "b.csv"]


def test_every_run_is_named_even_a_full_run_that_audits_known_files_again():
    once = record(empty_ledger(), files(("visit_notes", "n.csv", "h9", 1)), "run1", "2026-11-21", "t1")
    twice = record(once, files(("visit_notes", "n.csv", "h9", 1)), "run2", "2026-11-22", "t2")
    assert twice["run_id"].tolist() == ["run1", "run2"] and runs(twice) == ["run1", "run2"]
    assert head(twice) == "run2" and head(empty_ledger()) is None
    assert list(select_new(files(("visit_notes", "n.csv", "h9", 1)), twice)["file"]) == []
    assert tables_seen(twice) == {"visit_notes"}
