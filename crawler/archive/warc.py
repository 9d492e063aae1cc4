"""Local evidence: every fetched page goes into gzip-compressed WARC/1.1 files.

A WARC file is the format archives and evidence tools (pywb, replayweb.page) read, so a
snapshot kept here can be replayed and hashed independently of docwatch's own database.

Files are named ``<prefix>-<YYYYMMDD>-<NNNNNN>.warc.gz`` after the UTC day of the fetch; a
file takes no more records once it has reached ``max_bytes`` (it overshoots by at most one
record pair). Each record is its own gzip member, so a
record can be read back from its offset alone. Appends happen under an ``fcntl`` lock on
``.<prefix>.lock`` in the directory: two crawl processes never interleave records, and readers
only ever see complete records through the references returned after ``fsync``. An append that
fails (a full disk) leaves the file as it was; a partial record left by a process killed while
appending is cut off before the next append, and a file damaged otherwise takes no more records.

A fetch is kept as it was exchanged (`build_exchange`): for each redirect hop, then for the
final answer, a ``response`` record (status line and headers as received, ``Location``
included, the payload as transferred: still gzip when the server sent ``Content-Encoding:
gzip``) followed by its ``request`` record; then one ``metadata`` record of what docwatch made
of it (encoding, extraction settings, text SHA-256), so a replay can be read without the
database. Twisted, under Scrapy, consumes the connection headers and de-chunks the body before
anyone sees them: the records hold the de-chunked payload and a ``Content-Length`` of it. A
``Transfer-Encoding`` or a different ``Content-Length`` given to `build_exchange` is kept as
``X-Docwatch-Orig-<Name>``, because the stored payload no longer matches it.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import hashlib
import os
import re
import threading
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

import brotli  # Scrapy's dependency: what lets it ask servers for br
import zstandard
from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

import crawler
from crawler.fetch.items import WireExchange

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
ORIGINAL_HEADER_PREFIX = "X-Docwatch-Orig-"


@dataclass(frozen=True)
class WarcRecordRef:
    """Where a stored response lives, and the SHA-256 (hex) its payload must still have."""

    path: str
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class StoredResponse:
    """A response record read back from a WARC file; `body` is the payload as stored
    (as transferred: still in its `Content-Encoding`)."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class WarcWriter:
    """Appends request/response pairs to rotating ``.warc.gz`` files in one directory."""

    def __init__(
        self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, prefix: str = "docwatch"
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        if not re.fullmatch(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*", prefix):
            raise ValueError(
                f"WARC file prefix {prefix!r} must be letters, digits, '_', '.' or inner '-'"
            )
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.prefix = prefix
        self._file_pattern = re.compile(rf"{re.escape(prefix)}-(\d{{8}})-(\d{{6}})\.warc\.gz")
        self._thread_lock = threading.Lock()
        self._checked_to: dict[Path, int] = {}  # per file: how far its records are known whole

    def append(self, exchange: WarcExchange) -> WarcRecordRef:
        """Append an exchange built by `build_exchange` (possibly in another process) to the
        file of its day, and return where its final response record is, once it is on disk.

        All or nothing: when the write fails (a full disk), the file is cut back to where it
        ended, so it never keeps a partial gzip member that would stop sequential readers."""
        with self._thread_lock, open(self.directory / f".{self.prefix}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            day, sequence = exchange.day, self._sequence_for(exchange.day)
            while True:
                path = self.directory / f"{self.prefix}-{day}-{sequence:06d}.warc.gz"
                descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                end = self._whole_records_end(path, descriptor)
                if end is not None:
                    break
                os.close(descriptor)  # damaged, not merely cut short: it takes no more records
                sequence += 1
            try:
                header = b"" if end else _gzip_member(_warcinfo(path.name))
                try:
                    _write_all(descriptor, header + exchange.hops + exchange.response + exchange.after)
                    os.fsync(descriptor)  # the reference must survive a machine crash
                except BaseException:
                    os.ftruncate(descriptor, end)
                    if not end:
                        path.unlink()
                    raise
                self._checked_to[path] = end + len(header) + len(exchange.hops) + len(exchange.response) + len(exchange.after)
            finally:
                os.close(descriptor)
        offset = end + len(header) + len(exchange.hops)
        return WarcRecordRef(path=path.name, offset=offset, length=len(exchange.response), sha256=exchange.sha256)

    def _whole_records_end(self, path: Path, descriptor: int) -> int | None:
        """Where the file's last whole record ends, after cutting off a partial one (left by a
        process killed while appending); None when the file is damaged otherwise. Only what
        was appended since this writer last looked is read."""
        size = os.lseek(descriptor, 0, os.SEEK_END)
        checked = self._checked_to.get(path, 0)
        if checked == size:
            return size
        end = _gzip_members_end(path, checked if checked < size else 0)
        if end is not None and end < size:
            os.ftruncate(descriptor, end)
        if end is not None:
            self._checked_to[path] = end
        return end

    def _sequence_for(self, day: str) -> int:
        """The newest file of ``day``, or the next one once that has reached ``max_bytes``."""
        sequences = [
            int(match.group(2))
            for candidate in self.directory.glob(f"{self.prefix}-{day}-*.warc.gz")
            if (match := self._file_pattern.fullmatch(candidate.name)) and match.group(1) == day
        ]
        sequence = max(sequences, default=1)
        path = self.directory / f"{self.prefix}-{day}-{sequence:06d}.warc.gz"
        if path.exists() and path.stat().st_size >= self.max_bytes:
            return sequence + 1
        return sequence


def _gzip_members_end(path: Path, start: int = 0) -> int | None:
    """Where the last complete gzip member of `path` ends, reading from `start` (where one
    begins); None when a member is damaged rather than cut short at the end of the file."""
    end = position = start
    decompressor = isal_zlib.decompressobj(wbits=31)
    with open(path, "rb") as warc:
        warc.seek(start)
        while chunk := warc.read(1 << 20):
            while chunk:
                try:
                    decompressor.decompress(chunk)
                except (isal_zlib.error, zlib.error):
                    return None
                if not decompressor.eof:
                    position += len(chunk)
                    break
                end = position = position + len(chunk) - len(decompressor.unused_data)
                chunk = decompressor.unused_data
                decompressor = isal_zlib.decompressobj(wbits=31)
    return end


@dataclass(frozen=True)
class WarcExchange:
    """One fetch as WARC records, each already its own gzip member: appending it to a file is
    then only a write."""

    day: str  # YYYYMMDD (UTC) of the final answer: which file it goes to
    hops: bytes  # a response and a request record per redirect followed ("" when none)
    response: bytes  # the final answer: the record a snapshot points at
    after: bytes  # its request record, then the metadata record
    sha256: str  # of the final body as the crawler read it (decompressed): what `verify` checks


def build_exchange(
    exchanges: Sequence[WireExchange], body_sha256: str, metadata: dict[str, str] | None = None
) -> WarcExchange:
    """The records of one fetch (pure: no file touched). `exchanges` are the redirect hops in
    order, then the final answer; `body_sha256` is the SHA-256 of its body as the crawler read
    it (decompressed), which `verify` finds again; `metadata` is what docwatch made of it."""
    if not exchanges:
        raise ValueError("a fetch has at least one exchange (its final answer)")
    records = [_exchange_records(exchange) for exchange in exchanges]
    final = exchanges[-1]
    (response, response_id, warc_date), request = records[-1]
    fields = {**(metadata or {}), "redirects": str(len(exchanges) - 1)}
    if len(exchanges) > 1:
        fields["requested-url"] = exchanges[0].url
    described, _ = _record(final.url, "metadata", [("WARC-Date", warc_date), ("WARC-Refers-To", response_id),
                                                   ("WARC-Concurrent-To", response_id)],
                           b"", _warc_fields(fields), "application/warc-fields")
    return WarcExchange(
        day=_utc(final.received_at).strftime("%Y%m%d"),
        hops=b"".join(_gzip_member(hop) + _gzip_member(hop_request) for (hop, _, _), hop_request in records[:-1]),
        response=_gzip_member(response),
        after=_gzip_member(request) + _gzip_member(described),
        sha256=body_sha256,
    )


def _exchange_records(exchange: WireExchange) -> tuple[tuple[bytes, str, str], bytes]:
    """The response record of one answer, as received (with its record id and WARC-Date), and
    the request record that asked for it."""
    if not 100 <= exchange.status <= 599:
        raise ValueError(f"status must be an HTTP status (100-599): {exchange.status}")
    warc_date = datetime_to_iso_date(_utc(exchange.received_at).replace(tzinfo=None), use_micros=True)
    response_fields = [("WARC-Date", warc_date)]
    if exchange.ip:
        response_fields.append(("WARC-IP-Address", exchange.ip))
    try:
        reason = HTTPStatus(exchange.status).phrase
    except ValueError:
        reason = ""
    status = StatusAndHeaders(f"{exchange.status} {reason}".strip(),
                              _headers_describing(exchange.headers, len(exchange.body)), protocol=exchange.protocol)
    response, response_id = _record(exchange.url, "response", response_fields, status.to_ascii_bytes(), exchange.body,
                                    "application/http; msgtype=response")
    asked = StatusAndHeaders(f"{exchange.method.upper()} {_request_target(exchange.url)} {exchange.protocol}",
                             list(exchange.request_headers), is_http_request=True)
    request, _ = _record(exchange.url, "request", [("WARC-Date", warc_date), ("WARC-Concurrent-To", response_id)],
                         asked.to_ascii_bytes(), b"", "application/http; msgtype=request")
    return (response, response_id, warc_date), request


def _record(uri: str, record_type: str, fields: list[tuple[str, str]], http_block: bytes, payload: bytes,
            content_type: str) -> tuple[bytes, str]:
    """One WARC/1.1 record, uncompressed, and its WARC-Record-ID: byte for byte what warcio's
    RecordBuilder and WARCWriter write (tests/test_evidence_warc.py compares them), without
    their streams and header lists (a third of a page's WARC work). `http_block` is the HTTP
    status line and headers as warcio encodes them (`StatusAndHeaders.to_ascii_bytes`), or
    empty for a record without HTTP; digests are SHA-1 in base32, as warcio and the Wayback
    Machine's CDX write them."""
    record_id = f"<urn:uuid:{uuid.uuid4()}>"
    payload_digest = _sha1_base32(hashlib.sha1(payload))
    block_digest = payload_digest
    if http_block:
        block = hashlib.sha1(http_block)
        block.update(payload)
        block_digest = _sha1_base32(block)
    header = "".join(f"{name}: {value}\r\n" for name, value in [
        *fields, ("WARC-Type", record_type), ("WARC-Record-ID", record_id), ("WARC-Target-URI", uri),
        ("WARC-Payload-Digest", payload_digest), ("WARC-Block-Digest", block_digest), ("Content-Type", content_type + ""),
        ("Content-Length", str(len(http_block) + len(payload))),
    ])
    return b"".join((f"WARC/1.1\r\n{header}\r\n".encode("utf-8"), http_block, payload, b"\r\n\r\n")), record_id


def _utc(moment: str) -> datetime:
    at = datetime.fromisoformat(moment)
    if at.tzinfo is None:
        raise ValueError(f"received_at must be timezone-aware (UTC), got {moment!r}")
    return at.astimezone(timezone.utc)


def _warc_fields(fields: dict[str, str]) -> bytes:
    """`application/warc-fields`: one `name: value` line each, values on one line."""
    return "".join(f"{name}: {' '.join(str(value).split())}\r\n" for name, value in fields.items()).encode("utf-8")


def decoded_payload(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """A payload with its `Content-Encoding` undone, to compare it with the body the crawler
    read. Like Scrapy, it undoes the codings it knows (gzip, deflate, br, zstd), last applied
    first, and stops at one it does not know (a server's `Content-Encoding: utf-8`): Scrapy
    hands such a body on as it came."""
    codings = [c.strip().lower() for name, value in headers if name.lower() == "content-encoding"
               for c in value.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding not in _DECODERS:
            break
        try:
            payload = _DECODERS[coding](payload)
        except Exception as error:  # each library has its own error class
            raise ValueError(f"payload does not decode as {coding}: {error}") from error
    return payload


def _gunzip(payload: bytes) -> bytes:
    """Every gzip member, and nothing of what follows the last one (some servers pad), as Scrapy reads it."""
    parts = []
    while payload[:2] == b"\x1f\x8b":
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        parts.append(member.decompress(payload))
        if not member.eof:
            raise ValueError("the gzip stream is truncated")
        payload = member.unused_data
    if not parts:
        raise ValueError("not gzip data")
    return b"".join(parts)


def _inflate(payload: bytes) -> bytes:
    try:
        return zlib.decompress(payload)
    except zlib.error:  # some servers send raw deflate, without the zlib wrapper
        return zlib.decompress(payload, -zlib.MAX_WBITS)


_DECODERS = {
    "gzip": _gunzip, "x-gzip": _gunzip, "deflate": _inflate, "br": brotli.decompress,
    "zstd": lambda payload: zstandard.ZstdDecompressor().decompressobj().decompress(payload),
}


def _write_all(descriptor: int, data: bytes) -> None:
    """One write, or as many as the kernel needs: a large write may be taken in parts."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _sha1_base32(digest) -> str:
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def _warcinfo(file_name: str) -> bytes:
    """The record that opens a WARC file, uncompressed (once a file: warcio's writer)."""
    record = RecordBuilder(warc_version="1.1").create_warcinfo_record(
        file_name, {"software": f"docwatch/{crawler.__version__}", "format": "WARC File Format 1.1"})
    plain = BytesIO()
    WARCWriter(plain, gzip=False, warc_version="1.1").write_record(record)
    return plain.getvalue()


def _gzip_member(record: bytes) -> bytes:
    """One record as its own gzip member, compressed by ISA-L at its level 2: on the benchmark
    corpus's pages, half the CPU of its level 3 for members 3% larger, and nine times faster
    than zlib at level 6 (warcio's writer uses level 9) for members 14% larger. Any gzip
    reader reads it."""
    return isal_zlib.compress(record, 2, isal_zlib.MAX_WBITS | 16)


def read_record(directory: Path, ref: WarcRecordRef) -> StoredResponse:
    """Read the response record ``ref`` points at (raises on a missing or damaged record)."""
    data = record_bytes(Path(directory), ref)
    gzip.decompress(data)  # checks the member's CRC-32, which warcio does not
    try:
        record = next(iter(ArchiveIterator(BytesIO(data))))
    except StopIteration:
        raise ValueError(f"no WARC record at {ref.path}:{ref.offset}") from None
    if record.rec_type != "response":
        raise ValueError(f"{ref.path}:{ref.offset} is a {record.rec_type!r} record, not a response")
    body = record.raw_stream.read()
    http = record.http_headers
    if http is None or not (http.get_statuscode() or "").isdigit():
        raise ValueError(f"{ref.path}:{ref.offset} has no readable HTTP status line")
    return StoredResponse(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        status=int(http.get_statuscode()),
        headers=list(http.headers),
        body=body,
    )


def verify(directory: Path, ref: WarcRecordRef) -> bool:
    """Replay check: does the record at ``ref`` still hold a payload with ``ref.sha256``?"""
    return replay_problem(directory, ref) is None


def replay_problem(directory: Path, ref: WarcRecordRef) -> str | None:
    """What is wrong with the record at ``ref`` (unreadable, or its payload, decoded, has
    another SHA-256), or None."""
    try:
        stored = read_record(directory, ref)
        body = decoded_payload(stored.headers, stored.body)
    except (OSError, ValueError, EOFError, zlib.error, ArchiveLoadFailed) as error:
        return f"unreadable: {error}"
    found = hashlib.sha256(body).hexdigest()
    return None if found == ref.sha256 else f"payload SHA-256 is {found}, expected {ref.sha256}"


def record_bytes(directory: Path, ref: WarcRecordRef) -> bytes:
    path = (directory / ref.path).resolve()
    if path.parent != directory.resolve():
        raise ValueError(f"WARC reference path {ref.path!r} points outside {directory}")
    if ref.offset < 0 or ref.length <= 0:
        raise ValueError(f"WARC reference has an invalid offset/length: {ref.offset}/{ref.length}")
    with open(path, "rb") as warc:
        warc.seek(ref.offset)
        data = warc.read(ref.length)
    if len(data) != ref.length:
        raise ValueError(f"{ref.path} ends before {ref.offset}+{ref.length}: record truncated")
    return data


def _headers_describing(headers: Sequence[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """The headers as received, with a `Content-Length` of the stored payload; a
    `Transfer-Encoding` or another `Content-Length` is kept as X-Docwatch-Orig-<Name>."""
    kept: list[tuple[str, str]] = []
    originals: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() == "transfer-encoding" or (name.lower() == "content-length" and value.strip() != str(body_length)):
            originals.append((ORIGINAL_HEADER_PREFIX + name, value))
        elif name.lower() != "content-length":
            kept.append((name, value))
    return kept + [("Content-Length", str(body_length))] + originals


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class ExchangeRecords:
    """A snapshot's whole fetch as stored: its redirect hops, response, request and metadata
    records (gzip members, byte for byte), and where the response is among them."""

    data: bytes
    response_offset: int
    response_length: int
    response_date: str  # WARC-Date of the response record


def exchange_records(directory: Path, ref: WarcRecordRef) -> ExchangeRecords:
    """The records of the fetch whose response ``ref`` points at, as `build_exchange` wrote
    them: the 2 × `redirects` hop records before it, its request and metadata records after."""
    members = _members(Path(directory) / ref.path)
    at = next((i for i, member in enumerate(members) if member[0] == ref.offset), None)
    if at is None or members[at][2] != "response":
        raise ValueError(f"{ref.path}:{ref.offset} does not start a response record")
    after = members[at + 1:at + 3]
    if [member[2] for member in after] != ["request", "metadata"]:
        raise ValueError(f"{ref.path}:{ref.offset}: the response is not followed by its request and metadata records")
    hops = 2 * after[1][4]
    if at < hops or any(member[2] not in ("response", "request") for member in members[at - hops:at]):
        raise ValueError(f"{ref.path}:{ref.offset}: the {hops // 2} redirect(s) its metadata counts are not before it")
    start, end = members[at - hops][0], after[1][0] + after[1][1]
    data = record_bytes(Path(directory), WarcRecordRef(ref.path, start, end - start, ref.sha256))
    return ExchangeRecords(data, ref.offset - start, members[at][1], members[at][3])


def _members(path: Path) -> list[tuple[int, int, str, str, int]]:
    """Each record of a WARC file: offset, length, type, WARC-Date, and (metadata records) redirects."""
    found = []
    with open(path, "rb") as warc:
        records = ArchiveIterator(warc)
        for record in records:
            redirects = 0
            if record.rec_type == "metadata":
                fields = record.content_stream().read().decode("utf-8", "replace")
                redirects = int(next((line.split(":", 1)[1] for line in fields.splitlines()
                                      if line.startswith("redirects:")), "0"))
            record.raw_stream.read()
            found.append((records.get_record_offset(), records.get_record_length(), record.rec_type,
                          record.rec_headers.get_header("WARC-Date"), redirects))
    return found
