"""Micro-benchmarks of docwatch's comparison and storage stages, on real text and real pages.

- keywords: 1,000 terms (the shipped watchlist's terms, then 4-character phrases of the real
  report text) over 100 MB of Chinese text, page by page, as the pipeline calls it; MB/s.
- figures: `extract_figures` over the same kind of text; MB/s.
- storage: every corpus article stored 10 times through `crawler.pipeline.store.store_capture` into a
  real SQLite file, each version edited (a figure revised, a sentence added); database bytes
  against the raw HTML bytes of the 10 versions.

    .venv/bin/python bench/micro.py [--keyword-mb 100] [--figure-mb 20] [--storage-pages 100]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, build, report_sentences  # noqa: E402
from crawler.extract.capture import capture_page  # noqa: E402
from crawler.compare.figures import extract_figures  # noqa: E402
from crawler.compare.keywords import KeywordMatcher, KeywordSet  # noqa: E402
from crawler.extract.article import decode_html, extract  # noqa: E402
from crawler.fetch.items import FetchedPage  # noqa: E402
from crawler.pipeline.store import store_capture  # noqa: E402
from crawler.config.watchlist import load_watchlist  # noqa: E402
from storage import open_database, queries  # noqa: E402

TERM_COUNT = 1000
PAGE_TEXT_CHARS = 3000  # about a government article's main text
VERSIONS = 10
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{4,}")


def page_texts(megabytes: float) -> list[str]:
    """Page-sized pieces of real Chinese text (report sentences and the real pages' extracted
    text), repeated until `megabytes` of UTF-8."""
    pool = "".join(report_sentences())
    for path in sorted((REPO / "tests" / "files" / "pages").glob("*.html")):
        html = decode_html(path.read_bytes()).text
        pool += extract(html, "http://example.org/").text
    pieces = [pool[start : start + PAGE_TEXT_CHARS] for start in range(0, len(pool), PAGE_TEXT_CHARS)]
    texts, size, index = [], 0, 0
    while size < megabytes * 1e6:
        texts.append(pieces[index % len(pieces)])
        size += len(texts[-1].encode("utf-8"))
        index += 1
    return texts


def thousand_terms(texts: list[str]) -> list[str]:
    """The shipped watchlist's terms, topped up with 4-character phrases of the text: every
    page has many hits, the worst case for the per-hit work."""
    terms = shipped_terms()
    phrases = dict.fromkeys(run[i : i + 4] for text in texts[:200] for run in _CJK_RUN.findall(text)
                            for i in range(0, len(run) - 3, 5))
    terms += [phrase for phrase in phrases if phrase not in terms][: TERM_COUNT - len(terms)]
    if len(terms) < TERM_COUNT:
        raise RuntimeError(f"only {len(terms)} distinct terms found")
    return terms


def rare_terms(terms: list[str]) -> list[str]:
    """The same number of terms at a watchlist's hit rate: the text's phrases reversed (real
    characters, rarely in this order), the shipped terms kept."""
    shipped = len(shipped_terms())
    return terms[:shipped] + [term[::-1] for term in terms[shipped:]]


def shipped_terms() -> list[str]:
    sets = yaml.safe_load((REPO / "watchlist.yaml").read_text("utf-8"))["keyword_sets"]
    return list(dict.fromkeys(term for spec in sets.values() for term in spec.get("terms", [])))


def throughput(function, texts: list[str]) -> tuple[float, int]:
    """MB/s of UTF-8 input, and the number of results."""
    size = sum(len(text.encode("utf-8")) for text in texts)
    start = time.perf_counter()
    found = sum(len(function(text)) for text in texts)
    return size / 1e6 / (time.perf_counter() - start), found


def storage(pages: int) -> dict:
    """Store `pages` corpus articles in VERSIONS edited versions each; database vs raw bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        corpus = build(scratch / "site", pages)
        watchlist = scratch / "watchlist.yaml"
        watchlist.write_text(
            "keyword_sets:\n  bench: {terms: [转移就业, 富余劳动力]}\n"
            "sources:\n  - {id: bench, url: 'http://127.0.0.1/xjrst/index.shtml', type: listing}\n", "utf-8")
        source = load_watchlist(watchlist).sources[0]
        matcher = KeywordMatcher({"bench": KeywordSet(terms=("转移就业", "富余劳动力"))})
        db = open_database(scratch / "docwatch.db")
        queries.sync_sources(db, [source])
        raw = 0
        for version in range(VERSIONS):
            for article in corpus.articles:
                paragraph = f"{article.paragraph}截至目前，已组织转移就业{10_000 + version}人次。"
                body = article.shell.render(article.number, paragraph)
                raw += len(body)
                url = "http://127.0.0.1" + article.path
                fetched = FetchedPage(source_id="bench", kind="article", url=url, final_url=url, status=200,
                                      headers={"Content-Type": "text/html"}, body=body,
                                      fetched_at=datetime.now(timezone.utc).isoformat(), elapsed_ms=1)
                store_capture(db, None, capture_page(fetched, source), matcher)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.execute("VACUUM")
        by_table = dict(db.conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 4"))
        snapshots = db.conn.execute(
            "SELECT count(*), SUM(length(body_zlib)), SUM(length(CAST(text AS BLOB))), SUM(length(CAST(links AS BLOB)))"
            " FROM snapshots").fetchone()
        db.conn.close()
        return {"raw": raw, "database": (scratch / "docwatch.db").stat().st_size, "by_table": by_table,
                "snapshots": snapshots[0], "body_zlib": snapshots[1], "text": snapshots[2], "links": snapshots[3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keyword-mb", type=float, default=100)
    parser.add_argument("--figure-mb", type=float, default=20)
    parser.add_argument("--storage-pages", type=int, default=100, help="articles stored 10 times each (≥ 100)")
    args = parser.parse_args()

    texts = page_texts(args.keyword_mb)
    dense = thousand_terms(texts)
    keyword_rows = []
    for label, terms in (("dense hits: phrases of the text", dense), ("watchlist-like hit rate", rare_terms(dense))):
        matcher = KeywordMatcher({"bench": KeywordSet(terms=terms)})
        matcher.find(texts[0])  # builds the fold tables once, as the first page of a crawl does
        rate, hits = throughput(matcher.find, texts)
        keyword_rows.append(f"| keyword matching, {TERM_COUNT} terms ({label}), {args.keyword_mb:g} MB of Chinese "
                            f"text in {len(texts)} pages, {hits:,} hits | **{rate:.1f} MB/s** | ≥ 50 MB/s |")
    figure_texts = texts[: max(1, int(len(texts) * args.figure_mb / args.keyword_mb))]
    figure_rate, figures = throughput(extract_figures, figure_texts)
    stored = storage(args.storage_pages)

    lines = [
        "| micro-benchmark | result | target |",
        "|---|---|---|",
        *keyword_rows,
        f"| figure extraction, {args.figure_mb:g} MB ({figures:,} figures) | **{figure_rate:.1f} MB/s** | — |",
        f"| storage, {args.storage_pages} articles × {VERSIONS} versions ({stored['snapshots']} snapshots): "
        f"SQLite file {stored['database'] / 1e6:.1f} MB vs raw HTML {stored['raw'] / 1e6:.1f} MB "
        f"(body_zlib {stored['body_zlib'] / 1e6:.1f} MB, text {stored['text'] / 1e6:.1f} MB, "
        f"links JSON {stored['links'] / 1e6:.1f} MB) "
        f"| **{stored['database'] / stored['raw']:.1%}** | ≤ 25% |",
        "",
        "Largest tables/indexes (bytes): " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in stored["by_table"].items()),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
