"""What tests do to the demo's fake Wayback Machine beyond what the demo does: give it captures
it holds from the start, and list the Save Page Now submissions it received."""

from __future__ import annotations

from datetime import datetime

from crawler.demo.fake_wayback import FakeWayback, RecordedRequest, StoredCapture


def add_capture(fake: FakeWayback, url: str, body: bytes, timestamp: str, mimetype: str = "text/html",
                status: int = 200) -> None:
    """Let the archive hold a capture of ``url`` taken at ``timestamp`` (14 digits) already."""
    datetime.strptime(timestamp, "%Y%m%d%H%M%S")  # rejects a malformed timestamp
    fake.keep(StoredCapture(url, timestamp, body, mimetype, status))


def save_requests(fake: FakeWayback) -> list[RecordedRequest]:
    """Every `POST /save` the fake received, in order."""
    return [request for request in fake.requests if request.method == "POST" and request.path == "/save"]
