"""The temporary Prefect server of a command run without PREFECT_API_URL, started early.

Prefect starts that server on a flow's first call and waits for it. On a 2-core box that took
16 s of one core after 11 s of imports, 9 s of it migrating the fresh database every run
folder gets (`PREFECT_HOME` lives in the run's folder). Here the server starts first thing, as a
process of its own, from a copy of a database migrated once per Prefect version and kept in the
user's cache, while the command reads its inputs and imports the audit.

Prefect's own way to start it (`SubprocessASGIServer`) lives in `prefect.server.api.server`,
whose import pulls in the whole server (FastAPI, SQLAlchemy, docket, every API route: 3–9 s of
one core here) only to start a subprocess that imports it all again. Where nothing but
environment variables can configure Prefect (no profiles file, no .env or prefect.toml in the
working folder) and Prefect is not imported yet, the server process is started here directly,
with the same command Prefect uses; once it answers, this process talks to it through
PREFECT_API_URL, and stops it at exit. A copy of the migrated database needs no migration and
already holds the block types: that server skips both. Anywhere else, the server starts the way
it did before, through Prefect.

Call `start_server_early` right after `configure_prefect`, then import the flow, then call what
it returned before running the flow, and run the flow inside `flow_settings` of its answer.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from nmr_audit.io.cache import cache_dir, keep

# Settings that make a run's Prefect configuration more than its environment variables.
CONFIGURED_ELSEWHERE = ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "PREFECT_SERVER_EPHEMERAL_ENABLED",
                        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "PREFECT_SERVER_DATABASE", "PREFECT_API_DATABASE")
PORT_IN_USE = 3  # uvicorn's exit status when the port was taken meanwhile


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


def start_server_early() -> Callable[[], bool]:
    """Start the temporary server; returns the wait for it (a no-op where the run talks to a real
    server, or the start failed: the flow then starts it itself, and says why when it cannot).
    The wait returns whether the run's server is a temporary one, which stops with the command
    (`flow_settings`); False where the run talks to a real server."""
    if "prefect" not in sys.modules and only_environment(Path.cwd()):
        if os.environ.get("PREFECT_API_URL"):
            return lambda: False
        return _start_directly(Path(os.environ["PREFECT_HOME"]) / "prefect.db")
    return _start_through_prefect()


def flow_settings(temporary: bool) -> AbstractContextManager[object]:
    """Prefect's settings for the command's flow run, entered once the server answers: on a
    temporary server, no flow-run heartbeats. Prefect's heartbeat thread wakes once a second and
    the flow's end waits for it: 0–1 s (half a second on average) at the end of every command.
    Heartbeats let a lasting server mark runs whose process died as crashed; a temporary server
    stops with the command's process, and outlives none of its runs. On a real server
    (PREFECT_API_URL) nothing changes."""
    if not temporary:
        return nullcontext()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def only_environment(folder: Path) -> bool:
    """Whether Prefect's settings here come from environment variables and defaults alone (then
    they can be read without importing Prefect): no profiles file, no .env, prefect.toml or
    [tool.prefect] in `folder`, and none of the settings that choose or locate a server set."""
    if any(name.startswith(CONFIGURED_ELSEWHERE) for name in os.environ):
        return False
    if (Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")) / "profiles.toml").exists():
        return False
    if (folder / ".env").exists() or (folder / "prefect.toml").exists():
        return False
    pyproject = folder / "pyproject.toml"
    return not (pyproject.exists() and "[tool.prefect" in pyproject.read_text(errors="replace"))


def _start_directly(database: Path) -> Callable[[], bool]:
    """The server process started now; the wait sets PREFECT_API_URL once it answers."""
    template = cache_dir() / f"prefect-{importlib.metadata.version('prefect')}.db"
    seed, keep_as_template = database_plan(database, template)
    seeded = seed and keep(database, lambda partial: shutil.copyfile(template, partial))
    server = TemporaryServer(seeded)
    atexit.register(server.stop)  # after Prefect's own exit handlers, registered later, sent the last logs
    waiting = threading.Thread(target=server.wait, name="prefect-server-start", daemon=True)
    waiting.start()

    def started() -> bool:
        waiting.join()
        if server.url is None:
            return True  # the flow starts Prefect's own temporary server, and says why when it cannot
        os.environ["PREFECT_API_URL"] = server.url
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
        if keep_as_template:  # migrated now, and no run recorded in it yet
            keep(template, lambda partial: snapshot(database, partial))
        return True

    return started


class TemporaryServer:
    """`uvicorn prefect.server.api.server:create_app` on a free local port, as Prefect starts it."""

    def __init__(self, seeded: bool) -> None:
        self.url: str | None = None
        self._seeded = seeded
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._spawn()

    def _spawn(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._port = probe.getsockname()[1]
        environment = os.environ | {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                                    "PREFECT__SERVER_FINAL": "1"}
        if self._seeded:  # a copy of a database this Prefect version migrated and registered blocks in
            environment |= {"PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
                            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                            "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", _prefect_parent(), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self._port),
             "--log-level", "error", "--lifespan", "on"], env=environment)

    def wait(self) -> None:
        """Until the server answers (`url` set), or it could not start (`url` stays None)."""
        deadline = time.monotonic() + float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "20"))
        while time.monotonic() < deadline and self._process is not None:
            code = self._process.poll()
            if code == PORT_IN_USE:
                self._spawn()
                continue
            if code is not None:
                return
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/api/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.url = f"http://127.0.0.1:{self._port}/api"
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()

    def stop(self) -> None:
        """Stop the server once the run's last log lines reached it (the interpreter flushes
        logging only after this handler: sending to a stopped server then waited 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            if self.url is not None and "prefect.logging.handlers" in sys.modules:
                from prefect.logging.handlers import APILogHandler

                APILogHandler().flush()
        except Exception:  # the logs are Prefect's to send; the server stops all the same
            pass
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _prefect_parent() -> str:
    """The folder Prefect is installed in (what Prefect passes as uvicorn's --app-dir), found
    without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is not installed"
    return str(Path(spec.origin).parent.parent)


def _start_through_prefect() -> Callable[[], bool]:
    """Prefect's own temporary server, started in a thread once Prefect is imported."""
    from prefect.server.api.server import SubprocessASGIServer  # imported here: two threads importing
    from prefect.settings import get_current_settings  # Prefect's modules at once can deadlock

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return lambda: False
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

    def started() -> bool:
        thread.join()
        return True

    return started


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
