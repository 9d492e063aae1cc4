"""Digests: what a researcher reads each morning. The events since a moment, most important
first (removed pages, new figures and hits, new pages, the rest), each with its hits, figures,
diff, archive links and a citation, as Markdown, HTML, JSON, Atom or an email.

`build_digest` makes the model (`model.py`), `render` turns it into text (`render.py`),
`deliver.py` sends it where it goes and records it for `--since last`.
"""

from crawler.report.deliver import LAST, make_digest, send_scheduled_digest, write_demo_digest
from crawler.report.mail import EmailError, send_digest
from crawler.report.model import Digest, DigestEvent, build_digest
from crawler.report.render import JSON_SCHEMA, render
from crawler.config.digest_settings import (
    FORMATS,
    DigestSettings,
    DigestSettingsError,
    EmailSettings,
    email_settings,
    parse_digest_section,
)

__all__ = [
    "FORMATS",
    "JSON_SCHEMA",
    "LAST",
    "Digest",
    "DigestEvent",
    "DigestSettings",
    "DigestSettingsError",
    "EmailError",
    "EmailSettings",
    "build_digest",
    "email_settings",
    "make_digest",
    "parse_digest_section",
    "render",
    "send_digest",
    "send_scheduled_digest",
    "write_demo_digest",
]
