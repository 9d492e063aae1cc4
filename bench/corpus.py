"""A local corpus of Chinese government article pages and column listings, for the benchmarks.

Every article is a real page used as a shell (the saved pages in `tests/files/pages/` and the
demo site's CMS template, at their real sizes and encodings, GBK and GB2312 bytes included)
with one paragraph of real report text (`tests/files/text/`) put at the top of its main
content, so every page is distinct and its text is the kind docwatch watches. Listings are the
demo site's TRS-style column template, 20 links a page.

`edit_articles` applies the benchmark's "10% changed" edit: a figure revised and a sentence
with mobilisation vocabulary added, the same edit `docwatch demo` makes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import lxml.html

from crawler.demo import EDITS, SITE_DIR
from crawler.extract.article import decode_html

REPO = Path(__file__).resolve().parent.parent
PAGES_DIR = REPO / "tests" / "files" / "pages"
TEXT_DIR = REPO / "tests" / "files" / "text"
CMS_DIR = SITE_DIR / "xjrst" / "c112676"

# Real pages whose article body is a run of <p>: the shells. Left out: the homepage (no article)
# and thepaper.cn (its text is in <li>s and the two captures are the change test elsewhere).
REAL_SHELLS = (
    "chinanews.com_article.html",
    "fgw.zj.gov.cn_article.html",
    "finance.people.com.cn_article_meta-gb2312__1e20e0271231de85fba26cef6db2bedebf916402368a4602c5adb5b2acf722e1.html",
    "gmw.cn_article_source.html",
    "he.news.cn_article__090704b0cb2e2ae4e435507f38afe591b641a672afa133d7065f48992a444d9b.html",
    "people.com.cn_article_meta-gb2312_stored-utf8.html",
    "qq.com_article_meta-gb2312_source.html",
    "shanxi.gov.cn_article.html",
    "wanzai.gov.cn_tjgb2022_article.html",
    "wayback_he.xinhuanet.com_article_gb2312.html",
    "www.kepu.gov.cn_article__4e55eac42f97a6d97d14795891d2e24b715bec8c057c592a81c3d7ca08aafa10.html",
    "www.news.cn_article__14b709df543c9c22a524bd7e4989c463a5613d7c7b402b19ffc2826156a73b72.html",
    "xinhuanet.com_article_c_1125597921.html",
    "yichun.gov.cn_tjgb2022_article.html",
)
# The CMS template of rst.xinjiang.gov.cn (demo site): UTF-8, GBK without any charset, GBK
# declared gb2312. Small pages, so they are drawn more often, as on a real column.
CMS_SHELLS = (
    "201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml",
    "201907/7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml",
    "202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml",
)
CMS_WEIGHT = 4  # each CMS shell is drawn this many times per round of the real shells
ARTICLES_PER_LISTING_PAGE = 20
LISTING_PAGES_PER_COLUMN = 5
ARTICLES_PER_COLUMN = ARTICLES_PER_LISTING_PAGE * LISTING_PAGES_PER_COLUMN
FIRST_COLUMN = 113000
_SENTENCE = re.compile(r"[^。！？\n]{8,}[。！？]")
_DIGITS = re.compile(r"\d+")
_TITLE = re.compile(r"(<title[^>]*>)(.*?)(</title>)", re.S | re.I)


@dataclass(frozen=True)
class Shell:
    """A real page ready to take a paragraph: its text, codec, where the paragraph goes, and
    the CSS of its main content (what a urlwatch user would write for that site)."""

    name: str
    html: str
    codec: str
    insert_at: int
    content_css: str
    title: str

    def render(self, number: int, paragraph: str) -> bytes:
        head, tail = self.html[: self.insert_at], self.html[self.insert_at :]
        page = f"{head}<p>{paragraph}</p>{tail}"
        page = _TITLE.sub(lambda m: f"{m[1]}{self.title_for(number)}{m[3]}", page, count=1)
        return page.encode(self.codec, errors="xmlcharrefreplace")

    def title_for(self, number: int) -> str:
        return f"第{number}号 {self.title}"


@dataclass(frozen=True)
class Article:
    number: int
    column: int
    path: str  # URL path
    shell: Shell
    paragraph: str


@dataclass(frozen=True)
class Corpus:
    root: Path
    articles: list[Article]
    listing_paths: list[str]

    @property
    def columns(self) -> list[int]:
        return sorted({article.column for article in self.articles})

    def page_paths(self) -> list[str]:
        return self.listing_paths + [article.path for article in self.articles]

    def html_bytes(self) -> int:
        return sum((self.root / path.lstrip("/")).stat().st_size for path in self.page_paths())


def load_shells() -> list[Shell]:
    files = [PAGES_DIR / name for name in REAL_SHELLS] + [CMS_DIR / name for name in CMS_SHELLS] * CMS_WEIGHT
    return [_shell(path) for path in files]


def _shell(path: Path) -> Shell:
    body = path.read_bytes()
    html, codec, _ = decode_html(body)
    if codec != "utf-8":
        codec = "gb18030"  # GB2312/GBK bytes decode as GB18030; re-encoding keeps them as they were
    tree = lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    content = _main_content(tree)
    content_css = _css_for(content)
    insert_at = _insertion_point(html, content, content_css)
    if insert_at is None:
        raise ValueError(f"{path.name}: cannot find the first paragraph of the main content in the source")
    title_element = tree.find(".//title")
    title = (title_element.text_content().strip() if title_element is not None else "") or path.stem
    return Shell(path.name, html, codec, insert_at, content_css, title[:60])


def _main_content(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The element whose <p> children hold the most text: the article body."""
    text_by_parent: Counter = Counter()
    for paragraph in tree.iter("p"):
        parent = paragraph.getparent()
        if parent is not None:
            text_by_parent[parent] += len(paragraph.text_content().strip())
    return text_by_parent.most_common(1)[0][0]


def _insertion_point(html: str, content: lxml.html.HtmlElement, css: str) -> int | None:
    """Source offset of a `<p` that opens one of the content's paragraphs, checked by parsing:
    the same words often appear earlier (description metas, inline styles)."""
    body_at = html.lower().find("<body")
    for paragraph in content.iterchildren("p"):
        probe = paragraph.text_content().strip()[:6]
        if len(probe) < 6:
            continue
        at = html.find(probe, body_at)
        while at >= 0:
            opening = html.rfind("<p", body_at, at)
            if opening >= 0 and _lands_inside(html, opening, css):
                return opening
            at = html.find(probe, at + 1)
    return None


def _lands_inside(html: str, offset: int, css: str) -> bool:
    marker = "插入位置检查"
    page = f"{html[:offset]}<p>{marker}</p>{html[offset:]}"
    tree = lxml.html.fromstring(page.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    selected = tree.cssselect(css)
    return bool(selected) and marker in selected[0].text_content()


def _css_for(element: lxml.html.HtmlElement) -> str:
    """A CSS selector for the element: by id, else by its first class when no other element
    has it, else a `tag:nth-of-type()` path from the nearest ancestor with an id (or html)."""
    classes = (element.get("class") or "").split()
    if not element.get("id") and classes:
        by_class = f"{element.tag}.{classes[0]}"
        if element.getroottree().getroot().cssselect(by_class) == [element]:
            return by_class
    steps = []
    while element is not None:
        if element.get("id"):
            steps.append(f'{element.tag}[id="{element.get("id")}"]')
            break
        parent = element.getparent()
        if parent is None:
            steps.append(element.tag)
            break
        same_tag = [sibling for sibling in parent.iterchildren(element.tag)]
        steps.append(f"{element.tag}:nth-of-type({same_tag.index(element) + 1})" if len(same_tag) > 1 else element.tag)
        element = parent
    # `table tr`, not `table > tr`: html5 parsers (changedetection.io's) insert the <tbody>
    # that lxml leaves out.
    return " > ".join(reversed(steps)).replace(" > tr", " tr")


def report_sentences() -> list[str]:
    """Sentences of real report text from the text fixtures, in order."""
    sentences = []
    for path in sorted(TEXT_DIR.glob("*")):
        if path.name == "README.md":
            continue
        for line in path.read_text("utf-8").splitlines():
            if line.startswith(("#", "URL:", "Site:", "Source:", "---")):
                continue
            sentences += _SENTENCE.findall(line)
    return sentences


def paragraph_for(number: int, sentences: list[str]) -> str:
    """Two windows of consecutive real sentences (four to six in all): a different
    combination for every article up to len(sentences)² articles."""
    count = len(sentences)
    first = [sentences[(number + k) % count] for k in range(2 + number % 3)]
    second = [sentences[(number // count * 13 + 7 + k) % count] for k in range(2)]
    return "".join(first + second)


def build(root: Path, pages: int) -> Corpus:
    """Write `pages` articles and their column listings under `root` (emptied first)."""
    if pages < ARTICLES_PER_COLUMN:
        raise ValueError(f"--pages must be at least {ARTICLES_PER_COLUMN} (one full column)")
    shells = load_shells()
    sentences = report_sentences()
    articles = []
    for number in range(pages):
        column = FIRST_COLUMN + number // ARTICLES_PER_COLUMN
        digest = hashlib.md5(f"bench-article-{number}".encode()).hexdigest()
        path = f"/xjrst/c{column}/2023{1 + number % 12:02d}/{digest}.shtml"
        articles.append(Article(number, column, path, shells[number % len(shells)], paragraph_for(number, sentences)))
    for article in articles:
        _write(root, article.path, article.shell.render(article.number, article.paragraph))
    listing_paths = []
    for column in sorted({a.column for a in articles}):
        in_column = [a for a in articles if a.column == column]
        for page in range(LISTING_PAGES_PER_COLUMN):
            chunk = in_column[page * ARTICLES_PER_LISTING_PAGE : (page + 1) * ARTICLES_PER_LISTING_PAGE]
            if not chunk:
                break
            path = listing_path(column, page)
            _write(root, path, _listing_html(column, page, chunk).encode("utf-8"))
            listing_paths.append(path)
    _write(root, "/robots.txt", b"User-agent: *\nDisallow:\n")
    return Corpus(root, articles, listing_paths)


def listing_path(column: int, page: int) -> str:
    return f"/xjrst/c{column}/index.shtml" if page == 0 else f"/xjrst/c{column}/index_{page}.shtml"


def _listing_html(column: int, page: int, articles: list[Article]) -> str:
    """The demo site's column template (index.shtml) with this page's links."""
    items = "\n".join(
        f'<li><a href="{a.path}" target="_blank">{a.shell.title_for(a.number)}</a><span>2023-{1 + a.number % 12:02d}-01</span></li>'
        for a in articles
    )
    following = f'<a href="index_{page + 1}.shtml">下一页</a>' if page + 1 < LISTING_PAGES_PER_COLUMN else ""
    template = (CMS_DIR / "index.shtml").read_text("utf-8")
    listing = re.sub(r"<ul>.*</ul>", lambda _: f"<ul>\n{items}\n</ul>", template, flags=re.S)
    listing = re.sub(r'<div class="page">.*?</div>', lambda _: f'<div class="page"><a href="index.shtml">首页</a> {following}</div>',
                     listing, flags=re.S)
    return listing.replace("c112676", f"c{column}")


def edit_articles(corpus: Corpus, share: float) -> list[Article]:
    """Rewrite every 1/share-th article: its paragraph's first figure +1000, one sentence added."""
    step = round(1 / share)
    edited = corpus.articles[::step]
    added_sentence = EDITS[1][1].split("<p>")[1].split("</p>")[0]
    for article in edited:
        revised = _DIGITS.sub(lambda m: str(int(m[0]) + 1000), article.paragraph, count=1) + added_sentence
        _write(corpus.root, article.path, article.shell.render(article.number, revised))
    return edited


def _write(root: Path, url_path: str, body: bytes) -> None:
    target = root / url_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
