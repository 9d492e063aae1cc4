"""The digest model: the events since a moment, ordered by what a researcher must read first.

Every event lands in the first section that fits it: removed (or unlinked) pages; events that
carry new figures, gone figures, or new or scrubbed keyword hits; new pages; everything else.
History found by backfill or import (`detail.historical`) has a section of its own, last: it is
evidence of an earlier time, not news.
Inside a section events are grouped by source, the source with the most important event
first, and ordered by their `score` (most important first), then by time.
Page text is hostile: every string taken from a
page is cut to a bounded length and stripped of control characters and bidi overrides here, so
no renderer has to remember to.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from itertools import groupby
from urllib.parse import urlsplit

from crawler.compare.diff import CharOp, SentenceChange
from crawler.safe_text import printable, printable_line
from storage import archive_queue, digests, reports, reviews
from storage.connection import Database

SECTIONS = {
    "removed": "Removed or unlinked pages",
    "evidence": "New figures and keyword hits",
    "new_pages": "New pages",
    "other": "Other changes",
    "history": "History found by backfill",
}
_COUNTED_AS = {"removed": "removed or unlinked", "evidence": "with new figures or hits", "new_pages": "new pages",
               "other": "other", "history": "from history"}
COLLAPSED_SECTIONS = ("new_pages", "other")  # their events carry no hit and no figure: one line each
MAX_TITLE_CHARS = 300
MAX_CONTEXT_CHARS = 300  # hit and figure context
MAX_SENTENCE_CHARS = 600  # a "sentence" can be a whole table
MAX_SENTENCES = 20  # per kind (added, removed, edited) and event; the rest is counted
MAX_FIGURES = 50  # per event
MAX_HITS = 50  # per kind (new, scrubbed) and event
# The score's tiers: what a page took back (scrubbed terms, figures no longer stated, a silent
# edit) outranks any number of new figures, which outrank any number of new terms.
SCORE_TAKEN_BACK, SCORE_NEW_FIGURE, SCORE_NEW_HIT = 10_000, 100, 1
SCORE_TIER_CAP = 99  # per tier, so that a lower tier never reaches the next


@dataclass(frozen=True)
class FlaggedHit:
    """A keyword term flagged new or scrubbed, with the context of its first flagged occurrence."""

    term: str
    set: str
    matched: str
    context: str
    count: int = 1  # flagged occurrences of the term in this event

    @property
    def highlighted(self) -> tuple[str, str, str]:
        """(before, match, after): the context split around the matched text, for highlighting."""
        if self.matched and self.matched in self.context:
            return self.context.partition(self.matched)
        return self.context, "", ""


@dataclass(frozen=True)
class StatedFigure:
    value: float
    unit: str
    text: str
    term: str
    context: str
    rate: float | None = None
    read_by_ocr: bool = False  # from a scan's OCR text: to be checked against the image

    @property
    def value_text(self) -> str:
        return f"{self.value:,.10g}"


@dataclass(frozen=True)
class Diff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[SentenceChange, ...] = ()
    omitted: dict[str, int] = field(default_factory=dict)  # sentences left out per kind (bounds)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True)
class Archive:
    """Where the page as this event saw it is kept: the Wayback Machine (only a confirmed
    capture of that version counts) and the local WARC record, with the SHA-256 of the
    fetched body. A capture taken before the version was fetched is only ever shown as an
    earlier version's (``earlier_version``, ``earlier_url``)."""

    status: str  # archived | earlier_version | queued | in_progress | needs_credentials | failed | not_archived
    wayback_url: str | None = None
    wayback_timestamp: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    sha256: str | None = None
    earlier_url: str | None = None  # the newest capture, taken before this version was fetched
    earlier_timestamp: str | None = None
    request_state: str = "not_archived"  # the page's latest archive request, as a status

    @property
    def pending(self) -> str:
        """What to say instead of a Wayback link: never a capture that is not confirmed (an
        earlier version's is followed by its link and ``this_version``)."""
        if self.status == "earlier_version":
            return f"archived copy shows an earlier version (captured {_date(self.earlier_timestamp)})"
        if self.status in ("not_archived", "archived"):
            return "not yet archived"
        return f"not yet archived ({self.status.replace('_', ' ')})"

    @property
    def this_version(self) -> str:
        """Where archiving the event's own version stands, when only an earlier one is archived."""
        state = "not yet archived" if self.request_state == "not_archived" else self.request_state.replace("_", " ")
        return f"this version {state}"

    @property
    def archived_on(self) -> str | None:
        """The capture's date, YYYY-MM-DD, from its 14-digit Wayback timestamp."""
        return _date(self.wayback_timestamp)


def _date(wayback_timestamp: str | None) -> str | None:
    """YYYY-MM-DD from a 14-digit Wayback timestamp."""
    stamp = wayback_timestamp or ""
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp[:8].isdigit() else None


@dataclass(frozen=True)
class ListingCopy:
    """One kept copy of a list page: its snapshot, when it was fetched, where it is archived."""

    snapshot_id: int
    fetched_at: str
    archive: Archive


@dataclass(frozen=True)
class ListingEvidence:
    """For a `delisted` article: its list page as kept when it still linked the article, and
    as it is now (None when that list page was not read by the crawl that noticed)."""

    url: str
    before: ListingCopy
    after: ListingCopy | None


@dataclass(frozen=True)
class Document:
    """An attachment's file, shown under the page that links it."""

    parent_url: str
    parent_title: str
    file_type: str  # pdf, doc, docx, xls, xlsx, jpeg, png, gif, tiff
    size: int  # bytes
    sha256: str
    no_text: bool  # nothing to read: a scan
    read_by_ocr: bool = False  # its text is OCR's reading of images, not the file's own characters
    ocr_confidence: float | None = None  # 0-1
    ocr_skipped_pages: int = 0  # scanned pages OCR did not read (time or page limit)

    @property
    def label(self) -> str:
        """`PDF, 187.6 KiB, no text`: what the reader needs before opening it."""
        size = f"{self.size / 1024:.1f} KiB" if self.size < 1 << 20 else f"{self.size / (1 << 20):.1f} MiB"
        return f"{self.file_type.upper()}, {size}" + self._text_note

    @property
    def _text_note(self) -> str:
        if self.read_by_ocr and not self.no_text:
            skipped = f", {self.ocr_skipped_pages} scanned page(s) not read" if self.ocr_skipped_pages else ""
            return f", text read by OCR (confidence {self.ocr_confidence or 0:.0%}{skipped}): check against the image"
        if self.read_by_ocr:
            return ", no text (a scan; OCR read none)"
        return ", no text (a scan?)" if self.no_text else ""


@dataclass(frozen=True)
class DigestEvent:
    event_id: int
    type: str
    section: str
    source_id: str
    site: str
    url: str
    title: str
    detected_at: str
    published: str | None
    summary: str
    new_hits: tuple[FlaggedHit, ...]
    scrubbed_hits: tuple[FlaggedHit, ...]
    figures: tuple[StatedFigure, ...]
    removed_figures: tuple[StatedFigure, ...]
    diff: Diff
    archive: Archive
    reviewed: bool
    silent_edit: bool
    document: Document | None = None  # set for the events of an attachment
    listing: ListingEvidence | None = None  # set for an article a listing stopped linking
    tags: tuple[str, ...] = ()  # a reviewer's tags (the workbench)
    note: str | None = None  # a reviewer's note
    history_capture: str | None = None  # history: the capture it was found in (a Wayback URL, a WARC record)

    @cached_property  # read several times per event by the ordering and the renderers
    def score(self) -> int:
        """How much this event needs reading, for the order within a section: scrubbed terms,
        figures no longer stated and a silent edit first, then new figures, then new terms,
        each weighted by how many."""
        taken_back = len(self.scrubbed_hits) + len(self.removed_figures) + int(self.silent_edit)
        tiers = ((taken_back, SCORE_TAKEN_BACK), (len(self.figures), SCORE_NEW_FIGURE), (len(self.new_hits), SCORE_NEW_HIT))
        return sum(min(count, SCORE_TIER_CAP) * weight for count, weight in tiers)

    @property
    def linkable(self) -> bool:
        """Only http(s) URLs become links; anything else is shown as text."""
        return urlsplit(self.url).scheme in ("http", "https")

    @property
    def export_command(self) -> str:
        """How to package this event's versions as signed evidence (`docwatch export --wacz`)."""
        return export_command(event_id=self.event_id)

    @property
    def citation(self) -> str:
        """`Title. Site, publication date. URL (archived DATE at WAYBACK-URL).`, ready to paste.
        It cites a capture only of the version the event describes."""
        if self.archive.wayback_url and self.archive.archived_on:
            archived = f"archived {self.archive.archived_on} at {self.archive.wayback_url}"
        elif self.archive.earlier_url:
            archived = (f"not yet archived; the archived copy of {_date(self.archive.earlier_timestamp)} at "
                        f"{self.archive.earlier_url} shows an earlier version")
        else:
            archived = "not yet archived"
        published = (self.published or "")[:10] or "n.d"  # the date (the time of day is noise); "n.d." with the stop
        return f"{self.title.rstrip('.')}. {self.site}, {published}. {self.url} ({archived})."


@dataclass(frozen=True)
class SourceGroup:
    source_id: str
    site: str
    events: tuple[DigestEvent, ...]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    groups: tuple[SourceGroup, ...]

    @property
    def collapsed(self) -> bool:
        """Its events are shown one line each: they carry no hit and no figure."""
        return self.key in COLLAPSED_SECTIONS


@dataclass(frozen=True)
class Digest:
    generated_at: str
    since: str | None
    events: tuple[DigestEvent, ...]  # in reading order: section, then source, then score and time
    through_event_id: int = 0  # the newest event in the database when the digest was made

    @property
    def sections(self) -> tuple[Section, ...]:
        found = []
        for key, title in SECTIONS.items():
            in_section = [event for event in self.events if event.section == key]
            groups = tuple(
                SourceGroup(source_id, events[0].site, tuple(events))
                for source_id, events in ((k, list(g)) for k, g in groupby(in_section, key=lambda e: e.source_id))
            )
            if groups:
                found.append(Section(key, title, groups))
        return tuple(found)

    @property
    def counts(self) -> dict[str, int]:
        """Events per section, for subject lines and headers."""
        return {key: sum(1 for event in self.events if event.section == key) for key in SECTIONS}

    @property
    def headline(self) -> str:
        if not self.events:
            return "no changes"
        parts = [f"{count} {_COUNTED_AS[key]}" for key, count in self.counts.items() if count]
        return f"{len(self.events)} event(s): " + ", ".join(parts)


def export_command(*, event_id: int | None = None, url: str | None = None) -> str:
    """The command that packages one event or one page, as digests and `docwatch evidence` offer it."""
    if event_id is not None:
        return f"docwatch export --wacz event-{event_id}.wacz --event {event_id}"
    return f"docwatch export --wacz page.wacz --url {shlex.quote(str(url))}"


def build_digest(
    db: Database,
    since: str | None,
    generated_at: str,
    source_ids: Sequence[str] = (),
    tags: Sequence[str] = (),
    unreviewed: bool = False,
    after_event_id: int | None = None,
    event_ids: Sequence[int] | None = None,
) -> Digest:
    """The digest of events detected at or after ``since`` (ISO UTC; None: all) or, when
    ``after_event_id`` is given, of the events recorded after that one (exact where times are
    not: a crawl's events carry its fetch times, which can be older than a digest made while
    the crawl was still writing). Optionally only some sources (by id or tag), and only events
    nobody has reviewed; or exactly the events ``event_ids`` (an evidence package's, the
    workbench's lists)."""
    through_event_id = digests.last_event_id(db)
    sites = _sites(db, source_ids, tags)
    rows = digests.digest_events(db, through_event_id, after_event_id, since, unreviewed,
                                 list(sites) if source_ids or tags else None, event_ids)
    event_ids = [row["id"] for row in rows]
    flags = digests.hit_flags_by_event(db, event_ids)
    figures = digests.figures_by_event(db, event_ids)
    work = reviews.review_work(db, event_ids)
    requests = archive_queue.latest_request_states(db, [row["url"] for row in rows])
    events = [
        _event(db, row, sites.get(row["source_id"], row["source_id"]), flags.get(row["id"], []), figures.get(row["id"], []),
               work.get(row["id"], {}), requests.get(row["url"]))
        for row in rows
    ]
    return Digest(generated_at=generated_at, since=since, events=reading_order(events), through_event_id=through_event_id)


def reading_order(events: Sequence[DigestEvent]) -> tuple[DigestEvent, ...]:
    """Section by section; inside one, sources by their highest score, then each source's
    events by score, then time. History is read as it happened: each page's events in time order."""
    best = {}
    for event in events:
        key = (event.section, event.source_id)
        best[key] = max(best.get(key, 0), event.score)
    order = list(SECTIONS)

    def place(e: DigestEvent) -> tuple:
        if e.section == "history":
            return order.index(e.section), 0, e.source_id, e.url, e.detected_at, e.event_id
        return order.index(e.section), -best[e.section, e.source_id], e.source_id, -e.score, e.detected_at, e.event_id

    return tuple(sorted(events, key=place))


def _sites(db: Database, source_ids: Sequence[str], tags: Sequence[str]) -> dict[str, str]:
    """The chosen sources' ids (all when neither ids nor tags are given) and display names:
    their watchlist name, else the URL's host."""
    chosen = {}
    for row in reports.sources(db):
        if source_ids and row["id"] not in source_ids:
            continue
        if tags and not set(tags) & set(json.loads(row["tags"] or "[]")):
            continue
        chosen[row["id"]] = printable_line(row["name"] or urlsplit(row["url"]).hostname or row["id"], MAX_TITLE_CHARS)
    return chosen


def _event(db: Database, row: dict, site: str, flags: list[dict], figures: list[dict],
           work: dict, request: str | None) -> DigestEvent:
    detail = json.loads(row["detail"] or "{}")
    new_hits = _hits(flags, "new")
    scrubbed_hits = _hits(flags, "scrubbed")
    new_figures = tuple(
        StatedFigure(f["value"], printable_line(f["unit"], 20), printable_line(f["text"], 80), printable_line(f["term"], 80),
                     printable_line(f["sentence"], MAX_CONTEXT_CHARS), f["rate"], read_by_ocr=row["text_origin"] == "ocr")
        for f in figures[:MAX_FIGURES]
    )
    removed_figures = tuple(
        StatedFigure(f.get("value", 0), printable_line(f.get("unit"), 20), printable_line(f.get("text"), 80), printable_line(f.get("term"), 80), "")
        for f in detail.get("removed_figures", [])[:MAX_FIGURES]
    )
    return DigestEvent(
        event_id=row["id"],
        type=row["type"],
        section="history" if detail.get("historical") else _section(
            row["type"], bool(new_hits or scrubbed_hits or new_figures or removed_figures)),
        source_id=row["source_id"],
        site=site,
        url=printable_line(row["url"], 2048),
        title=printable_line(row["title"] or row["url"], MAX_TITLE_CHARS),
        detected_at=row["detected_at"],
        published=printable_line(row["published"], 40) or None,
        summary=_summary(row, detail),
        new_hits=new_hits,
        scrubbed_hits=scrubbed_hits,
        figures=new_figures,
        removed_figures=removed_figures,
        diff=_diff(detail.get("diff") or {}),
        archive=_archive(db, row, request),
        reviewed=bool(row["reviewed_at"]),
        silent_edit=bool(row["silent_edit"]),
        document=_document(row),
        listing=_listing(db, detail) if row["type"] == "delisted" else None,
        tags=tuple(printable_line(tag, reviews.MAX_TAG_CHARS) for tag in work.get("tags", ())),
        note=printable(work.get("note"), reviews.MAX_NOTE_CHARS) or None,
        history_capture=printable_line(detail.get("capture"), 2048) or None if detail.get("historical") else None,
    )


def _document(row: dict) -> Document | None:
    if row["parent_url"] is None or row["file_type"] is None:
        return None
    return Document(printable_line(row["parent_url"], 2048), printable_line(row["parent_title"], MAX_TITLE_CHARS), row["file_type"],
                    row["body_size"], row["body_sha256"], bool(row["no_text"]), row["text_origin"] == "ocr",
                    row["ocr_confidence"], row["ocr_skipped_pages"] or 0)


def _listing(db: Database, detail: dict) -> ListingEvidence | None:
    """The listing snapshots a `delisted` event names, with their evidence."""
    before_id, after_id = detail.get("listing_snapshot_before"), detail.get("listing_snapshot_after")
    if before_id is None:
        return None
    copies = {}
    for row in digests.listing_copies(db, [before_id, after_id]):
        pending = row["request_state"] if row["request_state"] not in (None, "done") else "not_archived"
        status = "archived" if row["wayback_url"] else pending
        archive = Archive(status, printable_line(row["wayback_url"], 2048) or None, row["wayback_timestamp"], row["warc_file"],
                          row["warc_offset"], row["warc_length"], row["body_sha256"])
        copies[row["id"]] = ListingCopy(row["id"], row["fetched_at"], archive)
    if before_id not in copies:
        return None
    return ListingEvidence(printable_line(detail.get("listing_url"), 2048), copies[before_id], copies.get(after_id))


def _section(event_type: str, has_evidence: bool) -> str:
    if event_type in ("removed", "delisted", "hidden", "moved"):
        return "removed"
    if has_evidence:
        return "evidence"
    return "new_pages" if event_type in ("new_page", "new_document") else "other"


def _hits(flags: list[dict], kind: str) -> tuple[FlaggedHit, ...]:
    """One FlaggedHit per term: a page's first snapshot flags every occurrence, and thirty contexts
    for 转移就业 would bury the one for 内生动力."""
    by_term: dict[tuple[str, str], FlaggedHit] = {}
    for flag in flags:
        if flag["kind"] != kind:
            continue
        key = (flag["set_name"], flag["term"])
        if key in by_term:
            by_term[key] = replace(by_term[key], count=by_term[key].count + 1)
        elif len(by_term) < MAX_HITS:
            by_term[key] = FlaggedHit(printable_line(flag["term"], 200), printable_line(flag["set_name"], 80), printable_line(flag["matched"], 200),
                               printable_line(flag["context"], MAX_CONTEXT_CHARS))
    return tuple(by_term.values())


def _diff(raw: dict) -> Diff:
    def sentences(key: str) -> tuple[str, ...]:
        return tuple(printable_line(s, MAX_SENTENCE_CHARS) for s in raw.get(key, [])[:MAX_SENTENCES])

    changed = tuple(
        SentenceChange(
            printable_line(c["old"], MAX_SENTENCE_CHARS),
            printable_line(c["new"], MAX_SENTENCE_CHARS),
            _bounded_ops(c.get("ops", [])),
        )
        for c in raw.get("changed", [])[:MAX_SENTENCES]
    )
    omitted = {key: len(raw.get(key, [])) - MAX_SENTENCES for key in ("added", "removed", "changed")}
    return Diff(sentences("added"), sentences("removed"), changed, {k: n for k, n in omitted.items() if n > 0})


def _bounded_ops(ops: list) -> list[CharOp]:
    """Character operations cut to MAX_SENTENCE_CHARS of text in all (old and new together)."""
    kept, budget = [], MAX_SENTENCE_CHARS
    for tag, old, new in ops:
        if budget <= 0:
            break
        old, new = printable_line(old, max(budget, 1)), printable_line(new, max(budget, 1))
        budget -= len(old) + len(new)
        kept.append(CharOp(tag, old, new))
    return kept


def _summary(row: dict, detail: dict) -> str:
    """The one line a collapsed event shows: what kind of change, in numbers or words."""
    if row["type"] == "changed":
        diff = detail.get("diff", {})
        text = (f"{len(diff.get('changed', []))} edited, {len(diff.get('added', []))} added,"
                f" {len(diff.get('removed', []))} removed sentence(s)")
        return text + ("; silent edit (publication date unchanged)" if row["silent_edit"] else "")
    reasons = {
        "removed": f"removed: {detail.get('reason', '')}",
        "fetch_error": f"fetch failed: {detail.get('error', '')}",
        "delisted": delisted_summary(detail, row["source_id"]),
        "restored": "answers with content again after it was removed",
        "hidden": hidden_summary(detail),
        "moved": moved_summary(detail),
        "new_page": "first seen",
        "new_document": "first seen",
    }
    return printable_line(reasons.get(row["type"], row["type"]), 300)


def moved_summary(detail: dict) -> str:
    """Where a `moved` page was before: the same text (or nearly) at another URL."""
    return (f"moved from {detail.get('moved_from', '?')} ({detail.get('moved_similarity', 0):.0%} the same text;"
            " only what differs is flagged)")


def hidden_summary(detail: dict) -> str:
    """What a `hidden` event means for a researcher: unlinked, but not gone."""
    return (f"hidden: listing {detail.get('listing_source', '?')} stopped linking it "
            f"({local_time(detail['delisted_at']) if detail.get('delisted_at') else 'earlier'}), "
            "but it still answers with content: delisted, not removed")


def delisted_summary(detail: dict, source_id: str) -> str:
    """Where a `delisted` page was linked from, and the copies of that listing that show it."""
    if "parent_url" in detail:
        return f"no longer linked from {detail['parent_url']}"
    if detail.get("listing_snapshot_before") is None:  # no copy of the listing was kept then
        return f"no longer linked from listing {detail.get('listing_source', source_id)}"
    before, after = detail["listing_snapshot_before"], detail.get("listing_snapshot_after")
    now = f"#{after} does not" if after is not None else "that list page was not read this time"
    return f"no longer linked from listing {detail['listing_url']}: snapshot #{before} listed it, {now}"


def _archive(db: Database, row: dict, request: str | None) -> Archive:
    """The event's own snapshot evidence. For a page that is gone or failing, the last capture
    of the page stands in when it was taken after its last version was fetched. A capture
    taken before the version was fetched shows an earlier version, and is named as such.
    `request`: the state of the URL's latest archive request (None: none was made)."""
    wayback_url, stamp, earlier = row["wayback_url"], row["wayback_timestamp"], None
    if wayback_url is None and row["origin"] == "wayback":  # backfilled: the capture it came from is its copy
        wayback_url, stamp = row["origin_ref"], archive_queue.wayback_time(row["fetched_at"])
    if wayback_url is None and row["type"] in ("removed", "delisted", "fetch_error"):
        last = archive_queue.last_wayback_capture(db, row["url"])
        if last is not None and last[0] and (
                row["fetched_at"] is None or last[1] >= archive_queue.wayback_time(row["fetched_at"])):
            wayback_url, stamp = last
    if wayback_url is None and row["fetched_at"] is not None:
        earlier = archive_queue.earlier_capture(db, row["url"], row["fetched_at"])
    request_state = "not_archived" if request in (None, "done") else request
    if wayback_url:
        status = "archived"
    elif earlier is not None:
        status = "earlier_version"
    else:
        status = request_state
    return Archive(
        status=status,
        wayback_url=printable_line(wayback_url, 2048) or None,
        wayback_timestamp=stamp,
        warc_file=row["warc_file"],
        warc_offset=row["warc_offset"],
        warc_length=row["warc_length"],
        sha256=row["body_sha256"],
        earlier_url=printable_line(earlier.wayback_url, 2048) if earlier else None,
        earlier_timestamp=earlier.wayback_timestamp if earlier else None,
        request_state=request_state,
    )


def local_time(timestamp: str) -> str:
    """A stored UTC timestamp as the reader's local time, to the minute."""
    return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M")
