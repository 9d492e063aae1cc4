"""Decode fetched HTML bytes and pull out what docwatch stores: title, main text, date, links.

Chinese government sites mislabel their encodings and wrap articles in heavy navigation, so
decoding checks every declaration against the bytes, and extraction keeps the article text
(trafilatura) apart from the page chrome (menus, footers, visitor counters).
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import lxml.etree
import lxml.html
import trafilatura
from htmldate import find_date
from cssselect import SelectorError
from lxml.cssselect import CSSSelector
from w3lib.encoding import read_bom, resolve_encoding

# Guard against pathological documents: the caller caps bytes, this caps the DOM we build.
MAX_HTML_CHARS = 4_000_000
# Gov pages put long inline styles and, in Wayback replays, injected scripts before the meta.
_DECLARATION_SCAN_BYTES = 65_536

_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:+-]+)""", re.IGNORECASE)
# w3lib reads latin-1, iso-8859-1 and ascii labels as cp1252: the usual server default, so on
# Chinese bytes it says nothing about the page.
_SERVER_DEFAULT_CODEC = "cp1252"
# A stray bad byte (a pasted snippet, a CMS glitch) must not throw a GBK page to a guesser.
_TOLERATED_BAD_BYTES_PER_BYTE = 0.001
# What errors="surrogateescape" makes of a byte that does not decode (no decoder yields these otherwise).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class Decoded(NamedTuple):
    """A page's text, the codec it was read with, and how many of its bytes did not decode in
    that codec (each shown as U+FFFD): recorded with the snapshot, so a reader knows."""

    text: str
    encoding: str
    undecodable_bytes: int = 0


def decode_html(body: bytes, header_charset: str | None = None, override: str | None = None) -> Decoded:
    """Decode a fetched page to text.

    Order, first match wins:
    1. ``override`` (the source's ``encoding`` setting), undecodable bytes replaced;
    2. a byte-order mark;
    3. the declared charsets, HTTP header first, then ``<meta>`` tags in document order, each
       accepted only if the bytes decode strictly and the label looks right: a non-UTF-8
       label on bytes that are valid multi-byte UTF-8 is wrong (browser-saved pages keep
       ``meta gb2312``), and a latin-1/cp1252 label is wrong for bytes that are valid GB18030;
    4. strict UTF-8, then strict GB18030;
    5. of the declared charsets (but latin-1/cp1252, a server default), UTF-8 and GB18030, the one
       that leaves the fewest bytes undecoded, replacing those: a declared one always, an
       undeclared one if at most one byte in a thousand is bad. A GB2312 page with a few broken
       bytes keeps its Chinese text around them;
    6. charset-normalizer's guess; 7. UTF-8 with replacement characters.
    GB2312 and GBK labels are read as GB18030, their superset: real "GB2312" pages use GBK
    characters. "Strict" tolerates one multi-byte character cut off at the end, as happens
    when the fetcher caps the body size.
    """
    if override is not None:
        codec = _codec_for(override)
        if codec is None:
            raise ValueError(f"unknown encoding {override!r} in the source's encoding setting")
        return _decode_replacing(body, codec)

    bom_codec, bom = read_bom(body)
    if bom_codec is not None:
        return _decode_replacing(body[len(bom) :], bom_codec)

    utf8_text = _decode_strictly(body, "utf-8")
    is_multibyte_utf8 = utf8_text is not None and not body.isascii()
    declared = _declared_codecs(body, header_charset)
    for codec in declared:
        text = utf8_text if codec == "utf-8" else _decode_strictly(body, codec)
        if text is None or (codec != "utf-8" and is_multibyte_utf8):
            continue
        if codec == _SERVER_DEFAULT_CODEC and _decode_strictly(body, "gb18030") is not None:
            continue
        return Decoded(text, codec)

    if utf8_text is not None:
        return Decoded(utf8_text, "utf-8")
    gb_text = _decode_strictly(body, "gb18030")
    if gb_text is not None:
        return Decoded(gb_text, "gb18030")
    candidates = dict.fromkeys([c for c in declared if c != _SERVER_DEFAULT_CODEC] + ["utf-8", "gb18030"])
    best = min((_decode_replacing(body, codec) for codec in candidates), key=lambda decoded: decoded.undecodable_bytes)
    if best.encoding in declared or best.undecodable_bytes <= len(body) * _TOLERATED_BAD_BYTES_PER_BYTE:
        return best
    guess = charset_normalizer.from_bytes(body).best()
    if guess is not None:
        return Decoded(str(guess), guess.encoding)
    return _decode_replacing(body, "utf-8")


def _decode_replacing(body: bytes, codec: str) -> Decoded:
    """Decode, replacing each byte that does not decode with U+FFFD, and count them."""
    escaped = body.decode(codec, errors="surrogateescape")
    text, undecodable = _ESCAPED_BYTE.subn("\ufffd", escaped)
    return Decoded(text, codec, undecodable)


def _codec_for(label: str) -> str | None:
    """Python codec for a charset label (w3lib maps GB2312/GBK to GB18030); None if unknown."""
    return resolve_encoding(label.strip().strip("\"'"))


def _declared_codecs(body: bytes, header_charset: str | None) -> list[str]:
    """Distinct codecs declared by the header and the metas; UTF-16/32 labels are ignored
    (a real UTF-16 page starts with a BOM; on ASCII-compatible bytes the label is a lie)."""
    labels = [header_charset] if header_charset else []
    labels += [m.group(1).decode("ascii") for m in _META_CHARSET.finditer(body, 0, _DECLARATION_SCAN_BYTES)]
    codecs_in_order: list[str] = []
    for label in labels:
        codec = _codec_for(label)
        if codec and not codec.startswith(("utf-16", "utf-32")) and codec not in codecs_in_order:
            codecs_in_order.append(codec)
    return codecs_in_order


def _decode_strictly(body: bytes, codec: str) -> str | None:
    """Decode without error handling, except that an incomplete final character is dropped."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(body, final=False)
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class Link:
    url: str
    text: str


@dataclass(frozen=True)
class Extracted:
    """What a page says. ``selector_matched`` is None without a selector, False when the
    source's selector matched nothing and the general extractor was used instead."""

    title: str
    text: str
    published: str | None
    links: tuple[Link, ...]
    attachments: tuple[Link, ...]  # the links docwatch fetches as documents of the page
    selector_matched: bool | None = None


def extract(html: str, url: str, selector: str | None = None, ignore_css: Sequence[str] = ()) -> Extracted:
    """Extract title, main text, publication date, links and attachments from a decoded page.

    ``selector`` (CSS) names the main content when the source knows it; when it matches
    nothing, the general extractor (trafilatura) is used and ``selector_matched`` is False.
    Without a selector, a known site template's article element is used, else trafilatura.
    ``ignore_css`` elements (configured noise such as visitor counters) are removed first.
    Raises ValueError for an invalid CSS selector.
    """
    tree = _parse(html[:MAX_HTML_CHARS])
    if tree is None:
        return Extracted("", "", None, (), (), None if selector is None else False)
    _remove_noise(tree, ignore_css)
    title = _title(tree)
    links = _links(tree, url)
    if selector is not None:
        selected = _select(tree, selector)
        selected_texts = [_block_text(element) for element in selected]
    else:
        selected, selected_texts = _known_article_body(tree)
    if not selected:
        _remove_page_footers(tree)
    body = tree.find("body")
    root = body if body is not None else tree
    body_text = functools.cache(lambda: _block_text(root))  # read only if needed: the date may not
    if selected:
        text = "\n".join(filter(None, selected_texts))
    else:
        body_text()  # read before trafilatura, which changes the tree it reads
        tree = _parse(html[:MAX_HTML_CHARS], for_trafilatura=True)  # the same tree, in lxml.html's classes
        _remove_noise(tree, ignore_css)
        _remove_page_footers(tree)
        text = _article_text(tree, url) or body_text()
    return Extracted(
        title=title,
        text=text,
        published=_published(tree, title, body_text, text, html, url),
        links=links,
        attachments=tuple(link for link in links if _is_attachment(link, _site(urlsplit(url).hostname)))
        + _scanned_article(tree, selected, selected_texts, url),
        selector_matched=None if selector is None else bool(selected),
    )


def title_and_links(html: str, url: str) -> tuple[str, tuple[Link, ...]]:
    """A page's title and links, without reading its text: all a listing is compared by."""
    tree = _parse(html[:MAX_HTML_CHARS])
    if tree is None:
        return "", ()
    return _title(tree), _links(tree, url)


# The article body in the templates of the site families on the watchlist: government CMSs
# (TRS WCM, Hanweb, UCAP: xinjiang.gov.cn and its departments, the Jiangxi, Shanxi and Zhejiang
# portals of the corpus) and state media (Xinhua, People's Daily, China News, Guangming). On
# government pages the element holds exactly what trafilatura extracts; on state media, also
# the editor's credit line. Either way at a tenth of trafilatura's cost, and the same on every
# crawl, which is what comparing needs.
_KNOWN_ARTICLE_CSS = (
    "#zoom", "ucapcontent", "#UCAP-CONTENT", ".TRS_Editor",
    "#detailContent", "#p-detail", ".rm_txt_con", "#rwb_zw", ".left_zw", "#contentMain",
)


def _xpath_steps(selectors: Sequence[str]) -> list[str]:
    """Each CSS selector as the one XPath step it translates to (`*[@id = 'zoom']`): an id, a
    class or a tag, which is all _may_be_known_body looks for."""
    prefix = "descendant-or-self::"
    paths = [CSSSelector(css).path for css in selectors]
    simple = all(css[1:].replace("-", "_").isidentifier() if css[0] in "#." else css.isalpha() for css in selectors)
    if not simple or not all(path.startswith(prefix) and "/" not in path for path in paths):
        raise ValueError(f"a known article selector is not one id, class or tag: {selectors}")
    return [path.removeprefix(prefix) for path in paths]


# Ten selectors were ten XPath walks of the tree (a sixth of the known-template path). One walk
# in Python finds the few elements that may match (an id, a class name or a tag of the list),
# and each selector's own XPath decides on those: the same elements, at a third of the cost.
_KNOWN_IDS = frozenset(css[1:] for css in _KNOWN_ARTICLE_CSS if css.startswith("#"))
_KNOWN_CLASSES = tuple(css[1:] for css in _KNOWN_ARTICLE_CSS if css.startswith("."))
_KNOWN_TAGS = frozenset(css for css in _KNOWN_ARTICLE_CSS if css.isalpha())
_IS_KNOWN_ARTICLE_BODY = tuple(lxml.etree.XPath(f"boolean(self::{step})") for step in _xpath_steps(_KNOWN_ARTICLE_CSS))


def _known_template_matches(tree: lxml.etree._Element) -> list[list[lxml.etree._Element]]:
    """What each known template's selector matches in the tree, in document order, selectors
    in the order of _KNOWN_ARTICLE_CSS."""
    candidates = [element for element in tree.iter() if _may_be_known_body(element)]
    return [[element for element in candidates if is_body(element)] for is_body in _IS_KNOWN_ARTICLE_BODY]


def _may_be_known_body(element: lxml.etree._Element) -> bool:
    if element.tag in _KNOWN_TAGS or element.get("id") in _KNOWN_IDS:
        return True
    classes = element.get("class")
    return classes is not None and any(name in classes for name in _KNOWN_CLASSES)


def _scanned_article(tree: lxml.etree._Element, selected: list[lxml.etree._Element], selected_texts: list[str],
                     url: str) -> tuple[Link, ...]:
    """The images of an article published as scans (a photographed 通知 as its only content):
    those inside the article element (the source's selector, else a known template's) when it
    has no text of its own, on the page's own site. They are read by OCR as its documents.
    `selected_texts` are the selected elements' texts, read once by the caller."""
    if selected:
        containers, texts = selected, selected_texts
    else:
        containers = [found[0] for found in _known_template_matches(tree) if len(found) == 1]
        texts = [_block_text(container) for container in containers]
    if not containers or any(len(text) > _SCANNED_ARTICLE_MAX_CHARS for text in texts):
        return ()
    site = _site(urlsplit(url).hostname)
    images = {}
    for image in (image for container in containers for image in container.iter("img")):
        target = _absolute(url, image.get("src") or "")
        if target and _SCAN_FILE.search(urlsplit(target).path) and _site(urlsplit(target).hostname) == site:
            images.setdefault(target, _squash(image.get("alt") or image.get("title") or ""))
    return tuple(Link(target, text) for target, text in images.items())


def _known_article_body(tree: lxml.etree._Element) -> tuple[list[lxml.etree._Element], list[str]]:
    """The one element of a known site template that holds the article, if the page has it,
    with its text (read once: reading it is a third of the known-template path's time)."""
    for found in _known_template_matches(tree):
        if len(found) == 1 and (text := _block_text(found[0])):
            return found, [text]
    return [], []


def _parse(html: str, for_trafilatura: bool = False) -> lxml.etree._Element | None:
    """Parse into a DOM (bytes in, so pages starting with an XML declaration parse too).

    libxml2's HTML parser either way; plain lxml elements, unless trafilatura is to read the
    tree: lxml.html's element classes are looked up by a Python call for every element touched,
    a sixth of the known-template path's time. A parser per call: lxml parsers must not be
    shared between threads."""
    options = {"encoding": "utf-8", "remove_comments": True, "remove_pis": True}
    parser = lxml.html.HTMLParser(**options) if for_trafilatura else lxml.etree.HTMLParser(**options)
    return lxml.etree.fromstring(html.encode("utf-8", errors="replace"), parser=parser)  # None: only whitespace


def _select(tree: lxml.etree._Element, css: str) -> list[lxml.etree._Element]:
    try:
        return CSSSelector(css, translator="html")(tree)
    except SelectorError as error:
        raise ValueError(f"invalid CSS selector {css!r}: {error}") from None


def _remove_noise(tree: lxml.etree._Element, ignore_css: Iterable[str]) -> None:
    doomed = [el for css in ignore_css for el in _select(tree, css)]
    doomed += tree.iter("script", "style", "noscript", "template")
    for element in doomed:
        if element.getparent() is not None:
            _drop_tree(element)


def _drop_tree(element: lxml.etree._Element) -> None:
    """Remove an element and its children, keeping its tail text, which belongs to the parent
    (lxml.html's drop_tree, for plain elements)."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + element.tail
        else:
            previous.tail = (previous.tail or "") + element.tail
    parent.remove(element)


# Site footers (copyright, ICP licence, site map) carry years and counters that change on their
# own; trafilatura keeps them on short articles. Markers from the corpus' class and id names:
# footer, lib-foot, rm_footer, footer_copyright, pagebottom, tcopyright.
_FOOTER_MARKERS = ("foot", "copyright", "pagebottom")


def _remove_page_footers(tree: lxml.etree._Element) -> None:
    """Drop footer-named elements, unless one wraps the page heading (then it is a layout box)."""
    body = tree.find("body")
    footers = []
    for element in body.iterdescendants() if body is not None else ():
        names = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if any(marker in names for marker in _FOOTER_MARKERS) and "footnote" not in names:
            footers.append(element)
    for element in footers:
        if element.getparent() is not None and element.find(".//h1") is None:
            _drop_tree(element)


# ---- title ---------------------------------------------------------------------------------

# " _ 光明网", "-新华网", "--人民网", " | 中国宜春": one trailing segment per pass. Not "——",
# which Chinese titles use before a subtitle.
_TITLE_SUFFIX = re.compile(r"\s*(?:_|-{1,2}|\||｜)\s*([^_\-|｜]*)$")
_MAX_SUFFIX_PASSES = 3


def _meta_content(tree: lxml.etree._Element, *names: str) -> str:
    """Content of the first non-empty <meta name=…> or <meta property=…> among ``names``."""
    wanted = {name.lower() for name in names}
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        content = _squash(meta.get("content") or "")
        if key in wanted and content and key not in found:
            found[key] = content
    return next((found[name.lower()] for name in names if name.lower() in found), "")


def _title(tree: lxml.etree._Element) -> str:
    """TRS ArticleTitle, og:title (without a site name the page confirms), <title> without its
    site suffix, or the longest <h1> (others are logos) when <title> is empty or only the site
    name."""
    stated = _meta_content(tree, "ArticleTitle")
    if stated:
        return stated
    title_element = tree.find(".//title")
    whole_title = _squash(_text_content(title_element)) if title_element is not None else ""
    site_name = _meta_content(tree, "SiteName", "og:site_name", "application-name")
    og_title = _meta_content(tree, "og:title")
    if og_title:
        return _without_site_name(og_title, tree, site_name, whole_title)
    title = _without_site_name(_strip_site_suffix(whole_title), tree, site_name, "")
    if not title or title == site_name:
        headings = (_squash(_text_content(h1)) for h1 in tree.iter("h1"))
        return max(headings, key=len, default="") or title
    return title


# Between a title and the site's name: " | ", " - ", " – ", " — ", "_", "｜".
_OG_SEPARATOR = re.compile(r"\s+[|\-–—]\s+|\s*[_｜]\s*")


def _without_site_name(title: str, tree: lxml.etree._Element, site_name: str, page_title: str) -> str:
    """og:title (and <title>) often end with the site's name ("A Letter on Justice | Harper's
    Magazine", "Interactive maps – Wikimedia Blog"). The title is cut at the last separator
    where the page confirms the cut: what is left is an <h1> or <h2>, or what is cut is the
    site's name or the end of ``page_title`` (<title>). Otherwise it is kept whole: an English
    title may itself hold " – "."""
    headings = {_squash(_text_content(heading)).casefold() for heading in tree.iter("h1", "h2")}
    for separator in reversed(list(_OG_SEPARATOR.finditer(title))):
        kept, cut = title[: separator.start()], title[separator.end() :]
        confirmed = (kept.casefold() in headings or cut.casefold() == site_name.casefold()
                     or (page_title not in ("", title) and page_title.endswith(cut)))
        if kept and cut and confirmed:
            return kept
    return title


def _strip_site_suffix(title: str) -> str:
    for _ in range(_MAX_SUFFIX_PASSES):
        match = _TITLE_SUFFIX.search(title)
        if match is None or len(match.group(1)) >= match.start():
            break
        title = title[: match.start()]
    return title


# ---- links ---------------------------------------------------------------------------------

# Attachments: files whose text docwatch can read, named in the path or in the query
# (downfile.jsp?filename=x.pdf), or links labelled 附件/下载 to a URL without a file name.
_DOCUMENT_FILE = re.compile(r"\.(pdf|docx?|xlsx?|wps|et)$", re.I)
_DOCUMENT_IN_QUERY = re.compile(r"\.(pdf|docx?|xlsx?|wps|et)(&|$)", re.I)
_DOCUMENT_IN_URL = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et)\b", re.I)  # either of the two: before parsing the URL
_DOCUMENT_WORDS = ("附件", "下载")
# A scan linked as 附件 (附件1：名单.jpg) is read by OCR; other image links (photos, QR codes) are not documents.
_SCAN_FILE = re.compile(r"\.(jpe?g|png|gif|tiff?)$", re.I)
_SCANNED_ARTICLE_MAX_CHARS = 20  # an article element with no more text than this (a caption) is its images


def _links(tree: lxml.etree._Element, url: str) -> tuple[Link, ...]:
    """Absolute http(s) links in document order, one per URL (first non-empty anchor text)."""
    base_element = tree.find(".//base[@href]")
    base = _absolute(url, base_element.get("href")) if base_element is not None else None
    texts: dict[str, str] = {}
    for anchor in tree.iter("a"):
        target = _absolute(base or url, anchor.get("href") or "")
        if target is None:
            continue
        if not texts.get(target):
            texts[target] = _squash(_text_content(anchor)) or _squash(anchor.get("title") or "")
    return tuple(Link(target, text) for target, text in texts.items())


def _absolute(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``, without fragment; None unless http(s)."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    if href.startswith(("http://", "https://")) and not any(c in href for c in ("/.", "\\", "[")):
        return href.partition("#")[0]  # already absolute: what urljoin would return, at a tenth of the cost
    try:
        target = urljoin(base, href).partition("#")[0]
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return target if target[:8].lower().startswith(("http://", "https://")) else None


def _is_attachment(link: Link, page_site: str | None) -> bool:
    """A document of the page: a readable file (or a 附件/下载 link to a URL without a file
    name) on the page's own site (rst.xinjiang.gov.cn → file.xinjiang.gov.cn). Someone
    else's server is not this source."""
    if not (_DOCUMENT_IN_URL.search(link.url) or any(word in link.text for word in _DOCUMENT_WORDS)):
        return False
    parts = urlsplit(link.url)
    if _site(parts.hostname) != page_site:
        return False
    if _DOCUMENT_FILE.search(parts.path) or _DOCUMENT_IN_QUERY.search(parts.query):
        return True
    file_name = parts.path.rsplit("/", 1)[-1]
    if _SCAN_FILE.search(file_name):
        return "附件" in link.text
    return "." not in file_name and any(word in link.text for word in _DOCUMENT_WORDS)


def _site(host: str | None) -> str | None:
    """The host without its first label when it has three or more: www.news.cn → news.cn."""
    labels = (host or "").split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 and not labels[-1].isdigit() else host


# ---- text ----------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td th thead tr ul".split()
)
_SPACES = re.compile(r"[\s\u3000\xa0]+")
_SPACES_BUT_NEWLINES = re.compile(r"[^\S\n]+")  # \s covers \u3000 and \xa0


# lxml.html's text_content(): every text node under an element, for plain elements too.
_text_content = lxml.etree.XPath("string()", smart_strings=False)


def _squash(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _block_text(root: lxml.etree._Element) -> str:
    """Visible text as lines, one per block element (iterative: deep DOMs can't overflow)."""
    parts: list[str] = []
    for event, element in lxml.etree.iterwalk(root, events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        is_block = element.tag in _BLOCK_TAGS
        if event == "start":
            if is_block:
                parts.append("\n")
            parts.append(element.text or "")
        else:
            if is_block:
                parts.append("\n")
            if element is not root:
                parts.append(element.tail or "")
    text = _SPACES_BUT_NEWLINES.sub(" ", "".join(parts))  # one pass, not one per (mostly empty) line
    return "\n".join(filter(None, (line.strip() for line in text.split("\n"))))


def _article_text(tree: lxml.etree._Element, url: str) -> str:
    """Main content by trafilatura, one line per paragraph or table row.

    ``fast`` skips trafilatura's justext/readability comparison: on the corpus it changed
    no article and halved the time (its only gain was one blurb on a homepage, where the
    caller's whole-page fallback is more useful for watching).
    """
    article = trafilatura.extract(
        tree, url=url, fast=True, favor_precision=True, include_comments=False, include_tables=True
    )
    lines = (_table_row(line) for line in (article or "").split("\n"))
    return "\n".join(line for line in lines if line)


def _table_row(line: str) -> str:
    """trafilatura renders table rows as "| a |  | b |": keep the non-empty cells, "a | b"."""
    if not line.lstrip().startswith("|"):
        return _squash(line)
    return " | ".join(cell for cell in map(_squash, line.split("|")) if cell)


# ---- publication date ----------------------------------------------------------------------

_DAY = r"(?P<year>(?:19|20)\d\d)\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})\s*日?"
_TIME = r"[\sT]*(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{2})(?:\s*[:：分]\s*(?P<second>\d{2}))?"
_DATE = re.compile(_DAY + f"(?:{_TIME})?")
_LABELLED_DATE = re.compile(r"(?:发布时间|发布日期|发文日期|成文日期|日期|时间)\s*[:：]\s*" + _DATE.pattern)
_DATE_WITH_TIME = re.compile(_DAY + _TIME)
# A byline sits right under the title; further down, dates belong to other things.
_BYLINE_WINDOW = 600


def _published(
    tree: lxml.etree._Element, title: str, body_text: Callable[[], str], text: str, html: str, url: str
) -> str | None:
    """The date the page states: TRS/news metas, else a dated byline right under the title
    (or at the start of the main text); on a page not written in Chinese, else what htmldate
    reads from its markup (JSON-LD, other metas, <time> elements, a dated URL). Not on Chinese
    pages, and never htmldate's search of the free text: on a Chinese CMS index page it finds
    the page-generation time or a news-list date, inventing a publication date."""
    stated = _meta_content(tree, "PubDate", "publishdate", "article:published_time", "datePublished")
    match = _DATE.search(stated)
    if match and (iso := _iso(match)):
        return iso
    whole_text = body_text()
    title_at = whole_text.find(title) if title else -1
    if title_at >= 0:
        byline = whole_text[title_at + len(title) : title_at + len(title) + _BYLINE_WINDOW]
    else:
        byline = text[:_BYLINE_WINDOW]
    for pattern in (_LABELLED_DATE, _DATE_WITH_TIME):
        for match in pattern.finditer(byline):
            if iso := _iso(match):
                return iso
    if _is_chinese(text):
        return None
    return find_date(html, url=url, original_date=True, extensive_search=False)


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_CHINESE_SHARE = 0.3  # of the letters; English pages quote a few Chinese words


def _is_chinese(text: str) -> bool:
    sample = text[:5000]
    letters = len(_LETTER.findall(sample))
    return letters > 0 and len(_HAN.findall(sample)) / letters >= _CHINESE_SHARE


def _iso(match: re.Match[str]) -> str | None:
    """ISO 8601 for a matched date, to the stated precision; None for impossible dates."""
    fields = match.groupdict()
    try:
        date = datetime(int(fields["year"]), int(fields["month"]), int(fields["day"]))
        if fields["hour"] is None:
            return date.date().isoformat()
        date = date.replace(hour=int(fields["hour"]), minute=int(fields["minute"]), second=int(fields["second"] or 0))
    except ValueError:
        return None
    return date.isoformat(timespec="seconds" if fields["second"] else "minutes")
