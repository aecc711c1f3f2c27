"""Settings Prefect must see before it is imported: local state, no telemetry."""

from __future__ import annotations

import os
from pathlib import Path


def configure_prefect(home: Path) -> None:
    """Keep Prefect's database beside the run and stop it calling out to the internet.

    Values a user already set (a real server's PREFECT_API_URL, their own PREFECT_HOME) win.
    """
    os.environ.setdefault("PREFECT_HOME", str(home))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)  # its SQLite db needs it
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    # a first start migrates a fresh database: on a busy 2-core machine that outlasts 20 s
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
