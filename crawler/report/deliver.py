"""Making a digest and delivering it: to a file, by email, on the daemon's schedule, for the demo.

Each delivered digest is recorded with its destination, and `since = "last"` means "the events
recorded after the previous digest to this same destination was made", so a digest printed to
look at something never swallows events the scheduled email has not sent yet. With no previous
digest, `last` covers every event.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from crawler.config.settings import Config
from crawler.files import write_whole
from crawler.report.model import Digest, build_digest
from crawler.report.render import render
from crawler.config.digest_settings import DigestSettings, EmailSettings, email_settings
from storage import digests, open_database, utcnow
from storage.connection import Database

LAST = "last"
STDOUT = "stdout"


def file_destination(path: Path) -> str:
    return f"file:{Path(path).resolve()}"


def folder_destination(path: Path) -> str:
    return f"dir:{Path(path).resolve()}"


def email_destination(settings: EmailSettings) -> str:
    return "email:" + ",".join(sorted(settings.recipients))


def make_digest(
    db: Database, since: str | None, destination: str,
    source_ids: tuple[str, ...] = (), tags: tuple[str, ...] = (), unreviewed: bool = False,
) -> Digest:
    """The digest for ``destination``; ``since`` is an ISO UTC time, None (everything) or LAST."""
    generated_at = utcnow()
    if since != LAST:
        return build_digest(db, since, generated_at, source_ids, tags, unreviewed)
    previous = digests.previous_digest(db, destination)
    if previous is None:
        return build_digest(db, None, generated_at, source_ids, tags, unreviewed)
    previous_at, previous_through = previous
    return build_digest(db, previous_at, generated_at, source_ids, tags, unreviewed, after_event_id=previous_through)


def record(db: Database, digest: Digest, digest_format: str, destination: str) -> None:
    """Call once the digest has reached its destination."""
    digests.record_digest(db, digest.generated_at, digest.since, digest_format, destination, len(digest.events),
                          digest.through_event_id)


def write_file(path: Path, text: str) -> None:
    """Written whole or not at all: a reader never sees half a digest."""
    write_whole(path, text.encode("utf-8"))


def new_digest_path(folder: Path, generated_at: str, digest_format: str) -> Path:
    """docwatch-digest-YYYYMMDDThhmmssZ.<format>, with -2, -3, … when digests of the same second
    are already there: a digest file is never written over by the next one."""
    stamp = datetime.fromisoformat(generated_at).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"docwatch-digest-{stamp}.{digest_format}"
    copy = 1
    while path.exists():
        copy += 1
        path = folder / f"docwatch-digest-{stamp}-{copy}.{digest_format}"
    return path


def send_scheduled_digest(config: Config, settings: DigestSettings) -> str:
    """The daemon's digest: since the previous scheduled one, written to a new file in
    ``settings.output_dir`` and/or emailed. Returns what was done, for the daemon's log.
    Raises EmailError, DigestSettingsError or OSError when delivery fails (nothing is recorded
    then, so the next run covers these events again)."""
    db = open_database(config.db_path)
    done = []
    try:
        if settings.output_dir is not None:
            settings.output_dir.mkdir(parents=True, exist_ok=True)
            destination = folder_destination(settings.output_dir)
            digest = make_digest(db, LAST, destination, unreviewed=settings.unreviewed)
            path = new_digest_path(settings.output_dir, digest.generated_at, settings.format)
            write_file(path, render(digest, settings.format, path.resolve().as_uri()))
            record(db, digest, settings.format, destination)
            done.append(f"wrote {path} ({digest.headline})")
        if settings.email is not None:
            from crawler.report.mail import send_digest  # the email package: only to send one

            smtp = email_settings(settings.email)
            destination = email_destination(smtp)
            digest = make_digest(db, LAST, destination, unreviewed=settings.unreviewed)
            send_digest(digest, smtp)
            record(db, digest, "email", destination)
            done.append(f"emailed {', '.join(smtp.recipients)} ({digest.headline})")
    finally:
        db.close()
    return "; ".join(done)


def write_demo_digest(db_path: Path, out_dir: Path) -> Path:
    """An HTML digest of everything the demo found, as ``out_dir/digest.html``."""
    db = open_database(db_path)
    try:
        path = Path(out_dir) / "digest.html"
        digest = make_digest(db, None, file_destination(path))
        write_file(path, render(digest, "html"))
        record(db, digest, "html", file_destination(path))
    finally:
        db.close()
    return path
