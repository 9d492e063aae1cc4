"""The archive queue worker: turns queued requests into confirmed Wayback Machine captures.

One worker submits a request, records the SPN2 job id at once, and polls its jobs side by side
while it submits more, within the account's capacity (``/save/status/user``) and never faster
than ``captures_per_minute``. Trouble slows it down: a 429 or a "too many sessions" refusal
pauses all submissions (exponentially longer when it repeats, at least Retry-After), and the
request itself is retried later with exponential backoff until ``max_attempts``.

A request ends ``done`` only with a capture the Wayback Machine confirmed: a job that reported
``success`` (a *new* capture), or a capture its index lists (an *existing* capture, e.g. when
SPN2 declined because the URL was captured recently, or when there are no keys). Without
working keys and without a recent capture it ends ``needs_credentials``.

A request for a snapshot ends ``done`` only with a capture of *that version* of the page
(``storage.archive_queue.Version``): taken at or after the snapshot was fetched, or with the
body's own digest. So a changed page is submitted even inside ``if_not_archived_within`` (the
window sent never reaches back before the fetch), and a capture of an earlier version that the
Wayback Machine offers instead (its own repeat-capture limit, the daily cap) is kept as such on
the request, which is tried again later.

Killed at any moment, nothing is lost: requests are leased (see storage.archive_queue), a
restarted worker polls the recorded job instead of submitting again, and when a worker died
between sending a submission and learning its job id, the next one looks for the capture in the
index until the poll deadline before it submits again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone

from crawler.archive.wayback import (
    ALREADY_CAPTURED_ERRORS,
    Credentials,
    Kind,
    WaybackClient,
    WaybackEndpoints,
    WaybackUnavailable,
    parse_spn_interval,
)
from crawler.config.settings import SETTINGS, convert, env_of
from storage import archive_queue
from storage.archive_queue import EXISTING_CAPTURE, NEW_CAPTURE, WAYBACK_TIME, ArchiveRequest, Version, WaybackCopy
from storage.connection import Database

log = logging.getLogger(__name__)

WAYBACK_URL_ENV = env_of("wayback_url")
JOB_STATUS_KEPT = timedelta(hours=1)  # SPN2 forgets a job after about an hour
DAILY_CAP_WINDOW = timedelta(days=1)  # "captured N times today": a capture exists within a day
MAX_DELAY_SECONDS = 6 * 3600.0
LEASE_MARGIN_SECONDS = 120.0
MIN_SLEEP_SECONDS = 0.05  # never spin on a request that is due in a moment


@dataclass(frozen=True)
class ArchiveSettings:
    """Archive settings: environment (DOCWATCH_ARCHIVE_*, declared as ``archive_<name>`` in
    crawler.config.settings.SETTINGS), then these defaults. Keys are secrets: see wayback_client()."""

    endpoints: WaybackEndpoints = field(default_factory=WaybackEndpoints)
    captures_per_minute: int = SETTINGS["archive_captures_per_minute"].default  # SPN2 is told to slow down too
    max_attempts: int = SETTINGS["archive_max_attempts"].default
    if_not_archived_within: str = SETTINGS["archive_if_not_archived_within"].default  # a page that changed hours later is captured again
    poll_deadline: float = SETTINGS["archive_poll_deadline"].default  # seconds one attempt follows a job before retrying later
    poll_interval: float = SETTINGS["archive_poll_interval"].default
    backoff: float = SETTINGS["archive_backoff"].default  # first retry delay; doubles with every failed attempt
    work_after_crawl: bool = SETTINGS["archive_work_after_crawl"].default  # read by the crawl: work the queue after queueing

    def __post_init__(self) -> None:
        try:
            parse_spn_interval(self.if_not_archived_within)
        except ValueError as error:
            raise ValueError(f"{_env_name('if_not_archived_within')}: {error}") from None
        for name in ("captures_per_minute", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_env_name(name)} must be at least 1, got {getattr(self, name)}")
        for name in ("poll_deadline", "poll_interval", "backoff"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{_env_name(name)} must be a positive number of seconds, "
                                 f"got {getattr(self, name)}")

    @property
    def window(self) -> timedelta:
        return parse_spn_interval(self.if_not_archived_within)

    @classmethod
    def resolve(cls, environ: Mapping[str, str] = os.environ) -> ArchiveSettings:
        """Raises ValueError naming the variable whose value is unusable."""
        values: dict[str, object] = {"endpoints": _endpoints(environ)}
        for name in (spec.name for spec in fields(cls) if spec.name != "endpoints"):
            setting = SETTINGS[f"archive_{name}"]
            if environ.get(setting.env) is not None:
                values[name] = convert(environ[setting.env], setting, setting.env)
        return cls(**values)


def wayback_client(settings: ArchiveSettings, environ: Mapping[str, str] = os.environ) -> WaybackClient:
    """A client with the keys from DOCWATCH_IA_ACCESS_KEY / DOCWATCH_IA_SECRET_KEY, if set."""
    return WaybackClient(settings.endpoints, Credentials.from_env(dict(environ)))


@dataclass
class WorkSummary:
    """What one worker run did, counted by outcome."""

    new_captures: int = 0
    existing_captures: int = 0
    retry_later: int = 0
    failed: int = 0
    needs_credentials: int = 0
    released: int = 0  # unfinished when the run stopped, back in the queue as they were

    def describe(self) -> str:
        return (f"{self.new_captures} new capture(s), {self.existing_captures} existing capture(s), "
                f"{self.retry_later} to retry later, {self.failed} failed, "
                f"{self.needs_credentials} need credentials, {self.released} handed back unfinished.")


def work_queue(
    db: Database,
    client: WaybackClient,
    settings: ArchiveSettings,
    stop_after: int | None = None,
    deadline: float | None = None,
    only: int | None = None,
) -> WorkSummary:
    """Work the queue until no request is due (or, given a ``deadline`` as a time.monotonic()
    instant, until none is due before it), after ``stop_after`` requests, or at the deadline.
    ``only``: work just that request. Unfinished jobs are handed back when it stops."""
    return _Worker(db, client, settings).run(stop_after, deadline, only)


@dataclass
class _Flight:
    """A submitted job being polled; without a job id (its worker died before learning it), the
    Wayback index is watched for the capture instead."""

    request: ArchiveRequest
    job_id: str | None
    poll_until: float
    next_poll: float
    capture_kind: str = NEW_CAPTURE  # EXISTING when SPN2 answered with an earlier capture's job
    retry_after: float = 0.0  # when that capture shows an earlier version: SPN2's "new capture after"


class _Worker:
    def __init__(self, db: Database, client: WaybackClient, settings: ArchiveSettings) -> None:
        self.db, self.client, self.settings = db, client, settings
        self.worker_id = archive_queue.local_worker_id()
        self.lease_seconds = settings.poll_deadline + settings.poll_interval + LEASE_MARGIN_SECONDS
        self.in_flight: list[_Flight] = []
        self.paused_until = 0.0  # no submissions before this time.monotonic() instant
        self.rate_limit_streak = 0
        self.refused_keys: str | None = None  # why submitting is pointless this run
        self.summary = WorkSummary()

    def run(self, stop_after: int | None, deadline: float | None, only: int | None) -> WorkSummary:
        claimed = 0
        try:
            while deadline is None or time.monotonic() < deadline:
                self._poll_due_jobs()
                may_claim = stop_after is None or claimed < stop_after
                ready_at = self._ready_to_submit_at() if may_claim else None
                if ready_at is not None and ready_at <= time.monotonic():
                    request = archive_queue.claim(self.db, self.worker_id, self.lease_seconds, only)
                    if request is not None:
                        claimed += 1
                        self._start(request)
                        continue
                wake = self._next_wake(ready_at, deadline, only)
                if wake is None:
                    break
                time.sleep(max(0.0, (wake if deadline is None else min(wake, deadline)) - time.monotonic()))
        finally:
            for flight in self.in_flight:
                if archive_queue.release(self.db, flight.request.id, self.worker_id):
                    self.summary.released += 1
        return self.summary

    # --- pacing ---

    def _ready_to_submit_at(self) -> float | None:
        """When a new request may be taken (now or later) per pauses, budget and capacity;
        None when the account's daily captures are used up: no more this run."""
        now = time.monotonic()
        if now < self.paused_until:
            return self.paused_until
        if self.refused_keys or not self.client.has_credentials:
            return now  # lookups only: no capture capacity used
        minute_ago = datetime.now(timezone.utc) - timedelta(minutes=1)
        if archive_queue.submissions_since(self.db, minute_ago) >= self.settings.captures_per_minute:
            return now + self.settings.poll_interval
        capacity = self.client.user_status()
        if capacity is None:
            return now
        if capacity.daily_captures_limit is not None and (
                capacity.daily_captures or 0) >= capacity.daily_captures_limit:
            log.warning("archive.org daily captures used up (%s); stopping submissions", capacity.daily_captures)
            return None
        if capacity.available > 0:
            return now
        return time.monotonic() + self.settings.poll_interval  # measured after the call: it took time

    def _next_wake(self, ready_at: float | None, deadline: float | None, only: int | None) -> float | None:
        """The next moment there may be work; None when the run is over."""
        now = time.monotonic()
        moments = [flight.next_poll for flight in self.in_flight]
        due = archive_queue.next_due_at(self.db, only) if ready_at is not None else None
        if due is not None:
            due_at = now + (due - datetime.now(timezone.utc)).total_seconds()
            wake = max(due_at, ready_at, now + MIN_SLEEP_SECONDS)
            # Due now: wait for the pause to end. Due later: only if before the deadline.
            if due_at <= now or (deadline is not None and wake < deadline):
                moments.append(wake)
        return min(moments, default=None)

    def _slow_down(self, retry_after: float | None) -> float:
        """Pause every submission after a rate limit; returns the pause in seconds."""
        self.rate_limit_streak += 1
        pause = min(MAX_DELAY_SECONDS, max(retry_after or 0.0,
                                           self.settings.backoff * 2 ** (self.rate_limit_streak - 1)))
        self.paused_until = time.monotonic() + pause
        log.info("Wayback rate limit: pausing submissions for %.0fs", pause)
        return pause

    # --- one request ---

    def _start(self, request: ArchiveRequest) -> None:
        try:
            if self._resume(request) or self._reuse_recent_capture(request):
                return
            if self.refused_keys or not self.client.has_credentials:
                self._without_keys(request, self.refused_keys or "no archive.org keys configured "
                                   "(DOCWATCH_IA_ACCESS_KEY, DOCWATCH_IA_SECRET_KEY)")
            else:
                self._submit(request)
        except WaybackUnavailable as error:
            self._retry(request, str(error))
        except ValueError as error:  # the client rejected the URL itself
            self._finish_failed(request, str(error))

    def _resume(self, request: ArchiveRequest) -> bool:
        """Pick up where an earlier attempt stopped; True when that settled the request."""
        submitted_at = datetime.fromisoformat(request.submitted_at) if request.submitted_at else None
        if request.job_id and submitted_at and datetime.now(timezone.utc) - submitted_at < JOB_STATUS_KEPT:
            now = time.monotonic()
            self.in_flight.append(_Flight(request, request.job_id, now + self.settings.poll_deadline, now))
            return True
        if submitted_at and (request.job_id or request.resumed):
            # The job is forgotten by now, or its worker died before learning the job id.
            if self._record_lookup(request, _since(submitted_at)) is None:
                return True
            age = (datetime.now(timezone.utc) - submitted_at).total_seconds()
            if not request.job_id and age < self.settings.poll_deadline:
                # That submission may still be capturing: watch for it rather than submit twice.
                now = time.monotonic()
                self.in_flight.append(_Flight(request, None, now + self.settings.poll_deadline - age,
                                              now + self.settings.poll_interval))
                return True
        return False

    def _reuse_recent_capture(self, request: ArchiveRequest) -> bool:
        """Never submit a URL twice within if_not_archived_within: point at the earlier capture,
        unless it was taken before this request's version of the page was fetched."""
        earlier = archive_queue.recently_archived(self.db, request.url, self.settings.window)
        version = self._version(request)
        if earlier is None or (version is not None and not version.shows(earlier.wayback_timestamp)):
            return False
        self._finish_done(request, earlier.wayback_url, earlier.wayback_timestamp, EXISTING_CAPTURE)
        return True

    def _version(self, request: ArchiveRequest) -> Version | None:
        """The version of the page the request is for now (a crawl may have pointed it at a
        newer one meanwhile); None for a URL alone (a manual request)."""
        snapshot_id = archive_queue.request(self.db, request.id).snapshot_id
        return None if snapshot_id is None else archive_queue.version(self.db, snapshot_id)

    def _window(self, request: ArchiveRequest) -> str:
        """``if_not_archived_within`` for this request: the configured window, cut short at the
        snapshot's fetch, so that SPN2 never answers a changed page with its earlier capture."""
        version = self._version(request)
        if version is None:
            return self.settings.if_not_archived_within
        since_fetch = datetime.now(timezone.utc) - version.fetched_at
        if since_fetch >= self.settings.window:
            return self.settings.if_not_archived_within
        return str(max(1, int(since_fetch.total_seconds())))  # SPN2 takes plain seconds

    def _submit(self, request: ArchiveRequest) -> None:
        archive_queue.mark_submitting(self.db, request.id, self.worker_id)
        result = self.client.submit(request.url, self._window(request))
        if result.kind is Kind.SUBMITTED:
            archive_queue.record_job(self.db, request.id, self.worker_id, result.job_id)
            self.rate_limit_streak = 0
            now = time.monotonic()
            self.in_flight.append(_Flight(
                request, result.job_id, now + self.settings.poll_deadline, now + self.settings.poll_interval,
                EXISTING_CAPTURE if result.offers_earlier_capture else NEW_CAPTURE, result.retry_after or 0.0))
        elif result.kind is Kind.ALREADY_ARCHIVED:
            why_not = self._record_lookup(request, max(self.settings.window, DAILY_CAP_WINDOW))
            if why_not is not None:
                # The daily cap lifts tomorrow; a "same snapshot" refusal after the window.
                tomorrow = DAILY_CAP_WINDOW.total_seconds() if result.status_ext in ALREADY_CAPTURED_ERRORS else 0
                self._retry(request, f"{result.message} ({why_not})", min_delay=tomorrow)
        elif result.kind is Kind.RATE_LIMITED:
            self._retry(request, result.message, min_delay=self._slow_down(result.retry_after))
        elif result.kind is Kind.REFUSED:
            self._finish_failed(request, _reason(result.status_ext, result.message))
        elif result.kind is Kind.AUTH_ERROR:
            self.refused_keys = f"archive.org refused the keys: {result.message}"
            self._without_keys(request, self.refused_keys)
        else:
            self._retry(request, _reason(result.status_ext, result.message), min_delay=result.retry_after or 0)

    def _without_keys(self, request: ArchiveRequest, why: str) -> None:
        why_not = self._record_lookup(request, self.settings.window)
        if why_not is not None:
            self._finish(request, "needs_credentials", archive_queue.needs_credentials(
                self.db, request.id, self.worker_id, f"{why}; {why_not}"))

    def _record_lookup(self, request: ArchiveRequest, max_age: timedelta) -> str | None:
        """Record the newest capture the index lists, if it is one of the request's version
        (for a URL alone: one younger than ``max_age``); else say why not."""
        capture = self.client.lookup(request.url)
        if capture is None:
            return "no capture in the Wayback Machine yet"
        if self._version(request) is None and capture.captured_at < datetime.now(timezone.utc) - max_age:
            return f"no capture in the Wayback Machine within {_duration(max_age)}"
        return self._record_capture(request, WaybackCopy(capture.wayback_url, capture.timestamp),
                                    EXISTING_CAPTURE, capture.digest)

    def _record_capture(self, request: ArchiveRequest, capture: WaybackCopy, kind: str,
                        digest: str | None = None) -> str | None:
        """Finish the request with ``capture`` if it shows the request's version of the page;
        otherwise keep it on the request as an earlier version's and say so."""
        version = self._version(request)
        if version is None or version.shows(capture.wayback_timestamp, digest):
            self._finish_done(request, capture.wayback_url, capture.wayback_timestamp, kind)
            return None
        if capture.wayback_timestamp >= version.fetched_at.strftime(WAYBACK_TIME):
            return (f"the Wayback Machine's capture {capture.wayback_timestamp} was taken after the page "
                    "changed again: it shows a later version")
        archive_queue.note_earlier_capture(self.db, request.id, self.worker_id, capture)
        return (f"the Wayback Machine's capture {capture.wayback_timestamp} was taken before this version "
                f"was fetched ({version.fetched_at.strftime(WAYBACK_TIME)}): it shows an earlier version")

    def _poll_due_jobs(self) -> None:
        for flight in [f for f in self.in_flight if f.next_poll <= time.monotonic()]:
            if flight.job_id is None:
                self._watch_lost_submission(flight)
                continue
            status = self.client.status(flight.job_id)
            request = flight.request
            if status.kind in (Kind.SUCCESS, Kind.ERROR):
                self.in_flight.remove(flight)
            if status.kind is Kind.SUCCESS:
                why_not = self._record_capture(request, WaybackCopy(status.wayback_url, status.timestamp),
                                               flight.capture_kind)
                if why_not is not None:
                    self._retry(request, why_not, min_delay=flight.retry_after)
            elif status.kind is Kind.ERROR and status.permanent:
                self._finish_failed(request, _reason(status.status_ext, status.message))
            elif status.kind is Kind.ERROR:
                self._retry(request, _reason(status.status_ext, status.message))
            elif time.monotonic() >= flight.poll_until:
                self.in_flight.remove(flight)
                self._retry(request, f"job {flight.job_id} gave no result within "
                            f"{self.settings.poll_deadline:g}s (last answer: {status.kind}); "
                            "it is polled again next time", keep_job=True)
            else:
                flight.next_poll = time.monotonic() + max(self.settings.poll_interval, status.retry_after or 0)

    def _watch_lost_submission(self, flight: _Flight) -> None:
        request = flight.request
        if self._record_lookup(request, _since(datetime.fromisoformat(request.submitted_at))) is None:
            self.in_flight.remove(flight)  # the capture of this version: done
        elif time.monotonic() >= flight.poll_until:
            self.in_flight.remove(flight)
            self._retry(request, f"a submission whose job id was lost gave no capture of this version within "
                        f"{self.settings.poll_deadline:g}s; submitting again")
        else:
            flight.next_poll = time.monotonic() + self.settings.poll_interval

    # --- outcomes ---

    def _retry(self, request: ArchiveRequest, error: str, min_delay: float = 0.0, keep_job: bool = False) -> None:
        attempts = request.attempts + 1
        if attempts >= self.settings.max_attempts:
            self._finish_failed(request, f"gave up after {attempts} attempts; last: {error}")
            return
        delay = min(MAX_DELAY_SECONDS, max(min_delay, self.settings.backoff * 2 ** (attempts - 1)))
        self._finish(request, "retry_later", archive_queue.retry_later(
            self.db, request.id, self.worker_id, error, delay, keep_job))

    def _finish_failed(self, request: ArchiveRequest, error: str) -> None:
        self._finish(request, "failed", archive_queue.give_up(self.db, request.id, self.worker_id, error))

    def _finish_done(self, request: ArchiveRequest, wayback_url: str, stamp: str, kind: str) -> None:
        recorded = archive_queue.complete(self.db, request.id, wayback_url, stamp, kind)
        self._finish(request, "new_captures" if kind == NEW_CAPTURE else "existing_captures", recorded)

    def _finish(self, request: ArchiveRequest, outcome: str, recorded: bool) -> None:
        if recorded:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
            log.info("archive request %d (%s): %s", request.id, request.url, outcome)
        else:
            log.warning("archive request %d was taken over by another worker; its outcome %s is dropped",
                        request.id, outcome)


def _since(submitted_at: datetime) -> timedelta:
    """How far back a capture made by a submission sent at `submitted_at` can be (with a margin)."""
    return datetime.now(timezone.utc) - submitted_at + timedelta(minutes=1)


def _env_name(setting: str) -> str:
    return env_of(f"archive_{setting}")


def _duration(interval: timedelta) -> str:
    return f"{interval.total_seconds() / 3600:g}h" if interval >= timedelta(hours=1) else f"{interval.total_seconds():g}s"


def _reason(status_ext: str | None, message: str) -> str:
    return f"{status_ext}: {message}" if status_ext else message


def _endpoints(environ: Mapping[str, str]) -> WaybackEndpoints:
    """DOCWATCH_WAYBACK_URL sets every endpoint; DOCWATCH_WAYBACK_<NAME>_URL overrides one."""
    base = environ.get(WAYBACK_URL_ENV)
    try:
        endpoints = WaybackEndpoints.from_base(base) if base else WaybackEndpoints()
    except ValueError as error:
        raise ValueError(f"{WAYBACK_URL_ENV}: {error}") from None
    overrides = {}
    for endpoint in fields(WaybackEndpoints):
        env = env_of(f"wayback_{endpoint.name}_url")
        if environ.get(env):
            if not environ[env].startswith(("http://", "https://")):
                raise ValueError(f"{env} must be an http(s) URL, got {environ[env][:200]!r}")
            overrides[endpoint.name] = environ[env].rstrip("/")
    return WaybackEndpoints(**{**endpoints.__dict__, **overrides})
