"""How many claim lines a bucket holds, by where the buckets are audited."""

from nmr_audit.sizes import DASK_LINES_PER_BUCKET, LINES_PER_BUCKET, lines_per_bucket


def test_the_command_s_own_workers_take_buckets_that_keep_its_tree_small():
    assert lines_per_bucket(None, on_dask=False) == LINES_PER_BUCKET == 300_000


def test_a_dask_cluster_takes_buckets_of_about_a_million_lines():
    """Each bucket pays the rule engine's fixed cost on its worker (issue 21: buckets sized by work,
    about a million lines)."""
    assert lines_per_bucket(None, on_dask=True) == DASK_LINES_PER_BUCKET == 1_000_000


def test_the_user_s_choice_wins_wherever_the_buckets_are_audited():
    assert lines_per_bucket(12, on_dask=True) == 12
    assert lines_per_bucket(500_000, on_dask=False) == 500_000
