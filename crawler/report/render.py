"""A digest as Markdown, HTML, JSON or Atom.

HTML is one self-contained file (inline CSS, no script, no external request; a
Content-Security-Policy says so to the browser too) rendered by Jinja2 with autoescaping, so
page text can never become markup. The JSON layout is the documented schema
``docwatch-digest/1``: fields are only ever added to it, never renamed or removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from crawler.json_text import indented_json
from crawler.report.model import COLLAPSED_SECTIONS, Archive, Digest, DigestEvent, ListingCopy, ListingEvidence, local_time

if TYPE_CHECKING:
    import jinja2

JSON_SCHEMA = "docwatch-digest/1"
FEED_ID = "tag:docwatch,2026:digest"
# Inline Markdown: emphasis, code, links, raw HTML, tables, strikethrough, entities; each such
# mark gets a backslash (one str.translate: a digest calls this ten thousand times).
_MARKDOWN_ESCAPES = str.maketrans({mark: "\\" + mark for mark in "\\`*_[]<>|~&"})
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def _markdown_text(text: object) -> str:
    """Page text as literal Markdown: every mark that could start inline markup escaped."""
    return str(text).translate(_MARKDOWN_ESCAPES)


def _markdown_url(url: str) -> str:
    """An http(s) URL as an autolink, with anything that could close it percent-encoded."""
    if not url.startswith(("http://", "https://")):
        return _markdown_text(url)
    return f"<{quote(url, safe=_URL_SAFE)}>"


@functools.cache
def _environment(autoescape: bool) -> jinja2.Environment:
    """The templates' environment, made on first use: a JSON digest needs none (importing Jinja
    is ≈ 15 ms)."""
    import jinja2

    class CompiledTemplates(jinja2.FileSystemBytecodeCache):
        """Templates compiled once and kept between runs (Jinja's per-user cache directory under the
        system's temporary directory, checked to be private; a template's source checksum is the
        key): compiling them cost every digest 30–80 ms. A cache that cannot be used is no cache,
        never a failed digest."""

        def __init__(self) -> None:
            try:
                super().__init__()
            except (OSError, RuntimeError):  # no private temporary directory: compile every time
                self.directory = None

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if self.directory is not None:
                with contextlib.suppress(OSError):
                    super().load_bytecode(bucket)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if self.directory is not None:
                with contextlib.suppress(OSError):
                    super().dump_bytecode(bucket)

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("crawler.report", "templates"),
        bytecode_cache=CompiledTemplates(),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(local_time=local_time, md=_markdown_text, url=_markdown_url)
    return environment


def render_html(digest: Digest) -> str:
    return _environment(autoescape=True).get_template("digest.html.j2").render(digest=digest)


def render_markdown(digest: Digest) -> str:
    return _environment(autoescape=False).get_template("digest.md.j2").render(digest=digest)


def event_json(event: DigestEvent) -> dict:
    archive = event.archive
    diff = event.diff
    return {
        "event_id": event.event_id,
        "type": event.type,
        "section": event.section,
        "source": event.source_id,
        "site": event.site,
        "url": event.url,
        "title": event.title,
        "detected_at": event.detected_at,
        "published": event.published,
        "summary": event.summary,
        "silent_edit": event.silent_edit,
        "score": event.score,
        "new_hits": [_hit_json(hit) for hit in event.new_hits],
        "scrubbed_hits": [_hit_json(hit) for hit in event.scrubbed_hits],
        "figures": [
            {"value": f.value, "unit": f.unit, "text": f.text, "term": f.term, "rate": f.rate, "context": f.context,
             "read_by_ocr": f.read_by_ocr}
            for f in event.figures
        ],
        "removed_figures": [{"value": f.value, "unit": f.unit, "text": f.text, "term": f.term} for f in event.removed_figures],
        "diff": {
            "added": list(diff.added),
            "removed": list(diff.removed),
            "changed": [{"old": c.old, "new": c.new, "ops": [[op.tag, op.old, op.new] for op in c.ops]} for c in diff.changed],
            "omitted": diff.omitted,
        },
        "archive": _archive_json(archive),
        "citation": event.citation,
        "export_command": event.export_command,
        "reviewed": event.reviewed,
        "tags": list(event.tags),
        "note": event.note,
        "document": dataclasses.asdict(event.document) if event.document else None,
        "listing": _listing_json(event.listing) if event.listing else None,
        "history_capture": event.history_capture,
    }


def _archive_json(archive: Archive) -> dict:
    return {
        "status": archive.status,
        "wayback_url": archive.wayback_url,
        "wayback_timestamp": archive.wayback_timestamp,
        "warc": {"file": archive.warc_file, "offset": archive.warc_offset, "length": archive.warc_length}
        if archive.warc_file else None,
        "sha256": archive.sha256,
        "earlier_capture": {"wayback_url": archive.earlier_url, "wayback_timestamp": archive.earlier_timestamp}
        if archive.earlier_url else None,
    }


def _listing_json(listing: ListingEvidence) -> dict:
    def copy(kept: ListingCopy | None) -> dict | None:
        if kept is None:
            return None
        return {"snapshot_id": kept.snapshot_id, "fetched_at": kept.fetched_at, **_archive_json(kept.archive)}

    return {"url": listing.url, "before": copy(listing.before), "after": copy(listing.after)}


def _hit_json(hit) -> dict:
    return {"term": hit.term, "set": hit.set, "matched": hit.matched, "context": hit.context, "count": hit.count}


def render_json(digest: Digest) -> str:
    document = {
        "schema": JSON_SCHEMA,
        "generated_at": digest.generated_at,
        "since": digest.since,
        "counts": digest.counts,
        "events": [event_json(event) for event in digest.events],
    }
    return indented_json(document) + "\n"


def render_atom(digest: Digest, feed_url: str | None = None) -> str:
    """One Atom entry per event, in reading order; the entry content is the event's HTML as the
    HTML digest shows it: its card, or its one line in a section of events without hits or
    figures (fetch errors, new pages: three of four entries in a day of a big watchlist, whose
    cards were half the feed's time). ``feed_url`` is where the feed itself is found (its
    `rel="self"` link). Each entry's
    `updated` is when the event was detected, with the event id as microseconds: events of one
    crawl share a second, and feed readers tell entries apart by it.

    Written as text, element by element as feedgen wrote it: feedgen built an lxml tree of the
    whole feed first (≈ 70 ms for a day of 1,600 events, a quarter of the command). Characters
    XML cannot carry (most control characters) are left out rather than failing the digest."""
    macros = _environment(autoescape=True).get_template("_event.html.j2").module
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{_xml(FEED_ID)}</id>",
        "  <title>docwatch digest</title>",
        f"  <updated>{_xml(datetime.fromisoformat(digest.generated_at).isoformat())}</updated>",
        "  <author>",
        "    <name>docwatch</name>",
        "  </author>",
    ]
    if feed_url:
        lines.append(f'  <link href="{_xml(feed_url, attribute=True)}" rel="self"/>')
    lines.append(f"  <subtitle>{_xml(digest.headline)}</subtitle>")
    for event in digest.events:
        shown = macros.event_line if event.section in COLLAPSED_SECTIONS else macros.event_card
        updated = datetime.fromisoformat(event.detected_at).replace(microsecond=event.event_id % 1_000_000)
        lines += [
            "  <entry>",
            f"    <id>tag:docwatch,2026:event/{event.event_id}</id>",
            f"    <title>{_xml(f'[{event.type}] {event.title}')}</title>",
            f"    <updated>{updated.isoformat()}</updated>",
            f'    <content type="html">{_xml(str(shown(event)))}</content>',
        ]
        if event.linkable:
            lines.append(f'    <link href="{_xml(event.url, attribute=True)}"/>')
        lines += [
            f"    <summary>{_xml(event.citation)}</summary>",
            f'    <category term="{_xml(event.section, attribute=True)}"/>',
            "  </entry>",
        ]
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


_NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str, attribute: bool = False) -> str:
    """Text for an XML element, or for a double-quoted attribute (str.replace: a translate
    table with multi-character replacements is ten times slower on Chinese text)."""
    text = _NOT_IN_XML.sub("", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if attribute else text


RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json, "atom": render_atom}


def render(digest: Digest, digest_format: str, feed_url: str | None = None) -> str:
    """The digest as text; ``feed_url`` is the Atom feed's own address (other formats ignore it)."""
    if digest_format == "atom":
        return render_atom(digest, feed_url)
    return RENDERERS[digest_format](digest)
