import gc
import weakref

from nmr_audit.runtime.memory import collector_sees_only_the_run, give_back_memory


class Node:
    def __init__(self) -> None:
        self.other: object = self


def test_a_run_hides_older_objects_from_the_collector_and_still_collects_its_own_cycles():
    before = Node()  # alive before the run: frozen for it
    with collector_sees_only_the_run():
        assert gc.get_freeze_count() > 0
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        give_back_memory()
        assert gone() is None  # a cycle made during the run is still collected
    assert gc.get_freeze_count() == 0  # let go: a process running flow after flow can collect again
    old = weakref.ref(before)
    del before
    gc.collect()
    assert old() is None


def test_garbage_left_before_a_run_is_collected_once_the_run_lets_go():
    """The run freezes what it finds without collecting first: cycles already garbage then wait,
    frozen, until the run ends, and are collected after it (a served process runs flow after flow)."""
    gc.disable()  # no automatic collection between making the garbage and the run
    try:
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        with collector_sees_only_the_run():
            give_back_memory()
        gc.collect()
        assert gone() is None
    finally:
        gc.enable()
