"""The temporary Prefect server of a command run: started early, from a migrated database kept
in the user's cache, and never when a real server is configured."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nmr_audit.runtime.server import database_plan, flow_settings, only_environment, snapshot, sqlite_file, start_server_early
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample" / "canonical"


def test_only_a_sqlite_file_database_can_be_seeded_from_the_cache():
    assert sqlite_file("sqlite+aiosqlite:////srv/run/.prefect/prefect.db") == Path("/srv/run/.prefect/prefect.db")
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("postgresql+asyncpg://prefect@db:5432/prefect") is None


def test_only_a_database_not_yet_created_is_seeded_or_kept_as_the_template(tmp_path):
    template, home = tmp_path / "cache" / "prefect-3.db", tmp_path / "run" / "prefect.db"
    assert database_plan(home, template) == (False, True)  # the first run on a machine migrates and keeps it
    template.parent.mkdir()
    template.write_bytes(b"migrated")
    assert database_plan(home, template) == (True, False)
    home.parent.mkdir()
    home.write_bytes(b"a database with runs in it")  # an --out folder audited before
    assert database_plan(home, template) == (False, False)
    template.unlink()
    assert database_plan(home, template) == (False, False)  # never taken as the template
    assert database_plan(None, template) == (False, False)


def test_a_snapshot_holds_what_another_connection_wrote_but_did_not_checkpoint(tmp_path):
    database = tmp_path / "prefect.db"
    writer = sqlite3.connect(database)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE block_type (name TEXT)")
    writer.executemany("INSERT INTO block_type VALUES (?)", [("s3",), ("slack",)])
    writer.commit()  # in the write-ahead log, not yet in the database file
    snapshot(database, tmp_path / "copy.db")
    writer.close()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT count(*) FROM block_type").fetchone() == (2,)
    copy.close()


def test_a_database_that_cannot_be_copied_leaves_no_template(tmp_path):
    from nmr_audit.io.cache import keep

    broken = tmp_path / "prefect.db"
    broken.write_bytes(b"not a database" * 100)
    template = tmp_path / "cache" / "prefect-3.db"
    assert not keep(template, lambda partial: snapshot(broken, partial))
    assert not template.exists() and not list(template.parent.glob("*.part"))


def test_the_server_is_started_directly_only_where_environment_variables_alone_configure_prefect(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("PREFECT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    folder = tmp_path / "work"
    folder.mkdir()
    assert only_environment(folder)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")  # a real server
    assert not only_environment(folder)
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://prefect@db/prefect")
    assert not only_environment(folder)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL")
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert only_environment(folder)
    (folder / "pyproject.toml").write_text("[tool.prefect]\napi.url = 'http://127.0.0.1:4200/api'\n")
    assert not only_environment(folder)
    (folder / "pyproject.toml").unlink()
    (folder / ".env").write_text("PREFECT_API_URL=http://127.0.0.1:4200/api\n")
    assert not only_environment(folder)
    (folder / ".env").unlink()
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "profiles.toml").write_text('active = "local"\n')  # `prefect profile use` wrote one
    assert not only_environment(folder)


def test_nothing_starts_where_the_run_talks_to_a_real_server():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        wait = start_server_early()
    assert wait() is False  # not a temporary server: the flow runs with Prefect's settings as they are
    assert "prefect-server-start" not in {t.name for t in threading.enumerate()}


def test_a_flow_on_a_temporary_server_sends_no_heartbeats_and_on_a_real_one_prefects_settings_hold():
    """Heartbeats let a lasting server mark runs whose process died; a temporary server stops with
    the command, and the flow's end waited up to a second for the heartbeat thread."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().flows.heartbeat_frequency
    assert configured is not None  # Prefect's default: a heartbeat every 180 s
    with flow_settings(temporary=True):
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == configured
    with flow_settings(temporary=False):
        assert get_current_settings().flows.heartbeat_frequency == configured


@pytest.mark.flow
@pytest.mark.slow  # end to end: three commands, each with its server
def test_a_command_run_migrates_once_and_later_runs_start_from_the_cached_database(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment |= {"XDG_CACHE_HOME": str(tmp_path / "cache"), "DO_NOT_TRACK": "1"}

    def audit(out: Path) -> None:
        done = subprocess.run([Path(sys.executable).parent / "nmr-audit", "audit", "--claims", str(SAMPLE / "claims"),
                               "--notes", str(SAMPLE / "notes"), "--out", str(out), "--no-data-docs"],
                              env=environment, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert "audit written to" in done.stdout and (out / "summary.json").exists()

    audit(tmp_path / "first")
    templates = list((tmp_path / "cache" / "nmr-audit").glob("prefect-*.db"))
    assert len(templates) == 1
    cached = sqlite3.connect(templates[0])
    assert cached.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)  # migrated
    assert cached.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)  # taken before any run
    cached.execute("CREATE TABLE seeded_from_cache (x INTEGER)")
    cached.commit()
    cached.close()
    audit(tmp_path / "second")
    home = sqlite3.connect(tmp_path / "second" / ".prefect" / "prefect.db")
    assert home.execute("SELECT count(*) FROM seeded_from_cache").fetchone() == (0,)  # the copy served the run
    assert home.execute("SELECT count(*) FROM flow_run").fetchone() == (1,)
    home.close()
