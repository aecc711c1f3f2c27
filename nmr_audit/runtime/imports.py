"""Modules a command's process imports only when something reads them.

GX imports SciPy's statistics (`from scipy import stats`) in the three expectations and metrics
that use them (KL divergence, Kolmogorov–Smirnov tests), none of which nmr-audit's suites hold:
0.8–1 s of one core in every command's start-up on the 2-core box (SciPy's statistics pull in
its optimizers and spatial code and write their distributions' docstrings), while the temporary
Prefect server takes the other core and the flow waits for both. `defer_unused_imports` puts a
stand-in for such a module where Python's import finds it first (`sys.modules` and its
package's attribute); the first attribute read from the stand-in imports the real module and
reads it there (Python's import runs a module once, however many threads ask for it at the same
time). Code that does use the module (a custom suite's KS test, the consulting commands) works
as before, only later.

Importing this module changes nothing: the commands call `defer_unused_imports` before they
import the flows, and so does each bucket worker process before it builds its rule engine.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

DEFERRED = ("scipy.stats",)  # imported by GX for expectations nmr-audit's suites never use


class DeferredModule(types.ModuleType):
    """Stands for the module `name` until an attribute is read from it; then imports it."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"{name}, imported when first used (nmr_audit.runtime.imports)")
        object.__setattr__(self, "_module", None)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def load(self) -> types.ModuleType:
        """The real module, imported now if it is not yet (its package's attribute then names it)."""
        module = self._module
        if module is None:
            if sys.modules.get(self.__name__) is self:
                sys.modules.pop(self.__name__, None)
            module = importlib.import_module(self.__name__)
            object.__setattr__(self, "_module", module)
        return module


def defer(name: str) -> bool:
    """A stand-in for the module `name` (`package.module`), unless it is imported already;
    returns whether one was put in place."""
    if name in sys.modules:
        return False
    package, _, child = name.rpartition(".")
    parent = importlib.import_module(package)
    if child in vars(parent):
        return False
    stand_in = DeferredModule(name)
    sys.modules[name] = stand_in
    setattr(parent, child, stand_in)  # `from package import child` reads the attribute first
    return True


def defer_unused_imports() -> None:
    """Stand-ins for `DEFERRED` (see the module); idempotent."""
    for name in DEFERRED:
        defer(name)
