"""Reading WARC files other tools wrote (Browsertrix, ArchiveBox, wget --warc-file, another
docwatch) for `docwatch import`: their HTTP response records, each verified against the
digests it declares before anything is read from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from storage import utcnow


@dataclass(frozen=True)
class WarcResponse:
    """One response record: the URL, when it was captured (ISO 8601 UTC), the HTTP answer
    (body decoded of its transfer and content encodings), and where it is in its file."""

    url: str
    captured_at: str
    record_id: str
    http_status: int
    headers: dict[str, str]
    body: bytes
    file: Path
    offset: int

    @property
    def is_html(self) -> bool:
        content_type = self.headers.get("Content-Type", "").lower()
        return "html" in content_type or (not content_type and self.body.lstrip()[:15].lower().startswith(b"<!doctype html"))


@dataclass(frozen=True)
class BrokenRecord:
    """A record that cannot be trusted: its digest does not match, or it does not parse."""

    file: Path
    offset: int | None
    url: str | None
    problem: str


def read_responses(path: Path, max_bytes: int) -> Iterator[WarcResponse | BrokenRecord]:
    """Every HTTP response record of a WARC file (gzip or not), in order. A record whose
    declared block or payload digest does not match its bytes, or whose body exceeds
    `max_bytes`, is a BrokenRecord; a file that stops parsing ends with one."""
    with path.open("rb") as stream:
        records = ArchiveIterator(stream, check_digests=True)
        read = 0
        try:
            for record in records:
                read += 1
                if not record.format.startswith("warc"):
                    yield BrokenRecord(path, None, None, "not a WARC record (an ARC file, or not an archive at all)")
                    return
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                stream = record.content_stream()
                body = stream.read(max_bytes + 1)
                stream.read()  # to the end: the digests are checked once all is read
                offset = records.get_record_offset()  # (asking earlier skips the record's content)
                if record.digest_checker.passed is False:
                    problems = "; ".join(str(problem) for problem in record.digest_checker.problems)
                    yield BrokenRecord(path, offset, url, f"digest does not match its bytes ({problems})")
                elif len(body) > max_bytes:
                    yield BrokenRecord(path, offset, url, f"body larger than {max_bytes} bytes")
                elif url and url.startswith(("http://", "https://")):
                    yield WarcResponse(
                        url, _utc(record.rec_headers.get_header("WARC-Date")),
                        record.rec_headers.get_header("WARC-Record-ID") or f"{path.name}@{offset}",
                        int(record.http_headers.get_statuscode() or 0), dict(record.http_headers.headers), body,
                        path, offset,
                    )
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as error:
            yield BrokenRecord(path, None, None, f"the file stops being readable WARC: {error}")
            return
        if read == 0:
            yield BrokenRecord(path, None, None, "not a single WARC record in it: is it a WARC file?")


def _utc(warc_date: str | None) -> str:
    """WARC-Date (2024-01-30T08:15:02Z, or with fractions) as docwatch stores times."""
    moment = datetime.fromisoformat((warc_date or "").replace("Z", "+00:00"))
    return utcnow(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
