"""The workbench's pages: the triage queue, an event, a page's history, a stored version, search,
exports, and the forms that record review work."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.archive.warc import WarcRecordRef, record_bytes
from crawler.compare.diff import diff_texts
from crawler.report.model import SECTIONS, build_digest, local_time
from crawler.report.render import render
from crawler.report.search import VERSIONS_READ, BadQuery, search as search_pages
from crawler.safe_text import printable, printable_line
from crawler.workbench.safety import CSRF_FIELD, ORIGINAL_PAGE_POLICY, Guard, checked_form
from storage import page_history, queries, reports, reviews, utcnow
from storage.database import open_database, open_read_only

PAGE_SIZE = 50
MAX_PAGE_NUMBER = 10**7  # of the queue: far past any real list, short of an overflowing offset
MAX_TITLE_CHARS = 300
MAX_SENTENCE_CHARS = 2000
REVIEWED_CHOICES = {"no": False, "yes": True, "all": None}
FILTER_KEYS = ("source", "source_tag", "tag", "type", "set", "term", "since", "until", "reviewed")
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8",
                "md": "text/markdown; charset=utf-8"}
# A spreadsheet runs a cell that starts with one of these as a formula: page text never may.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_TEMPLATES = jinja2.Environment(
    loader=jinja2.ChoiceLoader([jinja2.PackageLoader("crawler.workbench", "templates"),
                                jinja2.PackageLoader("crawler.report", "templates")]),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)
_TEMPLATES.filters.update(local_time=local_time, clip=lambda text, limit=MAX_SENTENCE_CHARS: printable_line(text, limit))


class Workbench:
    """The app's state: where the database and the WARC files are."""

    def __init__(self, db_path: Path, warc_dir: Path) -> None:
        self.db_path, self.warc_dir = db_path, warc_dir

    def read(self):
        return open_read_only(self.db_path)

    def page(self, request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
        html = _TEMPLATES.get_template(template).render(csrf=request.state.csrf, csrf_field=CSRF_FIELD,
                                                         path=request.url.path, **context)
        return HTMLResponse(html, status_code=status_code)

    # -- the triage queue ---------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        chosen, query = event_filter(request)
        page_number = whole_number(request.query_params.get("page", "1"), "page", MAX_PAGE_NUMBER)
        db = self.read()
        try:
            rows = reviews.queue(db, chosen, (page_number - 1) * PAGE_SIZE, PAGE_SIZE)
            total = reviews.count(db, chosen)
            options = reviews.choices(db)
        finally:
            db.close()
        for row in rows:
            row["title"] = printable_line(row["title"], MAX_TITLE_CHARS)
            row["url"] = printable_line(row["url"], 2048)
            row["tags"] = [printable_line(tag, reviews.MAX_TAG_CHARS) for tag in row["tags"]]
        return self.page(request, "queue.html.j2", rows=rows, total=total, page_number=page_number,
                         pages=max(1, -(-total // PAGE_SIZE)), query=query, options=options, params=request.query_params,
                         sections=SECTIONS, filtered=urlencode(query))

    async def review(self, request: Request) -> Response:
        """Mark one event, or every event the posted filter shows, reviewed or not."""
        form = await checked_form(request)
        action = form.get("action")
        if action not in ("reviewed", "unreviewed"):
            raise HTTPException(400, "action must be reviewed or unreviewed")
        db = open_database(self.db_path, create=False)
        try:
            if form.get("event_id"):
                ids = [whole_number(str(form["event_id"]), "event_id")]
            else:
                ids = reviews.event_ids(db, filter_from(form))
            reviews.set_reviewed(db, ids, action == "reviewed", utcnow())
        finally:
            db.close()
        return RedirectResponse(safe_next(form.get("next")), status_code=303)

    async def export(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in EXPORT_TYPES:
            raise HTTPException(404, f"no export .{kind}: csv, json or md")
        chosen, _ = event_filter(request)
        db = self.read()
        try:
            ids = reviews.event_ids(db, chosen)
            digest = build_digest(db, None, utcnow(), event_ids=ids) if ids else None
        finally:
            db.close()
        if digest is None:
            text = "" if kind != "json" else '{"schema": "docwatch-digest/1", "events": []}\n'
        elif kind == "csv":
            text = events_csv(digest.events)
        else:
            text = render(digest, kind)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        return Response(text, media_type=EXPORT_TYPES[kind],
                        headers={"Content-Disposition": f'attachment; filename="docwatch-events-{stamp}.{kind}"'})

    # -- one event ------------------------------------------------------------------------------

    async def event(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        chosen, query = event_filter(request)
        db = self.read()
        try:
            events = build_digest(db, None, utcnow(), event_ids=[event_id]).events
            if not events:
                raise HTTPException(404, f"no event {event_id}")
            event = events[0]
            page = page_history.page(db, event.url)
            versions = page_history.event_versions(db, event_id)
            documents = page_history.documents(db, page["id"]) if page else []
            previous, following = reviews.neighbours(db, chosen, event_id)
        finally:
            db.close()
        return self.page(request, "event.html.j2", event=event, page=page, versions=versions,
                         documents=documents, previous=previous, following=following, filtered=urlencode(query))

    async def review_work(self, request: Request) -> Response:
        """An event's tags (space- or comma-separated) and note."""
        form = await checked_form(request)
        event_id = request.path_params["event_id"]
        tags = sorted({printable_line(tag, reviews.MAX_TAG_CHARS) for tag in
                       str(form.get("tags", "")).replace(",", " ").split()})[: reviews.MAX_TAGS]
        note = printable(str(form.get("note", "")).strip().replace("\r\n", "\n"), reviews.MAX_NOTE_CHARS)
        db = open_database(self.db_path, create=False)
        try:
            reviews.set_tags_and_note(db, event_id, tags, note, utcnow())
        except KeyError:
            raise HTTPException(404, f"no event {event_id}") from None
        finally:
            db.close()
        return RedirectResponse(safe_next(form.get("next")) if form.get("next") else f"/events/{event_id}", status_code=303)

    # -- pages and their versions ----------------------------------------------------------------

    async def page_history(self, request: Request) -> Response:
        url = request.query_params.get("url", "")
        db = self.read()
        try:
            page = page_history.page(db, url)
            if page is None:
                raise HTTPException(404, "no page with that URL in the database")
            snapshots = page_history.snapshots(db, page["id"])
            documents = page_history.documents(db, page["id"])
            compared = None
            if "from" in request.query_params and "to" in request.query_params:
                compared = self.compare(db, page["id"], request.query_params["from"], request.query_params["to"])
        finally:
            db.close()
        for snapshot in snapshots:
            snapshot["title"] = printable_line(snapshot["title"], MAX_TITLE_CHARS)
        page = {**page, "title": printable_line(page["title"], MAX_TITLE_CHARS), "url": printable_line(page["url"], 2048)}
        return self.page(request, "page.html.j2", page=page, snapshots=snapshots, documents=documents,
                         compared=compared, raw_url=url)

    def compare(self, db, page_id: int, from_value: str, to_value: str) -> dict:
        versions = []
        for value, name in ((from_value, "from"), (to_value, "to")):
            snapshot = page_history.snapshot(db, whole_number(value, name))
            if snapshot is None or snapshot["page_id"] != page_id:
                raise HTTPException(400, f"{name}: not a snapshot of this page")
            versions.append(snapshot)
        old, new = versions
        return {"old": old, "new": new, "diff": diff_texts(old["original_text"], new["original_text"])}

    async def snapshot_text(self, request: Request) -> Response:
        snapshot = self.snapshot_or_404(request.path_params["snapshot_id"])
        return self.page(request, "snapshot.html.j2", snapshot=snapshot,
                         text=printable(snapshot["original_text"]), title=printable_line(snapshot["title"], MAX_TITLE_CHARS))

    async def original_frame(self, request: Request) -> Response:
        """The page that holds the stored HTML in a sandboxed frame."""
        snapshot = self.snapshot_or_404(request.path_params["snapshot_id"])
        return self.page(request, "original.html.j2", snapshot=snapshot,
                         title=printable_line(snapshot["title"], MAX_TITLE_CHARS))

    async def original_html(self, request: Request) -> Response:
        """The stored body as fetched, under a policy that runs nothing and fetches nothing."""
        snapshot_id = request.path_params["snapshot_id"]
        snapshot = self.snapshot_or_404(snapshot_id)
        db = self.read()
        try:
            body = queries.snapshot_body(db, snapshot_id)
        finally:
            db.close()
        charset = snapshot["encoding"] or "utf-8"
        return Response(body, media_type=f"text/html; charset={charset}",
                        headers={"Content-Security-Policy": ORIGINAL_PAGE_POLICY, "X-Frame-Options": "SAMEORIGIN"})

    async def warc_record(self, request: Request) -> Response:
        """The snapshot's WARC response record, as stored (one gzip member: a valid .warc.gz)."""
        snapshot = self.snapshot_or_404(request.path_params["snapshot_id"])
        if not snapshot["warc_file"]:
            raise HTTPException(404, "this snapshot has no WARC record")
        ref = WarcRecordRef(snapshot["warc_file"], snapshot["warc_offset"], snapshot["warc_length"], snapshot["body_sha256"])
        try:
            data = record_bytes(self.warc_dir, ref)
        except (OSError, ValueError) as error:
            raise HTTPException(404, f"the WARC record cannot be read: {printable_line(str(error), 300)}") from None
        return Response(data, media_type="application/warc", headers={
            "Content-Disposition": f'attachment; filename="docwatch-snapshot-{snapshot["id"]}.warc.gz"'})

    def snapshot_or_404(self, snapshot_id: int) -> dict:
        db = self.read()
        try:
            snapshot = page_history.snapshot(db, snapshot_id)
        finally:
            db.close()
        if snapshot is None:
            raise HTTPException(404, f"no snapshot {snapshot_id}")
        return snapshot

    # -- search -----------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        source = request.query_params.get("source") or None
        since = parse_day(request.query_params.get("since"), "since")
        found, problem = None, None
        db = open_database(self.db_path, create=False)  # writable: the index takes in new snapshots first
        try:
            options = {"sources": reports.known_source_ids(db)}  # the search form's one choice
            if query.strip():
                found = search_pages(db, query, (source,) if source else (), since)
        except BadQuery as error:
            problem = str(error)
        finally:
            db.close()
        return self.page(request, "search.html.j2", query=query, source=source, since=request.query_params.get("since", ""),
                         found=found, problem=problem, options=options, versions_read=VERSIONS_READ)

    async def unexpected(self, request: Request, exc: Exception) -> Response:
        """A fault of ours: the reader gets a plain page; the server logs the traceback."""
        return HTMLResponse("<!doctype html><title>500</title><h1>500</h1><p>docwatch could not answer this: an"
                            " unexpected error. The details are in the log of <code>docwatch serve</code>"
                            " (DATA_DIR/logs/workbench.log).</p>", status_code=500)

    async def error(self, request: Request, exc: HTTPException) -> Response:
        return self.page(request, "error.html.j2", status_code=exc.status_code, status=exc.status_code,
                         message=printable_line(str(exc.detail), 500))


def whole_number(value: str, name: str, maximum: int = 2**63 - 1) -> int:
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name}: give a whole number") from None
    if not 1 <= number <= maximum:
        raise HTTPException(400, f"{name}: give a whole number from 1 to {maximum}")
    return number


def parse_day(value: str | None, name: str, next_day: bool = False) -> str | None:
    """A YYYY-MM-DD from a filter as a bound on stored UTC times (the day's start, or the next
    day's for an inclusive end)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: give a date as YYYY-MM-DD") from None
    moment = datetime.combine(day + timedelta(days=1 if next_day else 0), time(), timezone.utc)
    return utcnow(moment).replace(".000+", "+")


def filter_from(params) -> reviews.EventFilter:
    """The queue's filter from query parameters (or a bulk form's hidden fields)."""
    reviewed = params.get("reviewed") or "no"
    if reviewed not in REVIEWED_CHOICES:
        raise HTTPException(400, "reviewed: no, yes or all")
    return reviews.EventFilter(
        sources=tuple(v for v in params.getlist("source") if v), source_tag=params.get("source_tag") or None,
        tag=params.get("tag") or None, types=tuple(v for v in params.getlist("type") if v),
        keyword_set=params.get("set") or None, term=(params.get("term") or "").strip() or None,
        since=parse_day(params.get("since"), "since"), until=parse_day(params.get("until"), "until", next_day=True),
        reviewed=REVIEWED_CHOICES[reviewed],
    )


def event_filter(request: Request) -> tuple[reviews.EventFilter, list[tuple[str, str]]]:
    """The filter and the query parameters that make it (to carry into links and forms)."""
    params = request.query_params
    return filter_from(params), [(k, v) for k, v in params.multi_items() if k in FILTER_KEYS and v]


def safe_next(value) -> str:
    """Where to go after a form: a path on this site only."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def events_csv(events) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["event_id", "section", "type", "source", "site", "title", "url", "detected_at", "published",
                     "score", "silent_edit", "new_terms", "scrubbed_terms", "figures", "removed_figures",
                     "archive_status", "wayback_url", "sha256", "citation", "reviewed", "tags", "note"])
    for e in events:
        writer.writerow([cell(value) for value in (
            e.event_id, e.section, e.type, e.source_id, e.site, e.title, e.url, e.detected_at, e.published or "",
            e.score, e.silent_edit, " ".join(h.term for h in e.new_hits), " ".join(h.term for h in e.scrubbed_hits),
            " ".join(f.text for f in e.figures), " ".join(f.text for f in e.removed_figures), e.archive.status,
            e.archive.wayback_url or "", e.archive.sha256 or "", e.citation, e.reviewed, " ".join(e.tags), e.note or "")])
    return out.getvalue()


def cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def make_app(db_path: Path, warc_dir: Path, token: str | None = None, allowed_hosts: list[str] | None = None) -> Starlette:
    bench = Workbench(Path(db_path), Path(warc_dir))
    routes = [
        Route("/", bench.queue),
        Route("/review", bench.review, methods=["POST"]),
        Route("/export.{kind}", bench.export),
        Route("/events/{event_id:int}", bench.event),
        Route("/events/{event_id:int}/work", bench.review_work, methods=["POST"]),
        Route("/pages", bench.page_history),
        Route("/snapshots/{snapshot_id:int}", bench.snapshot_text),
        Route("/snapshots/{snapshot_id:int}/original", bench.original_frame),
        Route("/snapshots/{snapshot_id:int}/html", bench.original_html),
        Route("/snapshots/{snapshot_id:int}/warc", bench.warc_record),
        Route("/search", bench.search),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(packages=[("crawler.workbench", "static")]), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["127.0.0.1", "localhost"]),
                  Middleware(Guard, token=token)]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: bench.error, Exception: bench.unexpected})
