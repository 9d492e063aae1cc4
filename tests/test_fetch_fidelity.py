"""No silent drops, and WARC records as exchanged: real crawls (the `docwatch` command, Scrapy)
of a real server on 127.0.0.1 that redirects, loops and sends gzip in chunks; the records
checked with `warcio check` and replayed with pywb."""

import contextlib
import gzip
import http.client
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from storage import open_database
from tests.conftest import run_docwatch
from tests.warc_check import assert_warcs_pass_warcio_check

ARTICLE = "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"  # real page: 转移就业275万人次
ARTICLE_TITLE = "【2017·亮点】农村富余劳动力转移就业275万人次"
GB2312_PAGE = Path("/work/shared/corpus/trafilatura/wayback_he.xinhuanet.com_article_gb2312.html")
GB2312_TITLE = "话剧《约定无期限》河北各市巡演结束"


def watch(watchlist: Path, pages: dict[str, str]) -> Path:
    """Add page sources (id → URL) to the demo watchlist."""
    extra = "".join(f"  - id: {source_id}\n    url: \"{url}\"\n    type: page\n" for source_id, url in pages.items())
    watchlist.write_text(watchlist.read_text("utf-8") + extra, "utf-8")
    return watchlist


def serve(site, rules: dict) -> None:
    (site.root / "_site.json").write_text(json.dumps(rules), "utf-8")


def crawl(tmp_path, watchlist, *source_ids):
    arguments = ["crawl"] + [option for source_id in source_ids for option in ("--source", source_id)]
    result = run_docwatch(*arguments, db=tmp_path / "dw.db", watchlist=watchlist)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def records(warc_dir: Path) -> list:
    """(type, target URI, status, headers, payload, WARC headers) of every record, in file order."""
    found = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                http = record.http_headers
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                              http.get_statuscode() if http and record.rec_type == "response" else None,
                              dict(http.headers) if http else {}, record.content_stream().read()
                              if record.rec_type == "metadata" else record.raw_stream.read(),
                              dict(record.rec_headers.headers)))
    return found


def test_a_source_redirecting_to_a_page_another_source_watches_is_its_own_page(tmp_path, site, demo_watchlist):
    old, target = f"{site.base_url}/old/report.shtml", site.base_url + ARTICLE
    serve(site, {"/old/report.shtml": {"status": 301, "redirect": ARTICLE}})
    watchlist = watch(demo_watchlist, {"moved": old, "target": target})

    result = crawl(tmp_path, watchlist, "moved", "target")
    assert "2 pages fetched, 2 new" in result.stdout, result.stdout
    con = sqlite3.connect(tmp_path / "dw.db")
    fetches = con.execute("SELECT source_id, url, final_url, outcome, http_status FROM fetches ORDER BY source_id").fetchall()
    assert fetches == [("moved", old, target, "new", 200), ("target", target, target, "new", 200)]
    snapshots = con.execute("SELECT p.url, s.final_url, s.title FROM snapshots s JOIN pages p ON p.id = s.page_id"
                            " ORDER BY p.url").fetchall()
    assert snapshots == [(old, target, ARTICLE_TITLE), (target, target, ARTICLE_TITLE)]
    assert con.execute("SELECT requests, requests_unaccounted FROM runs").fetchall() == [(2, 0)]

    # The redirected page's records: the 301 hop and its request, then the final exchange, then metadata.
    assert_warcs_pass_warcio_check(tmp_path / "warc")
    written = [(kind, uri, status) for kind, uri, status, *_ in records(tmp_path / "warc") if kind != "warcinfo"]
    hop_then_final = [("response", old, "301"), ("request", old, None), ("response", target, "200"),
                      ("request", target, None), ("metadata", target, None)]
    start = written.index(hop_then_final[0])
    assert written[start:start + 5] == hop_then_final, written
    assert len(written) == 8  # and the target's own response, request and metadata
    hop = next(r for r in records(tmp_path / "warc") if r[0] == "response" and r[1] == old)
    assert hop[3]["Location"] == ARTICLE


def test_a_redirect_loop_and_too_many_redirects_are_failed_fetches_in_the_summary(tmp_path, site, demo_watchlist):
    chain = {f"/chain/{n}.shtml": {"redirect": f"/chain/{n + 1}.shtml"} for n in range(30)}
    serve(site, {"/loop/a.shtml": {"redirect": "/loop/b.shtml"}, "/loop/b.shtml": {"redirect": "/loop/a.shtml"},
                 **chain})
    watchlist = watch(demo_watchlist, {"looping": f"{site.base_url}/loop/a.shtml",
                                       "endless": f"{site.base_url}/chain/0.shtml"})

    result = crawl(tmp_path, watchlist, "looping", "endless")
    assert "2 pages fetched, 0 new, 0 changed, 0 unchanged, 2 failed" in result.stdout, result.stdout
    assert f"{site.base_url}/loop/a.shtml  redirect loop: {site.base_url}/loop/a.shtml → " in result.stdout
    assert f"{site.base_url}/chain/0.shtml  too many redirects (more than 20)" in result.stdout
    con = sqlite3.connect(tmp_path / "dw.db")
    rows = dict(con.execute("SELECT source_id, error FROM fetches WHERE outcome = 'failed'").fetchall())
    assert rows["looping"].startswith("redirect loop: ") and rows["endless"].startswith("too many redirects")
    assert {e for (e,) in con.execute("SELECT type FROM events")} == {"fetch_error"}
    assert con.execute("SELECT requests, requests_unaccounted FROM runs").fetchall() == [(2, 0)]
    assert site.requests.count("/loop/a.shtml") == 1  # the loop was noticed, not followed round again


def test_a_page_whose_refresh_tag_reloads_itself_is_stored_not_a_loop(tmp_path, site, demo_watchlist):
    page = site.root / ARTICLE.lstrip("/")
    page.write_text(page.read_text("utf-8").replace(
        "<head>", f'<head><meta http-equiv="refresh" content="30; url={ARTICLE}">', 1), "utf-8")
    crawl(tmp_path, watch(demo_watchlist, {"reloading": site.base_url + ARTICLE}), "reloading")
    con = sqlite3.connect(tmp_path / "dw.db")
    assert con.execute("SELECT outcome, error FROM fetches").fetchall() == [("new", None)]
    assert con.execute("SELECT title FROM snapshots").fetchall() == [(ARTICLE_TITLE,)]


def test_two_sources_watching_one_url_and_robots_txt_are_skipped_with_their_reason(tmp_path, site, demo_watchlist):
    (site.root / "robots.txt").write_text("User-agent: *\nDisallow: /politics/\n")
    watchlist = watch(demo_watchlist, {"first": site.base_url + ARTICLE, "second": site.base_url + ARTICLE})

    result = crawl(tmp_path, watchlist, "first", "second", "demo-xinhua-xinjiang")
    assert "1 pages fetched, 1 new, 0 changed, 0 unchanged, 0 failed, 0 gone; 2 skipped." in result.stdout, result.stdout
    assert "skipped " + site.base_url + ARTICLE + "  duplicate: already requested in this run by source first" in result.stdout
    assert "Forbidden by robots.txt" in result.stdout
    con = sqlite3.connect(tmp_path / "dw.db")
    assert con.execute("SELECT count(*) FROM events WHERE type = 'fetch_error'").fetchone() == (0,)
    assert con.execute("SELECT requests, requests_unaccounted FROM runs").fetchall() == [(3, 0)]


def test_a_crawl_whose_rows_do_not_add_up_says_so(tmp_path, site, demo_watchlist):
    db = open_database(tmp_path / "dw.db")  # a database that refuses one page's fetch row, as a full disk would
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON fetches WHEN NEW.url LIKE '%/c.html'"
               " BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.close()
    watchlist = watch(demo_watchlist, {"article": site.base_url + ARTICLE})

    result = crawl(tmp_path, watchlist, "article", "demo-xinhua-xinjiang")
    assert "1 pages fetched, 1 new" in result.stdout
    assert "The count does not add up: the crawl set out to fetch 2 URLs and recorded 1 fetches" in result.stderr
    con = sqlite3.connect(tmp_path / "dw.db")
    assert con.execute("SELECT requests, requests_unaccounted FROM runs").fetchall() == [(2, 1)]


def gzip_site(site) -> tuple[str, bytes]:
    """The real raw-GB2312 page, served gzip-encoded and chunked; returns its URL and the bytes sent."""
    shutil.copy(GB2312_PAGE, site.root / "gb2312.html")
    serve(site, {"/gb2312.html": {"gzip": True, "chunked": True, "content_type": "text/html; charset=gb2312"},
                 "/old/report.shtml": {"status": 301, "redirect": ARTICLE}})
    return f"{site.base_url}/gb2312.html", gzip.compress(GB2312_PAGE.read_bytes(), mtime=0)


def test_a_gzip_encoded_gb2312_page_is_recorded_as_sent(tmp_path, site, demo_watchlist):
    url, sent = gzip_site(site)
    crawl(tmp_path, watch(demo_watchlist, {"zipped": url}), "zipped")

    con = sqlite3.connect(tmp_path / "dw.db")
    [(title, encoding, text_sha256, body_sha256)] = con.execute(
        "SELECT title, encoding, text_sha256, body_sha256 FROM snapshots").fetchall()
    assert (title, encoding) == (GB2312_TITLE, "gb18030")
    assert_warcs_pass_warcio_check(tmp_path / "warc")
    [response] = [r for r in records(tmp_path / "warc") if r[0] == "response"]
    headers, payload = response[3], response[4]
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"] == "text/html; charset=gb2312"
    assert payload == sent  # the payload as transferred, byte for byte
    assert headers["Content-Length"] == str(len(sent))
    [metadata] = [r for r in records(tmp_path / "warc") if r[0] == "metadata"]
    fields = dict(line.split(": ", 1) for line in metadata[4].decode("utf-8").splitlines())
    assert (fields["encoding"], fields["text-sha256"], fields["body-sha256"]) == ("gb18030", text_sha256, body_sha256)
    assert fields["title"] == GB2312_TITLE and json.loads(fields["extraction"])["selector"] is None
    assert metadata[5]["WARC-Refers-To"] == response[5]["WARC-Record-ID"]
    # `docwatch evidence --verify` decodes the stored payload and finds the body the crawler read.
    verified = run_docwatch("evidence", url, "--verify", db=tmp_path / "dw.db", watchlist=demo_watchlist)
    assert verified.returncode == 0 and "replay: OK" in verified.stdout, verified.stdout + verified.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def pywb_replaying(warc_files: list[Path], workdir: Path):
    """pywb's own `wb-manager init`/`add` and `wayback` server on 127.0.0.1, replaying `warc_files`
    (or the WARC files of .wacz packages) as collection `evidence`; yields the server's address."""
    def pywb(entry: str, *arguments: str, **options) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", f"import sys; from {entry} import main; sys.exit(main())",
                                 *arguments], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)

    workdir.mkdir()
    unpack = ["--unpack-wacz"] if any(str(path).endswith(".wacz") for path in warc_files) else []
    for step in (("init", "evidence"), ("add", *unpack, "evidence", *map(str, warc_files))):
        manager = pywb("pywb.manager.manager", *step)
        output = manager.communicate(timeout=120)[0]
        assert manager.returncode == 0, output
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", "from pywb.apps.cli import wayback; wayback()",
                               "--port", str(port), "--bind", "127.0.0.1"], cwd=workdir,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "pywb did not start within 60 s"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def replay(address: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One GET to the replay server, redirects not followed, body not decoded."""
    connection = http.client.HTTPConnection(address, timeout=60)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def test_a_server_that_would_send_br_is_read_and_its_record_checks(tmp_path, site, demo_watchlist):
    # Scrapy cannot decode br with the brotlipy pywb brings, nor warcio with the Brotli Scrapy
    # needs: docwatch asks only for gzip and deflate, so the page is read and its record replays.
    serve(site, {ARTICLE: {"brotli": True}})
    crawl(tmp_path, watch(demo_watchlist, {"squeezed": site.base_url + ARTICLE}), "squeezed")
    con = sqlite3.connect(tmp_path / "dw.db")
    assert con.execute("SELECT outcome, error FROM fetches").fetchall() == [("new", None)]
    assert con.execute("SELECT title FROM snapshots").fetchall() == [(ARTICLE_TITLE,)]
    assert_warcs_pass_warcio_check(tmp_path / "warc")
    [request] = [headers for kind, *_, headers, _, _ in records(tmp_path / "warc") if kind == "request"]
    assert request["Accept-Encoding"] == "gzip, deflate"


def test_a_gzip_page_over_the_size_cap_once_decompressed_is_a_failed_fetch(tmp_path, site, demo_watchlist):
    url, sent = gzip_site(site)  # 7 kB sent, 38 kB decompressed
    result = run_docwatch("crawl", "--source", "zipped", db=tmp_path / "dw.db",
                          watchlist=watch(demo_watchlist, {"zipped": url}), env={"DOCWATCH_MAX_PAGE_BYTES": "20000"})
    assert result.returncode == 0 and "0 new, 0 changed, 0 unchanged, 1 failed" in result.stdout, result.stdout
    con = sqlite3.connect(tmp_path / "dw.db")
    [(outcome, error)] = con.execute("SELECT outcome, error FROM fetches").fetchall()
    assert outcome == "failed" and "exceeded DOWNLOAD_MAXSIZE (20000 B) during decompression" in error
    assert con.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)


def test_pywb_replays_the_redirect_then_the_page_and_id_replay_is_byte_identical(tmp_path, site, demo_watchlist):
    zipped, sent = gzip_site(site)
    old, target = f"{site.base_url}/old/report.shtml", site.base_url + ARTICLE
    crawl(tmp_path, watch(demo_watchlist, {"moved": old, "zipped": zipped}), "moved", "zipped")
    warc_files = assert_warcs_pass_warcio_check(tmp_path / "warc")
    stamp = {uri: headers["WARC-Date"][:19].translate(str.maketrans("", "", "-T:"))
             for kind, uri, _, _, _, headers in records(tmp_path / "warc") if kind == "response"}

    with pywb_replaying(warc_files, tmp_path / "pywb") as address:
        # As a reader sees it (`mp_`: the page inside pywb's frame): the watched URL answers with the
        # redirect, rewritten into the archive, and that leads to the page.
        status, headers, _ = replay(address, f"/evidence/{stamp[old]}mp_/{old}")
        assert status == 301 and f"/evidence/{stamp[old]}mp_/{target}" in headers["Location"], headers
        status, _, body = replay(address, headers["Location"].split(address, 1)[-1])
        assert status == 200 and ARTICLE_TITLE in body.decode("utf-8")
        # As the server sent it (`id_`): the same 301 with its own Location, then the page byte for byte.
        status, headers, _ = replay(address, f"/evidence/{stamp[old]}id_/{old}")
        assert (status, headers["Location"]) == (301, ARTICLE)
        status, _, body = replay(address, f"/evidence/{stamp[target]}id_/{target}")
        assert status == 200 and body == (site.root / ARTICLE.lstrip("/")).read_bytes()

        status, headers, body = replay(address, f"/evidence/{stamp[zipped]}id_/{zipped}", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert body == sent  # byte for byte what the server sent
        status, headers, page = replay(address, f"/evidence/{stamp[zipped]}mp_/{zipped}")  # as a reader sees it
        assert status == 200 and headers["X-Archive-Orig-Content-Encoding"] == "gzip"  # pywb decoded it
        assert GB2312_TITLE.encode("gb18030") in page  # in the page's own GB2312 bytes
