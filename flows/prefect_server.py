"""The temporary Prefect server of a command run without PREFECT_API_URL, started early; the
Prefect side of a guarded run (`flow_guard`: Cancelled when the folder is held, Crashed for a
run that died holding it).

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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from nmr_audit.errors import InputError
from nmr_audit.io.cache import cache_dir, keep
from nmr_audit.runtime.guard import Guard, guarded_run
from nmr_audit.runtime.lock import LockHeldError, describe_holder
from nmr_audit.runtime.marker import Kind

if TYPE_CHECKING:
    from prefect.states import State


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


def mark_crashed(flow_run_id: str | None, message: str) -> bool:
    """Set a flow run that is still Running (or Pending) Crashed, with `message`: its process
    died without telling the server (`kill -9`, out of memory, power). True when one was set.
    A run the server does not know (another server, a database since removed) is left alone."""
    if not flow_run_id:
        return False
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)
            if run.state is None or run.state.is_final():
                return False
            client.set_flow_run_state(flow_run_id, Crashed(message=message), force=True)
            return True
    except (ObjectNotFound, ValueError):
        return False


def current_flow_run_id() -> str | None:
    """The id of the flow run this code runs in, None outside one."""
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return str(run_id) if run_id else None


@contextmanager
def flow_guard(folder: Path, kind: Kind, share_with_group: bool) -> Iterator[Guard | State]:
    """`runtime.guard.guarded_run` for the flow run in progress: a folder refused yields a
    Failed state (its one line), a folder another run holds yields a Cancelled state (the CLI
    exits 75), and a run before this one that died holding the folder is set Crashed."""
    from prefect import get_run_logger
    from prefect.states import Cancelled, Failed

    this_run = current_flow_run_id()
    held = ExitStack()
    try:
        guard = held.enter_context(guarded_run(folder, kind, share_with_group, this_run))
    except InputError as problem:
        yield Failed(message=problem.line())
        return
    except LockHeldError as busy:
        yield Cancelled(message=busy.line())
        return
    with held:
        logger = get_run_logger()
        if guard.previous_died and guard.previous.get("flow_run_id") != this_run:
            crashed = mark_crashed(guard.previous.get("flow_run_id"), (
                f"its process ({describe_holder(guard.previous)}) ended without finishing; "
                f"found by the next run on {folder}"))
            logger.warning("the run before this one on %s was killed (%s)%s", folder,
                           describe_holder(guard.previous), "; its flow run is now Crashed" if crashed else "")
        if guard.swept:
            logger.warning("removed what killed runs left in %s: %s", folder, ", ".join(guard.swept))
        if guard.found == "incomplete":
            logger.warning("%s held the outputs of a run killed before its commit ended (no summary.json): "
                           "this run replaces them", folder)
        yield guard
