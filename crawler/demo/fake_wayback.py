"""A local stand-in for the Wayback Machine that speaks its wire format, for tests and the demo.

It runs a real HTTP server on 127.0.0.1 and implements the endpoints docwatch uses:
``POST /save`` and ``GET /save/status/<job_id>`` / ``/save/status/user`` (Save Page Now 2),
``GET /wayback/available`` (availability API), ``GET /cdx/search/cdx`` (CDX index, text
lines) and ``GET /web/<timestamp>/<url>`` (playback). A finished job really fetches the
submitted URL (bounded), so playback returns what the page said at capture time.

When a capture of the URL is younger than ``if_not_archived_within`` (or than
``repeat_capture_interval``: SPN2's own limit on capturing one URL again, which applies even
without that field), it does what SPN2 does: answers with the job of that earlier capture and
"The same snapshot had been made N minutes ago. ...", and the job reports ``success`` with
the earlier capture's timestamp.

Tests steer it with :meth:`FakeWayback.script`: answers queued in order, e.g.
``['429', '502', 'refuse_daily_limit', 'pending_forever']``. Transport answers ('429', '502',
'not_json', 'stall') are taken by the next request of any kind (or only by requests to
``path``, when given); the others by the next ``POST /save``. Every request received is kept in :attr:`FakeWayback.requests`.

Run it as a process for the demo or CI::

    python -m crawler.demo.fake_wayback --port 8765 --access-key A --secret-key S
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from crawler.archive.wayback import parse_spn_interval
from storage.archive_queue import payload_digest

log = logging.getLogger(__name__)

TRANSPORT_ANSWERS = frozenset({"429", "502", "not_json", "stall"})
SUBMISSION_ANSWERS = frozenset({
    "refuse_daily_limit", "refuse_session_limit", "refuse_blocked",
    "pending_forever", "error_not_found",
})
MAX_REQUEST_BYTES = 1024 * 1024
MAX_CAPTURE_BYTES = 20 * 1024 * 1024
RETRY_AFTER_SECONDS = 7
DAILY_CAPTURES_LIMIT = 100_000  # reported by /save/status/user, as the real service does

# Refusal bodies as SPN2 sends them: HTTP 200, no job_id.
_REFUSALS = {
    "refuse_daily_limit": {
        "status": "error", "status_ext": "error:too-many-daily-captures",
        "message": "This URL has been already captured 10 times today. Please try again "
                   "tomorrow. Please email us at \"info@archive.org\" if you would like to "
                   "discuss this more.",
    },
    "refuse_session_limit": {
        "status": "error", "status_ext": "error:user-session-limit",
        "message": "You have already reached the limit of active sessions. "
                   "Please wait a minute and try again.",
    },
    "refuse_blocked": {
        "status": "error", "status_ext": "error:blocked-url",
        "message": "This URL is in the Save Page Now service block list and cannot be captured.",
    },
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class StoredCapture:
    url: str
    timestamp: str
    body: bytes
    mimetype: str = "text/html"
    status: int = 200
    job_id: str | None = None  # the job that made it, if one did


@dataclass
class _Job:
    job_id: str
    url: str
    submitted_at: datetime
    polls_left: int
    outcome: str = "capture"  # or "pending_forever", "error_not_found"
    result: dict | None = None


@dataclass
class _State:
    captures: list[StoredCapture] = field(default_factory=list)
    jobs: dict[str, _Job] = field(default_factory=dict)
    script: deque[tuple[str, str | None]] = field(default_factory=deque)  # (answer, path)
    submissions: deque[float] = field(default_factory=deque)
    daily_captures: int = 0


class FakeWayback:
    """The fake server; use as a context manager and point the client at ``base_url``.

    A job finishes on its ``polls_until_done``-th poll, or, when ``finish_unpolled_after`` is
    set, that many seconds after its submission even if nobody polls it (as the real one does:
    what a worker killed before it learnt the job id leaves behind). Jobs not finished yet are
    active sessions: beyond ``session_limit`` of them a submission is refused with
    ``error:user-session-limit``, as SPN2 does.
    """

    def __init__(
        self,
        access_key: str = "fake-access",
        secret_key: str = "fake-secret",
        *,
        polls_until_done: int = 1,
        captures_per_minute: int | None = None,
        session_limit: int = 8,
        stall_seconds: float = 5.0,
        repeat_capture_interval: str | None = None,
        finish_unpolled_after: float | None = None,
        port: int = 0,
    ) -> None:
        self._authorization = f"LOW {access_key}:{secret_key}"
        self.polls_until_done = polls_until_done
        self.captures_per_minute = captures_per_minute
        self.session_limit = session_limit
        self.stall_seconds = stall_seconds
        if repeat_capture_interval:
            parse_spn_interval(repeat_capture_interval)  # rejects a malformed interval now
        self.repeat_capture_interval = repeat_capture_interval
        self.finish_unpolled_after = finish_unpolled_after
        self.requests: list[RecordedRequest] = []
        self._state = _State()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeWayback:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="fake-wayback")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWayback:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def script(self, answers: list[str], path: str | None = None) -> None:
        """Queue forced answers (see module docstring); ``path`` aims transport answers at
        one endpoint, e.g. '/save', so other requests in between do not take them."""
        unknown = [a for a in answers if a not in TRANSPORT_ANSWERS | SUBMISSION_ANSWERS]
        if unknown:
            known = ", ".join(sorted(TRANSPORT_ANSWERS | SUBMISSION_ANSWERS))
            raise ValueError(f"unknown scripted answers {unknown}; known: {known}")
        with self._lock:
            self._state.script.extend((answer, path) for answer in answers)

    def keep(self, capture: StoredCapture) -> bool:
        """Hold `capture` from now on (the index, availability and playback show it); whether it
        is the first capture of its URL."""
        with self._lock:
            first = not any(_surt(c.url) == _surt(capture.url) for c in self._state.captures)
            self._state.captures.append(capture)
        return first

    # --- request handling (called from server threads) ---

    def _next_scripted(self, kinds: frozenset[str], path: str = "/save") -> str | None:
        """Take the head of the script if it is an answer of ``kinds`` meant for ``path``."""
        with self._lock:
            script = self._state.script
            if script and script[0][0] in kinds and script[0][1] in (None, path):
                return script.popleft()[0]
        return None

    def _handle_save(self, form: dict[str, list[str]],
                     authorization: str) -> tuple[int, dict, dict]:
        if not secrets.compare_digest(authorization.encode(), self._authorization.encode()):
            return 401, {}, {"status": "error", "message": "You need to be logged in to use "
                                                            "Save Page Now."}
        url = (form.get("url") or [""])[0].strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            return 200, {}, {"status": "error", "status_ext": "error:invalid-url-syntax",
                             "message": f"Invalid URL syntax: {url[:200]}"}
        forced = self._next_scripted(SUBMISSION_ANSWERS)
        if forced in _REFUSALS:
            return 200, {}, dict(_REFUSALS[forced])
        now = datetime.now(timezone.utc)
        with self._lock:
            state = self._state
            if self.captures_per_minute is not None:
                while state.submissions and state.submissions[0] < time.monotonic() - 60:
                    state.submissions.popleft()
                if len(state.submissions) >= self.captures_per_minute:
                    wait = int(state.submissions[0] + 60 - time.monotonic()) + 1
                    return 429, {"Retry-After": str(wait)}, {}
            processing = sum(1 for job in state.jobs.values() if job.result is None)
            if processing >= self.session_limit:
                return 200, {}, dict(_REFUSALS["refuse_session_limit"])
            try:
                recent = self._recent_capture(
                    url, (form.get("if_not_archived_within") or [""])[0], now)
            except ValueError as exc:
                return 200, {}, {"status": "error", "status_ext": "error:bad-request",
                                 "message": str(exc)}
            if recent is not None:
                return 200, {}, recent
            state.submissions.append(time.monotonic())
            job = _Job("spn2-" + secrets.token_hex(20), url, now, self.polls_until_done,
                       outcome=forced or "capture")
            state.jobs[job.job_id] = job
        return 200, {}, {"url": url, "job_id": job.job_id}

    def _recent_capture(self, url: str, window: str, now: datetime) -> dict | None:
        """SPN2's answer when a capture is inside if_not_archived_within, or inside its own
        repeat-capture interval: the earlier capture's job, whose status reports it."""
        windows = [parse_spn_interval(w) for w in (window, self.repeat_capture_interval) if w]
        newest = max((c for c in self._state.captures if _surt(c.url) == _surt(url)),
                     key=lambda c: c.timestamp, default=None)
        if newest is None or not windows:
            return None
        age = now - datetime.strptime(newest.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        interval = max((w for w in windows if age <= w), default=None)
        if interval is None:
            return None
        if newest.job_id not in self._state.jobs:  # a capture no job of ours made
            newest.job_id = "spn2-" + secrets.token_hex(20)
            self._state.jobs[newest.job_id] = _Job(
                newest.job_id, url, now, 0, result=_job_success(newest.job_id, newest, first=False))
        minutes = int(age.total_seconds() // 60)
        hours = max(1, int(interval.total_seconds() // 3600))
        return {"url": url, "job_id": newest.job_id,
                "message": f"The same snapshot had been made {minutes} minutes ago. "
                           f"You can make new capture of this URL after {hours} hours."}

    def _handle_status(self, job_id: str) -> dict:
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is None or job.outcome == "pending_forever":
                return {"status": "pending", "job_id": job_id, "resources": []}
            if job.result is not None:
                return job.result
            job.polls_left -= 1
            if job.polls_left > 0:
                return {"status": "pending", "job_id": job_id, "resources": []}
        result = self._finish(job)
        with self._lock:
            job.result = result
        return result

    def _finish(self, job: _Job) -> dict:
        """Complete a job: fetch the page like the real crawler would, or fail like it."""
        started = time.monotonic()
        if job.outcome == "error_not_found":
            return _job_error(job, "error:not-found", "The server cannot find the requested "
                                                       "resource.")
        try:
            with urllib.request.urlopen(job.url, timeout=10) as page:
                body = page.read(MAX_CAPTURE_BYTES)
                final_url = page.geturl()
                mimetype = page.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return _job_error(job, "error:not-found", "The server cannot find the "
                                                          "requested resource.")
            return _job_error(job, "error:bad-gateway", f"HTTP status={exc.code}.")
        except (urllib.error.URLError, OSError) as exc:
            return _job_error(job, "error:cannot-fetch", f"Cannot fetch {job.url}: {exc}")
        capture = StoredCapture(final_url, job.submitted_at.strftime("%Y%m%d%H%M%S"), body, mimetype,
                                job_id=job.job_id)
        first = self.keep(capture)
        with self._lock:
            self._state.daily_captures += 1
        return _job_success(job.job_id, capture, first, round(time.monotonic() - started, 3))

    def _handle_user_status(self, authorization: str) -> tuple[int, dict]:
        if not secrets.compare_digest(authorization.encode(), self._authorization.encode()):
            return 401, {"status": "error", "message": "You need to be logged in."}
        with self._lock:
            processing = sum(1 for job in self._state.jobs.values() if job.result is None)
            return 200, {
                "available": max(0, self.session_limit - processing),
                "processing": processing,
                "daily_captures": self._state.daily_captures,
                "daily_captures_limit": DAILY_CAPTURES_LIMIT,
            }

    def _captures_of(self, url: str) -> list[StoredCapture]:
        if self.finish_unpolled_after is not None:
            due = datetime.now(timezone.utc).timestamp() - self.finish_unpolled_after
            with self._lock:
                unpolled = [job for job in self._state.jobs.values() if job.result is None
                            and job.outcome == "capture" and job.submitted_at.timestamp() <= due]
            for job in unpolled:
                result = self._finish(job)
                with self._lock:
                    job.result = result
        with self._lock:
            return sorted((c for c in self._state.captures if _surt(c.url) == _surt(url)),
                          key=lambda c: c.timestamp)

    def _handle_available(self, query: dict[str, list[str]]) -> dict:
        url = (query.get("url") or [""])[0]
        captures = self._captures_of(url)
        if not captures:
            return {"url": url, "archived_snapshots": {}}
        closest = _closest(captures, (query.get("timestamp") or [""])[0])
        return {"url": url, "archived_snapshots": {"closest": {
            "status": str(closest.status), "available": True,
            "url": f"{self.base_url}/web/{closest.timestamp}/{closest.url}",
            "timestamp": closest.timestamp,
        }}}

    def _handle_cdx(self, query: dict[str, list[str]]) -> str:
        captures = self._captures_of((query.get("url") or [""])[0])
        sort = (query.get("sort") or [""])[0]
        if sort == "closest":
            target = (query.get("closest") or [""])[0]
            captures = sorted(captures, key=lambda c: _distance(c.timestamp, target))
        elif sort == "reverse":
            captures = captures[::-1]
        limit = (query.get("limit") or [""])[0]
        if limit.lstrip("-").isdigit():
            count = int(limit)
            captures = captures[:count] if count >= 0 else captures[count:]
        return "".join(_cdx_line(c) + "\n" for c in captures)

    def _handle_playback(self, rest: str) -> tuple[int, dict, bytes]:
        stamp, _, url = rest.partition("/")
        timestamp = stamp.removesuffix("id_")
        captures = self._captures_of(url)
        if not captures:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not in archive.</body></html>"
        closest = _closest(captures, timestamp)
        if closest.timestamp != timestamp:
            return 302, {"Location": f"/web/{closest.timestamp}{stamp[len(timestamp):]}/"
                                     f"{closest.url}"}, b""
        captured_at = datetime.strptime(closest.timestamp, "%Y%m%d%H%M%S")
        return 200, {
            "Content-Type": closest.mimetype,
            "Memento-Datetime": captured_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Link": f'<{closest.url}>; rel="original"',
        }, closest.body


def _handler_for(fake: FakeWayback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeWayback/1.0"

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._dispatch()

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("fake wayback: " + format, *args)

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._send(413, {"Content-Type": "text/plain"}, b"request too large")
                return
            raw_form = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            request = RecordedRequest(self.command, parts.path, parse_qs(parts.query),
                                      parse_qs(raw_form), dict(self.headers.items()))
            with fake._lock:
                fake.requests.append(request)
            forced = fake._next_scripted(TRANSPORT_ANSWERS, parts.path)
            if forced is not None:
                self._send_forced(forced)
                return
            self._route(request, parts.path)

        def _route(self, request: RecordedRequest, path: str) -> None:
            authorization = self.headers.get("Authorization", "")
            if self.command == "POST" and path == "/save":
                status, headers, body = fake._handle_save(request.form, authorization)
                self._send_json(status, body, headers)
            elif self.command == "GET" and path == "/save/status/user":
                self._send_json(*fake._handle_user_status(authorization))
            elif self.command == "GET" and path.startswith("/save/status/"):
                self._send_json(200, fake._handle_status(path.removeprefix("/save/status/")))
            elif self.command == "GET" and path == "/wayback/available":
                self._send_json(200, fake._handle_available(request.query))
            elif self.command == "GET" and path == "/cdx/search/cdx":
                self._send(200, {"Content-Type": "text/plain;charset=UTF-8"},
                           fake._handle_cdx(request.query).encode())
            elif self.command == "GET" and self.path.startswith("/web/"):
                self._send(*fake._handle_playback(self.path.removeprefix("/web/")))
            else:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")

        def _send_forced(self, forced: str) -> None:
            if forced == "stall":
                fake._stopping.wait(fake.stall_seconds)
                self.close_connection = True
                return
            if forced == "429":
                self._send(429, {"Content-Type": "text/html", "Retry-After":
                                 str(RETRY_AFTER_SECONDS)},
                           b"<html><body><h1>429 Too Many Requests</h1></body></html>")
            elif forced == "502":
                self._send(502, {"Content-Type": "text/html"},
                           b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            else:  # not_json
                self._send(200, {"Content-Type": "text/html"},
                           b"<html><body>Wayback Machine is temporarily offline.</body></html>")

        def _send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
            self._send(status, {"Content-Type": "application/json", **(headers or {})},
                       json.dumps(body).encode())

        def _send(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _job_success(job_id: str, capture: StoredCapture, first: bool, duration: float = 0.0) -> dict:
    return {
        "status": "success", "job_id": job_id, "original_url": capture.url,
        "timestamp": capture.timestamp, "duration_sec": duration,
        "resources": [capture.url], "outlinks": {}, "http_status": capture.status,
        "counters": {"outlinks": 0, "embeds": 0}, "first_archive": first,
    }


def _job_error(job: _Job, status_ext: str, message: str) -> dict:
    return {"status": "error", "status_ext": status_ext, "job_id": job.job_id,
            "message": message, "resources": []}


def _surt(url: str) -> str:
    """Sort-friendly URL key as the CDX index writes it: ``cn,gov,xinjiang)/path?query``."""
    url = url.strip().lower()
    parts = urlsplit(url if "://" in url else f"http://{url}")  # the CDX takes bare hosts too
    host = (parts.hostname or "").removeprefix("www.")
    key = ",".join(reversed(host.split("."))) + ")" + (parts.path or "/")
    return key + (f"?{parts.query}" if parts.query else "")


def _cdx_line(capture: StoredCapture) -> str:
    digest = payload_digest(capture.body)
    return " ".join([_surt(capture.url), capture.timestamp, capture.url, capture.mimetype,
                     str(capture.status), digest, str(len(capture.body))])


def _distance(timestamp: str, target: str) -> float:
    """Seconds between a capture and a (possibly partial) target; no target: newest first."""
    try:
        wanted = datetime.strptime((target + "99991231235959"[len(target):])[:14],
                                   "%Y%m%d%H%M%S")
    except ValueError:
        return -float(timestamp)
    return abs((datetime.strptime(timestamp, "%Y%m%d%H%M%S") - wanted).total_seconds())


def _closest(captures: list[StoredCapture], timestamp: str) -> StoredCapture:
    return min(captures, key=lambda c: _distance(c.timestamp, timestamp))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a local fake of the Wayback Machine APIs.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--polls-until-done", type=int, default=1)
    parser.add_argument("--captures-per-minute", type=int, default=None)
    parser.add_argument("--repeat-capture-interval", default=None,
                        help="SPN2's own limit on capturing one URL again, e.g. 45m")
    args = parser.parse_args(argv)
    fake = FakeWayback(args.access_key, args.secret_key, port=args.port,
                       polls_until_done=args.polls_until_done,
                       captures_per_minute=args.captures_per_minute,
                       repeat_capture_interval=args.repeat_capture_interval)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with fake:
        print(f"fake Wayback Machine at {fake.base_url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
