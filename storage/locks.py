"""Coordination between docwatch processes that share one database: per-source crawl locks
and the daemon registry.

A lock is a row in `source_locks`, checked and written inside one BEGIN IMMEDIATE transaction,
so two processes can never both hold a source, and a crawl gets all its sources or none.
Holders refresh a heartbeat. A holder is gone when its pid no longer exists on this host, or
when its heartbeat is older than STALE_AFTER (another host, or a pid reused after a reboot);
the next process that asks takes its locks over and records its run as interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from storage.connection import Database
from storage.database import insert_row, open_database, utcnow
from storage.transactions import transaction

log = logging.getLogger(__name__)

HOST = socket.gethostname()
HEARTBEAT_SECONDS = 30
STALE_AFTER = timedelta(minutes=5)
# `docwatch crawl` and `docwatch daemon` exit with this when another process holds the work.
BUSY_EXIT_CODE = 3


def _process_gone(pid: int, host: str, heartbeat: str, now: datetime) -> bool:
    if host == HOST:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
    return now - datetime.fromisoformat(heartbeat) > STALE_AFTER


# ---------------------------------------------------------------------------------------------
# Source locks


@dataclass(frozen=True)
class Lock:
    source_id: str
    pid: int
    host: str
    holder: str  # who crawls: the run's trigger (daemon, cli, demo)
    run_id: int | None
    acquired_at: str
    heartbeat: str

    def is_stale(self, now: datetime) -> bool:
        return _process_gone(self.pid, self.host, self.heartbeat, now)

    def describe(self) -> str:
        return f"source {self.source_id} is being crawled by pid {self.pid} ({self.holder}) on {self.host} since {self.acquired_at}"


class SourcesBusy(Exception):
    """Some of the sources asked for are locked by live processes."""

    def __init__(self, locks: list[Lock]) -> None:
        self.locks = locks
        super().__init__("; ".join(lock.describe() for lock in locks) + "; try again later")


def current_locks(db: Database, source_ids: Iterable[str] | None = None) -> list[Lock]:
    if source_ids is None:
        rows = db.query("SELECT * FROM source_locks ORDER BY source_id")
    else:
        ids = list(source_ids)
        marks = ",".join("?" * len(ids))
        rows = db.query(f"SELECT * FROM source_locks WHERE source_id IN ({marks}) ORDER BY source_id", ids)
    return [Lock(**row) for row in rows]


def _take_over(db: Database, lock: Lock, reason: str) -> None:
    """Drop a dead holder's lock and close its run, saying why (inside the caller's transaction)."""
    if lock.run_id is not None:
        db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ? AND status = 'running'",
            [utcnow(), reason, lock.run_id],
        )
    db.execute("DELETE FROM source_locks WHERE source_id = ? AND pid = ? AND host = ?", [lock.source_id, lock.pid, lock.host])
    log.warning("lock of source %s recovered from pid %s (%s) on %s: %s", lock.source_id, lock.pid, lock.holder, lock.host, reason)


def recover_stale_locks(db: Database, source_ids: Iterable[str], reason: str | None = None) -> list[Lock]:
    """Take over the locks of these sources whose holder is gone; their runs are marked
    interrupted with `reason` (default: the holder vanished). Live locks are left alone."""
    now = datetime.now(timezone.utc)
    with transaction(db):
        stale = [lock for lock in current_locks(db, source_ids) if lock.is_stale(now)]
        for lock in stale:
            _take_over(db, lock, reason or f"pid {lock.pid} on {lock.host} stopped without finishing (last heartbeat {lock.heartbeat})")
    return stale


class SourceLock:
    """Locks held by this process on some sources. While held, a thread refreshes their
    heartbeat so that a long crawl is never mistaken for a dead one."""

    def __init__(self, db_path: Path, source_ids: list[str], passed_over: list[Lock]) -> None:
        self.db_path = db_path
        self.source_ids = source_ids
        self.passed_over = passed_over  # sources asked for that live processes hold (`skip_busy`)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="source-lock-heartbeat", daemon=True)

    @classmethod
    def acquire(
        cls, db: Database, db_path: Path, source_ids: Iterable[str], holder: str,
        start_run: Callable[[list[str]], int], skip_busy: bool = False,
    ) -> tuple[SourceLock, int]:
        """Lock all of `source_ids` or none, and start the run that holds them (`start_run` gets
        the ids locked), in one transaction: a lock always names its run, so whoever recovers a
        lock left by a killed crawl can close that run. Raises SourcesBusy naming every live
        holder (no run started); with `skip_busy`, only when all of them are held, and otherwise
        locks the others (the held ones are the lock's `passed_over`)."""
        ids = sorted(set(source_ids))
        with transaction(db):
            recover_stale_locks(db, ids)
            busy = current_locks(db, ids)
            if busy and (not skip_busy or len(busy) == len(ids)):
                raise SourcesBusy(busy)
            held = {lock.source_id for lock in busy}
            ids = [source_id for source_id in ids if source_id not in held]
            run_id = start_run(ids)
            now = utcnow()
            for source_id in ids:
                insert_row(db, "source_locks", {"source_id": source_id, "pid": os.getpid(), "host": HOST,
                                                "holder": holder, "run_id": run_id, "acquired_at": now, "heartbeat": now})
        lock = cls(db_path, ids, busy)
        lock._thread.start()
        return lock, run_id

    def release(self, db: Database) -> None:
        self._stop.set()
        self._thread.join()
        with transaction(db):
            db.execute(f"DELETE FROM source_locks WHERE {self._mine()}", self._mine_params())

    def _mine(self) -> str:
        return f"pid = ? AND host = ? AND source_id IN ({','.join('?' * len(self.source_ids))})"

    def _mine_params(self) -> list:
        return [os.getpid(), HOST, *self.source_ids]

    def _update(self, db: Database, assignment: str, params: list) -> None:
        with transaction(db):
            db.execute(f"UPDATE source_locks SET {assignment} WHERE {self._mine()}", params + self._mine_params())

    def _beat(self) -> None:
        db = open_database(self.db_path)
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    self._update(db, "heartbeat = ?", [utcnow()])
                except sqlite3.Error as error:  # a busy database must not end the heartbeat for good
                    log.warning("could not refresh the locks of %s: %s", ", ".join(self.source_ids), error)
        finally:
            db.close()


# ---------------------------------------------------------------------------------------------
# The daemon registry: at most one daemon per database


@dataclass(frozen=True)
class DaemonRecord:
    id: int
    pid: int
    host: str
    started_at: str
    heartbeat: str
    watchlist: str
    stopped_at: str | None


class DaemonRunning(Exception):
    def __init__(self, other: DaemonRecord) -> None:
        self.other = other
        super().__init__(
            f"a daemon is already running on this database: pid {other.pid} on {other.host} since "
            f"{other.started_at} (watchlist {other.watchlist}); stop it first"
        )


def running_daemon(db: Database) -> DaemonRecord | None:
    """The live daemon on this database, if any (a registered one whose process is gone is not)."""
    now = datetime.now(timezone.utc)
    for row in db.query("SELECT * FROM daemons WHERE stopped_at IS NULL ORDER BY id DESC"):
        record = DaemonRecord(**row)
        if not _process_gone(record.pid, record.host, record.heartbeat, now):
            return record
    return None


def register_daemon(db: Database, watchlist: str) -> int:
    """Record this process as the daemon; raises DaemonRunning if another one is alive.
    Records of daemons that died without saying so are closed."""
    now = utcnow()
    with transaction(db):
        other = running_daemon(db)
        if other is not None:
            raise DaemonRunning(other)
        db.execute("UPDATE daemons SET stopped_at = heartbeat WHERE stopped_at IS NULL")
        return insert_row(
            db, "daemons", {"pid": os.getpid(), "host": HOST, "started_at": now, "heartbeat": now, "watchlist": watchlist}
        )


def daemon_heartbeat(db: Database, daemon_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE daemons SET heartbeat = ? WHERE id = ?", [utcnow(), daemon_id])


def unregister_daemon(db: Database, daemon_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE daemons SET stopped_at = ? WHERE id = ?", [utcnow(), daemon_id])


def last_stopped_daemon(db: Database) -> DaemonRecord | None:
    rows = list(db.query("SELECT * FROM daemons WHERE stopped_at IS NOT NULL ORDER BY stopped_at DESC LIMIT 1"))
    return DaemonRecord(**rows[0]) if rows else None
