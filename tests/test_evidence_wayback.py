"""The Wayback client against the local fake, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from waybackpy import WaybackMachineAvailabilityAPI

from crawler.demo.fake_wayback import DAILY_CAPTURES_LIMIT, FakeWayback
from tests.wayback import add_capture, save_requests
from crawler.archive.wayback import (
    Capture,
    Credentials,
    Kind,
    WaybackClient,
    WaybackEndpoints,
    WaybackUnavailable,
    parse_spn_interval,
)
from storage.archive_queue import payload_digest

FILES = Path(__file__).parent / "files" / "wayback"
PAGE = (FILES.parent / "pages" / "wayback_he.xinhuanet.com_article_gb2312.html").read_bytes()
ARTICLE_PATH = "/xjrst/c112676/202211/5e025b35030442df828e3cb0e1056e3d.shtml"
ACCESS, SECRET = "docwatch-access", "s3cr3t-Zq8-never-shown"
# A CDX row: urlkey timestamp original mimetype statuscode digest(base32 sha1) length.
CDX_ROW = re.compile(r"[a-z0-9,]+\)/\S* \d{14} https?://\S+ [\w/.+-]+ \d{3} [A-Z2-7]{32} \d+")


class _Origin(BaseHTTPRequestHandler):
    """A government site stand-in: the GB2312 article at ARTICLE_PATH, 404 elsewhere."""

    def do_GET(self) -> None:  # noqa: N802
        found = self.path == ARTICLE_PATH
        body = PAGE if found else b"<html>404</html>"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=gb2312")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# A stalled answer takes a minute; a client that gives up after its timeout is done well within
# STALL_BOUND even on a loaded machine, one that does not is not.
STALL_SECONDS, STALL_BOUND = 60, 30


@pytest.fixture
def fake() -> Iterator[FakeWayback]:
    with FakeWayback(ACCESS, SECRET, stall_seconds=STALL_SECONDS) as running:
        yield running


def client_for(fake: FakeWayback, credentials: Credentials | None = None,
               timeout: float = 2.0) -> WaybackClient:
    return WaybackClient(WaybackEndpoints.from_base(fake.base_url),
                         credentials or Credentials(ACCESS, SECRET), timeout=timeout)


def test_a_capture_is_reported_only_after_the_job_succeeds(fake: FakeWayback, origin: str) -> None:
    fake.polls_until_done = 3
    client = client_for(fake)
    url = origin + ARTICLE_PATH

    submitted = client.submit(url)

    assert submitted.kind is Kind.SUBMITTED
    assert re.fullmatch(r"spn2-[0-9a-f]{40}", submitted.job_id)
    first, second, third = (client.status(submitted.job_id) for _ in range(3))
    assert [first.kind, second.kind] == [Kind.PENDING, Kind.PENDING]
    assert first.wayback_url is None and second.timestamp is None
    assert third.kind is Kind.SUCCESS
    assert third.original_url == url
    assert third.wayback_url == f"{fake.base_url}/web/{third.timestamp}/{url}"
    replay = requests.get(third.wayback_url, timeout=5)
    assert replay.content == PAGE
    assert "话剧《约定无期限》" in replay.content.decode("gb2312")


def test_submission_speaks_spn2(fake: FakeWayback, origin: str) -> None:
    client_for(fake).submit(origin + ARTICLE_PATH, if_not_archived_within="3d 5h",
                            capture_outlinks=True)

    (request,) = save_requests(fake)
    assert request.headers["Authorization"] == f"LOW {ACCESS}:{SECRET}"
    assert request.headers["Accept"] == "application/json"
    assert request.form["url"] == [origin + ARTICLE_PATH]
    assert request.form["if_not_archived_within"] == ["3d 5h"]
    assert request.form["capture_outlinks"] == ["1"]


def test_wait_polls_until_success(fake: FakeWayback, origin: str) -> None:
    fake.polls_until_done = 2
    client = client_for(fake)
    job = client.submit(origin + ARTICLE_PATH).job_id

    done = client.wait(job, deadline_seconds=5, poll_interval=0.05)

    assert done.kind is Kind.SUCCESS
    assert requests.get(done.wayback_url, timeout=5).content == PAGE


def test_a_job_that_stays_pending_times_out_at_the_deadline(fake: FakeWayback,
                                                             origin: str) -> None:
    fake.script(["pending_forever"])
    client = client_for(fake)
    job = client.submit(origin + ARTICLE_PATH).job_id

    started = time.monotonic()
    outcome = client.wait(job, deadline_seconds=0.6, poll_interval=0.1)
    elapsed = time.monotonic() - started

    assert outcome.kind is Kind.TIMED_OUT
    assert outcome.wayback_url is None and outcome.timestamp is None
    assert 0.6 <= elapsed < STALL_BOUND  # not before the deadline; and pending forever, it still returns
    assert client.lookup(origin + ARTICLE_PATH) is None


def test_an_unknown_job_id_stays_pending_like_the_real_service(fake: FakeWayback) -> None:
    assert client_for(fake).status("spn2-" + "0" * 40).kind is Kind.PENDING


@pytest.mark.parametrize("how", ["gone at the origin", "scripted"])
def test_a_failed_capture_is_an_error_with_its_reason(fake: FakeWayback, origin: str,
                                                      how: str) -> None:
    client = client_for(fake)
    if how == "scripted":
        fake.script(["error_not_found"])
        url = origin + ARTICLE_PATH
    else:
        url = origin + "/xjrst/c112676/202211/removed.shtml"

    outcome = client.wait(client.submit(url).job_id, deadline_seconds=5, poll_interval=0.05)

    assert outcome.kind is Kind.ERROR
    assert outcome.status_ext == "error:not-found"
    assert outcome.permanent
    assert outcome.wayback_url is None


def test_429_is_rate_limited_with_its_retry_after(fake: FakeWayback, origin: str) -> None:
    fake.script(["429"])

    result = client_for(fake).submit(origin + ARTICLE_PATH)

    assert result.kind is Kind.RATE_LIMITED
    assert result.retry_after == 7
    assert result.job_id is None


def test_the_per_minute_capacity_answers_429(fake: FakeWayback, origin: str) -> None:
    fake.captures_per_minute = 1
    client = client_for(fake)

    first = client.submit(origin + ARTICLE_PATH)
    second = client.submit(origin + ARTICLE_PATH + "?page=2")

    assert first.kind is Kind.SUBMITTED
    assert second.kind is Kind.RATE_LIMITED
    assert 0 < second.retry_after <= 61
    assert len(save_requests(fake)) == 2


@pytest.mark.parametrize("answer", ["502", "not_json", "stall"])
def test_server_trouble_is_a_server_error_to_retry(fake: FakeWayback, origin: str,
                                                   answer: str) -> None:
    fake.script([answer])

    started = time.monotonic()
    result = client_for(fake, timeout=0.5).submit(origin + ARTICLE_PATH)

    assert result.kind is Kind.SERVER_ERROR
    assert result.job_id is None
    assert time.monotonic() - started < STALL_BOUND


def test_a_poll_that_meets_a_502_is_retried_by_wait(fake: FakeWayback, origin: str) -> None:
    client = client_for(fake)
    job = client.submit(origin + ARTICLE_PATH).job_id
    fake.script(["502"])

    assert client.status(job).kind is Kind.SERVER_ERROR
    assert client.wait(job, deadline_seconds=5, poll_interval=0.05).kind is Kind.SUCCESS


@pytest.mark.parametrize(("answer", "kind", "status_ext"), [
    ("refuse_session_limit", Kind.RATE_LIMITED, "error:user-session-limit"),
    ("refuse_daily_limit", Kind.ALREADY_ARCHIVED, "error:too-many-daily-captures"),
    ("refuse_blocked", Kind.REFUSED, "error:blocked-url"),
])
def test_http_200_refusals_are_classified(fake: FakeWayback, origin: str, answer: str,
                                          kind: Kind, status_ext: str) -> None:
    fake.script([answer])

    result = client_for(fake).submit(origin + ARTICLE_PATH)

    assert (result.kind, result.status_ext, result.job_id) == (kind, status_ext, None)
    assert result.message


def test_the_session_limit_is_reached_by_unfinished_jobs(fake: FakeWayback, origin: str) -> None:
    fake.session_limit = 2
    client = client_for(fake)

    kinds = [client.submit(f"{origin}{ARTICLE_PATH}?n={n}").kind for n in range(3)]

    assert kinds == [Kind.SUBMITTED, Kind.SUBMITTED, Kind.RATE_LIMITED]
    capacity = client.user_status()
    assert (capacity.available, capacity.processing) == (0, 2)


def test_user_status_reads_remaining_capacity(fake: FakeWayback, origin: str) -> None:
    client = client_for(fake)
    client.wait(client.submit(origin + ARTICLE_PATH).job_id, 5, 0.05)
    client.submit(origin + ARTICLE_PATH + "?second")

    capacity = client.user_status()

    assert capacity.processing == 1
    assert capacity.available == fake.session_limit - 1
    assert capacity.daily_captures == 1
    assert capacity.daily_captures_limit == DAILY_CAPTURES_LIMIT


def test_within_the_window_spn2_answers_with_the_earlier_captures_job(fake: FakeWayback,
                                                                       origin: str) -> None:
    # As SPN2 does: the job id of the capture already made, "The same snapshot had been made
    # N minutes ago", and that job reports success with the earlier capture's timestamp.
    url = origin + ARTICLE_PATH
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y%m%d%H%M%S")
    add_capture(fake, url, PAGE, two_hours_ago)
    client = client_for(fake)

    result = client.submit(url, if_not_archived_within="1d")

    assert result.kind is Kind.SUBMITTED and result.offers_earlier_capture
    assert result.message == ("The same snapshot had been made 120 minutes ago. "
                              "You can make new capture of this URL after 24 hours.")
    assert result.retry_after == 24 * 3600
    status = client.status(result.job_id)
    assert (status.kind, status.timestamp) == (Kind.SUCCESS, two_hours_ago)
    assert client.submit(url, if_not_archived_within="1d").job_id == result.job_id  # the same job again
    assert client.lookup(url) == Capture(two_hours_ago, url, f"{fake.base_url}/web/{two_hours_ago}/{url}",
                                         200, digest=payload_digest(PAGE))
    assert client.lookup(url, max_age=timedelta(hours=1)) is None
    fresh = client.submit(url, if_not_archived_within="1h")
    assert fresh.kind is Kind.SUBMITTED and not fresh.offers_earlier_capture
    assert client.wait(fresh.job_id, 5, poll_interval=0.05).timestamp > two_hours_ago


def test_spn2s_own_repeat_capture_limit_applies_without_a_window(origin: str) -> None:
    url = origin + ARTICLE_PATH
    with FakeWayback(ACCESS, SECRET, repeat_capture_interval="45m") as fake:
        client = client_for(fake)
        first = client.wait(client.submit(url, if_not_archived_within="5").job_id, 5, poll_interval=0.05)
        again = client.submit(url, if_not_archived_within="5")
        assert again.offers_earlier_capture and again.retry_after == 3600
        assert client.wait(again.job_id, 5, poll_interval=0.05).timestamp == first.timestamp
    with pytest.raises(ValueError, match="if_not_archived_within must look like"):
        FakeWayback(ACCESS, SECRET, repeat_capture_interval="soon")


def test_lookup_returns_the_newest_capture_and_none_for_an_unknown_url(fake: FakeWayback,
                                                                       origin: str) -> None:
    url = origin + ARTICLE_PATH
    for stamp in ("20191231120000", "20231221093000", "20210101000000"):
        add_capture(fake, url, PAGE, stamp)
    client = client_for(fake)

    newest = client.lookup(url)

    assert newest.timestamp == "20231221093000"
    assert newest.captured_at == datetime(2023, 12, 21, 9, 30, tzinfo=timezone.utc)
    assert requests.get(newest.wayback_url, timeout=5).content == PAGE
    assert client.lookup(origin + "/never/captured.shtml") is None


@pytest.mark.parametrize("answer", ["502", "stall"])
def test_lookup_says_when_it_could_not_ask(fake: FakeWayback, origin: str, answer: str) -> None:
    add_capture(fake, origin + ARTICLE_PATH, PAGE, "20231221093000")
    fake.script([answer])

    started = time.monotonic()
    with pytest.raises(WaybackUnavailable, match="CDX lookup"):
        client_for(fake, timeout=0.5).lookup(origin + ARTICLE_PATH)
    assert time.monotonic() - started < STALL_BOUND


def test_bad_keys_are_an_auth_error_and_the_secret_never_shows(
        fake: FakeWayback, origin: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = Credentials(ACCESS, "wrong-" + SECRET)
    client = client_for(fake, credentials=wrong)

    result = client.submit(origin + ARTICLE_PATH)
    capacity = client.user_status()

    assert result.kind is Kind.AUTH_ERROR
    assert capacity is None
    shown = " ".join([caplog.text, repr(client), repr(wrong), str(wrong), repr(result)])
    assert SECRET not in shown
    assert ACCESS in repr(wrong)
    with pytest.raises(ValueError) as bad_key:
        Credentials("has space", SECRET + " tail")
    assert SECRET not in str(bad_key.value)


def test_without_keys_nothing_is_submitted(fake: FakeWayback, origin: str) -> None:
    client = WaybackClient(WaybackEndpoints.from_base(fake.base_url), None, timeout=2)

    result = client.submit(origin + ARTICLE_PATH)

    assert result.kind is Kind.AUTH_ERROR
    assert "DOCWATCH_IA_ACCESS_KEY" in result.message
    assert save_requests(fake) == []
    assert client.user_status() is None


def test_credentials_come_from_the_environment() -> None:
    keys = Credentials.from_env({"DOCWATCH_IA_ACCESS_KEY": "a", "DOCWATCH_IA_SECRET_KEY": "b"})
    assert keys.authorization == "LOW a:b"
    assert Credentials.from_env({}) is None
    with pytest.raises(ValueError, match="DOCWATCH_IA_SECRET_KEY is not set"):
        Credentials.from_env({"DOCWATCH_IA_ACCESS_KEY": "a"})


def test_bad_input_is_rejected_before_any_request(fake: FakeWayback) -> None:
    client = client_for(fake)
    with pytest.raises(ValueError, match="http"):
        client.submit("javascript:alert(1)")
    with pytest.raises(ValueError, match="if_not_archived_within"):
        client.submit("http://www.xjyn.gov.cn/", if_not_archived_within="yesterday")
    with pytest.raises(ValueError, match="job id"):
        client.status("../user")
    with pytest.raises(ValueError, match="base URL"):
        WaybackEndpoints.from_base("web.archive.org")
    assert fake.requests == []


def test_intervals_use_spn2_syntax() -> None:
    assert parse_spn_interval("1d") == timedelta(days=1)
    assert parse_spn_interval("3d 5h 20m") == timedelta(days=3, hours=5, minutes=20)
    assert parse_spn_interval("86400") == timedelta(days=1)


def test_endpoints_from_one_base() -> None:
    endpoints = WaybackEndpoints.from_base("http://127.0.0.1:8765/")
    assert endpoints == WaybackEndpoints(
        save="http://127.0.0.1:8765/save",
        status="http://127.0.0.1:8765/save/status",
        availability="http://127.0.0.1:8765/wayback/available",
        cdx="http://127.0.0.1:8765/cdx/search/cdx",
        web="http://127.0.0.1:8765/web",
    )


def test_fake_cdx_rows_have_the_shape_of_recorded_real_rows(fake: FakeWayback,
                                                            origin: str) -> None:
    recorded = (FILES / "cdx_zew.de_recorded.txt").read_text().splitlines()
    add_capture(fake, "http://www.xjyn.gov.cn:80/xjyn/c113635/202401/b8238dc3.shtml", PAGE,
                     "20240130120000")

    answer = requests.get(f"{fake.base_url}/cdx/search/cdx",
                          params={"url": "xjyn.gov.cn/xjyn/c113635/202401/b8238dc3.shtml"},
                          timeout=5)

    assert all(CDX_ROW.fullmatch(row) for row in recorded)
    (row,) = answer.text.splitlines()
    assert CDX_ROW.fullmatch(row)
    assert row.startswith("cn,gov,xjyn)/xjyn/c113635/202401/b8238dc3.shtml 20240130120000 ")
    assert answer.headers["Content-Type"] == "text/plain;charset=UTF-8"


def test_fake_availability_answers_are_read_by_waybackpy(fake: FakeWayback, origin: str) -> None:
    url = origin + ARTICLE_PATH
    add_capture(fake, url, PAGE, "20231221093000")
    availability = WaybackMachineAvailabilityAPI(url)
    availability.endpoint = f"{fake.base_url}/wayback/available"
    availability.api_call_time_gap = 0

    availability.newest()

    assert availability.timestamp() == datetime(2023, 12, 21, 9, 30)
    assert availability.archive_url == f"{fake.base_url}/web/20231221093000/{url}"


@pytest.mark.e2e
def test_the_fake_runs_as_a_separate_process(origin: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.demo.fake_wayback", "--port", "0",
         "--access-key", ACCESS, "--secret-key", SECRET],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent,
    )
    try:
        base_url = process.stdout.readline().split(" at ")[-1].strip()
        client = WaybackClient(WaybackEndpoints.from_base(base_url), Credentials(ACCESS, SECRET),
                               timeout=5)
        outcome = client.wait(client.submit(origin + ARTICLE_PATH).job_id, 5, 0.05)
        assert outcome.kind is Kind.SUCCESS
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
