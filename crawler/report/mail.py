"""Sending a digest by email: one multipart message, Markdown text with the HTML digest as the
alternative, over SMTP (STARTTLS unless switched off). The password is read from the
environment only, at the moment it is needed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from crawler.report.model import Digest
from crawler.report.render import render_html, render_markdown
from crawler.config.digest_settings import EmailSettings
from crawler.config.settings import SMTP_PASSWORD_ENV

SMTP_TIMEOUT_SECONDS = 60


class EmailError(RuntimeError):
    """The digest could not be sent; the message says what the server or the settings lacked."""


def digest_message(digest: Digest, settings: EmailSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = _subject(digest)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    message.set_content(render_markdown(digest))
    message.add_alternative(render_html(digest), subtype="html")
    return message


def _subject(digest: Digest) -> str:
    """Short enough not to be folded (Python folds a long one badly): the count and the two
    sections that matter most."""
    if not digest.events:
        return "docwatch digest: no changes"
    counts = digest.counts
    return (f"docwatch digest: {len(digest.events)} event(s), {counts['removed']} removed,"
            f" {counts['evidence']} with new figures/hits")


def send_digest(digest: Digest, settings: EmailSettings, environ: Mapping[str, str] = os.environ) -> None:
    """Send ``digest`` to the configured recipients; raises EmailError on any failure."""
    import smtplib  # with ssl: only when a digest is sent, not for every command that can send one
    import ssl

    password = environ.get(SMTP_PASSWORD_ENV)
    if settings.user and not password:
        raise EmailError(f"SMTP user {settings.user} is set but {SMTP_PASSWORD_ENV} is not: set it in the environment")
    message = digest_message(digest, settings)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, password)
            refused = smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise EmailError(f"could not send the digest through {settings.host}:{settings.port}: {error}") from error
    if refused:
        raise EmailError(f"the server refused some recipients: {', '.join(refused)}")
