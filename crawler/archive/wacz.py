"""Evidence packages: a signed WACZ 1.1.1 file a third party can check without docwatch's database.

Layout (every file two folders deep, as `wacz validate` expects):

    archive/docwatch.warc.gz   the WARC records of every selected snapshot's fetch, byte for byte
                               as docwatch wrote them (redirect hops, response, request, metadata)
    indexes/index.cdx          the CDXJ index replay tools (pywb, ReplayWeb.page) look records up in
    pages/pages.jsonl          one line per snapshot: its URL and when it was fetched
    docwatch/evidence.json     docwatch's view (`docwatch-evidence/1`): the selection, the events
                               in the digest schema, each snapshot with its record in the package
                               and its body SHA-256, the custody entries and the chain's head
    docwatch/digest.html       the same events as a digest page
    datapackage.json           SHA-256 and size of each file above
    datapackage-digest.json    SHA-256 of datapackage.json, its anonymous signature, and RFC 3161
                               timestamp tokens of that hash (`timestamps`)

The ZIP itself is canonical (entries stored in this order, each dated the package's `created`
time), so `verify_package` rebuilds it from its own contents and compares: a changed byte in a
ZIP header fails as surely as one in a file.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

import crawler
from crawler.archive.warc import ExchangeRecords, WarcRecordRef, replay_problem
from crawler.files import write_whole
from storage.custody import entry_digest

WACZ_VERSION = "1.1.1"
EVIDENCE_SCHEMA = "docwatch-evidence/1"
WARC_PATH = "archive/docwatch.warc.gz"
INDEX_PATH = "indexes/index.cdx"  # CDXJ lines; pywb takes .cdx, not .cdxj
PAGES_PATH = "pages/pages.jsonl"
EVIDENCE_PATH = "docwatch/evidence.json"
DIGEST_HTML_PATH = "docwatch/digest.html"
MANIFEST = "datapackage.json"
MANIFEST_DIGEST = "datapackage-digest.json"
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # what py-wacz reads


@dataclass(frozen=True)
class PackagedSnapshot:
    """One snapshot as it goes into a package: what the database says of it, and its records."""

    snapshot: dict  # id, url, title, fetched_at, body_sha256, … (storage.packages.SNAPSHOT_COLUMNS)
    records: ExchangeRecords


@dataclass(frozen=True)
class Written:
    manifest_sha256: str
    timestamps: list[dict]
    timestamp_failures: list[str]  # one line per authority that gave no token


def write_package(path: Path, snapshots: list[PackagedSnapshot], evidence: dict, digest_html: str,
                  key, created: datetime, authorities: tuple[str, ...] = ()) -> Written:
    """Write the package to `path` whole or not at all (a temporary file renamed into place).
    `evidence` is docwatch's view without the snapshots, which this adds with their places in
    the package. A timestamp authority that fails is reported in the result, never fatal."""
    from crawler.archive import signing  # rfc3161ng and cryptography: loaded only to sign or verify

    created_text = created.strftime(CREATED_FORMAT)
    warc, placed = io.BytesIO(), []
    for packaged in snapshots:
        offset = warc.tell() + packaged.records.response_offset
        warc.write(packaged.records.data)
        placed.append({**packaged.snapshot, "warc": {"file": WARC_PATH, "offset": offset,
                                                     "length": packaged.records.response_length}})
    pages = [{"format": "json-pages-1.0", "id": "pages", "title": "docwatch evidence package"}] + [
        {"id": f"snapshot-{packaged.snapshot['id']}", "url": packaged.snapshot["url"],
         "title": packaged.snapshot["title"] or packaged.snapshot["url"], "ts": packaged.records.response_date}
        for packaged in snapshots
    ]
    files = {
        WARC_PATH: warc.getvalue(),
        INDEX_PATH: _cdxj_index(warc.getvalue()),
        PAGES_PATH: "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in pages).encode("utf-8"),
        EVIDENCE_PATH: _json({**evidence, "schema": EVIDENCE_SCHEMA, "snapshots": placed}),
        DIGEST_HTML_PATH: digest_html.encode("utf-8"),
    }
    manifest = _json({
        "profile": "data-package", "title": "docwatch evidence package", "created": created_text,
        "wacz_version": WACZ_VERSION, "software": f"docwatch {crawler.__version__}",
        "resources": [{"name": name.rsplit("/", 1)[1], "path": name, "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
                       "bytes": len(data)} for name, data in files.items()],
    })
    manifest_sha256 = hashlib.sha256(manifest).hexdigest()
    stamps, failures = [], []
    for authority in authorities:
        try:
            stamps.append(signing.timestamp(authority, bytes.fromhex(manifest_sha256)))
        except Exception as error:  # noqa: BLE001 (network, HTTP and ASN.1 errors alike: reported, never fatal)
            failures.append(f"{authority}: {type(error).__name__}: {error}")
    files[MANIFEST] = manifest
    files[MANIFEST_DIGEST] = _json({"path": MANIFEST, "hash": f"sha256:{manifest_sha256}",
                                    "signedData": signing.signed_data(key, f"sha256:{manifest_sha256}", created_text),
                                    "timestamps": stamps})
    write_whole(path, _zip(files, created))
    return Written(manifest_sha256, stamps, failures)


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _cdxj_index(warc: bytes) -> bytes:
    """The CDXJ lines of the package's WARC file, sorted, as py-wacz writes them."""
    from cdxj_indexer.main import write_cdx_index  # slow to import (pyamf, pkg_resources): only when packaging

    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / Path(WARC_PATH).name
        source.write_bytes(warc)
        out = io.StringIO()
        write_cdx_index(out, [str(source)], {"sort": True, "post_append": True, "fields": "referrer",
                                             "digest_records": True})
    return out.getvalue().encode("utf-8")


def _zip(files: dict[str, bytes], created: datetime) -> bytes:
    """The canonical container: entries in the given order, stored (WACZ wants the WARC
    uncompressed in the ZIP, for random access), each dated `created`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as package:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=created.timetuple()[:6])
            entry.external_attr = 0o644 << 16
            package.writestr(entry, data)
    return out.getvalue()


@dataclass
class Verification:
    """What `verify_package` found: `failures` (each names what and where), and what held."""

    failures: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    snapshots: int = 0
    custody_entries: int = 0
    signed_by: str | None = None  # the public key's fingerprint
    created: str | None = None
    timestamps: list[str] = field(default_factory=list)  # "authority at time", each checked

    @property
    def summary(self) -> str:
        stamps = "; ".join(self.timestamps) if self.timestamps else "none"
        return (f"OK: {self.files} files match datapackage.json; signed {self.created} by key {self.signed_by}; "
                f"{self.records} WARC records read back with their digests; {self.snapshots} snapshot bodies match"
                f" their SHA-256; {self.custody_entries} custody entries hash as recorded; timestamps: {stamps}.")


def verify_package(path: Path) -> Verification:
    """Check a package with nothing but itself: the container, every file's hash, the manifest's
    hash and signature, the timestamps, every WARC record's digests, each snapshot's body
    SHA-256 and each custody entry's hash."""
    found = Verification()
    # An altered header can make zipfile raise almost anything (an unknown compression method,
    # an "encrypted" flag, a name that differs): each is a failure of that entry, not a crash.
    try:
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
            contents = {}
            for name in names:
                try:
                    contents[name] = package.read(name)
                except Exception as error:  # noqa: BLE001
                    found.failures.append(f"{name}: cannot be read back from the ZIP: {type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001
        found.failures.append(f"{path}: not a readable ZIP file: {type(error).__name__}: {error}")
        return found
    manifest = _guarded(MANIFEST, found, _check_manifest, contents)
    if manifest is None:
        return found
    _check_container(Path(path), names, contents, manifest, found)
    _guarded(MANIFEST_DIGEST, found, _check_signature, contents, manifest)
    evidence = _read_json(contents, EVIDENCE_PATH, found)
    with tempfile.TemporaryDirectory() as scratch:
        for name in (n for n in contents if n.startswith("archive/") and n.endswith((".warc", ".warc.gz"))):
            target = Path(scratch) / Path(name).name
            target.write_bytes(contents[name])
            _check_records(name, target, found)
        if evidence is not None:
            _guarded(EVIDENCE_PATH, found, _check_snapshots, evidence, Path(scratch))
    return found


def _guarded(name: str, found: Verification, check, *arguments):
    """A check of a JSON file someone else may have written: a field of the wrong type or shape
    is a failure naming the file, not a crash."""
    try:
        return check(*arguments, found)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        found.failures.append(f"{name}: malformed ({type(error).__name__}: {error})")
        return None


def _read_json(contents: dict[str, bytes], name: str, found: Verification) -> dict | None:
    if name not in contents:
        found.failures.append(f"{name} is missing")
        return None
    try:
        value = json.loads(contents[name])
    except ValueError as error:
        found.failures.append(f"{name} is not valid JSON: {error}")
        return None
    if not isinstance(value, dict):
        found.failures.append(f"{name} is not a JSON object")
        return None
    return value


def _check_manifest(contents: dict[str, bytes], found: Verification) -> dict | None:
    manifest = _read_json(contents, MANIFEST, found)
    if manifest is None:
        return None
    if manifest.get("wacz_version") != WACZ_VERSION:
        found.failures.append(f"{MANIFEST}: wacz_version is {manifest.get('wacz_version')!r}, expected {WACZ_VERSION}")
    listed = set()
    for resource in manifest.get("resources", []):
        name = str(resource.get("path"))
        listed.add(name)
        if name not in contents:
            found.failures.append(f"{name}: listed in {MANIFEST} but not in the package")
            continue
        data = contents[name]
        if resource.get("hash") != "sha256:" + hashlib.sha256(data).hexdigest() or resource.get("bytes") != len(data):
            found.failures.append(f"{name}: its SHA-256 or size differs from {MANIFEST} (the file was changed)")
        else:
            found.files += 1
    for name in sorted(set(contents) - listed - {MANIFEST, MANIFEST_DIGEST}):
        found.failures.append(f"{name}: in the package but not listed in {MANIFEST}")
    return manifest


def _check_container(path: Path, names: list[str], contents: dict[str, bytes], manifest: dict,
                     found: Verification) -> None:
    try:
        created = datetime.strptime(str(manifest.get("created")), CREATED_FORMAT)
    except ValueError:
        found.failures.append(f"{MANIFEST}: `created` is not a time like 2026-12-01T10:00:00Z")
        return
    if len(contents) == len(names) and _zip({name: contents[name] for name in names}, created) != path.read_bytes():
        found.failures.append("the ZIP container differs from the one docwatch wrote (a header, date or"
                              " trailing byte was changed, or the package was re-zipped)")


def _check_signature(contents: dict[str, bytes], manifest: dict, found: Verification) -> None:
    from crawler.archive import signing  # rfc3161ng and cryptography: loaded only to sign or verify

    digest = _read_json(contents, MANIFEST_DIGEST, found)
    if digest is None:
        return
    manifest_sha256 = hashlib.sha256(contents[MANIFEST]).hexdigest()
    if digest.get("hash") != f"sha256:{manifest_sha256}":
        found.failures.append(f"{MANIFEST_DIGEST}: its hash is not the SHA-256 of {MANIFEST} (the manifest was changed)")
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        found.failures.append(f"{MANIFEST_DIGEST}: no signedData: the package is not signed")
        return
    if signed.get("hash") != f"sha256:{manifest_sha256}":
        found.failures.append(f"{MANIFEST_DIGEST}: the signed hash is not the SHA-256 of {MANIFEST}")
    if signed.get("created") != manifest.get("created"):
        found.failures.append(f"{MANIFEST_DIGEST}: the signature's `created` differs from {MANIFEST}'s")
    problem = signing.signature_problem(signed)
    if problem:
        found.failures.append(f"{MANIFEST_DIGEST}: {problem}")
    else:
        found.signed_by, found.created = signing.fingerprint(signed["publicKey"]), signed.get("created")
    for stamp in digest.get("timestamps") or []:
        problem, stamped_at = signing.timestamp_problem(stamp, bytes.fromhex(manifest_sha256))
        if problem:
            found.failures.append(f"{MANIFEST_DIGEST}: the timestamp of {stamp.get('authority')} does not check: {problem}")
        else:
            found.timestamps.append(f"{stamp.get('authority')} at {stamped_at}")


def _check_records(name: str, warc: Path, found: Verification) -> None:
    """Every record reads back, and its WARC-Block-Digest and WARC-Payload-Digest hold."""
    try:
        with open(warc, "rb") as stream:
            for record in ArchiveIterator(stream, check_digests="raise"):
                record.raw_stream.read()
                found.records += 1
    except (ArchiveLoadFailed, OSError, ValueError, EOFError) as error:
        found.failures.append(f"{name}: record {found.records + 1} does not read back with its digests: {error}")


def _check_snapshots(evidence: dict, scratch: Path, found: Verification) -> None:
    """Each snapshot's response record still holds a body with its SHA-256; each custody entry
    still hashes to its entry_sha256, and a snapshot entry names the body the package holds."""
    bodies = {}
    for snapshot in evidence.get("snapshots", []):
        warc = snapshot.get("warc") or {}
        ref = WarcRecordRef(Path(str(warc.get("file"))).name, int(warc.get("offset", -1)), int(warc.get("length", 0)),
                            str(snapshot.get("body_sha256")))
        problem = replay_problem(scratch, ref)
        if problem:
            found.failures.append(f"snapshot {snapshot.get('id')} ({snapshot.get('url')}): its record {problem}")
        else:
            found.snapshots += 1
        bodies[snapshot.get("id")] = snapshot.get("body_sha256")
    for entry in (evidence.get("custody") or {}).get("entries", []):
        try:
            intact = entry_digest(entry) == entry.get("entry_sha256")
        except (KeyError, TypeError):
            intact = False
        if not intact:
            found.failures.append(f"custody entry {entry.get('id')}: its fields do not hash to its entry_sha256")
        elif entry["kind"] in ("snapshot", "import") and entry["subject"].get("body_sha256") != bodies.get(entry["snapshot_id"]):
            found.failures.append(f"custody entry {entry['id']}: snapshot {entry['snapshot_id']}'s body SHA-256"
                                  " differs from the one the package holds")
        else:
            found.custody_entries += 1
