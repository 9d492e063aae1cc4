"""The watchlist: which pages to watch, how often, and which keywords to look for.

The file is written by hand, so validation reports every problem at once, each at the line of
the offending key and with a hint, rather than stopping at the first. Fields are described in
tables (field name -> check, default) instead of a cascade of ifs.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import functools
import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.compare.keywords import KeywordSet
from crawler.config.settings import MAX_COUNT_SETTING, SETTINGS
from crawler.config import watchlist_cache
from crawler.config.digest_settings import DigestSettings, DigestSettingsError, EmailSettings, parse_digest_section
from crawler.config.durations import duration_seconds, format_duration
from crawler.config.schedule import cron_trigger
from crawler.extract.ocr_languages import DEFAULT_OCR_LANGUAGES, OCR_LANGUAGES

if TYPE_CHECKING:
    import yaml

SOURCE_TYPES = ("page", "listing")
ADHOC_SOURCE_ID = "adhoc"
MIN_INTERVAL_SECONDS = 2  # short enough for tests of the daemon; real sources use minutes or hours
MAX_INTERVAL_SECONDS = 365 * 86400  # a year: longer is a typo, and overflows the scheduler's clock
# Watchlist regexes run on every page: bounded so a typo cannot make one huge, deep or slow to build.
MAX_REGEX_CHARS = 1000
MAX_REGEX_NESTING = 20  # groups inside groups
MAX_REGEX_REPEAT = 1000  # the n and m of {n}, {n,m}
MAX_YAML_NESTING = 50  # mappings and lists inside each other; the real watchlist needs 5
DEFAULT_INTERVAL_SECONDS = 6 * 3600
_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
_REGEX_PREFIX = "re:"


# ---------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True)
class Source:
    id: str
    url: str
    type: str
    name: str | None
    tags: tuple[str, ...]
    interval: int | None
    cron: str | None
    keyword_sets: tuple[str, ...]
    selector: str | None
    ignore_css: tuple[str, ...]
    ignore_regex: tuple[str, ...]
    follow: str | None
    pages: int
    max_items: int
    encoding: str | None
    proxy: str | None
    obey_robots: bool
    removal_confirmations: int
    ocr_languages: tuple[str, ...] = DEFAULT_OCR_LANGUAGES  # Tesseract languages for scans and images

    @property
    def schedule_description(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}'"
        return f"every {format_duration(self.interval or DEFAULT_INTERVAL_SECONDS)}"

    def due_at(self, last_started: datetime | None) -> datetime | None:
        """When the source is next due by its schedule alone, without jitter: one interval after
        its last run, or the first cron time after it. None: it never ran, so it is due now."""
        if last_started is None:
            return None
        if self.cron is not None:
            return cron_trigger(self.cron).get_next_fire_time(None, last_started)
        return last_started + timedelta(seconds=self.interval or DEFAULT_INTERVAL_SECONDS)


@dataclass(frozen=True)
class Settings:
    user_agent: str | None = None
    data_dir: str | None = None
    download_timeout: int | None = None
    max_page_bytes: int | None = None
    timestamp_authorities: tuple[str, ...] | None = None


def keyword_sets_of(source: Source, keyword_sets: Mapping[str, KeywordSet]) -> tuple[KeywordSet, ...]:
    """The keyword sets a source is matched against, in the order it names them."""
    return tuple(keyword_sets[name] for name in source.keyword_sets if name in keyword_sets)


class UnknownSourceError(KeyError):
    """KeyError whose message prints without KeyError's quoting."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Watchlist:
    path: str
    sources: tuple[Source, ...]
    keyword_sets: dict[str, KeywordSet]
    settings: Settings
    digest: DigestSettings | None = None  # scheduled digests (see crawler.report)

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = [source.id for source in self.sources]
        close = difflib.get_close_matches(source_id, known, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise UnknownSourceError(
            f"no source '{source_id}' in {self.path}; {suggestion}known sources: {', '.join(known)}"
        )

    def adhoc_source(self, url: str) -> Source:
        """`docwatch crawl --url` for a URL no source names: a page with built-in defaults
        and every keyword set, recorded under the source id `adhoc`."""
        return Source(
            id=ADHOC_SOURCE_ID, url=url, type="page", name="ad-hoc URL", tags=(), interval=None, cron=None,
            keyword_sets=tuple(self.keyword_sets), selector=None, ignore_css=(), ignore_regex=(), follow=None,
            pages=1, max_items=1, encoding=None, proxy=None, obey_robots=True, removal_confirmations=2,
        )


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    source_id: str | None
    line: int | None
    field: str
    message: str
    hint: str = ""

    def render(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        scope = f"source '{self.source_id}': " if self.source_id else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}: {scope}{self.message}{hint}"


class WatchlistError(Exception):
    """The watchlist cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, path: str | Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(problem.render(self.path) for problem in problems))


# ---------------------------------------------------------------------------------------------
# Durations


def parse_interval(text: str) -> int:
    """A source's `interval:` in seconds ('1h30m' -> 5400), from MIN_INTERVAL_SECONDS to a year."""
    seconds = duration_seconds(text)
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"'{text}' is shorter than the minimum of {MIN_INTERVAL_SECONDS}s")
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValueError(f"'{text}' is longer than the maximum of a year (365d)")
    return seconds


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _LocatedDict(dict):
    """A YAML mapping that remembers its own line and the line of each key."""

    line: int | None
    key_lines: dict[Any, int]

    @classmethod
    def empty(cls, line: int | None) -> _LocatedDict:
        """Stands in for an absent or unusable section, so later checks need no special case."""
        mapping = cls()
        mapping.line = line
        mapping.key_lines = {}
        return mapping


class _LocatedList(list):
    """A YAML sequence that remembers its own line and the line of each item."""

    line: int
    item_lines: list[int]


class _Located:
    """Keeps line numbers and notes repeated keys (YAML silently keeps the last), whichever
    parser (see _yaml_loaders) produces the events."""

    repeated_keys: list[tuple[str, int, int]]
    depth: int

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Composing (and later constructing) recurses once per level: refuse absurd nesting
        with a located error before Python's recursion limit does it with a traceback."""
        self.depth += 1
        try:
            if self.depth > MAX_YAML_NESTING:
                raise _yaml_loaders().nested_too_deep(
                    None, None, f"values nested more than {MAX_YAML_NESTING} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_located_mapping(self, node: yaml.MappingNode) -> _LocatedDict:
        own_keys = {id(key_node) for key_node, _ in node.value}
        self.flatten_mapping(node)  # resolves '<<: *anchor' merges; merged keys may be overridden
        mapping = _LocatedDict.empty(node.start_mark.line + 1)
        written_by_own_key: dict[Any, bool] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                key = str(key)
            line = key_node.start_mark.line + 1
            if written_by_own_key.get(key):
                self.repeated_keys.append((str(key), mapping.key_lines[key], line))
            written_by_own_key[key] = id(key_node) in own_keys
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = line
        return mapping

    def construct_located_sequence(self, node: yaml.SequenceNode) -> _LocatedList:
        sequence = _LocatedList(self.construct_object(child, deep=True) for child in node.value)
        sequence.line = node.start_mark.line + 1
        sequence.item_lines = [child.start_mark.line + 1 for child in node.value]
        return sequence


@dataclass(frozen=True)
class _YamlLoaders:
    line: type  # PyYAML's own Python parser: its messages name each syntax problem as the manual shows them
    fast: type | None  # libyaml's, when PyYAML was built with it
    nested_too_deep: type  # the error for values nested deeper than MAX_YAML_NESTING


@functools.cache
def _yaml_loaders() -> _YamlLoaders:
    """PyYAML and the loaders made of it, on first use: a command whose watchlist comes from its
    cache entry parses no YAML, and importing PyYAML cost 10-20 ms of its start-up."""
    import yaml

    class NestedTooDeep(yaml.composer.ComposerError):
        hint = "a watchlist needs only a few levels: sources, a source, its lists"

    class LineLoader(_Located, yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.repeated_keys = []
            self.depth = 0

    try:
        from yaml.cyaml import CParser
    except ImportError:  # PyYAML built without libyaml: LineLoader reads every watchlist
        CParser = None
    FastLineLoader = None
    if CParser is not None:
        class FastLineLoader(_Located, yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor,
                             yaml.resolver.Resolver):
            """libyaml's scanner and parser, composed and constructed as above: several times faster
            (PyYAML's Python parser took over 100 ms for a watchlist of 500 sources). A document
            it refuses is read again by LineLoader, for that loader's messages."""

            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                yaml.composer.Composer.__init__(self)
                yaml.constructor.SafeConstructor.__init__(self)
                yaml.resolver.Resolver.__init__(self)
                self.repeated_keys = []
                self.depth = 0

    for loader in (LineLoader, FastLineLoader):
        if loader is not None:
            loader.add_constructor("tag:yaml.org,2002:map", loader.construct_located_mapping)
            loader.add_constructor("tag:yaml.org,2002:seq", loader.construct_located_sequence)
    return _YamlLoaders(LineLoader, FastLineLoader, NestedTooDeep)


_YAML_HINT = (
    "check the indentation (spaces, not tabs) and put quotes around values that contain ': ' "
    "or ' #' or start with [ { * & ! or %"
)


_CONTROL_CHARACTER_HINT = "remove the control character (YAML allows tabs and line breaks only), or write it as \\x1b in double quotes"


def _read_yaml(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse YAML; syntax errors raise WatchlistError, repeated keys come back as problems."""
    document, repeated_keys = _read_fast(text)
    if repeated_keys is None:
        document, repeated_keys = _read_named_problems(text, path)
    repeated = [
        Problem(None, second, key, f"key '{key}' appears twice in the same mapping (lines {first} and {second})",
                "YAML keeps only the last one; remove or rename one of them")
        for key, first, second in repeated_keys
    ]
    return document, repeated


def _read_fast(text: str) -> tuple[Any, list[tuple[str, int, int]] | None]:
    """The document and its repeated keys by libyaml, or (None, None) when it is missing or
    refuses the text: then the line loader reads it again and says what is wrong."""
    import yaml

    fast_loader = _yaml_loaders().fast
    if fast_loader is None:
        return None, None
    try:
        loader = fast_loader(text)
    except UnicodeError:  # text libyaml cannot take as UTF-8 (a lone surrogate)
        return None, None
    try:
        return loader.get_single_data(), loader.repeated_keys
    except yaml.YAMLError:
        return None, None
    finally:
        loader.dispose()


def _read_named_problems(text: str, path: str) -> tuple[Any, list[tuple[str, int, int]]]:
    import yaml

    loaders = _yaml_loaders()
    try:
        loader = loaders.line(text)  # its reader refuses control characters at once
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        message = f"character #x{error.character:04x} is not allowed in YAML"
        raise WatchlistError(path, [Problem(None, line, "", message, _CONTROL_CHARACTER_HINT)]) from None
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = f"YAML syntax error: {error.problem or error.context}"
        if error.context and error.context_mark and mark and error.context_mark.line != mark.line:
            message += f" ({error.context} on line {error.context_mark.line + 1})"
        hint = error.hint if isinstance(error, loaders.nested_too_deep) else _YAML_HINT
        raise WatchlistError(path, [Problem(None, mark.line + 1 if mark else None, "", message, hint)])
    except yaml.YAMLError as error:
        raise WatchlistError(path, [Problem(None, None, "", f"YAML error: {error}", _YAML_HINT)])
    finally:
        loader.dispose()
    return document, loader.repeated_keys


# ---------------------------------------------------------------------------------------------
# Value checks: each takes the YAML value and returns the cleaned value or raises _Invalid.


class _Invalid(Exception):
    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class _InvalidItems(Exception):
    """Some items of a list failed; each with the item's own line."""

    def __init__(self, failures: list[tuple[int | None, _Invalid]]) -> None:
        super().__init__(f"{len(failures)} invalid items")
        self.failures = failures


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, bool):
        return f"true/false ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text ({_show(value)})"
    return f"{type(value).__name__} ({_show(value)})"


def _text(value: Any) -> str:
    if not isinstance(value, str):
        hint = "put the value in quotes" if isinstance(value, (bool, int, float)) else ""
        raise _Invalid(f"expected text, got {_describe(value)}", hint)
    if not value.strip():
        raise _Invalid("must not be empty")
    return value


def _one_line(value: Any) -> str:
    """Text that becomes an HTTP header or a path: a control character there is a mistake
    (a line break injects a header, a NUL ends a path)."""
    if re.search(r"[\x00-\x1f\x7f]", _text(value)):
        raise _Invalid(f"{_show(value)} contains a control character (a line break, a tab, NUL…)", "write it on one line")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected a whole number, got {_describe(value)}")
    if value < 1:
        raise _Invalid(f"must be at least 1, got {value}")
    if value > MAX_COUNT_SETTING:
        raise _Invalid(f"must be at most {MAX_COUNT_SETTING}, got {_show(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {_describe(value)}")
    return value


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if _text(value) not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean '{close[0]}'?" if close else ""
            raise _Invalid(f"{_show(value)} is not one of: {', '.join(choices)}", hint)
        return value

    return check


def _identifier(value: Any) -> str:
    if not _ID_PATTERN.fullmatch(_text(value)):
        slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")
        suggestion = f", e.g. '{slug}'" if slug else ""
        raise _Invalid(
            f"{_show(value)} is not a valid id",
            f"use lowercase letters, digits, '-' and '_', starting with a letter or digit{suggestion}",
        )
    return value


def _web_url(value: Any) -> str:
    try:
        parts = urlsplit(_text(value).strip())
        parts.hostname, parts.port
    except ValueError as error:  # an unclosed [IPv6 address], a port out of range or not a number
        raise _Invalid(f"{_show(value)} is not a valid URL: {error}",
                       "write it as http://host/path or http://host:port/path; IPv6 hosts as http://[::1]:8080/")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f"write the full address, e.g. 'https://{value.strip()}'" if "://" not in value else ""
        raise _Invalid(f"{_show(value)} is not an absolute http:// or https:// URL", hint)
    if any(character.isspace() for character in value.strip()):
        raise _Invalid(f"{_show(value)} contains spaces", "percent-encode them as %20")
    return value.strip()


def _proxy_url(value: Any) -> str:
    parts = urlsplit(_web_url(value))
    if parts.port is None:
        raise _Invalid(f"{_show(value)} has no port", "write it as http://host:port, e.g. http://127.0.0.1:8118")
    return value.strip()


def _interval(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        raise _Invalid(f"expected a duration with a unit, got the bare number {value}",
                       f"write e.g. '{value}s', '{value}m' or '{value}h'")
    try:
        return parse_interval(_text(value))
    except ValueError as error:
        raise _Invalid(str(error))


def _cron(value: Any) -> str:
    try:
        cron_trigger(_text(value))
    except (ValueError, IndexError, TypeError, OverflowError) as error:
        raise _Invalid(
            f"{_show(value)} is not a valid crontab expression: {error}",
            "five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * mon-fri'",
        )
    return value


def _css(value: Any) -> str:
    from cssselect import SelectorError  # parsel (lxml, w3lib, urllib.request): only for a watchlist with selectors
    from parsel.csstranslator import css2xpath

    try:
        css2xpath(_text(value))
    except SelectorError as error:
        raise _Invalid(f"{_show(value)} is not a valid CSS selector: {error}")
    return value


def _regex(value: Any) -> str:
    problem = regex_bound_problem(_text(value))
    if problem:
        raise _Invalid(f"{_show(value)}: {problem}", "simplify the regular expression; split it into several patterns")
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as error:
        raise _Invalid(
            f"{_show(value)} is not a valid regular expression: {error}",
            "write regexes in single quotes in YAML and escape literal ( ) [ ] . ? + * with a backslash",
        )
    return value


def _pattern(value: Any) -> tuple[str, str]:
    """(regex, name) of a keyword set's pattern: a regex alone is its own name, or
    `{name: …, pattern: '…'}` gives it one, which `docwatch hits` shows."""
    if not isinstance(value, dict):
        return _regex(value), value
    if set(value) != {"name", "pattern"}:
        raise _Invalid(f"a named pattern needs exactly 'name' and 'pattern', got {', '.join(map(str, value)) or 'nothing'}",
                       "write {name: quota, pattern: '转移就业\\d+人'}, or the regex alone")
    return _regex(value["pattern"]), _text(value["name"]).strip()


_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def regex_bound_problem(pattern: str) -> str | None:
    """Why `pattern` is over the bounds (length, group nesting, repetition counts), or None."""
    if len(pattern) > MAX_REGEX_CHARS:
        return f"longer than {MAX_REGEX_CHARS} characters"
    depth = deepest = position = 0
    in_class = False
    while position < len(pattern):
        character = pattern[position]
        if character == "\\":
            position += 2
            continue
        if in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
            position += 1
            position += pattern.startswith("^", position)
            position += pattern.startswith("]", position)  # a ] first in a class is a character: []] [^]]
            continue
        elif character == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif character == ")":
            depth -= 1
        elif character == "{":
            repeat = _REPEAT.match(pattern, position)
            if repeat and any(count and int(count) > MAX_REGEX_REPEAT for count in repeat.groups()):
                return f"repeats more than {MAX_REGEX_REPEAT} times ({repeat.group()})"
        position += 1
    if deepest > MAX_REGEX_NESTING:
        return f"nests groups more than {MAX_REGEX_NESTING} deep"
    return None


def _ignore_rule(value: Any) -> tuple[str, str]:
    """('regex', pattern) for 're:…' rules, ('css', selector) otherwise."""
    if _text(value).startswith(_REGEX_PREFIX):
        return "regex", _regex(value[len(_REGEX_PREFIX):])
    if not re.search(r"[A-Za-z*]", value):
        raise _Invalid(f"{_show(value)} looks like page text, not a CSS selector",
                       f"to ignore text write it as a regex: 're:{value}'")
    return "css", _css(value)


def _codec(value: Any) -> str:
    """A codec that decodes bytes to text (not base64, rot13 or zip), by a name Python knows."""
    try:
        name = codecs.lookup(_text(value)).name
        b"a".decode(name, errors="ignore")  # refuses codecs that are not text encodings (rot13, zip)
    except (LookupError, ValueError):
        raise _Invalid(f"{_show(value)} is not an encoding Python knows for text",
                       "e.g. utf-8, gb18030 (a superset of gb2312 and gbk), big5")
    return name


def _ocr_languages(value: Any) -> tuple[str, ...]:
    """Tesseract language names, at least one, each once."""
    languages = _list_of(_one_of(*OCR_LANGUAGES))(value)
    if not languages:
        raise _Invalid("expected at least one language", f"e.g. [{', '.join(DEFAULT_OCR_LANGUAGES)}]")
    return tuple(dict.fromkeys(languages))


def _list_of(check_item: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    def check(value: Any) -> tuple:
        if isinstance(value, str):
            raise _Invalid(f"expected a list, got {_describe(value)}", f"write it as a list: [{value}]")
        if not isinstance(value, list):
            raise _Invalid(f"expected a list, got {_describe(value)}")
        item_lines = getattr(value, "item_lines", [None] * len(value))
        items, failures = [], []
        for number, (item, line) in enumerate(zip(value, item_lines), start=1):
            try:
                items.append(check_item(item))
            except _Invalid as error:
                failures.append((line, _Invalid(f"item {number}: {error.reason}", error.hint)))
        if failures:
            raise _InvalidItems(failures)
        return tuple(items)

    return check


def _known_name(names: Collection[str], kind: str, defined_under: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if _text(value) not in names:
            close = difflib.get_close_matches(value, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"define it under '{defined_under}:'"
            raise _Invalid(f"no {kind} named {_show(value)}", hint)
        return value

    return check


# ---------------------------------------------------------------------------------------------
# Field tables


@dataclass(frozen=True)
class _Field:
    check: Callable[[Any], Any]
    default: Any = None
    required: bool = False
    per_source: bool = False  # identifies or belongs to one source: not allowed in `defaults`
    listing_only: bool = False


def _source_fields(keyword_set_names: Collection[str]) -> dict[str, _Field]:
    return {
        "id": _Field(_identifier, required=True, per_source=True),
        "url": _Field(_web_url, required=True, per_source=True),
        "type": _Field(_one_of(*SOURCE_TYPES), required=True, per_source=True),
        "name": _Field(_text, per_source=True),
        "tags": _Field(_list_of(_text), default=()),
        "interval": _Field(_interval),
        "cron": _Field(_cron),
        "keyword_sets": _Field(_list_of(_known_name(keyword_set_names, "keyword set", "keyword_sets"))),
        "selector": _Field(_css),
        "ignore": _Field(_list_of(_ignore_rule), default=()),
        "follow": _Field(_regex, per_source=True, listing_only=True),
        "pages": _Field(_positive_int, default=1, listing_only=True),
        "max_items": _Field(_positive_int, default=50),
        "encoding": _Field(_codec),
        "proxy": _Field(_proxy_url),
        "obey_robots": _Field(_boolean, default=True),
        "removal_confirmations": _Field(_positive_int, default=2),
        "ocr_languages": _Field(_ocr_languages, default=DEFAULT_OCR_LANGUAGES),
    }


_KEYWORD_SET_FIELDS = {
    "terms": _Field(_list_of(_text), default=()),
    "patterns": _Field(_list_of(_pattern), default=()),
    "description": _Field(_text),
}

# The settings the watchlist may set (`settings:`), as crawler.config.settings declares them.
_SETTINGS_FIELDS = {
    setting.name: _Field(_list_of(_web_url) if isinstance(setting.default, tuple)
                         else _positive_int if isinstance(setting.default, int) else _one_line)
    for setting in SETTINGS.values() if setting.in_watchlist and not setting.name.startswith("smtp_")
}

_TOP_LEVEL_KEYS = ("defaults", "keyword_sets", "sources", "settings", "digest")

_SCHEDULE_KEYS = ("interval", "cron")


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class _Scope:
    """Where problems are reported: a source (by id), or a labelled section."""

    source_id: str | None = None
    label: str = ""
    field_prefix: str = ""


_Checked = dict[str, tuple[Any, int]]  # field name -> (clean value, line of its key)


class _Validator:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def report(self, scope: _Scope, line: int | None, field: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(scope.source_id, line, scope.field_prefix + field, scope.label + message, hint))

    def mapping(self, value: Any, scope: _Scope, line: int | None, what: str) -> _LocatedDict | None:
        """`value` if it is a mapping; None (and a problem unless the value is empty) otherwise."""
        if isinstance(value, _LocatedDict):
            return value
        if value is not None:
            self.report(scope, line, "", f"{what} must be a mapping (key: value lines), got "
                        f"{_describe(value)}")
        return None

    def fields(
        self, mapping: _LocatedDict, fields: Mapping[str, _Field], scope: _Scope, elsewhere: Mapping[str, str]
    ) -> _Checked:
        """Check every key against the table; report unknown, invalid and missing keys."""
        checked: _Checked = {}
        for key, value in mapping.items():
            line = mapping.key_lines[key]
            field = fields.get(key)
            if field is None:
                self.unknown_key(scope, line, str(key), fields, elsewhere)
                continue
            try:
                checked[key] = (field.check(value), line)
            except _Invalid as error:
                self.report(scope, line, key, f"{key}: {error.reason}", error.hint)
            except _InvalidItems as errors:
                for item_line, error in errors.failures:
                    self.report(scope, item_line or line, key, f"{key}: {error.reason}", error.hint)
        for name, field in fields.items():
            if field.required and name not in mapping:
                required = ", ".join(n for n, f in fields.items() if f.required)
                self.report(scope, mapping.line, name, f"missing required key '{name}'",
                            f"every entry needs {required}")
        return checked

    def unknown_key(
        self, scope: _Scope, line: int, key: str, known: Collection[str], elsewhere: Mapping[str, str]
    ) -> None:
        if key in elsewhere:
            self.report(scope, line, key, f"'{key}' does not belong here", elsewhere[key])
            return
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        self.report(scope, line, key, f"unknown key '{key}'", hint)

    def one_schedule(self, mapping: _LocatedDict, scope: _Scope) -> None:
        if all(key in mapping for key in _SCHEDULE_KEYS):
            line = max(mapping.key_lines[key] for key in _SCHEDULE_KEYS)
            self.report(scope, line, "cron", "set either 'interval' or 'cron', not both",
                        "interval repeats after a fixed time; cron runs at set clock times")

    def keyword_sets(self, section: Any, line: int | None) -> dict[str, KeywordSet]:
        section_scope = _Scope(field_prefix="keyword_sets.")
        mapping = self.mapping(section, section_scope, line, "'keyword_sets'")
        keyword_sets = {}
        for name, value in (mapping or {}).items():
            name_line = mapping.key_lines[name]
            scope = _Scope(label=f"keyword set '{name}': ", field_prefix=f"keyword_sets.{name}.")
            try:
                _identifier(name)
            except _Invalid as error:
                self.report(section_scope, name_line, str(name), f"keyword set name: {error.reason}", error.hint)
                continue
            if isinstance(value, list):
                self.report(scope, name_line, "", "expected a mapping with 'terms' and/or 'patterns', got a list",
                            "put the words under 'terms:' (and regexes under 'patterns:')")
                continue
            body = self.mapping(value, scope, name_line, "a keyword set") or _LocatedDict.empty(name_line)
            problems_before = len(self.problems)
            checked = self.fields(body, _KEYWORD_SET_FIELDS, scope, {})
            if len(self.problems) > problems_before:
                continue
            patterns = _value(checked, "patterns", _KEYWORD_SET_FIELDS)
            keyword_set = KeywordSet(
                name=name,
                terms=_value(checked, "terms", _KEYWORD_SET_FIELDS),
                patterns=tuple(regex for regex, _ in patterns),
                description=_value(checked, "description", _KEYWORD_SET_FIELDS),
                pattern_names=tuple((regex, given) for regex, given in patterns if given != regex),
            )
            if not keyword_set.terms and not keyword_set.patterns:
                self.report(scope, name_line, "terms", "has neither terms nor patterns",
                            "add 'terms: [...]' (literal words) or 'patterns: [...]' (regexes)")
                continue
            keyword_sets[name] = keyword_set
        return keyword_sets

    def digest(self, section: Any, line: int | None) -> DigestSettings | None:
        if section is None:
            return None
        try:
            return parse_digest_section(section)
        except DigestSettingsError as error:
            key_lines = section.key_lines if isinstance(section, _LocatedDict) else {}
            for problem in error.problems:
                field = f"digest.{problem.key}" if problem.key else "digest"
                self.report(_Scope(label="digest: "), key_lines.get(problem.key.split(".")[0], line), field,
                            problem.message, problem.hint)
            return None

    def settings(self, section: Any, line: int | None) -> Settings:
        scope = _Scope(label="settings: ", field_prefix="settings.")
        mapping = self.mapping(section, scope, line, "'settings'") or _LocatedDict.empty(line)
        checked = self.fields(mapping, _SETTINGS_FIELDS, scope, {})
        return Settings(**{name: value for name, (value, _) in checked.items()})

    def defaults(self, section: Any, line: int | None, fields: Mapping[str, _Field]) -> _Checked:
        scope = _Scope(label="defaults: ", field_prefix="defaults.")
        mapping = self.mapping(section, scope, line, "'defaults'") or _LocatedDict.empty(line)
        allowed = {name: field for name, field in fields.items() if not field.per_source}
        elsewhere = {name: f"'{name}' is set on each source, not in defaults" for name in fields if name not in allowed}
        checked = self.fields(mapping, allowed, scope, elsewhere)
        self.one_schedule(mapping, scope)
        return checked

    def sources(
        self, section: Any, line: int | None, fields: Mapping[str, _Field],
        defaults: _Checked, all_keyword_sets: tuple[str, ...],
    ) -> list[Source]:
        if section is None:
            self.report(_Scope(), line, "sources", "no sources: the watchlist has nothing to watch",
                        "add a 'sources:' list with at least one entry (id, url, type)")
            return []
        if not isinstance(section, list):
            self.report(_Scope(), line, "sources", f"'sources' must be a list of entries, got {_describe(section)}",
                        "start each source with '- id: ...'")
            return []
        first_line_of_id: dict[str, int] = {}
        sources = []
        for number, (entry, entry_line) in enumerate(zip(section, section.item_lines), start=1):
            entry_scope = _Scope(label=f"source #{number}: ")
            mapping = self.mapping(entry, entry_scope, entry_line, "a source")
            if mapping is None:
                continue
            source_id = mapping.get("id") if isinstance(mapping.get("id"), str) else None
            if source_id in first_line_of_id:
                self.report(_Scope(source_id), mapping.key_lines["id"], "id",
                            f"id: '{source_id}' is used twice (lines {first_line_of_id[source_id]} "
                            f"and {mapping.key_lines['id']})", "every source needs its own id")
            elif source_id is not None:
                first_line_of_id[source_id] = mapping.key_lines["id"]
            scope = _Scope(source_id) if source_id and _ID_PATTERN.fullmatch(source_id) else entry_scope
            source = self.source(mapping, scope, fields, defaults, all_keyword_sets)
            if source is not None:
                sources.append(source)
        if not section:
            self.report(_Scope(), line, "sources", "the 'sources' list is empty",
                        "add at least one source (id, url, type)")
        return sources

    def source(
        self, mapping: _LocatedDict, scope: _Scope, fields: Mapping[str, _Field],
        defaults: _Checked, all_keyword_sets: tuple[str, ...],
    ) -> Source | None:
        problems_before = len(self.problems)
        checked = self.fields(mapping, fields, scope, _SOURCE_ELSEWHERE)
        self.one_schedule(mapping, scope)
        if checked.get("type", (None,))[0] == "page":
            for name, field in fields.items():
                if field.listing_only and name in mapping:
                    self.report(scope, mapping.key_lines[name], name, f"'{name}' only applies to listing sources",
                                "set 'type: listing', or remove it from this page source")
        if len(self.problems) > problems_before:
            return None
        # interval and cron are one choice: a source that sets either ignores both defaults.
        schedule_from = checked if any(key in mapping for key in _SCHEDULE_KEYS) else defaults
        interval = _value(schedule_from, "interval", fields)
        cron = _value(schedule_from, "cron", fields)
        merged = {**defaults, **checked}
        keyword_sets = merged["keyword_sets"][0] if "keyword_sets" in merged else all_keyword_sets
        ignore = _value(merged, "ignore", fields)
        return Source(
            id=checked["id"][0],
            url=checked["url"][0],
            type=checked["type"][0],
            name=_value(merged, "name", fields),
            tags=_value(merged, "tags", fields),
            interval=interval if interval is not None or cron is not None else DEFAULT_INTERVAL_SECONDS,
            cron=cron,
            keyword_sets=keyword_sets,
            selector=_value(merged, "selector", fields),
            ignore_css=tuple(rule for kind, rule in ignore if kind == "css"),
            ignore_regex=tuple(rule for kind, rule in ignore if kind == "regex"),
            follow=_value(merged, "follow", fields),
            pages=_value(merged, "pages", fields),
            max_items=_value(merged, "max_items", fields),
            encoding=_value(merged, "encoding", fields),
            proxy=_value(merged, "proxy", fields),
            obey_robots=_value(merged, "obey_robots", fields),
            removal_confirmations=_value(merged, "removal_confirmations", fields),
            ocr_languages=_value(merged, "ocr_languages", fields),
        )


def _value(checked: _Checked, name: str, fields: Mapping[str, _Field]) -> Any:
    return checked[name][0] if name in checked else fields[name].default


_SOURCE_ELSEWHERE = {
    **{name: f"'{name}' is a global setting: put it under 'settings:'" for name in _SETTINGS_FIELDS},
    **{name: f"'{name}' belongs to a keyword set under 'keyword_sets:'; list the set's name in this "
             "source's 'keyword_sets'" for name in _KEYWORD_SET_FIELDS},
}


def _top_level_elsewhere(source_keys: Collection[str]) -> dict[str, str]:
    return {
        **{name: f"'{name}' is a source key: set it in a source, or under 'defaults:' for all sources"
           for name in source_keys},
        **{name: f"'{name}' is a setting: put it under 'settings:'" for name in _SETTINGS_FIELDS},
    }


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def _validate(document: Any, path: str) -> Watchlist:
    validator = _Validator()
    top = _Scope()
    if not isinstance(document, _LocatedDict):
        validator.report(top, 1, "", f"the watchlist must be a mapping with a 'sources' list, got "
                         f"{_describe(document)}", "see the shipped watchlist.yaml for an example")
        raise WatchlistError(path, validator.problems)
    lines = document.key_lines
    keyword_section = document.get("keyword_sets")
    keyword_sets = validator.keyword_sets(keyword_section, lines.get("keyword_sets"))
    # References to a set that exists but has its own problems are not reported a second time.
    defined_names = keyword_section if isinstance(keyword_section, dict) else {}
    fields = _source_fields([name for name in defined_names if isinstance(name, str)])
    for key in document:
        if key not in _TOP_LEVEL_KEYS:
            validator.unknown_key(top, lines[key], str(key), _TOP_LEVEL_KEYS, _top_level_elsewhere(fields))
    settings = validator.settings(document.get("settings"), lines.get("settings"))
    defaults = validator.defaults(document.get("defaults"), lines.get("defaults"), fields)
    sources = validator.sources(document.get("sources"), lines.get("sources"), fields, defaults,
                                tuple(keyword_sets))
    digest = validator.digest(document.get("digest"), lines.get("digest"))
    if validator.problems:
        raise WatchlistError(path, _by_line(validator.problems))
    return Watchlist(path=path, sources=tuple(sources), keyword_sets=keyword_sets, settings=settings, digest=digest)


# ---------------------------------------------------------------------------------------------
# Entry points


def parse_watchlist(text: str, path: str = "<string>") -> Watchlist:
    """Validate watchlist YAML text; raises WatchlistError listing every problem found."""
    path = str(path)
    if not text.strip():
        raise WatchlistError(path, [Problem(None, None, "", "the watchlist is empty",
                                            "it needs at least a 'sources:' list; see the shipped watchlist.yaml")])
    document, repeated_keys = _read_yaml(text, path)
    if document is None:
        raise WatchlistError(path, [Problem(None, None, "", "the watchlist has only comments",
                                            "it needs at least a 'sources:' list; see the shipped watchlist.yaml")])
    try:
        watchlist = _validate(document, path)
    except WatchlistError as error:
        raise WatchlistError(path, _by_line(repeated_keys + error.problems)) from None
    if repeated_keys:
        raise WatchlistError(path, repeated_keys)
    return watchlist


def load_watchlist(path: str | Path) -> Watchlist:
    """Read and validate a watchlist file; raises WatchlistError (also for missing or unreadable
    files). A file checked before, byte for byte, by this code is read from its cache entry
    (crawler.config.watchlist_cache)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise WatchlistError(path, [Problem(None, None, "", "file not found",
                                            "create it, e.g. by copying the shipped watchlist.yaml")]) from None
    except OSError as error:
        raise WatchlistError(path, [Problem(None, None, "", f"cannot read the file: {error.strerror}", "")]) from None
    key = _cache_key(data)
    if key is not None and (cached := watchlist_cache.read_entry(path, key)) is not None:
        try:
            return _from_json(cached, str(path))
        except (KeyError, TypeError, ValueError, AttributeError):  # an entry this code cannot use: check the file
            pass
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise WatchlistError(path, [Problem(None, None, "", f"not UTF-8 text: {error}",
                                            "save the file as UTF-8")]) from None
    watchlist = parse_watchlist(text, str(path))
    if key is not None:
        watchlist_cache.write_entry(path, key, _to_json(watchlist))
    return watchlist


# What checking a watchlist depends on besides its bytes: the code of the checks (these modules),
# Python (regexes, codecs, URLs), the installed packages (PyYAML, the cron and CSS parsers: their
# versions are in the names of the entries of the folder PyYAML is installed in) and the home
# folder (`~` in a digest's output_dir).
_CHECKING_MODULES = (__name__, "crawler.config.settings", "crawler.config.digest_settings",
                     "crawler.config.durations", "crawler.config.schedule", "crawler.compare.keywords",
                     "crawler.extract.ocr_languages", "crawler.config.watchlist_cache")
_checks_fingerprint: bytes | None = None
_SOURCE_FIELD_NAMES = tuple(field.name for field in dataclasses.fields(Source))


def _cache_key(data: bytes) -> str | None:
    """The cache key of a watchlist's bytes (see _CHECKING_MODULES); None when the code's own
    files cannot be read, and then nothing is cached."""
    global _checks_fingerprint
    if _checks_fingerprint is None:
        fingerprint = hashlib.sha256(f"{sys.version}\0{os.path.expanduser('~')}\0".encode())
        try:
            for name in _CHECKING_MODULES:
                fingerprint.update(Path(sys.modules[name].__file__).read_bytes())
            packages = Path(importlib.util.find_spec("yaml").origin).resolve().parent.parent
            fingerprint.update("\0".join(sorted(os.listdir(packages))).encode())
        except (OSError, KeyError, TypeError, AttributeError):
            return None
        _checks_fingerprint = fingerprint.digest()
    return hashlib.sha256(_checks_fingerprint + data).hexdigest()


def _to_json(watchlist: Watchlist) -> dict:
    """The checked watchlist as JSON values (tuples become lists, paths text; a source is a row
    of its fields' values, in the order `source_fields` names), see _from_json."""
    digest = dataclasses.asdict(watchlist.digest) if watchlist.digest else None
    if digest and digest["output_dir"] is not None:
        digest["output_dir"] = str(digest["output_dir"])
    names = _SOURCE_FIELD_NAMES
    return {
        "source_fields": list(names),
        "sources": [[getattr(source, name) for name in names] for source in watchlist.sources],
        "keyword_sets": [dataclasses.asdict(keyword_set) for keyword_set in watchlist.keyword_sets.values()],
        "settings": dataclasses.asdict(watchlist.settings),
        "digest": digest,
    }


def _from_json(document: dict, path: str) -> Watchlist:
    """The Watchlist _to_json was given; raises KeyError, TypeError or ValueError for anything else."""

    def fields(values: dict) -> dict:
        return {name: _tuples(value) for name, value in values.items()}

    if tuple(document["source_fields"]) != _SOURCE_FIELD_NAMES:
        raise ValueError("the entry's sources have other fields")
    digest = document["digest"]
    if digest is not None:
        digest = DigestSettings(**{
            **fields(digest),
            "output_dir": Path(digest["output_dir"]) if digest["output_dir"] is not None else None,
            "email": EmailSettings(**fields(digest["email"])) if digest["email"] is not None else None,
        })
    keyword_sets = [KeywordSet(**fields(values)) for values in document["keyword_sets"]]
    return Watchlist(
        path=path,
        sources=tuple(Source(*[tuple(value) if type(value) is list else value for value in row])
                      for row in document["sources"]),
        keyword_sets={keyword_set.name: keyword_set for keyword_set in keyword_sets},
        settings=Settings(**fields(document["settings"])),
        digest=digest,
    )


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value
