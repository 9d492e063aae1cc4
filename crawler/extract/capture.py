"""Extract stage: turn one raw HTTP answer into the comparable record that storage keeps.

decode bytes → extract title/text/date/links → tidy (the page's own characters, for reading)
and normalise (for hashing) → strip noise → hash; then, for a page, its hits and figures (found
in the page's own characters), its compressed body and its WARC records (`prepare_page`, run in
the extraction workers). Pure: no Scrapy, no database, so it is tested directly on saved pages.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from urllib.parse import unquote, urlsplit

from crawler import __version__
from crawler.compare.keywords import KeywordMatcher
from crawler.compare.noise import strip_noise
from crawler.compare.normalise import normalise_text, tidy_text
from crawler.compare.versions import Findings
from crawler.archive.warc import WarcExchange, build_exchange
from crawler.extract.article import decode_html, extract, title_and_links
from crawler.fetch.items import FetchedPage
from crawler.compare.keywords import KeywordSet
from crawler.config.watchlist import Source
from storage import bodies
from storage.queries import PageCapture

DOCUMENT_FINGERPRINT = f"document/{__version__}"  # a document's text depends on its bytes alone
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


def header_charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def page_texts(title: str, text: str, noise: list[re.Pattern]) -> tuple[str, str]:
    """Title and body without visitor counters, generation times and the source's own noise, as
    (original, comparable): the page's own characters, which every quote is cut from, and the
    normalised text whose SHA-256 decides whether the page changed."""
    joined = f"{title}\n{text}"
    return strip_noise(tidy_text(joined), noise), strip_noise(normalise_text(joined), noise)


def extraction_fingerprint(source: Source) -> str:
    """What, besides the bytes, decides a page's text: the source's extraction settings and this
    version of docwatch. A re-crawl may skip extraction only when both bytes and this are the same."""
    settings = [__version__, *page_extraction(source).values()]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:16]


def _as_fetched(fetched: FetchedPage) -> dict:
    """The fields of a capture that are the HTTP answer itself, the same for pages and documents."""
    return dict(
        source_id=fetched.source_id,
        url=fetched.url,
        kind=fetched.kind,
        fetched_at=fetched.fetched_at,
        http_status=fetched.status,
        final_url=fetched.final_url,
        content_type=fetched.headers.get("Content-Type"),
        body=fetched.body,
        body_sha256=hashlib.sha256(fetched.body).hexdigest(),
        elapsed_ms=fetched.elapsed_ms,
    )


def capture_document(fetched: FetchedPage, text: str) -> PageCapture:
    """A document (attachment) as a page: titled by its link text, else its file name. Its
    snapshots are keyed by the SHA-256 of the file's bytes: a re-saved file is a new version
    even when its text reads the same."""
    answer = _as_fetched(fetched)
    file_name = unquote(urlsplit(fetched.url).path.rsplit("/", 1)[-1])
    return PageCapture(
        **answer,
        encoding="binary",
        title=tidy_text(fetched.link_text or file_name)[:300],
        published=None,
        text=normalise_text(text),
        original_text=tidy_text(text),
        text_sha256=answer["body_sha256"],
        extract_fingerprint=DOCUMENT_FINGERPRINT,
    )


def capture_page(fetched: FetchedPage, source: Source) -> PageCapture:
    answer = _as_fetched(fetched)
    decoded = decode_html(fetched.body, header_charset(answer["content_type"]), source.encoding)
    page = extract(decoded.text, fetched.final_url, selector=source.selector, ignore_css=source.ignore_css)
    noise = [re.compile(pattern) for pattern in source.ignore_regex]
    original, text = page_texts(page.title, page.text, noise)
    return PageCapture(
        **answer,
        encoding=decoded.encoding,
        undecodable_bytes=decoded.undecodable_bytes,
        title=tidy_text(page.title),
        published=page.published,
        text=text,
        original_text=original,
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        links=[{"url": link.url, "text": link.text} for link in page.links],
        attachments=[{"url": link.url, "text": link.text} for link in page.attachments],
        extract_fingerprint=extraction_fingerprint(source),
    )


def capture_listing(fetched: FetchedPage, source: Source) -> PageCapture:
    """A list page as a snapshot: its article links (those `follow` accepts), in order. They
    are its text too, one line each (link text, then URL), so a listing changes only when its
    links do, never with its footer's generation time or visitor counter."""
    answer = _as_fetched(fetched)
    decoded = decode_html(fetched.body, header_charset(answer["content_type"]), source.encoding)
    title, links = title_and_links(decoded.text, fetched.final_url)
    follow = re.compile(source.follow) if source.follow else None
    listed = [{"url": link.url, "text": tidy_text(link.text)} for link in links
              if link.url not in (fetched.url, fetched.final_url) and (follow is None or follow.search(link.url))]
    original = "\n".join(f"{link['text']} {link['url']}".strip() for link in listed)
    text = "\n".join(normalise_text(line) for line in original.split("\n"))
    return PageCapture(
        **answer,
        encoding=decoded.encoding,
        undecodable_bytes=decoded.undecodable_bytes,
        title=tidy_text(title),
        published=None,
        text=text,
        original_text=original,
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        links=listed,
    )


@functools.lru_cache(maxsize=None)
def matcher_for(keyword_sets: tuple[KeywordSet, ...]) -> KeywordMatcher:
    """One compiled matcher per combination of keyword sets, in each process that matches."""
    return KeywordMatcher({keyword_set.name: keyword_set for keyword_set in keyword_sets})


def prepare_page(item: FetchedPage, source: Source, keyword_sets: tuple[KeywordSet, ...]) -> tuple[PageCapture, WarcExchange]:
    """All the work on a page that needs no database, done in an extraction worker (which
    imports this module, not Scrapy or the pipeline): extract its text, find hits and figures,
    compress its body, build its WARC records. What is left for the crawling process is
    comparing with the last snapshot and writing.

    The capture comes back without its body (`body=b""`): the crawling process has the bytes
    already, and sending them back would double what crosses the pipe."""
    capture = capture_page(item, source)
    capture = dataclasses.replace(
        capture, findings=Findings.of(capture.original_text, matcher_for(keyword_sets)), body_keyframe=bodies.keyframe(item.body),
        body=b"",
    )
    return capture, warc_exchange(item, capture, page_extraction(source))


def warc_exchange(item: FetchedPage, capture: PageCapture, extraction: dict[str, object]) -> WarcExchange:
    """The fetch as exchanged (each redirect hop, then the final answer), as WARC records, with a
    metadata record of what docwatch decided: read with `extraction`, it gave `capture`."""
    return build_exchange(item.exchanges, capture.body_sha256, {
        "software": f"docwatch/{__version__}",
        "watched-url": item.url,
        "source": item.source_id,
        "kind": item.kind,
        "encoding": capture.encoding,
        "extraction": json.dumps(extraction, ensure_ascii=False, sort_keys=True),
        "extract-fingerprint": capture.extract_fingerprint or "",
        "body-sha256": capture.body_sha256,
        "text-sha256": capture.text_sha256,
        "title": capture.title,
    })


def listing_extraction(source: Source) -> dict[str, object]:
    """What a list page's links were read with, for its metadata record."""
    return {"follow": source.follow, "encoding": source.encoding}


def page_extraction(source: Source) -> dict[str, object]:
    """The settings a page's text was extracted with, for its metadata record."""
    return {"selector": source.selector, "ignore_css": list(source.ignore_css),
            "ignore_regex": list(source.ignore_regex), "encoding": source.encoding}
