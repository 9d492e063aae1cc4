"""Shared fixtures: a real local website, and the real `docwatch` command in a subprocess."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from crawler.demo import SITE_DIR, write_watchlist
from crawler.demo.localsite import LocalSite
from storage.migrations import MIGRATIONS, statements
from storage.search import register_fold

FILES = Path(__file__).parent / "files"
_running: list[pytest.Item] = []  # the test now running in this process (xdist: one per worker)
# A test using one of these runs a real server with crawls around it, or the command line in
# child processes: it is end to end. Tests that start processes without them are marked by hand.
E2E_FIXTURES = {"site", "scenario", "demo_data", "smtp_server", "docwatch"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[:] = [item]


@pytest.fixture(scope="session", autouse=True)
def session_cache_home(tmp_path_factory):
    """A cache folder for what runs before each test's own (module fixtures that run docwatch):
    the checked watchlist's entries never land in the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("session-cache-home")))
        patch.delenv("DOCWATCH_CACHE_DIR", raising=False)
        yield


@pytest.fixture(autouse=True)
def own_data_home(tmp_path_factory, monkeypatch):
    """Each test its own default data and cache folders (~/.local/share/docwatch and
    ~/.cache/docwatch otherwise): tests running side by side (pytest -n) share nothing, and none
    writes into the user's real data."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
    monkeypatch.delenv("DOCWATCH_CACHE_DIR", raising=False)


@pytest.fixture
def site(tmp_path):
    """The bundled demo site (real pages) copied to a temp folder the test may edit, served on 127.0.0.1."""
    root = Path(shutil.copytree(SITE_DIR, tmp_path / "site"))
    with LocalSite(root) as served:
        served.root = root
        yield served


@pytest.fixture
def demo_watchlist(tmp_path, site) -> Path:
    return write_watchlist(tmp_path, site.base_url)


def run_docwatch(*args: str, db: Path | None = None, watchlist: Path | None = None, timeout: float = 120,
                 env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a child process (Scrapy's reactor needs a process of its own).
    Only e2e tests may: the fast lane (`pytest -m "not e2e"`) stays in-process."""
    if _running and _running[0].get_closest_marker("e2e") is None:
        pytest.fail(f"{_running[0].nodeid} runs the docwatch command in a child process: mark it @pytest.mark.e2e")
    command = [sys.executable, "-m", "crawler"]
    if db:
        command += ["--db", str(db)]
    if watchlist:
        command += ["--watchlist", str(watchlist)]
    full_env = {**os.environ, "DOCWATCH_ENV": "local", **(env or {})}
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, env=full_env, cwd=cwd)


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "1m") mounted at `path`, to fill up; the test is skipped where
    mounting is not permitted (it needs root, as in CI)."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def resize_filesystem(path: Path, size: str) -> None:
    """Give a `small_filesystem` more room, as a user freeing space would."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def database_before(path: Path, migration: int) -> sqlite_utils.Database:
    """A database as the version before `migration` left it: every earlier migration applied."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    register_fold(db.conn)  # migration 21 indexes with it
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
               " applied_at TEXT NOT NULL)")
    for version, description, sql in MIGRATIONS:
        if version < migration:
            for statement in statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", [version, description])
    return db
