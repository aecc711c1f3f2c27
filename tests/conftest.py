"""Test settings: Prefect keeps its state in a temp folder and never calls out."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="nmr-audit-prefect-"))
atexit.register(shutil.rmtree, _HOME, True)  # each test process's Prefect home goes with it
os.environ["PREFECT_HOME"] = str(_HOME)
os.environ["XDG_CACHE_HOME"] = str(_HOME / "cache")  # the Vega bundle's cache, away from the user's
os.environ["NMR_AUDIT_HOME"] = str(_HOME / "home")  # imported reference tables: none unless a test imports
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from hypothesis import settings  # noqa: E402

from nmr_audit.io.reference import load_reference  # noqa: E402
from nmr_audit.reference import ReferenceData  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# CI replays the same examples every run (a failure there is reproducible); locally, explore.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return load_reference()


@pytest.fixture(scope="session")
def prefect_server():
    """One real (ephemeral) Prefect server for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
