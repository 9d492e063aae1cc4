"""The issue's "done when": `docwatch export --wacz` on the demo's edited article makes a package
that passes `wacz validate` and `docwatch verify`, replays the article's two versions in pywb (and
in ReplayWeb.page, when `setup.sh --test` could unpack it and Chromium is there), and fails
verification after any one byte is changed; the demo database's custody chain verifies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile

import pytest

from crawler.demo import EDITED_ARTICLE
from tests.conftest import run_docwatch
from tests.replaywebpage import CHROMIUM, RWP_DIR, replayed_text
from tests.test_fetch_fidelity import pywb_replaying, replay
from tests.tsa import TimestampAuthority

pytestmark = pytest.mark.e2e  # the real demo and command line in child processes, pywb's server
# the demo's edit as its second crawl found it, not the history backfill found of the same page
CRAWLED_CHANGE = "SELECT id FROM events WHERE type = 'changed' AND json_extract(detail, '$.historical') IS NULL"


@pytest.mark.timeout(900)  # the demo's two crawls, pywb, and two browser sessions, on a shared machine
def test_the_demo_edited_article_packaged_verifies_replays_and_fails_after_one_changed_byte(tmp_path):
    assert run_docwatch("--data-dir", str(tmp_path), "demo").returncode == 0
    data_dir = tmp_path / "demo"
    env = {"DOCWATCH_DATA_DIR": str(data_dir), "DOCWATCH_WATCHLIST": str(data_dir / "watchlist.yaml")}
    with sqlite3.connect(data_dir / "docwatch.db") as con:
        url = con.execute("SELECT url FROM pages WHERE url LIKE ?", [f"%{EDITED_ARTICLE}"]).fetchone()[0]
        changed = con.execute(CRAWLED_CHANGE + " AND url = ?", [url]).fetchone()[0]
    package = tmp_path / "article.wacz"

    exported = run_docwatch("export", "--wacz", str(package), "--url", url, env=env)
    assert exported.returncode == 0, exported.stderr
    assert "3 version(s) of 2 page(s)" in exported.stdout  # the article twice, and the scan its edit linked
    validated = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(package)],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0 and "the passed WACZ is valid" in validated.stdout, validated.stdout
    verified = run_docwatch("verify", str(package))
    assert verified.returncode == 0, verified.stderr
    # each version: its snapshot, its WARC record and its Wayback capture
    assert "3 snapshot bodies match their SHA-256; 9 custody entries hash as recorded" in verified.stdout

    evidence = json.loads(zipfile.ZipFile(package).read("docwatch/evidence.json"))
    # the demo's backfilled history (2019-2021) has no WARC record here: named with where it is, not packaged
    assert "3 history version(s) not packaged" in exported.stdout
    assert [(h["fetched_at"][:4], h["origin"]) for h in evidence["history_not_packaged"]] == [
        ("2019", "wayback"), ("2020", "wayback"), ("2021", "wayback")]
    assert all(f"/{url}" in h["origin_ref"] and "/web/20" in h["origin_ref"] for h in evidence["history_not_packaged"])
    assert [event["event_id"] for event in evidence["digest"]["events"]
            if event["type"] == "changed" and event["section"] != "history"] == [changed]
    chain = run_docwatch("custody", "verify", env=env)
    assert chain.returncode == 0 and "Custody log OK" in chain.stdout, chain.stderr
    assert evidence["custody"]["head"]["id"] < int(chain.stdout.split(" entries")[0].rsplit(" ", 1)[1])  # + export

    pages = [json.loads(line) for line in zipfile.ZipFile(package).read("pages/pages.jsonl").splitlines()[1:]]
    versions = [page["ts"][:19].translate(str.maketrans("", "", "-T:")) for page in pages if page["url"] == url]
    with pywb_replaying([package], tmp_path / "pywb") as address:
        bodies = [replay(address, f"/evidence/{stamp}id_/{url}") for stamp in versions]
    assert [status for status, _, _ in bodies] == [200, 200]
    assert "20859人".encode() in bodies[0][2] and "21859人".encode() in bodies[1][2]
    if CHROMIUM and RWP_DIR.is_dir():  # ReplayWeb.page, from its own files on 127.0.0.1, in headless Chromium
        shown = [replayed_text(package, url, stamp, figure, tmp_path / f"chromium-{stamp}")
                 for stamp, figure in zip(versions, ("20859人", "21859人"))]
        # a browser started on a loaded machine sometimes shows nothing at all: a fresh one gets a second chance
        shown = [text if text.strip() else replayed_text(package, url, stamp, figure, tmp_path / f"chromium-{stamp}-again")
                 for text, stamp, figure in zip(shown, versions, ("20859人", "21859人"))]
        assert "20859人" in shown[0] and "21859人" not in shown[0] and "浏览次数：1024" in shown[0], shown[0][-3000:]
        assert "21859人" in shown[1] and "激发内生动力" in shown[1] and "浏览次数：1187" in shown[1], shown[1][-3000:]

    data = package.read_bytes()
    for position in (len(data) // 3, len(data) - 30):
        damaged = tmp_path / f"damaged-{position}.wacz"
        damaged.write_bytes(data[:position] + bytes([data[position] ^ 0x20]) + data[position + 1:])
        failed = run_docwatch("verify", str(damaged))
        assert failed.returncode == 1 and "FAILED" in failed.stderr, (position, failed.stdout)


def test_an_event_package_is_timestamped_a_dead_authority_reported_and_a_tampered_custody_log_named(tmp_path):
    assert run_docwatch("--data-dir", str(tmp_path), "demo").returncode == 0
    db = tmp_path / "demo" / "docwatch.db"
    with sqlite3.connect(db) as con:
        changed = con.execute(CRAWLED_CHANGE).fetchone()[0]
    package = tmp_path / "event.wacz"
    with TimestampAuthority() as authority:
        env = {"DOCWATCH_DATA_DIR": str(tmp_path / "demo"),
               "DOCWATCH_TIMESTAMP_AUTHORITIES": f"{authority.url},http://127.0.0.1:9/down"}
        exported = run_docwatch("export", "--wacz", str(package), "--event", str(changed), env=env)
    # the changed version, the one before it, and the scan the edit linked; their events (with the
    # history event that led from the backfilled 2021 capture to the first crawled version)
    assert exported.returncode == 0 and "3 version(s) of 2 page(s), 4 event(s)" in exported.stdout, exported.stderr
    assert "1 timestamp(s)" in exported.stdout and authority.requests == 1
    assert "docwatch: no timestamp from http://127.0.0.1:9/down" in exported.stderr
    verified = run_docwatch("verify", str(package))
    assert verified.returncode == 0 and f"timestamps: {authority.url} at 20" in verified.stdout, verified.stderr

    refused = run_docwatch("export", "--wacz", str(tmp_path / "x.wacz"), "--url", "http://nowhere.example/", env=env)
    assert refused.returncode == 2 and "URL http://nowhere.example/" in refused.stderr
    assert not (tmp_path / "x.wacz").exists()
    wrong_suffix = run_docwatch("export", "--wacz", str(tmp_path / "x.zip"), "--event", str(changed), env=env)
    assert wrong_suffix.returncode == 2 and ".wacz suffix" in wrong_suffix.stderr

    with sqlite3.connect(db) as con:  # someone rewrites what the log says a fetch found
        con.execute("UPDATE custody_log SET subject = replace(subject, 'body_sha256\":\"', 'body_sha256\":\"0')"
                    " WHERE id = 1")
    broken = run_docwatch("custody", "verify", env=env)
    assert broken.returncode == 1 and "entry 1 (snapshot): its fields no longer hash" in broken.stderr, broken.stderr
