"""The archive queue: the real worker and client against the local Wayback fake, a real SQLite
file, and the demo site of real pages as the origin that the fake captures."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
import requests

from crawler.demo.fake_wayback import FakeWayback
from tests.wayback import add_capture, save_requests
from crawler.archive.queue import ArchiveSettings, work_queue
from crawler.archive.warc import WarcWriter, build_exchange
from crawler.fetch.items import WireExchange
from crawler.archive.wayback import Credentials, WaybackClient, WaybackEndpoints
from storage import archive_queue, bodies, open_database
from storage.migrations import MIGRATIONS
from tests.conftest import run_docwatch

ACCESS, SECRET = "docwatch-access", "s3cr3t-queue-never-shown"
ARTICLES = [
    "/xjrst/c112676/201206/25340717a6b54c3d8e9f0a1b2c3d4e5f.shtml",
    "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml",
    "/xjrst/c112676/201907/7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml",
    "/xjrst/c112676/202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml",
    "/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml",
]
FAST = ArchiveSettings(captures_per_minute=60, max_attempts=4, if_not_archived_within="1h",
                       poll_deadline=3, poll_interval=0.05, backoff=0.2)


@pytest.fixture
def fake() -> Iterator[FakeWayback]:
    with FakeWayback(ACCESS, SECRET) as running:
        yield running


@pytest.fixture
def db(tmp_path):
    return open_database(tmp_path / "docwatch.db")


def settings_for(fake: FakeWayback, **changes: object) -> ArchiveSettings:
    return replace(FAST, endpoints=WaybackEndpoints.from_base(fake.base_url), **changes)


def client_for(fake: FakeWayback, keys: Credentials | None = Credentials(ACCESS, SECRET)) -> WaybackClient:
    return WaybackClient(WaybackEndpoints.from_base(fake.base_url), keys, timeout=5)


def add_snapshot(db, url: str, body: bytes, warc: tuple[str, int, int] | None = None,
                 fetched_at: datetime | None = None) -> int:
    """A stored snapshot of `url`, as a crawl leaves it (the crawl itself is tested elsewhere)."""
    db["sources"].upsert({"id": "xjrst", "url": url, "type": "page", "added_at": "2024-01-01T00:00:00+00:00",
                          "updated_at": "2024-01-01T00:00:00+00:00"}, pk="id")
    page = db.execute("SELECT id FROM pages WHERE url = ?", [url]).fetchone()
    page_id = page[0] if page else db["pages"].insert(
        {"source_id": "xjrst", "url": url, "kind": "page", "first_seen": "2024-01-01T00:00:00+00:00"}).last_pk
    warc_file, warc_offset, warc_length = warc or (None, None, None)
    return db["snapshots"].insert({
        "page_id": page_id, "fetched_at": (fetched_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "http_status": 200, "final_url": url, "encoding": "utf-8", "title": "", "text": "",
        "text_sha256": hashlib.sha256(body).hexdigest(), "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_size": len(body), "body_zlib": bodies.keyframe(body), "body_codec": bodies.ZSTD, "warc_file": warc_file, "warc_offset": warc_offset,
        "warc_length": warc_length,
    }).last_pk


def queue_article(db, site, path: str, reason: str = "new_page") -> tuple[int, int]:
    url = site.base_url + path
    snapshot_id = add_snapshot(db, url, (site.root / path.lstrip("/")).read_bytes())
    return archive_queue.enqueue(db, url, reason, snapshot_id), snapshot_id


def submissions(fake: FakeWayback) -> Counter:
    return Counter(r.form["url"][0] for r in save_requests(fake))


def delay_of(request: archive_queue.ArchiveRequest) -> float:
    return (datetime.fromisoformat(request.next_attempt_at) - datetime.fromisoformat(request.updated_at)).total_seconds()


def test_a_confirmed_capture_is_stored_on_the_request_and_its_snapshot(fake, db, site) -> None:
    queued = [queue_article(db, site, path) for path in ARTICLES[:2]]
    summary = work_queue(db, client_for(fake), settings_for(fake))
    assert summary.new_captures == 2
    for request_id, snapshot_id in queued:
        request = archive_queue.request(db, request_id)
        assert (request.state, request.capture_kind) == ("done", "new")
        assert request.wayback_url == f"{fake.base_url}/web/{request.wayback_timestamp}/{request.url}"
        snapshot = db["snapshots"].get(snapshot_id)
        assert (snapshot["wayback_url"], snapshot["wayback_timestamp"]) == (request.wayback_url,
                                                                            request.wayback_timestamp)
        # The capture is real: the archive plays back the page as it was served.
        path = request.url.removeprefix(site.base_url)
        assert requests.get(request.wayback_url, timeout=5).content == (site.root / path.lstrip("/")).read_bytes()
    assert set(submissions(fake).values()) == {1}
    # The window never reaches back before the snapshot was fetched (just now): seconds, not "1h".
    assert all(int(r.form["if_not_archived_within"][0]) <= 5 for r in save_requests(fake))


def test_a_429_pauses_submissions_for_its_retry_after_then_succeeds(fake, db, site) -> None:
    request_id, _ = queue_article(db, site, ARTICLES[0])
    fake.script(["429"], path="/save")
    started = time.monotonic()
    work_queue(db, client_for(fake), settings_for(fake), deadline=time.monotonic() + 15)
    request = archive_queue.request(db, request_id)
    assert request.state == "done" and request.attempts == 1
    assert time.monotonic() - started >= 7  # the fake's Retry-After
    assert len(save_requests(fake)) == 2


def test_server_errors_back_off_exponentially(fake, db, site) -> None:
    request_id, _ = queue_article(db, site, ARTICLES[0])
    fake.script(["502", "502"], path="/save")
    settings, client = settings_for(fake, backoff=0.5), client_for(fake)
    delays = []
    for _ in range(2):
        work_queue(db, client, settings)
        request = archive_queue.request(db, request_id)
        assert request.state == "queued" and "502" in request.last_error
        delays.append(delay_of(request))
        time.sleep(delays[-1] + 0.05)
    assert delays[0] == pytest.approx(0.5, abs=0.1) and delays[1] == pytest.approx(1.0, abs=0.1)
    work_queue(db, client, settings)
    assert archive_queue.request(db, request_id).state == "done"
    assert len(save_requests(fake)) == 3


def test_a_session_limit_refusal_slows_down_and_is_retried(fake, db, site) -> None:
    request_id, _ = queue_article(db, site, ARTICLES[0])
    fake.script(["refuse_session_limit"])
    work_queue(db, client_for(fake), settings_for(fake), deadline=time.monotonic() + 5)
    request = archive_queue.request(db, request_id)
    assert (request.state, request.capture_kind, request.attempts) == ("done", "new", 1)


def test_the_daily_cap_refusal_records_a_capture_taken_since_the_fetch(fake, db, site) -> None:
    url = site.base_url + ARTICLES[0]
    body = (site.root / ARTICLES[0].lstrip("/")).read_bytes()
    fetched = datetime.now(timezone.utc) - timedelta(hours=3)
    snapshot_id = add_snapshot(db, url, body, fetched_at=fetched)
    request_id = archive_queue.enqueue(db, url, "new_page", snapshot_id)
    since = (fetched + timedelta(minutes=5)).strftime("%Y%m%d%H%M%S")
    add_capture(fake, url, b"<html>captured after our fetch</html>", since)
    fake.script(["refuse_daily_limit"])
    work_queue(db, client_for(fake), settings_for(fake))
    request = archive_queue.request(db, request_id)
    assert (request.state, request.capture_kind, request.wayback_timestamp) == ("done", "existing", since)
    assert db["snapshots"].get(snapshot_id)["wayback_timestamp"] == since


def test_the_daily_cap_with_only_an_earlier_capture_is_no_capture_of_this_version(fake, db, site) -> None:
    request_id, snapshot_id = queue_article(db, site, ARTICLES[0], reason="changed")
    url = site.base_url + ARTICLES[0]
    earlier = (datetime.now(timezone.utc) - timedelta(hours=3)).strftime("%Y%m%d%H%M%S")
    add_capture(fake, url, b"<html>the page before it changed</html>", earlier)
    fake.script(["refuse_daily_limit"])
    work_queue(db, client_for(fake), settings_for(fake))
    request = archive_queue.request(db, request_id)
    assert (request.state, request.capture_kind, request.attempts) == ("queued", None, 1)
    assert request.wayback_timestamp == earlier  # kept as the earlier version's copy
    assert "it shows an earlier version" in request.last_error and "captured 10 times today" in request.last_error
    assert delay_of(request) >= 6 * 3600 - 5  # the cap lifts tomorrow: not before the longest backoff
    assert db["snapshots"].get(snapshot_id)["wayback_url"] is None
    assert archive_queue.snapshot_evidence(db, url)[0]["archive_status"] == "earlier_version"


def test_a_blocked_url_fails_at_once_with_the_reason(fake, db, site) -> None:
    request_id, snapshot_id = queue_article(db, site, ARTICLES[0])
    fake.script(["refuse_blocked"])
    summary = work_queue(db, client_for(fake), settings_for(fake))
    request = archive_queue.request(db, request_id)
    assert (summary.failed, request.state, request.attempts) == (1, "failed", 1)
    assert request.last_error.startswith("error:blocked-url: This URL is in the Save Page Now service block list")
    assert request.wayback_url is None and db["snapshots"].get(snapshot_id)["wayback_url"] is None


def test_a_job_pending_forever_stays_retryable_and_is_polled_not_resubmitted(fake, db, site) -> None:
    request_id, snapshot_id = queue_article(db, site, ARTICLES[0])
    fake.script(["pending_forever"])
    settings, client = settings_for(fake, poll_deadline=0.5), client_for(fake)
    for attempt in (1, 2):
        summary = work_queue(db, client, settings)
        request = archive_queue.request(db, request_id)
        assert (summary.retry_later, request.state, request.attempts) == (1, "queued", attempt)
        assert request.job_id and "gave no result within 0.5s" in request.last_error
        assert request.wayback_url is None and db["snapshots"].get(snapshot_id)["wayback_url"] is None
        time.sleep(delay_of(request) + 0.05)
    assert len(save_requests(fake)) == 1
    assert sum(r.path == f"/save/status/{request.job_id}" for r in fake.requests) >= 10


def test_after_max_attempts_the_request_fails_with_its_reason(fake, db, site) -> None:
    request_id, _ = queue_article(db, site, ARTICLES[0])
    fake.script(["502"] * 5, path="/save")
    work_queue(db, client_for(fake), settings_for(fake, max_attempts=3, backoff=0.05),
               deadline=time.monotonic() + 10)
    request = archive_queue.request(db, request_id)
    assert (request.state, request.attempts) == ("failed", 3)
    assert request.last_error == "gave up after 3 attempts; last: HTTP 502"
    assert len(save_requests(fake)) == 3


def test_without_keys_only_a_capture_of_the_fetched_version_is_recorded(fake, db, site) -> None:
    fetched = datetime.now(timezone.utc) - timedelta(hours=2)
    queued = {}
    for path in ARTICLES[:4]:
        snapshot_id = add_snapshot(db, site.base_url + path, (site.root / path.lstrip("/")).read_bytes(),
                                   fetched_at=fetched)
        queued[path] = archive_queue.enqueue(db, site.base_url + path, "new_page", snapshot_id), snapshot_id
    since, before = (fetched + timedelta(minutes=20)), (fetched - timedelta(minutes=20))
    since, before = since.strftime("%Y%m%d%H%M%S"), before.strftime("%Y%m%d%H%M%S")
    add_capture(fake, site.base_url + ARTICLES[0], b"<html>taken after our fetch</html>", since)
    add_capture(fake, site.base_url + ARTICLES[1], b"<html>the version before</html>", before)
    same_bytes = (site.root / ARTICLES[2].lstrip("/")).read_bytes()
    add_capture(fake, site.base_url + ARTICLES[2], same_bytes, "20190301120000")  # its digest is our body's
    summary = work_queue(db, client_for(fake, keys=None), settings_for(fake))
    assert (summary.existing_captures, summary.needs_credentials, summary.new_captures) == (2, 2, 0)
    for path, stamp in ((ARTICLES[0], since), (ARTICLES[2], "20190301120000")):
        request_id, snapshot_id = queued[path]
        found = archive_queue.request(db, request_id)
        assert (found.state, found.capture_kind) == ("done", "existing")
        assert found.wayback_url == f"{fake.base_url}/web/{stamp}/{site.base_url + path}"
        assert db["snapshots"].get(snapshot_id)["wayback_url"] == found.wayback_url
    earlier = archive_queue.request(db, queued[ARTICLES[1]][0])
    assert earlier.state == "needs_credentials" and "DOCWATCH_IA_ACCESS_KEY" in earlier.last_error
    assert "it shows an earlier version" in earlier.last_error and earlier.wayback_timestamp == before
    assert db["snapshots"].get(queued[ARTICLES[1]][1])["wayback_url"] is None
    unknown = archive_queue.request(db, queued[ARTICLES[3]][0])
    assert unknown.state == "needs_credentials" and "no capture in the Wayback Machine" in unknown.last_error
    assert save_requests(fake) == []


def test_refused_keys_mean_needs_credentials_and_the_secret_is_never_stored(fake, db, site) -> None:
    ids = [queue_article(db, site, path)[0] for path in ARTICLES[:2]]
    work_queue(db, client_for(fake, Credentials(ACCESS, "wrong-" + SECRET)), settings_for(fake))
    for request_id in ids:
        request = archive_queue.request(db, request_id)
        assert request.state == "needs_credentials" and "refused the keys" in request.last_error
        assert SECRET not in request.last_error
    assert len(save_requests(fake)) == 1  # no use sending the second with keys known to be bad


def test_within_the_window_an_unchanged_page_is_not_submitted_again_but_a_changed_one_is(
        fake, db, site) -> None:
    first_id, _ = queue_article(db, site, ARTICLES[0])
    url = site.base_url + ARTICLES[0]
    changed_snapshot = add_snapshot(db, url, b"<html>changed</html>")
    assert archive_queue.enqueue(db, url, "changed", changed_snapshot) == first_id  # still queued: one request
    client, settings = client_for(fake), settings_for(fake)
    work_queue(db, client, settings)
    first = archive_queue.request(db, first_id)
    assert first.snapshot_id == changed_snapshot and first.capture_kind == "new"

    manual_id = archive_queue.enqueue(db, url, "manual")  # the URL alone: the recent capture does
    work_queue(db, client, settings)
    manual = archive_queue.request(db, manual_id)
    assert (manual.state, manual.capture_kind, manual.wayback_url) == ("done", "existing", first.wayback_url)
    assert submissions(fake) == {url: 1}

    time.sleep(1.1)  # Wayback timestamps are whole seconds: the next version is fetched after the capture
    again_snapshot = add_snapshot(db, url, b"<html>changed again, with new hits</html>")
    again_id = archive_queue.enqueue(db, url, "new_hits", again_snapshot)
    work_queue(db, client, settings)
    again = archive_queue.request(db, again_id)
    assert (again.state, again.capture_kind) == ("done", "new")
    assert again.wayback_timestamp >= archive_queue.wayback_time(db["snapshots"].get(again_snapshot)["fetched_at"])
    assert db["snapshots"].get(again_snapshot)["wayback_url"] == again.wayback_url != first.wayback_url
    assert submissions(fake) == {url: 2}


def test_a_capture_spn2_offers_from_before_the_fetch_is_kept_as_the_earlier_version(db, site) -> None:
    # SPN2's own repeat-capture limit: within it, the answer is the earlier capture's job.
    with FakeWayback(ACCESS, SECRET, repeat_capture_interval="1h") as fake:
        request_id, _ = queue_article(db, site, ARTICLES[0])
        url = site.base_url + ARTICLES[0]
        work_queue(db, client_for(fake), settings_for(fake))
        first = archive_queue.request(db, request_id)
        time.sleep(1.1)
        changed = add_snapshot(db, url, b"<html>changed</html>")
        changed_id = archive_queue.enqueue(db, url, "changed", changed)
        summary = work_queue(db, client_for(fake), settings_for(fake))
    request = archive_queue.request(db, changed_id)
    assert (summary.retry_later, summary.existing_captures, summary.new_captures) == (1, 0, 0)
    assert (request.state, request.capture_kind, request.wayback_timestamp) == ("queued", None,
                                                                                first.wayback_timestamp)
    assert "was taken before this version was fetched" in request.last_error
    assert delay_of(request) >= 3600 - 5  # "You can make new capture of this URL after 1 hours"
    assert db["snapshots"].get(changed)["wayback_url"] is None
    assert len(save_requests(fake)) == 2


def test_submissions_never_exceed_the_captures_per_minute(fake, db, site) -> None:
    ids = [queue_article(db, site, path)[0] for path in ARTICLES[:4]]
    work_queue(db, client_for(fake), settings_for(fake, captures_per_minute=2), deadline=time.monotonic() + 2)
    states = Counter(archive_queue.request(db, request_id).state for request_id in ids)
    assert states == {"done": 2, "queued": 2}
    assert len(save_requests(fake)) == 2


def test_the_account_capacity_is_read_before_each_submission(fake, db, site) -> None:
    fake.session_limit, fake.polls_until_done = 1, 4  # SPN2 refuses a second concurrent job
    ids = [queue_article(db, site, path)[0] for path in ARTICLES[:3]]
    work_queue(db, client_for(fake), settings_for(fake), deadline=time.monotonic() + 10)
    assert [archive_queue.request(db, i).attempts for i in ids] == [0, 0, 0]  # never refused
    assert {archive_queue.request(db, i).state for i in ids} == {"done"}
    assert any(r.path == "/save/status/user" for r in fake.requests)


def test_kill_9_while_the_queue_is_worked_loses_and_duplicates_nothing(fake, db, site, tmp_path) -> None:
    fake.polls_until_done = 6
    queued = [queue_article(db, site, path) for path in ARTICLES]
    command = [sys.executable, "-m", "crawler", "--db", str(tmp_path / "docwatch.db"), "archive", "run"]
    env = {**os.environ, **cli_env(fake), "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.2",
           "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60"}

    def job_polls() -> int:
        return sum(r.path.startswith("/save/status/spn2-") for r in fake.requests)

    for polls_before_kill in (3, 5):  # the second run resumes the jobs of the first, and is killed too
        kill_after_polls = job_polls() + polls_before_kill
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        give_up = time.monotonic() + 30
        while (len(save_requests(fake)) < len(ARTICLES) or job_polls() < kill_after_polls) \
                and worker.poll() is None and time.monotonic() < give_up:
            time.sleep(0.02)
        assert worker.poll() is None, "the worker finished before it could be killed"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert archive_queue.counts_by_state(db)["in_progress"] > 0

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    requests_by_url = Counter(row[0] for row in db.execute("SELECT url FROM archive_requests"))
    assert set(requests_by_url.values()) == {1} and len(requests_by_url) == len(ARTICLES)
    for request_id, snapshot_id in queued:
        request = archive_queue.request(db, request_id)
        assert (request.state, request.capture_kind) == ("done", "new")
        assert db["snapshots"].get(snapshot_id)["wayback_url"] == request.wayback_url
    assert set(submissions(fake).values()) == {1} and len(submissions(fake)) == len(ARTICLES)


# --- the command line ---


def cli_env(fake: FakeWayback, keys: bool = True) -> dict[str, str]:
    env = {"DOCWATCH_WAYBACK_URL": fake.base_url, "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.05",
           "DOCWATCH_ARCHIVE_BACKOFF": "0.2", "DOCWATCH_WATCHLIST": "/nonexistent/watchlist.yaml",
           "DOCWATCH_IA_ACCESS_KEY": ACCESS if keys else "", "DOCWATCH_IA_SECRET_KEY": SECRET if keys else ""}
    return env


def test_cli_archive_url_prints_the_confirmed_capture(fake, site, tmp_path) -> None:
    url = site.base_url + ARTICLES[0]
    result = run_docwatch("archive", url, db=tmp_path / "docwatch.db", env=cli_env(fake))
    assert result.returncode == 0, result.stderr
    wayback_url = result.stdout.splitlines()[0]
    assert wayback_url.startswith(f"{fake.base_url}/web/") and wayback_url.endswith(url)
    assert "new capture" in result.stdout
    assert requests.get(wayback_url, timeout=5).content == (site.root / ARTICLES[0].lstrip("/")).read_bytes()
    assert SECRET not in result.stdout + result.stderr


def test_cli_archive_url_without_keys_says_what_is_missing(fake, site, tmp_path) -> None:
    result = run_docwatch("archive", site.base_url + ARTICLES[0], db=tmp_path / "docwatch.db",
                          env=cli_env(fake, keys=False))
    assert result.returncode == 1
    assert "Not archived (needs credentials)" in result.stdout and "DOCWATCH_IA_SECRET_KEY" in result.stdout


@pytest.mark.e2e
def test_cli_archive_tells_a_mistyped_command_from_a_url(tmp_path) -> None:
    result = run_docwatch("archive", "stauts", db=tmp_path / "docwatch.db")
    assert result.returncode == 2 and "did you mean `docwatch archive status`?" in result.stderr
    result = run_docwatch("archive", "ftp://example.org/x", db=tmp_path / "docwatch.db")
    assert result.returncode == 2 and "not an http(s) URL" in result.stderr


@pytest.mark.e2e
def test_cli_rejects_an_unusable_setting_by_name(tmp_path) -> None:
    result = run_docwatch("archive", "status", db=tmp_path / "docwatch.db",
                          env={"DOCWATCH_ARCHIVE_MAX_ATTEMPTS": "many"})
    assert result.returncode == 2 and "DOCWATCH_ARCHIVE_MAX_ATTEMPTS must be a whole number" in result.stderr


def test_cli_status_run_and_retry(fake, db, site, tmp_path) -> None:
    blocked_id, _ = queue_article(db, site, ARTICLES[0])
    fake.script(["refuse_blocked"])
    work_queue(db, client_for(fake), settings_for(fake))
    queue_article(db, site, ARTICLES[1])
    env, db_path = cli_env(fake), tmp_path / "docwatch.db"

    status = run_docwatch("archive", "status", db=db_path, env=env)
    assert status.returncode == 0, status.stderr
    assert "1 queued (1 due now), 0 in progress, 0 done, 0 need credentials, 1 failed" in status.stdout
    assert f"#{blocked_id} failed" in status.stdout and "error:blocked-url" in status.stdout
    assert "archive.org keys: set" in status.stdout and SECRET not in status.stdout

    retried = run_docwatch("archive", "retry", db=db_path, env=env)
    assert "Queued again: 1." in retried.stdout
    assert archive_queue.request(db, blocked_id).attempts == 0

    worked = run_docwatch("archive", "run", db=db_path, env=env)
    assert worked.returncode == 0, worked.stderr
    assert "2 new capture(s)" in worked.stdout and "2 done" in worked.stdout
    counts = json.loads(run_docwatch("archive", "status", "--json", db=db_path, env=env).stdout)["counts"]
    assert (counts["done"], counts["failed"], counts["queued"]) == (2, 0, 0)


# --- local evidence ---


def write_warc(warc_dir, url: str, body: bytes):
    """A page's WARC records, as a crawl writes them for a plain 200 answer."""
    answer = WireExchange(url=url, method="GET", request_headers=[("User-Agent", "docwatch")], status=200,
                          protocol="HTTP/1.1", headers=[("Content-Type", "text/html")], body=body,
                          received_at=datetime.now(timezone.utc).isoformat())
    return WarcWriter(warc_dir).append(build_exchange([answer], hashlib.sha256(body).hexdigest()))


def test_evidence_lists_copies_and_the_replay_check_catches_a_changed_byte(db, site, tmp_path) -> None:
    url = site.base_url + ARTICLES[1]
    body = (site.root / ARTICLES[1].lstrip("/")).read_bytes()
    warc_dir = tmp_path / "data" / "warc"
    ref = write_warc(warc_dir, url, body)
    add_snapshot(db, url, body, (ref.path, ref.offset, ref.length))
    unrecorded = add_snapshot(db, url, b"<html>fetched before WARC files existed</html>")
    args = ("--data-dir", str(tmp_path / "data"), "evidence", url)

    listed = run_docwatch(*args, "--verify", db=tmp_path / "docwatch.db",
                          env={"DOCWATCH_WATCHLIST": "/nonexistent/watchlist.yaml"})
    assert listed.returncode == 0, listed.stderr
    assert hashlib.sha256(body).hexdigest() in listed.stdout
    assert f"{ref.path} @ {ref.offset} ({ref.length} bytes)  replay: OK" in listed.stdout
    assert f"#{unrecorded}" in listed.stdout and "no WARC record" in listed.stdout

    warc_file = warc_dir / ref.path
    data = bytearray(warc_file.read_bytes())
    data[ref.offset + ref.length // 2] ^= 0xFF
    warc_file.write_bytes(bytes(data))
    tampered = run_docwatch(*args, "--verify", db=tmp_path / "docwatch.db",
                            env={"DOCWATCH_WATCHLIST": "/nonexistent/watchlist.yaml"})
    assert tampered.returncode == 1
    assert "replay: unreadable" in tampered.stdout or "replay: payload SHA-256 is" in tampered.stdout
    assert "1 of 2 WARC record(s) failed the replay check" in tampered.stderr


def test_the_last_capture_of_a_removed_page_names_both_copies(fake, db, site, tmp_path) -> None:
    url = site.base_url + ARTICLES[0]
    assert archive_queue.last_capture_for_page(db, url) is None
    body = (site.root / ARTICLES[0].lstrip("/")).read_bytes()
    ref = write_warc(tmp_path / "warc", url, body)
    snapshot_id = add_snapshot(db, url, body, (ref.path, ref.offset, ref.length))
    archive_queue.enqueue(db, url, "new_page", snapshot_id)
    work_queue(db, client_for(fake), settings_for(fake))
    add_snapshot(db, url, b"<html>later copy, not archived yet</html>")

    last = archive_queue.last_capture_for_page(db, url)
    assert last.wayback_url == db["snapshots"].get(snapshot_id)["wayback_url"] is not None
    assert (last.snapshot_id, last.warc_file, last.warc_offset, last.body_sha256) == (
        snapshot_id, ref.path, ref.offset, ref.sha256)


def test_settings_come_from_the_environment_with_clear_errors() -> None:
    settings = ArchiveSettings.resolve(environ={
        "DOCWATCH_WAYBACK_URL": "http://127.0.0.1:8765/", "DOCWATCH_WAYBACK_CDX_URL": "http://cdx.test/cdx",
        "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "2", "DOCWATCH_ARCHIVE_IF_NOT_ARCHIVED_WITHIN": "3d 5h",
        "DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL": "yes"})
    assert settings.endpoints.save == "http://127.0.0.1:8765/save"
    assert settings.endpoints.cdx == "http://cdx.test/cdx"
    assert (settings.captures_per_minute, settings.window, settings.work_after_crawl) == (
        2, timedelta(days=3, hours=5), True)
    for env, message in [("DOCWATCH_ARCHIVE_POLL_DEADLINE", " must be a number of seconds"),
                         ("DOCWATCH_ARCHIVE_IF_NOT_ARCHIVED_WITHIN", ": if_not_archived_within must look like '1d'"),
                         ("DOCWATCH_WAYBACK_URL", ": Wayback base URL must be http(s)://host")]:
        with pytest.raises(ValueError, match=re.escape(env + message)):
            ArchiveSettings.resolve(environ={env: "soon"})
    with pytest.raises(ValueError, match="DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE must be at least 1"):
        ArchiveSettings.resolve(environ={"DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "0"})


def test_an_older_database_stops_claiming_an_earlier_versions_capture(tmp_path) -> None:
    # A database as the previous version left it: the revised page's snapshot was given the
    # capture taken two hours before it was fetched.
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
                    " applied_at TEXT NOT NULL)")
        for number, description, sql in [m for m in MIGRATIONS if m[0] < 13]:
            for statement in filter(str.strip, sql.split(";")):
                old.execute(statement)
            old.execute("INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", [number, description])
        url, web = "http://www.htx.gov.cn/htx/c114304/202310/f44ac40812424a1c9bcb113ab2b88936.shtml", "https://web.archive.org/web"
        old.execute("INSERT INTO sources (id, url, type, added_at, updated_at) VALUES ('htx', ?, 'page', 'x', 'x')", [url])
        old.execute("INSERT INTO pages (id, source_id, url, kind, first_seen) VALUES (1, 'htx', ?, 'page', 'x')", [url])
        for snapshot_id, fetched_at in ((1, "2026-11-20T10:00:00+00:00"), (2, "2026-11-20T12:00:00+00:00")):
            old.execute("INSERT INTO snapshots (id, page_id, fetched_at, http_status, final_url, encoding, title, text,"
                        " text_sha256, body_sha256, body_size, body_zlib, wayback_url, wayback_timestamp)"
                        " VALUES (?, 1, ?, 200, ?, 'utf-8', '', '', ?, ?, 0, x'', ?, '20261120100500')",
                        [snapshot_id, fetched_at, url, str(snapshot_id), str(snapshot_id), f"{web}/20261120100500/{url}"])
            old.execute("INSERT INTO archive_requests (url, reason, snapshot_id, state, next_attempt_at, wayback_url,"
                        " wayback_timestamp, capture_kind, created_at, updated_at) VALUES (?, ?, ?, 'done', 'x', ?,"
                        " '20261120100500', ?, 'x', 'x')",
                        [url, "new_page" if snapshot_id == 1 else "changed", snapshot_id,
                         f"{web}/20261120100500/{url}", "new" if snapshot_id == 1 else "existing"])

    db = open_database(path)

    first, revised = (archive_queue.request(db, request_id) for request_id in (1, 2))
    assert (first.state, first.capture_kind, first.wayback_timestamp) == ("done", "new", "20261120100500")
    assert (revised.state, revised.wayback_timestamp) == ("failed", "20261120100500")  # kept, as the earlier copy
    assert "it shows an earlier version" in revised.last_error and "docwatch archive retry" in revised.last_error
    evidence = archive_queue.snapshot_evidence(db, url)
    assert [(c["archive_status"], c["wayback_timestamp"]) for c in evidence] == [
        ("archived", "20261120100500"), ("earlier_version", None)]
    assert evidence[1]["earlier_capture"]["wayback_timestamp"] == "20261120100500"
    assert archive_queue.retry_failed(db) == (1, 0)  # and it can be asked for again


def test_a_request_being_worked_is_pointed_at_the_newer_version_a_crawl_finds(fake, db, site) -> None:
    # The page changes while its capture job runs: the job's capture was taken before the new
    # version was fetched, so the request asks again, for the new version.
    fake.polls_until_done = 3
    request_id, first = queue_article(db, site, ARTICLES[0])
    url = site.base_url + ARTICLES[0]
    settings = settings_for(fake, poll_interval=0.5)
    path = db.execute("PRAGMA database_list").fetchone()[2]
    worker = threading.Thread(target=lambda: work_queue(open_database(path), client_for(fake), settings,
                                                        stop_after=1, deadline=time.monotonic() + 20))
    worker.start()
    give_up = time.monotonic() + 10
    while archive_queue.request(db, request_id).job_id is None and time.monotonic() < give_up:
        time.sleep(0.05)
    time.sleep(1.1)  # the new version is fetched a second after the capture was taken
    changed = add_snapshot(db, url, b"<html>changed while the job ran</html>")
    assert archive_queue.enqueue(db, url, "changed", changed) == request_id
    assert archive_queue.request(db, request_id).state == "in_progress"
    worker.join(timeout=20)
    request = archive_queue.request(db, request_id)
    assert (request.snapshot_id, request.state, request.attempts) == (changed, "queued", 1)
    assert "it shows an earlier version" in request.last_error
    assert db["snapshots"].get(changed)["wayback_url"] is None

    time.sleep(delay_of(request))
    work_queue(db, client_for(fake), settings_for(fake))
    request = archive_queue.request(db, request_id)
    assert (request.state, request.capture_kind) == ("done", "new")
    assert request.wayback_timestamp >= archive_queue.wayback_time(db["snapshots"].get(changed)["fetched_at"])
    assert db["snapshots"].get(changed)["wayback_url"] == request.wayback_url
    assert db["snapshots"].get(first)["wayback_url"] is None


def test_a_submission_whose_job_id_was_lost_is_watched_for_and_not_sent_again(fake, db, site) -> None:
    fake.finish_unpolled_after = 0.5  # SPN2 captures whether or not anyone polls the job
    request_id, _ = queue_article(db, site, ARTICLES[0])
    url = site.base_url + ARTICLES[0]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_worker = f"{socket.gethostname()}:{gone.stdout.strip()}"
    # A worker claimed the request, sent its submission, and was killed before it learnt the job id.
    archive_queue.claim(db, dead_worker, lease_seconds=60)
    archive_queue.mark_submitting(db, request_id, dead_worker)
    client_for(fake).submit(url, "1h")

    work_queue(db, client_for(fake), settings_for(fake), deadline=time.monotonic() + 10)
    request = archive_queue.request(db, request_id)
    assert (request.state, request.capture_kind) == ("done", "existing")
    assert submissions(fake) == Counter({url: 1})
