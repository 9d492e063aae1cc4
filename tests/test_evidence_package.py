"""Evidence packages in-process: a WACZ of real WARC records (a real page, a redirect to it, an
edit) written, validated by py-wacz, verified by docwatch, and failed after any one byte is
changed; the signature, RFC 3161 timestamps from a real local authority, and the custody chain."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlite_utils
from wacz.main import main as wacz_main

from crawler.archive import signing
from crawler.archive.wacz import (
    DIGEST_HTML_PATH, EVIDENCE_PATH, MANIFEST, MANIFEST_DIGEST, WARC_PATH, PackagedSnapshot, verify_package,
    write_package,
)
from crawler.archive.warc import WarcWriter, build_exchange, exchange_records
from crawler.fetch.items import WireExchange
from storage import custody, open_database
from tests.conftest import database_before
from tests.tsa import TimestampAuthority

PAGE = Path(__file__).parent / "files" / "pages" / "shanxi.gov.cn_article.html"
URL = "http://rst.example/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
OLD_URL = "http://rst.example/old/5b1f3c2a.shtml"
CREATED = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)


def exchange(url: str, status: int, body: bytes, at: str, headers=()) -> WireExchange:
    return WireExchange(url=url, method="GET", request_headers=[("Accept", "text/html")], status=status,
                        protocol="HTTP/1.1", headers=[("Content-Type", "text/html; charset=utf-8"), *headers],
                        body=body, received_at=at)


def snapshot_records(warc_dir: Path, snapshot_id: int, hops: list[WireExchange], body: bytes, at: str):
    final = exchange(URL, 200, body, at)
    sha256 = hashlib.sha256(body).hexdigest()
    ref = WarcWriter(warc_dir).append(build_exchange([*hops, final], sha256, {"title": "article"}))
    snapshot = {"id": snapshot_id, "url": hops[0].url if hops else URL, "title": "article", "fetched_at": at,
                "body_sha256": sha256}
    return PackagedSnapshot(snapshot, exchange_records(warc_dir, ref))


@pytest.fixture
def package(tmp_path) -> Path:
    """Two versions of a real article, the first reached through a redirect, signed."""
    original = PAGE.read_bytes()
    edited = original.replace(b"</body>", "<p>转移就业21859人</p></body>".encode("utf-8"), 1)
    redirect = exchange(OLD_URL, 301, b"", "2026-11-30T08:00:00+00:00", [("Location", URL)])
    snapshots = [
        snapshot_records(tmp_path / "warc", 1, [redirect], original, "2026-11-30T08:00:00+00:00"),
        snapshot_records(tmp_path / "warc", 2, [], edited, "2026-11-30T09:00:00+00:00"),
    ]
    path = tmp_path / "evidence.wacz"
    evidence = {"selection": {"urls": [URL]}, "digest": {"schema": "docwatch-digest/1", "events": []},
                "custody": {"entries": [], "head": None}}
    write_package(path, snapshots, evidence, "<html><p>digest</p></html>", signing.signing_key(tmp_path), CREATED)
    return path


def wacz_validate(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = wacz_main(["validate", "-f", str(path)])
    return code, out.getvalue()


def test_a_package_passes_wacz_validate_and_docwatch_verify(package):
    code, said = wacz_validate(package)
    assert code == 0, said
    found = verify_package(package)
    assert found.failures == []
    assert (found.files, found.records, found.snapshots) == (5, 2 + 2 * 3, 2)  # the redirect hop (response, request), then 3 records a version
    evidence = json.loads(zipfile.ZipFile(package).read(EVIDENCE_PATH))
    first = evidence["snapshots"][0]
    assert first["url"] == OLD_URL and first["warc"]["file"] == WARC_PATH and first["warc"]["offset"] > 0


def offsets_within(package: Path, member: str) -> tuple[int, int]:
    """Where a member's bytes start and end in the package file."""
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo(member)
    with open(package, "rb") as raw:
        raw.seek(info.header_offset + 26)
        name_length, extra_length = int.from_bytes(raw.read(2), "little"), int.from_bytes(raw.read(2), "little")
    start = info.header_offset + 30 + name_length + extra_length
    return start, start + info.compress_size


@pytest.mark.parametrize("where", [
    "warc record", "datapackage.json", "datapackage-digest.json signature", "evidence.json", "digest.html",
    "local header date", "central directory date", "central directory method", "central directory flags",
    "end of file",
])
def test_one_changed_byte_anywhere_fails_verification_naming_what(package, where):
    data = bytearray(package.read_bytes())
    member_at = {"warc record": WARC_PATH, "datapackage.json": MANIFEST, "evidence.json": EVIDENCE_PATH,
                 "digest.html": DIGEST_HTML_PATH}
    if where in member_at:
        start, end = offsets_within(package, member_at[where])
        position = (start + end) // 2
    elif where == "datapackage-digest.json signature":
        start, end = offsets_within(package, MANIFEST_DIGEST)
        position = data.index(b'"signature": "', start) + 20
    elif where == "local header date":
        position = 10  # the first entry's modification time
    elif where.startswith("central directory"):  # the last entry's header there: flags, method, date
        position = data.rindex(b"PK\x01\x02") + {"flags": 8, "method": 10, "date": 12}[where.rsplit(" ", 1)[1]]
    else:
        position = len(data) - 1
    data[position] ^= 0x01
    package.write_bytes(bytes(data))
    found = verify_package(package)
    assert found.failures, f"a byte changed in the {where} went unnoticed"


def test_a_changed_file_and_a_changed_manifest_are_named(package):
    with zipfile.ZipFile(package) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files[DIGEST_HTML_PATH] = files[DIGEST_HTML_PATH].replace(b"digest", b"dijest")
    rezipped = package.with_name("rezipped.wacz")
    with zipfile.ZipFile(rezipped, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    failures = verify_package(rezipped).failures
    assert f"{DIGEST_HTML_PATH}: its SHA-256 or size differs from {MANIFEST} (the file was changed)" in failures
    assert any("ZIP container differs" in failure for failure in failures)


def test_a_package_signed_by_another_key_than_it_names_fails(package, tmp_path):
    with zipfile.ZipFile(package) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    digest = json.loads(files[MANIFEST_DIGEST])
    digest["signedData"]["publicKey"] = signing.public_key_text(signing.signing_key(tmp_path / "other"))
    assert signing.signature_problem(digest["signedData"]) == (
        "the signature does not match the manifest hash with the package's public key")


def test_the_key_is_made_once_and_kept_private(tmp_path):
    key = signing.signing_key(tmp_path)
    assert signing.public_key_text(signing.signing_key(tmp_path)) == signing.public_key_text(key)
    assert (tmp_path / signing.KEY_FILE).stat().st_mode & 0o077 == 0


def test_timestamps_from_a_local_rfc3161_authority_are_in_the_package_and_checked(tmp_path):
    snapshot = snapshot_records(tmp_path / "warc", 1, [], PAGE.read_bytes(), "2026-11-30T08:00:00+00:00")
    path = tmp_path / "stamped.wacz"
    with TimestampAuthority() as authority, TimestampAuthority(fail=True) as broken:
        written = write_package(path, [snapshot], {"custody": {"entries": []}}, "", signing.signing_key(tmp_path),
                                CREATED, (authority.url, broken.url, "http://127.0.0.1:9/nothing-listens"))
    assert len(written.timestamps) == 1 and written.timestamps[0]["authority"] == authority.url
    assert [failure.split(":")[0:3] for failure in written.timestamp_failures] == [
        broken.url.split(":")[0:3], ["http", "//127.0.0.1", "9/nothing-listens"]]
    found = verify_package(path)
    assert found.failures == [] and found.timestamps[0].startswith(f"{authority.url} at 20")
    # a token of another package's manifest does not check against this one
    digest = json.loads(zipfile.ZipFile(path).read(MANIFEST_DIGEST))
    other = json.loads(zipfile.ZipFile(path).read(MANIFEST))
    assert signing.timestamp_problem(digest["timestamps"][0], b"\0" * 32)[0] == "ValueError: Message imprint mismatch"
    assert other["wacz_version"] == "1.1.1"


def custody_db(path: Path) -> sqlite_utils.Database:
    db = open_database(path)
    for number in range(1, 4):
        custody.append(db, "warc_record", {"warc_file": f"docwatch-{number}.warc.gz", "offset": number})
    return db


def test_the_custody_chain_verifies_and_names_an_edited_or_removed_entry(tmp_path):
    db = custody_db(tmp_path / "dw.db")
    report = custody.verify_chain(db)
    assert (report.entries, report.problems) == (3, [])
    entries = custody.entries(db)
    assert entries[1]["prev_sha256"] == entries[0]["entry_sha256"] and entries[0]["prev_sha256"] == custody.GENESIS
    db.execute("UPDATE custody_log SET subject = ? WHERE id = 2", ['{"offset":7}'])
    assert custody.verify_chain(db).problems == [
        "entry 2 (warc_record): its fields no longer hash to its entry_sha256 (it was edited)"]
    db.execute("UPDATE custody_log SET subject = ? WHERE id = 2", [json.dumps(entries[1]["subject"])])
    db.execute("DELETE FROM custody_log WHERE id = 2")
    assert custody.verify_chain(db).problems == [
        "entry 3: expected entry 2 here (an entry was removed or renumbered)",
        f"entry 3: prev_sha256 {entries[1]['entry_sha256'][:16]}… does not match the entry before it"
        f" ({entries[0]['entry_sha256'][:16]}…)"]


def test_a_database_of_the_previous_version_gains_an_empty_custody_log(tmp_path):
    path = tmp_path / "old.db"
    database_before(path, 22).close()
    db = open_database(path)
    assert custody.verify_chain(db).entries == 0
    custody.append(db, "export", {"package": "a.wacz"})
    assert custody.head(db)["id"] == 1 and custody.verify_chain(db).problems == []


def test_a_self_consistent_package_with_malformed_json_fails_without_crashing(package, tmp_path):
    """Someone else's package, its manifest matching its files, whose JSON has the wrong shapes."""
    with zipfile.ZipFile(package) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files[EVIDENCE_PATH] = json.dumps({"snapshots": [{"warc": {"offset": "far"}}, 7], "custody": {"entries": [1]}}).encode()
    manifest = json.loads(files[MANIFEST])
    for resource in manifest["resources"]:
        if resource["path"] == EVIDENCE_PATH:
            resource.update(hash="sha256:" + hashlib.sha256(files[EVIDENCE_PATH]).hexdigest(),
                            bytes=len(files[EVIDENCE_PATH]))
    for malformed in (EVIDENCE_PATH, MANIFEST):
        if malformed == MANIFEST:
            manifest["resources"].append("not a resource")
        files[MANIFEST] = json.dumps(manifest).encode()
        forged = tmp_path / "forged.wacz"
        with zipfile.ZipFile(forged, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        failures = verify_package(forged).failures
        assert any(failure.startswith(f"{malformed}: malformed") for failure in failures), failures
