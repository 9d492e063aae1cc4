"""Settings of digests: the watchlist's `digest:` section (scheduled digests) and the SMTP
settings `docwatch digest --email` uses.

The section is read and checked here, on its own, so `docwatch digest --email` and the daemon
get the same settings the watchlist validator reports problems about. SMTP settings may also
come from the environment (`DOCWATCH_SMTP_*`), which wins over the file, like every other
setting; the password comes only from `DOCWATCH_SMTP_PASSWORD`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from crawler.config.schedule import cron_trigger
from crawler.config.settings import env_of

FORMATS = ("md", "html", "json", "atom")
DEFAULT_SMTP_PORT = 587
_DIGEST_KEYS = ("when", "format", "output_dir", "unreviewed", "email")
_EMAIL_KEYS = ("host", "port", "user", "from", "to", "starttls")
_EMAIL_ENV = {key: env_of(f"smtp_{key}") for key in _EMAIL_KEYS}


@dataclass(frozen=True)
class EmailSettings:
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = DEFAULT_SMTP_PORT
    user: str | None = None
    starttls: bool = True


@dataclass(frozen=True)
class DigestSettings:
    """A scheduled digest: when (crontab, local time), in which format, written to a new file
    in ``output_dir`` and/or emailed."""

    when: str
    format: str = "html"
    output_dir: Path | None = None
    email: EmailSettings | None = None
    unreviewed: bool = False


@dataclass(frozen=True)
class SettingsProblem:
    key: str  # e.g. "when", "email.to"
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"digest.{self.key}: {self.message}" + (f" — {self.hint}" if self.hint else "")


class DigestSettingsError(ValueError):
    """The digest settings cannot be used; ``problems`` lists everything wrong with them."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def parse_digest_section(section: Any) -> DigestSettings:
    """The watchlist's `digest:` mapping as settings; raises DigestSettingsError listing every problem."""
    problems: list[SettingsProblem] = []
    if not isinstance(section, Mapping):
        raise DigestSettingsError([SettingsProblem("", f"expected a mapping, got {type(section).__name__}",
                                                   "e.g. when: '0 7 * * *', format: html, output_dir: digests")])
    _unknown_keys(section, _DIGEST_KEYS, "", problems)
    when = section.get("when")
    if when is None:
        problems.append(SettingsProblem("when", "missing: when to make the digest", "a crontab line, e.g. '0 7 * * *'"))
    else:
        try:
            cron_trigger(str(when))
        except ValueError as error:
            problems.append(SettingsProblem("when", f"{when!r} is not a valid crontab expression: {error}",
                                            "five fields: minute hour day-of-month month day-of-week, e.g. '0 7 * * mon-fri'"))
    digest_format = section.get("format", "html")
    if digest_format not in FORMATS:
        problems.append(SettingsProblem("format", f"{digest_format!r} is not one of {', '.join(FORMATS)}"))
    output_dir = section.get("output_dir")
    if output_dir is not None and (not isinstance(output_dir, str) or not output_dir.strip()):
        problems.append(SettingsProblem("output_dir", "expected a folder path as text"))
    unreviewed = section.get("unreviewed", False)
    if not isinstance(unreviewed, bool):
        problems.append(SettingsProblem("unreviewed", f"expected true or false, got {unreviewed!r}"))
    email = None
    if section.get("email") is not None:
        email = _email_section(section["email"], problems)
    if output_dir is None and section.get("email") is None:
        problems.append(SettingsProblem("", "says neither where to write the digest nor whom to send it",
                                        "add 'output_dir: FOLDER' and/or an 'email:' mapping"))
    if problems:
        raise DigestSettingsError(problems)
    return DigestSettings(
        when=str(when), format=digest_format, output_dir=Path(output_dir).expanduser() if output_dir else None,
        email=email, unreviewed=unreviewed,
    )


def email_settings(file_settings: EmailSettings | None, environ: Mapping[str, str] = os.environ) -> EmailSettings:
    """SMTP settings for `docwatch digest --email`: `DOCWATCH_SMTP_*` variables over the
    watchlist's `digest.email`. Raises DigestSettingsError when host, sender or recipients are missing."""
    given = {key: environ[name] for key, name in _EMAIL_ENV.items() if environ.get(name)}
    problems: list[SettingsProblem] = []
    if not given:
        if file_settings is not None:
            return file_settings
        raise DigestSettingsError([SettingsProblem(
            "email", "no SMTP settings",
            "add an 'email:' mapping (host, port, user, from, to, starttls) under 'digest:' in the watchlist,"
            " or set DOCWATCH_SMTP_HOST, DOCWATCH_SMTP_FROM and DOCWATCH_SMTP_TO")])
    if "to" in given:
        given["to"] = [address.strip() for address in given["to"].split(",") if address.strip()]
    if "starttls" in given:
        given["starttls"] = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(
            given["starttls"].strip().lower(), given["starttls"])
    if "port" in given:
        given["port"] = int(given["port"]) if given["port"].strip().isdigit() else given["port"]
    if file_settings is not None:
        base = {"host": file_settings.host, "port": file_settings.port, "user": file_settings.user,
                "from": file_settings.sender, "to": list(file_settings.recipients), "starttls": file_settings.starttls}
        given = {**base, **given}
    settings = _email_section(given, problems)
    if problems:
        raise DigestSettingsError(problems)
    return settings


def _email_section(section: Any, problems: list[SettingsProblem]) -> EmailSettings | None:
    from email.utils import parseaddr  # the email package: only for a watchlist that sends digests

    if not isinstance(section, Mapping):
        problems.append(SettingsProblem("email", "expected a mapping with host, port, user, from, to, starttls"))
        return None
    found_before = len(problems)
    _unknown_keys(section, _EMAIL_KEYS, "email.", problems)
    for key, what in (("host", "the SMTP server's name"), ("from", "the sender address")):
        if not isinstance(section.get(key), str) or not section[key].strip():
            problems.append(SettingsProblem(f"email.{key}", f"missing: {what}"))
    if section.get("from") and "@" not in parseaddr(str(section["from"]))[1]:
        problems.append(SettingsProblem("email.from", f"{section['from']!r} is not an email address"))
    recipients = section.get("to")
    if isinstance(recipients, str):
        problems.append(SettingsProblem("email.to", "expected a list of addresses", f"write it as a list: [{recipients}]"))
    elif not isinstance(recipients, list) or not recipients:
        problems.append(SettingsProblem("email.to", "missing: at least one recipient address"))
    else:
        for address in recipients:
            if not isinstance(address, str) or "@" not in parseaddr(address)[1]:
                problems.append(SettingsProblem("email.to", f"{address!r} is not an email address"))
    port = section.get("port", DEFAULT_SMTP_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append(SettingsProblem("email.port", f"expected a port number (1-65535), got {port!r}",
                                        "587 for STARTTLS submission, 25 for a local relay"))
    starttls = section.get("starttls", True)
    if not isinstance(starttls, bool):
        problems.append(SettingsProblem("email.starttls", f"expected true or false, got {starttls!r}"))
    user = section.get("user")
    if user is not None and not isinstance(user, str):
        problems.append(SettingsProblem("email.user", f"expected the login name as text, got {user!r}"))
    if len(problems) > found_before:
        return None
    return EmailSettings(host=section["host"].strip(), sender=section["from"].strip(),
                         recipients=tuple(a.strip() for a in recipients), port=port, user=user, starttls=starttls)


def _unknown_keys(section: Mapping, known: tuple[str, ...], prefix: str, problems: list[SettingsProblem]) -> None:
    for key in section:
        if key not in known:
            problems.append(SettingsProblem(f"{prefix}{key}", f"unknown key '{key}'", f"known keys: {', '.join(known)}"))

