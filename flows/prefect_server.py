"""The temporary Prefect server of a command run without PREFECT_API_URL, started early.

Prefect starts that server on a flow's first call and waits for it. On a 2-core box that took
16 s of one core after 11 s of imports, 9 s of it migrating the fresh database every run
folder gets (`PREFECT_HOME` lives in the run's folder). Here the server starts once Prefect is
imported, while the audit's modules import, from a copy of a database migrated once per Prefect
version and kept in the user's cache: the flow's first line runs about 12 s sooner.

Call `start_server_early` right after `configure_prefect`, then import the flow, then call what
it returned before running the flow.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from nmr_audit.io.cache import cache_dir, keep


def start_server_early() -> Callable[[], None]:
    """Start the temporary server in a thread; returns the wait for it (a no-op where the run
    talks to a real server, or the start failed: the flow then starts it itself, and says why
    when it cannot)."""
    from prefect.server.api.server import SubprocessASGIServer  # imported here: two threads importing
    from prefect.settings import get_current_settings  # Prefect's modules at once can deadlock

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return lambda: None
    database = sqlite_file(settings.server.database.connection_url.get_secret_value())
    template = cache_dir() / f"prefect-{_prefect_version()}.db"
    seed, keep_as_template = database_plan(database, template)
    if seed:  # a copy that fails leaves the server to migrate a fresh database, as it would anyway
        keep(database, lambda partial: shutil.copyfile(template, partial))

    def start() -> None:
        try:
            SubprocessASGIServer().start()
        except Exception:  # the flow starts it again, and says why when it cannot
            return
        if keep_as_template:  # migrated now, and no run recorded in it yet
            keep(template, lambda partial: snapshot(database, partial))

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()
    return thread.join


def database_plan(database: Path | None, template: Path) -> tuple[bool, bool]:
    """(seed the database from the template, keep it as the template once migrated). Only a
    database file that does not exist yet is either: one already used holds its runs."""
    fresh = database is not None and not database.exists()
    return fresh and template.exists(), fresh and not template.exists()


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (`sqlite+aiosqlite:///…`), None for any other."""
    scheme, _, path = url.partition(":///")
    return Path(path) if scheme.startswith("sqlite") and path and path != ":memory:" else None


def snapshot(database: Path, target: Path) -> None:
    """A consistent copy of a SQLite database another process has open (its write-ahead log
    included), by SQLite's own backup."""
    try:
        source, copy = sqlite3.connect(database), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
    except sqlite3.Error as problem:  # as a file that cannot be written: `keep` then keeps nothing
        raise OSError(f"cannot copy {database}: {problem}") from problem


def _prefect_version() -> str:
    import prefect

    return prefect.__version__
