"""Where a cold crawl's CPU goes, stage by stage: each stage of docwatch's pipeline run over the
benchmark corpus's articles in one process, CPU milliseconds per page.

The crawl runs the same functions (the extraction workers: decode → store-free work; the crawl
process: store, WARC append); Scrapy's own cost per page is the fetch-and-hash ceiling's
"CPU ms/page" in bench/results.md. Together they are the floor of docwatch's CPU per page on
this machine.

    .venv/bin/python bench/stages.py [--pages 500]
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, build  # noqa: E402
from crawler.extract import article as extraction  # noqa: E402
from crawler.extract.capture import capture_page, matcher_for, page_extraction, warc_exchange  # noqa: E402
from crawler.compare.versions import Findings  # noqa: E402
from crawler.archive.warc import WarcWriter  # noqa: E402
from crawler.fetch.items import FetchedPage, WireExchange  # noqa: E402
from crawler.pipeline.store import store_capture  # noqa: E402
from crawler.config.watchlist import load_watchlist  # noqa: E402
from storage import bodies, open_database, queries  # noqa: E402

ARTICLES_PER_COLUMN = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500, help="articles to run through the stages (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        corpus = build(scratch / "site", max(args.pages, ARTICLES_PER_COLUMN))
        watchlist = load_watchlist(REPO / "watchlist.yaml")
        source = watchlist.adhoc_source("http://127.0.0.1/")
        keyword_sets = tuple(watchlist.keyword_sets.values())
        matcher = matcher_for(keyword_sets)
        db = open_database(scratch / "docwatch.db")
        queries.sync_sources(db, [source])
        warc = WarcWriter(scratch / "warc")
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        items = []
        for article in corpus.articles[: args.pages]:
            url = "http://127.0.0.1" + article.path
            body = (corpus.root / article.path.lstrip("/")).read_bytes()
            wire = WireExchange(url=url, method="GET", request_headers=[("User-Agent", "docwatch")], status=200,
                                protocol="HTTP/1.1", headers=[("Content-Type", "text/html")], body=body, received_at=now)
            items.append(FetchedPage(source_id=source.id, kind="article", url=url, final_url=url, status=200,
                                     headers={"Content-Type": "text/html"}, body=body, fetched_at=now, elapsed_ms=1,
                                     exchanges=[wire]))
        cpu: dict[str, float] = defaultdict(float)
        general = 0

        def timed(stage: str, function, *args):
            started = time.process_time()
            result = function(*args)
            cpu[stage] += time.process_time() - started
            return result

        for item in items:
            html = timed("decode", extraction.decode_html, item.body).text
            timed("extract (parse, article text, links, date)", extraction.extract, html, item.url)
            general += not _known_template(html)
            capture = timed("capture (all of the above + normalise, noise, hash)", capture_page, item, source)
            findings = timed("keywords and figures", Findings.of, capture.original_text, matcher)
            keyframe = timed("body compression (zstd)", bodies.keyframe, item.body)
            exchange = timed("WARC records (ISA-L gzip)", warc_exchange, item, capture, page_extraction(source))
            payload = (capture, findings, exchange)
            timed("to and from a worker (pickle)", lambda: pickle.loads(pickle.dumps(payload)) and pickle.loads(pickle.dumps(item)))
            ref = timed("WARC append (fsync)", warc.append, exchange)
            stored = dataclasses.replace(capture, findings=findings, body_keyframe=keyframe)
            timed("SQLite: snapshot, events, ledger, figures, queue", store_capture, db, None, stored, matcher, ref)
        db.close()

    pages = len(items)
    worker = ["capture (all of the above + normalise, noise, hash)", "keywords and figures", "body compression (zstd)",
              "WARC records (ISA-L gzip)"]
    crawler_side = ["to and from a worker (pickle)", "WARC append (fsync)", "SQLite: snapshot, events, ledger, figures, queue"]
    print(f"{pages} corpus articles (cold: first version of each), {general} of them read by trafilatura, "
          f"the rest through a known template's article element.\n")
    print("| stage | CPU ms/page |")
    print("|---|---:|")
    for stage in ("decode", "extract (parse, article text, links, date)", *worker, *crawler_side):
        print(f"| {stage} | {cpu[stage] * 1000 / pages:.2f} |")
    total = sum(cpu[stage] for stage in worker + crawler_side)
    print(f"| **docwatch's own work per page** (capture onward) | **{total * 1000 / pages:.2f}** |")
    print("\nAdd Scrapy's fetch (the ceiling's CPU ms/page in bench/results.md) for the floor of a cold crawl.")


def _known_template(html: str) -> bool:
    tree = extraction._parse(html)
    return tree is not None and bool(extraction._known_article_body(tree)[0])


if __name__ == "__main__":
    main()
