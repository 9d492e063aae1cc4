"""Issue 8, end to end: an article of the local site links real government attachments (DOC,
XLS, PDF) and a DOCX and XLSX made here; the real `docwatch crawl` fetches them as documents of
that article, their text is searchable, a replaced file is one `changed` event with its diff,
and a broken file is a recorded error while the crawl goes on."""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import docx
import openpyxl

from tests.conftest import FILES, run_docwatch
from tests.test_changes_e2e import crawl, report

ARTICLE = "/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml"
# A string verified to be in each file's text, used as a keyword term; and the file's link.
REAL_FILES = {
    "nanchang-customs_2023_gongshi.doc": "拟录用公务员公示公告",  # Word 97, CP936 text
    "chinatax_2023_nilu_mingdan.xls": "国家税务总局2023年度拟录用公务员名单",  # Excel 97 cell
    "shenzhen_stats_2021_xingbie.pdf": "社会性别统计报告",  # 13-page PDF
}
DOCX_TERM, XLSX_TERM = "农牧民转移就业", "有组织转移"
DOCX_TEXT = "2019年上半年，全区农牧民转移就业175.62万人次，完成年度目标的106%。"
XLSX_ROW = ("喀什地区", "有组织转移", "74.31万人次")
NEW_SENTENCE = "其中有组织转移就业15459人。"

# A one-page PDF with nothing on the page: what a scan without OCR looks like to a text reader.
BLANK_PDF_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
]


def blank_pdf() -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(BLANK_PDF_OBJECTS, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return bytes(out)


def write_docx(path, *paragraphs: str) -> None:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(path)


def write_xlsx(path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(("地区", "方式", "人数"))
    sheet.append(XLSX_ROW)
    book.save(path)


def watchlist_for(tmp_path, site) -> str:
    terms = [*REAL_FILES.values(), DOCX_TERM, XLSX_TERM]
    path = tmp_path / "watchlist.yaml"
    path.write_text(
        "keyword_sets:\n  attachments:\n    terms: [" + ", ".join(terms) + "]\n"
        "sources:\n  - id: wanzai-attachments\n    name: 万载县 统计公报\n"
        f"    url: \"{site.base_url}{ARTICLE}\"\n    type: page\n",
        "utf-8",
    )
    return path


def publish_attachments(site) -> dict[str, str]:
    """Put the files on the site and link them from the article as a CMS does: 附件N：title."""
    folder = site.root / "xjrst/c112676/202308/files"
    folder.mkdir()
    for name in REAL_FILES:
        shutil.copy(FILES / "attachments" / name, folder / name)
    write_docx(folder / "jiuye_2019.docx", "新疆2019年上半年就业情况", DOCX_TEXT)
    write_xlsx(folder / "zhuanyi_2019.xlsx")
    pdf = (FILES / "attachments" / "shenzhen_stats_2021_xingbie.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(pdf[: len(pdf) // 2])
    (folder / "scan.pdf").write_bytes(blank_pdf())
    names = [*REAL_FILES, "jiuye_2019.docx", "zhuanyi_2019.xlsx", "truncated.pdf", "scan.pdf"]
    links = "".join(f'<p><a href="files/{name}">附件{n}：{name}</a></p>' for n, name in enumerate(names, 1))
    article = site.root / ARTICLE.lstrip("/")
    html = article.read_text("utf-8")
    article.write_text(html.replace("</body></html>", links + "</body></html>"), "utf-8")
    base = f"{site.base_url}/xjrst/c112676/202308/files/"
    return {name: base + name for name in names}


def test_attachments_are_watched_like_pages(tmp_path, site):
    urls = publish_attachments(site)
    watchlist = watchlist_for(tmp_path, site)
    db = tmp_path / "dw.db"
    crawl(db, watchlist)

    events = report(db, watchlist, "events")
    by_url = {event["url"]: event["type"] for event in events}
    article_url = site.base_url + ARTICLE
    assert by_url == {
        article_url: "new_page",
        **{urls[name]: "new_document" for name in (*REAL_FILES, "jiuye_2019.docx", "zhuanyi_2019.xlsx", "scan.pdf")},
        urls["truncated.pdf"]: "fetch_error",  # the crawl went on past the broken file
    }
    (broken,) = [e for e in events if e["type"] == "fetch_error"]
    assert "pdf text extraction failed" in broken["detail"]["error"]

    # Each file's own text is searched: its term is flagged on that file, nowhere else.
    hits = report(db, watchlist, "hits")
    found = {(hit["term"], hit["url"]) for hit in hits}
    expected = {term: urls[name] for name, term in REAL_FILES.items()}
    expected.update({DOCX_TERM: urls["jiuye_2019.docx"], XLSX_TERM: urls["zhuanyi_2019.xlsx"]})
    assert found == set(expected.items())
    figures = report(db, watchlist, "figures")
    assert {(f["value"], f["unit"], f["url"]) for f in figures if f["url"] != site.base_url + ARTICLE} == {
        (1756200, "人次", urls["jiuye_2019.docx"]), (743100, "人次", urls["zhuanyi_2019.xlsx"])}

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.url, p.kind, parent.url, s.file_type, s.no_text, s.body_sha256, s.body_size, s.warc_file"
            " FROM pages p JOIN pages parent ON parent.id = p.parent_page_id"
            " JOIN snapshots s ON s.id = p.latest_snapshot_id ORDER BY p.url"
        ).fetchall()
        reasons = conn.execute("SELECT reason, count(*) FROM archive_requests GROUP BY reason").fetchall()
    assert {row[0]: row[3] for row in rows} == {
        urls["nanchang-customs_2023_gongshi.doc"]: "doc", urls["chinatax_2023_nilu_mingdan.xls"]: "xls",
        urls["shenzhen_stats_2021_xingbie.pdf"]: "pdf", urls["jiuye_2019.docx"]: "docx",
        urls["zhuanyi_2019.xlsx"]: "xlsx", urls["scan.pdf"]: "pdf",
    }
    assert {row[1] for row in rows} == {"document"} and {row[2] for row in rows} == {article_url}
    assert [row[0] for row in rows if row[4]] == [urls["scan.pdf"]]  # kept, flagged no_text
    assert all(row[7] for row in rows)  # each document has its WARC record
    pdf_row = next(row for row in rows if row[0] == urls["shenzhen_stats_2021_xingbie.pdf"])
    assert pdf_row[6] == 192056
    assert dict(reasons) == {"new_page": 1, "attachment": 6}

    # The DOCX is replaced by a new version: one `changed` event, with the new sentence as diff.
    folder = site.root / "xjrst/c112676/202308/files"
    write_docx(folder / "jiuye_2019.docx", "新疆2019年上半年就业情况", DOCX_TEXT + NEW_SENTENCE)
    second = crawl(db, watchlist)
    changes = report(db, watchlist, "events", "--since", second)
    assert [(e["type"], e["url"]) for e in changes] == [("changed", urls["jiuye_2019.docx"])]
    diff = changes[0]["detail"]["diff"]
    assert (diff["added"], diff["removed"], diff["changed"]) == ([NEW_SENTENCE], [], [])

    # The digest shows each document under its parent page, with file type, size and hash.
    result = run_docwatch("digest", "--since", "7d", "--format", "md", db=db, watchlist=watchlist)
    assert result.returncode == 0, result.stderr
    assert (f"Attachment (PDF, 187.6 KiB, SHA-256 {pdf_row[5]}) of 万载县2022年国民经济和社会发展统计公报 <{article_url}>"
            in result.stdout)
    assert "Attachment (PDF, 0.3 KiB, no text (a scan; OCR read none), SHA-256" in result.stdout
    html = run_docwatch("digest", "--since", "7d", "--format", "html", db=db, watchlist=watchlist).stdout
    assert (f'Attachment (PDF, 187.6 KiB, SHA-256 <span class="hash">{pdf_row[5]}</span>) of '
            f'<a href="{article_url}" rel="noreferrer">万载县2022年国民经济和社会发展统计公报</a>') in html


def test_documents_have_their_own_size_cap(tmp_path, site):
    """Documents are capped apart from pages (default 30 MB): here at 100 kB, so the 188 kB
    PDF is a recorded fetch error while the 125 kB article and the 57 kB DOC are stored."""
    urls = publish_attachments(site)
    db = tmp_path / "scrapy.db"
    env = {**os.environ, "DOCWATCH_ENV": "local", "DOCWATCH_WATCHLIST": str(watchlist_for(tmp_path, site))}
    crawled = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "page", "-a", "source=wanzai-attachments",
         "-s", f"DOCWATCH_DB={db}", "-s", "DOCWATCH_MAX_DOCUMENT_BYTES=100000"],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, env=env, timeout=120,
    )
    assert crawled.returncode == 0, crawled.stderr
    with sqlite3.connect(db) as conn:
        outcomes = dict(conn.execute("SELECT url, outcome FROM fetches").fetchall())
        (error,) = conn.execute("SELECT error FROM fetches WHERE url = ?", [urls["shenzhen_stats_2021_xingbie.pdf"]]).fetchone()
    assert outcomes[site.base_url + ARTICLE] == "new"
    assert outcomes[urls["nanchang-customs_2023_gongshi.doc"]] == "new"
    assert outcomes[urls["shenzhen_stats_2021_xingbie.pdf"]] == "failed"
    assert "100000" in error, error


def test_a_document_its_page_stops_linking_is_reported_and_no_longer_fetched(tmp_path, site):
    urls = publish_attachments(site)
    watchlist = watchlist_for(tmp_path, site)
    db = tmp_path / "dw.db"
    crawl(db, watchlist)
    article = site.root / ARTICLE.lstrip("/")
    link = '<p><a href="files/chinatax_2023_nilu_mingdan.xls">附件2：chinatax_2023_nilu_mingdan.xls</a></p>'
    html = article.read_text("utf-8")
    assert link in html
    article.write_text(html.replace(link, ""), "utf-8")

    second = crawl(db, watchlist)
    article_url, xls_url = site.base_url + ARTICLE, urls["chinatax_2023_nilu_mingdan.xls"]
    events = report(db, watchlist, "events", "--since", second)
    assert [(e["type"], e["url"], e["detail"].get("parent_url")) for e in events] == [("delisted", xls_url, article_url)]
    with sqlite3.connect(db) as conn:
        fetched = {url for (url,) in conn.execute("SELECT url FROM fetches WHERE run_id = (SELECT max(id) FROM runs)")}
    assert xls_url not in fetched and urls["nanchang-customs_2023_gongshi.doc"] in fetched

    digest = run_docwatch("digest", "--since", second, "--format", "md", db=db, watchlist=watchlist)
    assert f"no longer linked from {article_url}" in digest.stdout, digest.stdout
