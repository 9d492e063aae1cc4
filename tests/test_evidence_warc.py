"""Local WARC evidence: what is written can be replayed by standard tools and checked later."""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import re
import zlib
from concurrent.futures import ProcessPoolExecutor
from http import HTTPStatus
from io import BytesIO
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.demo import SITE_DIR
from crawler.archive.warc import WarcRecordRef, WarcWriter, build_exchange, read_record, replay_problem, verify
from crawler.fetch.items import WireExchange
from tests.conftest import resize_filesystem, small_filesystem

# Raw GB2312 bytes of a Xinhua Hebei article, as the Wayback Machine replayed it.
PAGE = (Path(__file__).parent / "files" / "pages" / "wayback_he.xinhuanet.com_article_gb2312.html"
        ).read_bytes()
URL = "http://www.htx.gov.cn/htx/c114304/202310/f44ac40812424a1c9bcb113ab2b88936.shtml"
FETCHED = datetime(2026, 11, 22, 3, 4, 5, 678901, tzinfo=timezone.utc)
REQUEST_HEADERS = [("User-Agent", "docwatch/0.1"), ("Accept-Encoding", "gzip, deflate")]
SERVER_HEADERS = [
    ("Content-Type", "text/html; charset=gb2312"),
    ("Transfer-Encoding", "chunked"),
    ("Server", "nginx"),
]


def wire(body: bytes = PAGE, url: str = URL, fetched_at: datetime = FETCHED,
         headers: list[tuple[str, str]] = SERVER_HEADERS, status: int = 200) -> WireExchange:
    return WireExchange(url=url, method="GET", request_headers=REQUEST_HEADERS, status=status, protocol="HTTP/1.1",
                        headers=headers, body=body, received_at=fetched_at.isoformat(), ip="203.0.113.7")


def store(writer: WarcWriter, body: bytes = PAGE, url: str = URL, fetched_at: datetime = FETCHED,
          headers: list[tuple[str, str]] = SERVER_HEADERS) -> WarcRecordRef:
    read = gzip.decompress(body) if ("Content-Encoding", "gzip") in headers else body
    return writer.append(build_exchange([wire(body, url, fetched_at, headers)], hashlib.sha256(read).hexdigest(),
                                        {"encoding": "gb18030"}))


def records_in(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    """Read a WARC file the way replay tools do: every record, payload decoded per headers."""
    with open(path, "rb") as warc:
        return [(record.rec_type, dict(record.rec_headers.headers),
                 record.content_stream().read()) for record in ArchiveIterator(warc)]


def test_a_gbk_page_round_trips_byte_for_byte(tmp_path: Path) -> None:
    ref = store(WarcWriter(tmp_path))

    stored = read_record(tmp_path, ref)

    assert stored.body == PAGE
    assert "话剧《约定无期限》" in stored.body.decode("gb2312")
    assert (stored.url, stored.status) == (URL, 200)
    assert ref.sha256 == hashlib.sha256(PAGE).hexdigest()
    assert ref.path == "docwatch-20261122-000001.warc.gz"
    assert verify(tmp_path, ref)


def test_headers_are_kept_as_received_and_describe_the_stored_payload(tmp_path: Path) -> None:
    ref = store(WarcWriter(tmp_path))

    headers = dict(read_record(tmp_path, ref).headers)
    (info, response, request, metadata) = records_in(tmp_path / ref.path)

    assert "Transfer-Encoding" not in headers  # the payload is stored de-chunked...
    assert headers["X-Docwatch-Orig-Transfer-Encoding"] == "chunked"  # ...and the header is kept under this name
    assert headers["Content-Length"] == str(len(PAGE))
    assert headers["Server"] == "nginx"
    assert info[0] == "warcinfo" and b"docwatch" in info[2]
    assert response[0] == "response" and response[2] == PAGE
    assert response[1]["WARC-Date"] == "2026-11-22T03:04:05.678901Z"
    assert response[1]["WARC-IP-Address"] == "203.0.113.7"
    assert request[0] == "request"
    assert request[1]["WARC-Concurrent-To"] == response[1]["WARC-Record-ID"]
    assert request[1]["WARC-Target-URI"] == URL
    assert metadata[0] == "metadata" and metadata[1]["WARC-Refers-To"] == response[1]["WARC-Record-ID"]
    assert metadata[2] == b"encoding: gb18030\r\nredirects: 0\r\n"


def test_a_gzip_answer_is_stored_as_transferred_and_verified_decoded(tmp_path: Path) -> None:
    compressed = gzip.compress(PAGE)
    ref = store(WarcWriter(tmp_path), body=compressed, headers=[("Content-Encoding", "gzip"), ("Content-Length", "9")])

    stored = read_record(tmp_path, ref)
    (_, response, _, _) = records_in(tmp_path / ref.path)

    assert dict(stored.headers)["Content-Encoding"] == "gzip" and stored.body == compressed
    assert dict(stored.headers)["Content-Length"] == str(len(compressed))
    assert dict(stored.headers)["X-Docwatch-Orig-Content-Length"] == "9"  # not what is stored: kept aside
    assert response[2] == PAGE  # a replay tool decodes it
    assert ref.sha256 == hashlib.sha256(PAGE).hexdigest()  # the body the crawler read
    assert verify(tmp_path, ref)


def test_each_redirect_hop_comes_before_the_final_exchange(tmp_path: Path) -> None:
    moved = wire(b"", url="http://example.gov.cn/old", headers=[("Location", URL)], status=301)
    ref = WarcWriter(tmp_path).append(build_exchange([moved, wire()], hashlib.sha256(PAGE).hexdigest()))

    found = [(kind, headers.get("WARC-Target-URI")) for kind, headers, _ in records_in(tmp_path / ref.path)]

    assert found == [("warcinfo", None), ("response", "http://example.gov.cn/old"), ("request", "http://example.gov.cn/old"),
                     ("response", URL), ("request", URL), ("metadata", URL)]
    assert read_record(tmp_path, ref).url == URL  # the snapshot points at the final answer
    with open(tmp_path / ref.path, "rb") as warc:
        hop = next(record for record in ArchiveIterator(warc) if record.rec_type == "response")
        assert hop.http_headers.statusline == "301 Moved Permanently"
        assert hop.http_headers.get_header("Location") == URL


def test_a_large_body_round_trips(tmp_path: Path) -> None:
    body = os.urandom(6 * 1024 * 1024)
    ref = store(WarcWriter(tmp_path), body=body, headers=[("Content-Type", "application/pdf")])

    assert read_record(tmp_path, ref).body == body
    assert verify(tmp_path, ref)


def test_a_file_that_reached_max_bytes_takes_no_more_records(tmp_path: Path) -> None:
    first = store(WarcWriter(tmp_path))
    size_after_one = (tmp_path / first.path).stat().st_size
    writer = WarcWriter(tmp_path, max_bytes=size_after_one + 1)

    second, third = (store(writer, url=f"{URL}?n={n}") for n in range(2))

    assert first.path == second.path == "docwatch-20261122-000001.warc.gz"
    assert third.path == "docwatch-20261122-000002.warc.gz"
    assert all(verify(tmp_path, ref) for ref in (first, second, third))
    assert [kind for kind, _, _ in records_in(tmp_path / third.path)] == [
        "warcinfo", "response", "request", "metadata"]


def test_records_of_one_day_share_a_file_and_a_new_utc_day_starts_a_new_one(
        tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="xj-watch")
    beijing_morning = datetime(2026, 11, 23, 7, 0, tzinfo=timezone(timedelta(hours=8)))

    same_day = [store(writer, url=f"{URL}?n={n}") for n in range(2)]
    next_day = store(writer, fetched_at=beijing_morning)  # the 23rd in Beijing

    assert {ref.path for ref in same_day} == {"xj-watch-20261122-000001.warc.gz"}
    assert same_day[1].offset > same_day[0].offset
    assert next_day.path == "xj-watch-20261122-000001.warc.gz"  # 23:00 UTC on the 22nd
    late = store(writer, fetched_at=datetime(2026, 11, 23, 0, 0, 1, tzinfo=timezone.utc))
    assert late.path == "xj-watch-20261123-000001.warc.gz"


def test_verify_detects_a_tampered_byte_and_leaves_other_records_intact(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    tampered, untouched = store(writer), store(writer, url=URL + "?copy")
    path = tmp_path / tampered.path
    data = bytearray(path.read_bytes())
    data[tampered.offset + tampered.length // 2] ^= 0x01
    path.write_bytes(bytes(data))

    assert not verify(tmp_path, tampered)
    assert verify(tmp_path, untouched)
    assert read_record(tmp_path, untouched).body == PAGE


@pytest.mark.e2e  # thousands of inputs
def test_every_damaged_byte_of_a_record_is_reported_never_raised(tmp_path: Path) -> None:
    # A Xinjiang HR department notice of the demo site: damage to it once crashed the reader.
    notice = (SITE_DIR / "xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml").read_bytes()
    ref = store(WarcWriter(tmp_path), body=notice)
    path = tmp_path / ref.path
    original = path.read_bytes()
    record = gzip.decompress(original[ref.offset:ref.offset + ref.length])
    for position in range(ref.offset, ref.offset + ref.length):
        data = bytearray(original)
        data[position] ^= 0x01
        path.write_bytes(bytes(data))
        problem = replay_problem(tmp_path, ref)
        if problem is None:
            # Unnoticed only where the record still reads back identical: gzip header fields
            # outside the checksum (flags, time, OS) or redundant bits of the deflate stream.
            assert gzip.decompress(bytes(data[ref.offset:ref.offset + ref.length])) == record
        else:
            assert problem.startswith(("unreadable: ", "payload SHA-256 is "))


def test_verify_is_false_for_a_missing_file_or_a_wrong_hash(tmp_path: Path) -> None:
    ref = store(WarcWriter(tmp_path))

    assert not verify(tmp_path, replace(ref, sha256=hashlib.sha256(b"other").hexdigest()))
    assert not verify(tmp_path, replace(ref, path="docwatch-20200101-000001.warc.gz"))
    assert not verify(tmp_path, replace(ref, offset=ref.offset + 1))


def test_a_reference_cannot_point_outside_the_directory(tmp_path: Path) -> None:
    ref = store(WarcWriter(tmp_path / "warc"))
    (tmp_path / ref.path).write_bytes((tmp_path / "warc" / ref.path).read_bytes())

    with pytest.raises(ValueError, match="outside"):
        read_record(tmp_path / "warc", replace(ref, path=f"../{ref.path}"))


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    with pytest.raises(ValueError, match="timezone-aware"):
        store(writer, fetched_at=datetime(2026, 11, 22, 3, 4, 5))
    with pytest.raises(ValueError, match="HTTP status"):
        build_exchange([wire(status=2000)], "")
    with pytest.raises(ValueError, match="at least one exchange"):
        build_exchange([], "")
    with pytest.raises(ValueError, match="prefix"):
        WarcWriter(tmp_path, prefix="../evil")
    with pytest.raises(ValueError, match="max_bytes"):
        WarcWriter(tmp_path, max_bytes=0)


def _write_many(directory: str, worker: int) -> list[WarcRecordRef]:
    writer = WarcWriter(Path(directory), max_bytes=3 * 1024 * 1024)
    return [store(writer, body=os.urandom(100_000), url=f"{URL}?worker={worker}&n={n}")
            for n in range(25)]


@pytest.mark.e2e  # two processes
def test_two_crawl_processes_never_interleave(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        refs = [ref for batch in pool.map(_write_many, [str(tmp_path)] * 2, [1, 2])
                for ref in batch]

    assert len(refs) == 50
    assert all(verify(tmp_path, ref) for ref in refs)
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 1
    responses = [r for f in files for r in records_in(f) if r[0] == "response"]
    assert len(responses) == 50
    assert {r[1]["WARC-Target-URI"] for r in responses} == {
        f"{URL}?worker={w}&n={n}" for w in (1, 2) for n in range(25)}


def test_a_payload_is_decoded_as_scrapy_decodes_it(tmp_path: Path) -> None:
    # A bogus coding is left alone (Scrapy hands the body on as it came); padding after gzip is ignored.
    for headers, payload, read in (([("Content-Encoding", "utf-8")], PAGE, PAGE),
                                   ([("Content-Encoding", "gzip")], gzip.compress(PAGE) + b"\0\0", PAGE)):
        ref = WarcWriter(tmp_path).append(build_exchange([wire(payload, headers=headers)],
                                                         hashlib.sha256(read).hexdigest()))
        assert replay_problem(tmp_path, ref) is None
    truncated = WarcWriter(tmp_path).append(build_exchange(
        [wire(gzip.compress(PAGE)[:-20], headers=[("Content-Encoding", "gzip")])], hashlib.sha256(PAGE).hexdigest()))
    assert replay_problem(tmp_path, truncated).startswith("unreadable: payload does not decode as gzip")


def test_an_append_that_fills_the_disk_leaves_the_file_whole_and_the_next_one_continues_it(tmp_path: Path) -> None:
    binary = [("Content-Type", "application/octet-stream")]
    with small_filesystem(tmp_path / "disk", "256k") as disk:
        writer = WarcWriter(disk)
        refs = []
        with pytest.raises(OSError) as full:
            for number in range(100):  # incompressible bodies: the disk is full after a few
                refs.append(store(writer, body=os.urandom(40_000), url=f"{URL}?{number}", headers=binary))
        assert full.value.errno == errno.ENOSPC and len(refs) >= 2
        [path] = disk.glob("*.warc.gz")
        gzip.decompress(path.read_bytes())  # no partial gzip member at the end
        assert len(records_in(path)) == 1 + 3 * len(refs)  # warcinfo, then a response, a request and a metadata record each
        assert all(verify(disk, ref) for ref in refs)

        resize_filesystem(disk, "4m")
        refs.append(store(writer, url=f"{URL}?after", headers=binary))
        gzip.decompress(path.read_bytes())
        assert len(records_in(path)) == 1 + 3 * len(refs)
        assert all(verify(disk, ref) for ref in refs)


def test_a_record_cut_short_by_a_killed_process_is_cut_off_before_the_next_append(tmp_path: Path) -> None:
    first = store(WarcWriter(tmp_path))
    [path] = tmp_path.glob("*.warc.gz")
    cut_short = build_exchange([wire()], hashlib.sha256(PAGE).hexdigest(), {"encoding": "gb18030"})
    with path.open("ab") as warc:  # what a process killed in the middle of an append leaves
        warc.write(cut_short.response[: len(cut_short.response) // 2])
    later = store(WarcWriter(tmp_path), url=f"{URL}?later")  # the next crawl's writer
    gzip.decompress(path.read_bytes())
    assert len(records_in(path)) == 7  # warcinfo, and two exchanges of three records
    assert verify(tmp_path, first) and verify(tmp_path, later)


def test_a_damaged_file_is_left_as_found_and_takes_no_more_records(tmp_path: Path) -> None:
    first = store(WarcWriter(tmp_path))
    [path] = tmp_path.glob("*.warc.gz")
    damaged = bytearray(path.read_bytes())
    damaged[-6] ^= 0xFF  # the last member's CRC-32
    path.write_bytes(damaged)
    later = store(WarcWriter(tmp_path), url=f"{URL}?later")
    assert later.path != first.path and verify(tmp_path, later)
    assert path.read_bytes() == damaged


def warcio_records(exchanges: list[WireExchange], metadata: dict[str, str]) -> list[bytes]:
    """The records of a fetch as warcio's RecordBuilder and WARCWriter write them, uncompressed:
    what docwatch wrote through warcio before it built records itself."""
    builder, records = RecordBuilder(warc_version="1.1"), []

    def write(record) -> None:
        plain = BytesIO()
        WARCWriter(plain, gzip=False, warc_version="1.1").write_record(record)
        records.append(plain.getvalue())

    for exchange in exchanges:
        date = datetime.fromisoformat(exchange.received_at).astimezone(timezone.utc).replace(tzinfo=None)
        date = date.isoformat() + "Z"
        headers = [(n, v) for n, v in exchange.headers if n.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(exchange.body))))
        headers += [(f"X-Docwatch-Orig-{n}", v) for n, v in exchange.headers if n.lower() == "transfer-encoding"]
        response = builder.create_warc_record(
            exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
            warc_headers_dict={"WARC-Date": date, **({"WARC-IP-Address": exchange.ip} if exchange.ip else {})},
            http_headers=StatusAndHeaders(f"{exchange.status} {HTTPStatus(exchange.status).phrase}", headers,
                                          protocol=exchange.protocol))
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        path = exchange.url.split("/", 3)[3]
        request = builder.create_warc_record(
            exchange.url, "request", warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
            http_headers=StatusAndHeaders(f"GET /{path} {exchange.protocol}", list(exchange.request_headers),
                                          is_http_request=True))
        write(response)
        write(request)
    fields = "".join(f"{name}: {value}\r\n" for name, value in metadata.items()).encode()
    write(builder.create_warc_record(exchanges[-1].url, "metadata", payload=BytesIO(fields),
                                     warc_content_type="application/warc-fields",
                                     warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id,
                                                        "WARC-Concurrent-To": response_id}))
    return records


def numbered_ids(records: list[bytes]) -> list[bytes]:
    """The records with each record id replaced by its order of first appearance."""
    ids: dict[bytes, int] = {}
    return [re.sub(rb"urn:uuid:[0-9a-f-]{36}", lambda m: b"id-%d" % ids.setdefault(m.group(), len(ids)), record)
            for record in records]


def test_records_are_byte_for_byte_what_warcio_writes() -> None:
    """docwatch builds its records itself (warcio's builder was a third of a page's WARC work):
    they must stay what warcio writes, digests and header order included, for a redirect and
    a final answer with a chunked body, headers that are not ASCII (warcio %-encodes them)
    and an empty body."""
    moved = replace(wire(b"", URL.replace(".shtml", ".html"), headers=[("Location", URL)]), status=301, ip=None)
    final = replace(wire(headers=[*SERVER_HEADERS, ("Content-Disposition", "attachment; filename=\"\u00e9\u0099\u0084.pdf\"")]),
                    received_at=(FETCHED + timedelta(seconds=1)).isoformat())
    exchange = build_exchange([moved, final], hashlib.sha256(PAGE).hexdigest(), {"title": "标题"})

    members, data = [], exchange.hops + exchange.response + exchange.after
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(member.decompress(data))
        assert member.eof
        data = member.unused_data

    assert numbered_ids(members) == numbered_ids(warcio_records([moved, final], {"title": "标题", "redirects": "1",
                                                                                "requested-url": moved.url}))
