"""Deferred imports: a stand-in module imports the real one on the first attribute read."""

from __future__ import annotations

import subprocess
import sys
import threading
import types

import pytest

from nmr_audit.runtime.imports import DeferredModule, defer
from tests.conftest import REPO


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `deferpkg` whose module `heavy` counts how often it is executed."""
    folder = tmp_path / "deferpkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("RUNS = []\n")
    (folder / "heavy.py").write_text("import deferpkg\ndeferpkg.RUNS.append(1)\nVALUE = 42\n\ndef double(x):\n"
                                     "    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferpkg"
    for name in [n for n in sys.modules if n == "deferpkg" or n.startswith("deferpkg.")]:
        del sys.modules[name]


def test_a_deferred_module_runs_only_when_an_attribute_is_read_and_then_once(package):
    assert defer("deferpkg.heavy")
    import deferpkg
    import deferpkg.heavy as again
    from deferpkg import heavy  # what GX writes: `from scipy import stats`

    assert isinstance(heavy, DeferredModule) and again is heavy
    assert deferpkg.RUNS == []  # imported by name only: nothing ran
    assert heavy.VALUE == 42 and heavy.double(4) == 8
    assert deferpkg.RUNS == [1]
    real = sys.modules["deferpkg.heavy"]
    assert not isinstance(real, DeferredModule) and deferpkg.heavy is real  # later imports get the module itself
    from deferpkg.heavy import VALUE

    assert VALUE == 42 and deferpkg.RUNS == [1]


def test_threads_reading_a_deferred_module_at_once_run_it_once(package):
    defer("deferpkg.heavy")
    from deferpkg import heavy

    start = threading.Barrier(8)
    values = []

    def read() -> None:
        start.wait()
        values.append(heavy.VALUE)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    import deferpkg

    assert values == [42] * 8 and deferpkg.RUNS == [1]


def test_a_module_already_imported_is_left_as_it_is(package):
    import deferpkg.heavy  # noqa: F401 (imported before any stand-in)

    assert not defer("deferpkg.heavy")
    assert isinstance(sys.modules["deferpkg.heavy"], types.ModuleType)
    assert not isinstance(sys.modules["deferpkg.heavy"], DeferredModule)


def test_gx_imports_without_scipy_statistics_and_they_still_work_when_used():
    """The gain the commands count on: GX (as the audit flow imports it) leaves SciPy's statistics
    unread, and code that uses them gets the real module."""
    script = ("import sys\n"
              "from nmr_audit.runtime.imports import defer_unused_imports\n"
              "defer_unused_imports()\n"
              "import flows.audit\n"
              "assert 'scipy.stats._stats_py' not in sys.modules, 'GX read scipy.stats at import'\n"
              "from scipy import stats\n"
              "assert stats.norm.cdf(0.0) == 0.5\n"
              "assert 'scipy.stats._stats_py' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
