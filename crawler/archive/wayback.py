"""Wayback Machine client: ask Save Page Now 2 for a capture, follow the job, find captures.

Every call is one step a persistent queue can take and record: ``submit`` (one POST),
``status`` (one poll), ``lookup`` (one index query). Each answer is classified into a
:class:`Kind` the queue acts on: poll again, retry later with backoff, slow everything down,
give up, or fix the keys. A capture is only ever reported when the Wayback Machine confirmed
it: a job ``success`` with a timestamp, or a capture listed by the CDX index.

Submissions need free archive.org S3-style keys (``Authorization: LOW key:secret``). The keys
never appear in logs, exceptions or reprs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from waybackpy import WaybackMachineCDXServerAPI
from waybackpy.exceptions import BlockedSiteError, NoCDXRecordFound, WaybackError

import crawler
from crawler.config.settings import IA_ACCESS_KEY_ENV, IA_SECRET_KEY_ENV

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"docwatch/{crawler.__version__} (evidence archiving)"
MAX_ANSWER_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 500
WAYBACK_TIMESTAMP = re.compile(r"\d{14}")

# SPN2 error codes after which the same request will fail again: the queue should give up.
PERMANENT_ERRORS = frozenset({
    "error:bad-request",
    "error:blocked",
    "error:blocked-url",
    "error:filesize-limit",
    "error:ftp-access-denied",
    "error:http-version-not-supported",
    "error:invalid-url-syntax",
    "error:method-not-allowed",
    "error:network-authentication-required",
    "error:no-access",
    "error:not-found",
    "error:not-implemented",
    "error:too-many-redirects",
    "error:unauthorized",
})
# SPN2 error codes that mean "you (or SPN towards that host) are going too fast".
RATE_LIMIT_ERRORS = frozenset({"error:user-session-limit", "error:too-many-requests"})
# The per-URL daily cap: the URL was captured several times today already.
ALREADY_CAPTURED_ERRORS = frozenset({"error:too-many-daily-captures"})
_ALREADY_ARCHIVED_MESSAGE = re.compile(
    r"same snapshot had been made|you can make new capture", re.IGNORECASE
)
_NEW_CAPTURE_AFTER = re.compile(r"new capture of this URL after (\d+) hours?", re.IGNORECASE)
_PAYLOAD_DIGEST = re.compile(r"[A-Z2-7]{32}")
_RATE_LIMIT_MESSAGE = re.compile(r"too many|limit of active sessions|try again later",
                                 re.IGNORECASE)
_INTERVAL_PART = re.compile(r"(\d+)([dhms]?)")
_INTERVAL_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "seconds"}
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")

T = TypeVar("T")


class Kind(StrEnum):
    """What happened, phrased as what the queue should do next."""

    SUBMITTED = "submitted"  # keep job_id, poll it
    ALREADY_ARCHIVED = "already_archived"  # SPN2 declined: recent capture exists; lookup() it
    PENDING = "pending"  # poll again
    SUCCESS = "success"  # confirmed capture: timestamp + wayback_url
    ERROR = "error"  # the capture job failed; JobStatus.permanent says whether to resubmit
    TIMED_OUT = "timed_out"  # wait() gave up; the job may still finish, poll later
    RATE_LIMITED = "rate_limited"  # slow down all submissions (retry_after when given)
    SERVER_ERROR = "server_error"  # transient trouble: retry this step later with backoff
    REFUSED = "refused"  # permanent refusal of this URL: give up
    AUTH_ERROR = "auth_error"  # keys missing or wrong: stop submitting until fixed


class WaybackUnavailable(Exception):
    """A lookup could not get an answer from the Wayback Machine (not the same as 'no capture')."""


@dataclass(frozen=True)
class WaybackEndpoints:
    save: str = "https://web.archive.org/save"
    status: str = "https://web.archive.org/save/status"
    availability: str = "https://archive.org/wayback/available"
    cdx: str = "https://web.archive.org/cdx/search/cdx"
    web: str = "https://web.archive.org/web"

    @classmethod
    def from_base(cls, base_url: str) -> WaybackEndpoints:
        """All endpoints under one base, e.g. a local fake (``DOCWATCH_WAYBACK_URL``)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Wayback base URL must be http(s)://host[:port], got {base_url!r}")
        base = base_url.rstrip("/")
        return cls(
            save=f"{base}/save",
            status=f"{base}/save/status",
            availability=f"{base}/wayback/available",
            cdx=f"{base}/cdx/search/cdx",
            web=f"{base}/web",
        )


@dataclass(frozen=True)
class Credentials:
    """archive.org S3-style keys; the secret is kept out of repr and error messages."""

    access_key: str
    secret_key: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.access_key or not self.secret_key:
            raise ValueError("archive.org access key and secret key must both be non-empty")
        if ":" in self.access_key or re.search(r"\s", self.access_key):
            raise ValueError("archive.org access key must not contain ':' or whitespace")
        if re.search(r"\s", self.secret_key):
            raise ValueError("archive.org secret key must not contain whitespace")

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"

    @property
    def authorization(self) -> str:
        return f"LOW {self.access_key}:{self.secret_key}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Credentials | None:
        """Keys from DOCWATCH_IA_ACCESS_KEY / DOCWATCH_IA_SECRET_KEY; None when neither is set."""
        env = os.environ if environ is None else environ
        access, secret = env.get(IA_ACCESS_KEY_ENV, ""), env.get(IA_SECRET_KEY_ENV, "")
        if not access and not secret:
            return None
        if not access or not secret:
            missing = IA_ACCESS_KEY_ENV if not access else IA_SECRET_KEY_ENV
            raise ValueError(f"{missing} is not set; set both archive.org keys or neither")
        return cls(access, secret)


@dataclass(frozen=True)
class SubmitResult:
    kind: Kind
    url: str
    job_id: str | None = None
    status_ext: str | None = None
    message: str = ""
    retry_after: float | None = None  # seconds, from a Retry-After header or "new capture after N hours"

    @property
    def offers_earlier_capture(self) -> bool:
        """SPN2 answered with the job of a capture made earlier ("The same snapshot had been
        made N minutes ago"): its success reports that capture's timestamp, not a new one."""
        return self.kind is Kind.SUBMITTED and bool(_ALREADY_ARCHIVED_MESSAGE.search(self.message))


@dataclass(frozen=True)
class JobStatus:
    kind: Kind
    job_id: str
    timestamp: str | None = None
    original_url: str | None = None
    wayback_url: str | None = None
    status_ext: str | None = None
    message: str = ""
    retry_after: float | None = None

    @property
    def permanent(self) -> bool:
        """For a failed job: would resubmitting the same URL fail the same way?"""
        return self.kind is Kind.ERROR and self.status_ext in PERMANENT_ERRORS


@dataclass(frozen=True)
class UserStatus:
    """Remaining SPN2 capacity of the account, read at run time instead of hard-coded."""

    available: int
    processing: int
    daily_captures: int | None = None
    daily_captures_limit: int | None = None


@dataclass(frozen=True)
class Capture:
    timestamp: str
    url: str
    wayback_url: str
    status_code: int | None  # None for index rows without one (e.g. revisits, "-")
    digest: str | None = None  # the CDX payload digest: base32 SHA-1 of the captured body

    @property
    def captured_at(self) -> datetime:
        return datetime.strptime(self.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class _Answer:
    """One HTTP exchange with SPN2, reduced to what classification needs."""

    http_status: int | None
    json: dict[str, Any] | None
    retry_after: float | None
    problem: str  # why there is no usable answer, for messages


class WaybackClient:
    """Save Page Now 2 and CDX client; every method is one step a queue worker can record."""

    def __init__(
        self,
        endpoints: WaybackEndpoints | None = None,
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        user_agent: str = DEFAULT_USER_AGENT,
        session: requests.Session | None = None,
    ) -> None:
        self.endpoints = endpoints or WaybackEndpoints()
        self._credentials = credentials
        self.timeout = timeout
        self.user_agent = user_agent
        self._session = session or requests.Session()

    @property
    def has_credentials(self) -> bool:
        """Whether submissions can be sent at all (without keys only lookups work)."""
        return self._credentials is not None

    def __repr__(self) -> str:
        keys = "with keys" if self._credentials else "without keys"
        return f"WaybackClient({self.endpoints.save!r}, {keys})"

    def submit(
        self, url: str, if_not_archived_within: str = "1d", capture_outlinks: bool = False
    ) -> SubmitResult:
        """Ask SPN2 to capture ``url`` unless it was captured within the given interval."""
        _require_http_url(url)
        parse_spn_interval(if_not_archived_within)
        if self._credentials is None:
            return SubmitResult(
                Kind.AUTH_ERROR, url,
                message=f"no archive.org keys configured ({IA_ACCESS_KEY_ENV}, {IA_SECRET_KEY_ENV})",
            )
        answer = self._exchange(
            "POST",
            self.endpoints.save,
            data={
                "url": url,
                "if_not_archived_within": if_not_archived_within,
                "capture_outlinks": "1" if capture_outlinks else "0",
                "skip_first_archive": "1",
            },
        )
        result = _classify_submission(url, answer)
        log.info("SPN2 submit %s -> %s %s", url, result.kind, result.job_id or result.message)
        return result

    def status(self, job_id: str) -> JobStatus:
        """Poll a capture job once."""
        if not _JOB_ID.fullmatch(job_id):
            raise ValueError(f"not an SPN2 job id: {job_id[:80]!r}")
        answer = self._exchange("GET", f"{self.endpoints.status}/{job_id}")
        return _classify_job(job_id, answer, self.endpoints.web)

    def wait(self, job_id: str, deadline_seconds: float, poll_interval: float = 5.0) -> JobStatus:
        """Poll until the job succeeds or fails, or report ``timed_out`` at the deadline.

        Unknown or expired job ids stay "pending" forever at SPN2, so the deadline is what
        ends the wait for them.
        """
        give_up_at = time.monotonic() + deadline_seconds
        while True:
            current = self.status(job_id)
            if current.kind in (Kind.SUCCESS, Kind.ERROR, Kind.AUTH_ERROR):
                return current
            remaining = give_up_at - time.monotonic()
            if remaining <= 0:
                return JobStatus(
                    Kind.TIMED_OUT, job_id, status_ext=current.status_ext,
                    message=f"no result after {deadline_seconds:g}s (last answer: {current.kind})",
                )
            time.sleep(min(max(poll_interval, current.retry_after or 0), remaining))

    def user_status(self) -> UserStatus | None:
        """Remaining capacity of the account, or None when SPN2 does not say."""
        if self._credentials is None:
            return None
        answer = self._exchange("GET", f"{self.endpoints.status}/user")
        body = answer.json
        if answer.http_status != 200 or body is None:
            log.info("SPN2 user status unavailable: %s", answer.problem)
            return None
        try:
            return UserStatus(
                available=int(body["available"]),
                processing=int(body["processing"]),
                daily_captures=_optional_int(body.get("daily_captures")),
                daily_captures_limit=_optional_int(body.get("daily_captures_limit")),
            )
        except (KeyError, TypeError, ValueError):
            log.info("SPN2 user status has an unexpected shape: %s", _bounded(json.dumps(body)))
            return None

    def lookup(self, url: str, max_age: timedelta | None = None) -> Capture | None:
        """The newest capture the CDX index lists for ``url`` (None: none, or older than max_age).

        Raises WaybackUnavailable when the index could not be asked, so "no capture" is never
        confused with "could not tell". Fresh captures can take a while to reach the index.
        """
        _require_http_url(url)
        cdx = WaybackMachineCDXServerAPI(url, user_agent=self.user_agent)
        cdx.endpoint = self.endpoints.cdx
        try:
            snapshot = _within(self.timeout, cdx.newest)
        except (NoCDXRecordFound, BlockedSiteError):
            return None
        except (requests.RequestException, WaybackError, ValueError, TimeoutError) as exc:
            raise WaybackUnavailable(f"CDX lookup for {url} failed: {_bounded(str(exc))}") from exc
        capture = Capture(
            timestamp=snapshot.timestamp,
            url=snapshot.original,
            wayback_url=f"{self.endpoints.web}/{snapshot.timestamp}/{snapshot.original}",
            status_code=int(snapshot.statuscode) if snapshot.statuscode.isdigit() else None,
            digest=snapshot.digest if _PAYLOAD_DIGEST.fullmatch(snapshot.digest or "") else None,
        )
        if max_age is not None and capture.captured_at < datetime.now(timezone.utc) - max_age:
            return None
        return capture

    def _exchange(self, method: str, endpoint: str, data: dict[str, str] | None = None) -> _Answer:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if self._credentials is not None:
            headers["Authorization"] = self._credentials.authorization
        try:
            with self._session.request(
                method, endpoint, data=data, headers=headers, timeout=self.timeout,
                stream=True, allow_redirects=False,
            ) as response:
                raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                status = response.status_code
        except requests.Timeout:
            return _Answer(None, None, None, f"no answer within {self.timeout:g}s")
        except requests.RequestException as exc:
            return _Answer(None, None, None, f"connection failed: {type(exc).__name__}")
        if len(raw) > MAX_ANSWER_BYTES:
            return _Answer(status, None, retry_after, f"HTTP {status}: answer larger than 1 MB")
        try:
            body = json.loads(raw)
        except ValueError:
            return _Answer(status, None, retry_after, f"HTTP {status}: answer is not JSON")
        if not isinstance(body, dict):
            return _Answer(status, None, retry_after, f"HTTP {status}: answer is not a JSON object")
        return _Answer(status, body, retry_after, f"HTTP {status}")


def parse_spn_interval(text: str) -> timedelta:
    """Parse SPN2's ``if_not_archived_within`` syntax: "1d", "3d 5h 20m", "86400" (seconds)."""
    parts = text.split()
    matches = [_INTERVAL_PART.fullmatch(part) for part in parts]
    if not parts or not all(matches):
        raise ValueError(
            f"if_not_archived_within must look like '1d', '3d 5h 20m' or '86400', got {text!r}"
        )
    interval = timedelta()
    for match in matches:
        interval += timedelta(**{_INTERVAL_UNITS[match.group(2)]: int(match.group(1))})
    return interval


def _classify_submission(url: str, answer: _Answer) -> SubmitResult:
    transport = _transport_kind(answer)
    if transport is not None:
        return SubmitResult(transport, url, message=_transport_message(answer),
                            retry_after=answer.retry_after)
    body = answer.json
    if body is None:
        kind = Kind.REFUSED if 400 <= (answer.http_status or 0) < 500 else Kind.SERVER_ERROR
        return SubmitResult(kind, url, message=answer.problem)
    status_ext = _text(body.get("status_ext")) or None
    message = _bounded(_text(body.get("message")))
    job_id = _text(body.get("job_id"))
    if job_id and _JOB_ID.fullmatch(job_id):
        after = _NEW_CAPTURE_AFTER.search(message)
        return SubmitResult(Kind.SUBMITTED, url, job_id=job_id, message=message,
                            retry_after=int(after.group(1)) * 3600.0 if after else None)
    if status_ext in ALREADY_CAPTURED_ERRORS or (
        not status_ext and _ALREADY_ARCHIVED_MESSAGE.search(message)
    ):
        kind = Kind.ALREADY_ARCHIVED
    elif status_ext in RATE_LIMIT_ERRORS or (
        not status_ext and _RATE_LIMIT_MESSAGE.search(message)
    ):
        kind = Kind.RATE_LIMITED
    elif status_ext in PERMANENT_ERRORS or (answer.http_status or 0) >= 400:
        kind = Kind.REFUSED
    else:  # an unknown refusal: retrying with backoff is safer than dropping the evidence
        kind = Kind.SERVER_ERROR
    return SubmitResult(kind, url, status_ext=status_ext, message=message or answer.problem,
                        retry_after=answer.retry_after)


def _classify_job(job_id: str, answer: _Answer, web_endpoint: str) -> JobStatus:
    transport = _transport_kind(answer)
    if transport is not None:
        return JobStatus(transport, job_id, message=_transport_message(answer),
                         retry_after=answer.retry_after)
    body = answer.json
    if body is None:
        return JobStatus(Kind.SERVER_ERROR, job_id, message=answer.problem)
    state = _text(body.get("status"))
    message = _bounded(_text(body.get("message")))
    if state == "pending":
        return JobStatus(Kind.PENDING, job_id)
    if state == "error":
        return JobStatus(Kind.ERROR, job_id, status_ext=_text(body.get("status_ext")) or None,
                         message=message)
    timestamp, original = _text(body.get("timestamp")), _text(body.get("original_url"))
    if state == "success" and WAYBACK_TIMESTAMP.fullmatch(timestamp) and _is_http_url(original):
        return JobStatus(Kind.SUCCESS, job_id, timestamp=timestamp, original_url=original,
                         wayback_url=f"{web_endpoint}/{timestamp}/{original}")
    return JobStatus(Kind.SERVER_ERROR, job_id,
                     message=f"unexpected job answer: {_bounded(json.dumps(body))}")


def _transport_kind(answer: _Answer) -> Kind | None:
    """Kinds decided by the HTTP exchange alone, before reading any JSON."""
    status = answer.http_status
    if status is None or status >= 500:
        return Kind.SERVER_ERROR
    if status == 429:
        return Kind.RATE_LIMITED
    if status in (401, 403):
        return Kind.AUTH_ERROR
    return None


def _transport_message(answer: _Answer) -> str:
    """The server's own words when it gave any, else what went wrong with the exchange."""
    said = _text((answer.json or {}).get("message"))
    if said:
        return _bounded(f"HTTP {answer.http_status}: {said}")
    return answer.problem if answer.http_status is None else f"HTTP {answer.http_status}"


def _within(seconds: float, call: Callable[[], T]) -> T:
    """Run ``call`` with a deadline: waybackpy sets no timeout on its HTTP requests.

    A call that overruns keeps running in a daemon thread until its socket gives up; the
    caller gets TimeoutError now instead of hanging the queue worker.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="wayback-lookup", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:g}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _require_http_url(url: str) -> None:
    if not _is_http_url(url):
        raise ValueError(f"not an http(s) URL with a host: {url[:200]!r}")


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _optional_int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"
