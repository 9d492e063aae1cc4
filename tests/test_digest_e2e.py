"""Issue 6, end to end: the real `docwatch` crawls a local site of real pages three times with
edits in between, then `docwatch digest` reports exactly what a researcher should read, in
JSON, Markdown, HTML (rendered in a real headless Chromium, with hostile page text inert) and
Atom; `review` and `--unreviewed`, `--since last`, and `--email` to a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import lxml.html
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from crawler.demo import SITE_DIR, write_watchlist
from crawler.demo.localsite import LocalSite
from tests.conftest import run_docwatch
from tests.test_changes_e2e import (
    COUNTER_PAGE,
    DELETED_PAGE,
    FAILING_PAGE,
    FIGURE_PAGE,
    TERM_PAGE,
    answer_with_status,
    crawl,
    edit,
)

SITE_NAME = "工作动态 (demo listing, two pages)"  # the listing source's name in the demo watchlist
TITLE_SCRIPT = "<script>document.title='XSS-TITLE'</script>"
TEXT_SCRIPT = "<script>document.title='XSS-TEXT'</script>"
TEXT_IMG = "<img src=x onerror=\"document.title='XSS-IMG'\">"
LONG_SENTENCE = "统计数据显示" * 900 + "\u202e。"  # 5400 characters and a bidi override
REQUIRED_EVENT_FIELDS = {
    "type", "source", "url", "title", "detected_at", "published", "new_hits", "scrubbed_hits", "figures",
    "diff", "archive", "citation", "event_id", "reviewed",
}


def html_escaped(text: str) -> str:
    """How the payload must be written inside the page's HTML so that the page's *text* carries it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Scenario:
    db: Path
    watchlist: Path
    base_url: str
    second: str  # --since that covers the second and third crawls
    site: LocalSite  # still serving, for a test that crawls once more


def plant_script_in_title(site_root: Path) -> None:
    """The term page's <title> begins with a script (escaped as the page's HTML would carry it)."""
    term_page = site_root / TERM_PAGE.lstrip("/")
    term_page.write_text(re.sub("(<title[^>]*>)", lambda tag: tag[1] + html_escaped(TITLE_SCRIPT),
                                term_page.read_text("utf-8"), count=1), "utf-8")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Three crawls: a baseline; then a new term (with XSS payloads in the title and the text), a
    revised figure with a very long sentence, a scrubbed term, a 404 and a 503; then the 404 again."""
    root = tmp_path_factory.mktemp("digest")
    site_root = Path(shutil.copytree(SITE_DIR, root / "site"))
    with LocalSite(site_root) as site:
        site.root = site_root
        watchlist = write_watchlist(root, site.base_url)
        db = root / "dw.db"
        crawl(db, watchlist)
        plant_script_in_title(site_root)
        edit(site, TERM_PAGE, "马兴瑞、吴政隆参加调研。",
             f"李强强调，要引导各族群众转变就业观念{html_escaped(TEXT_SCRIPT + TEXT_IMG)}。</p><p>马兴瑞、吴政隆参加调研。")
        edit(site, FIGURE_PAGE, "培训人员402人次", f"培训人员502人次。{LONG_SENTENCE}")
        edit(site, COUNTER_PAGE, "因地制宜推行“卫星工厂”“民生坊”吸纳就业,", "")
        edit(site, COUNTER_PAGE, ">1024<", ">1187<")
        (site_root / DELETED_PAGE.lstrip("/")).unlink()
        answer_with_status(site, FAILING_PAGE, 503)
        second = crawl(db, watchlist)
        crawl(db, watchlist)  # the second 404 in a row: removed
        yield Scenario(db, watchlist, site.base_url, second, site)


@dataclass
class SmtpServer:
    """A real SMTP server on loopback that keeps what it receives; login docwatch / `password`."""

    port: int
    password: str
    received: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.received.append(envelope)
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        valid = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"docwatch", self.password.encode())
        return AuthResult(success=valid, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SmtpServer(port, secrets.token_urlsafe(12))
    controller = Controller(server, hostname="127.0.0.1", port=port, authenticator=server.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def db_copy(scenario, tmp_path) -> Path:
    """The scenario's database for a test that writes (reviews, digest records)."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(scenario.db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def digest(scenario: Scenario, *args: str, db: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    result = run_docwatch("digest", *args, db=db or scenario.db, watchlist=scenario.watchlist, env=env)
    assert result.returncode == 0, result.stderr
    return result


def json_digest(scenario: Scenario, *args: str, db: Path | None = None) -> dict:
    return json.loads(digest(scenario, "--format", "json", *args, db=db).stdout)


def snapshot_sha256(db: Path, url: str) -> str:
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT s.body_sha256 FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE p.url = ? ORDER BY s.id DESC",
            [url],
        ).fetchone()[0]


def test_json_digest_lists_exactly_the_expected_events_most_important_first(scenario):
    document = json_digest(scenario, "--since", scenario.second)
    assert document["schema"] == "docwatch-digest/1"
    assert document["since"] == scenario.second and document["generated_at"] >= scenario.second
    events = document["events"]
    path = {e["event_id"]: e["url"].removeprefix(scenario.base_url) for e in events}
    by_section = {}
    for event in events:
        by_section.setdefault(event["section"], set()).add((event["type"], path[event["event_id"]]))
    assert by_section == {
        "removed": {("removed", DELETED_PAGE)},
        "evidence": {("changed", TERM_PAGE), ("changed", FIGURE_PAGE), ("changed", COUNTER_PAGE)},
        "other": {("fetch_error", FAILING_PAGE)},
    }
    sections = [e["section"] for e in events]
    assert sections == sorted(sections, key=["removed", "evidence", "new_pages", "other"].index)
    evidence_sources = [e["source"] for e in events if e["section"] == "evidence"]
    assert evidence_sources == ["demo-rst-work-news", "demo-rst-work-news", "demo-xinhua-xinjiang"]  # grouped
    for event in events:
        assert REQUIRED_EVENT_FIELDS <= set(event), event["url"]
        assert event["detected_at"] >= scenario.second and event["reviewed"] is False
    by_path = {path[e["event_id"]]: e for e in events}

    removed = by_path[DELETED_PAGE]
    assert removed["title"] == "新疆上半年转移就业农村富余劳动力175.62万人次"
    assert removed["published"].startswith("2019-07-19")
    assert removed["archive"]["status"] != "archived" and removed["archive"]["wayback_url"] is None
    assert removed["archive"]["sha256"] == snapshot_sha256(scenario.db, scenario.base_url + DELETED_PAGE)
    assert removed["citation"] == (
        f"新疆上半年转移就业农村富余劳动力175.62万人次. {SITE_NAME}, 2019-07-19. "
        f"{scenario.base_url}{DELETED_PAGE} (not yet archived)."
    )

    figure = by_path[FIGURE_PAGE]
    assert [(f["value"], f["unit"], f["text"]) for f in figure["figures"]] == [(502, "人次", "502人次")]
    assert "培训人员502人次" in figure["figures"][0]["context"]
    assert [(f["value"], f["text"]) for f in figure["removed_figures"]] == [(402, "402人次")]
    assert ["replace", "402", "502"] in figure["diff"]["changed"][0]["ops"]
    assert figure["new_hits"] == [] and figure["scrubbed_hits"] == []
    long_added = [s for s in figure["diff"]["added"] if s.startswith("统计数据显示")]
    assert long_added and all(len(s) <= 600 and "\u202e" not in s for s in long_added)  # hostile length bounded

    term = by_path[TERM_PAGE]
    assert [(h["term"], h["set"]) for h in term["new_hits"]] == [("转变就业观念", "coercion")]
    assert "要引导各族群众转变就业观念" in term["new_hits"][0]["context"]
    assert term["title"].startswith(TITLE_SCRIPT)  # the page's text, kept as text
    assert any(TEXT_SCRIPT in sentence for sentence in term["diff"]["added"])

    scrubbed = by_path[COUNTER_PAGE]
    assert [(h["term"], h["set"]) for h in scrubbed["scrubbed_hits"]] == [("卫星工厂", "labor_transfer")]
    assert "卫星工厂" in scrubbed["scrubbed_hits"][0]["context"]

    failing = by_path[FAILING_PAGE]
    assert "503" in failing["summary"]


def test_atom_feed_of_the_same_events_parses(scenario):
    events = json_digest(scenario, "--since", scenario.second)["events"]
    feed = feedparser.parse(digest(scenario, "--since", scenario.second, "--format", "atom").stdout)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert [entry.link for entry in feed.entries] == [event["url"] for event in events]
    assert [entry.title for entry in feed.entries] == [f"[{e['type']}] {e['title']}" for e in events]
    figure_entry = next(entry for entry in feed.entries if entry.link.endswith(FIGURE_PAGE))
    assert "<del>402</del><ins>502</ins>" in figure_entry.content[0].value
    assert '<dl class="archive">' in figure_entry.content[0].value  # a card, with its evidence
    # a fetch error's entry is its one line, as in the HTML digest; the citation is the summary
    failing = next(entry for entry in feed.entries if entry.link.endswith(FAILING_PAGE))
    failing_event = next(event for event in events if event["url"].endswith(FAILING_PAGE))
    assert failing.content[0].value.startswith('<li class="line">') and "503" in failing.content[0].value
    assert failing.summary == failing_event["citation"]
    assert all(entry.updated_parsed for entry in feed.entries)


def test_markdown_digest_highlights_changes_and_escapes_page_text(scenario):
    text = digest(scenario, "--since", scenario.second).stdout
    assert text.index("## Removed or unlinked pages") < text.index("## New figures and keyword hits") < text.index("## Other changes")
    assert "培训人员~~402~~**502**人次" in text
    assert "**转变就业观念**" in text and "SCRUBBED **卫星工厂**" in text
    assert not re.search(r"(?<!\\)<(script|/script|img)", text)  # every < of page text is escaped
    assert "\\<script\\>document.title='XSS-TEXT'\\</script\\>" in text


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install -y chromium)")
@pytest.mark.e2e  # a browser
def test_payloads_run_in_chromium_when_not_escaped(tmp_path):
    """The control: these payloads do change the document when a page lets them through, so the
    next test's check would see them."""
    page = tmp_path / "unsafe.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body><p>{TEXT_SCRIPT}</p></body></html>")
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert "<title>XSS-TEXT</title>" in dom


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install -y chromium)")
def test_html_digest_renders_in_chromium_with_the_payloads_inert(scenario, tmp_path):
    output = tmp_path / "digest.html"
    digest(scenario, "--since", scenario.second, "--output", str(output))
    tree = lxml.html.fromstring(output.read_bytes())
    assert not tree.xpath("//script | //img | //link | //iframe | //object | //embed | //*[@src]")  # self-contained
    assert not [name for element in tree.iter() for name in element.attrib if name.startswith("on")]
    assert all(href.startswith(("http://", "https://")) for href in tree.xpath("//a/@href"))

    dom = chromium(tmp_path / "profile", "--dump-dom", output.as_uri()).stdout
    assert "<title>docwatch digest" in dom and "XSS-" not in dom.split("</title>")[0]
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert html_escaped(TEXT_SCRIPT) in dom  # shown as text
    assert "<mark>转变就业观念</mark>" in dom and "<del>402</del><ins>502</ins>" in dom

    screenshot = tmp_path / "digest.png"
    chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=412,900", output.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 10_000


def test_reviewed_events_leave_unreviewed_digests(scenario, db_copy):
    events = json_digest(scenario, "--since", scenario.second, db=db_copy)["events"]
    figure_event = next(e["event_id"] for e in events if e["url"].endswith(FIGURE_PAGE))

    result = run_docwatch("review", str(figure_event), db=db_copy, watchlist=scenario.watchlist)
    assert result.returncode == 0 and "Marked 1 event(s) reviewed" in result.stdout
    unreviewed = json_digest(scenario, "--since", scenario.second, "--unreviewed", db=db_copy)["events"]
    assert {e["event_id"] for e in unreviewed} == {e["event_id"] for e in events} - {figure_event}
    everything = json_digest(scenario, "--since", scenario.second, db=db_copy)["events"]
    assert [e["reviewed"] for e in everything if e["event_id"] == figure_event] == [True]

    result = run_docwatch("review", "--all", "--since", scenario.second, db=db_copy, watchlist=scenario.watchlist)
    assert result.returncode == 0 and f"Marked {len(events) - 1} event(s) reviewed" in result.stdout
    left = json_digest(scenario, "--since", "2000-01-01", "--unreviewed", db=db_copy)["events"]
    assert left and {e["type"] for e in left} == {"new_page"}  # the baseline crawl, before --since


def test_review_refuses_unknown_ids_and_missing_arguments(scenario, db_copy):
    result = run_docwatch("review", "1", "99999", db=db_copy, watchlist=scenario.watchlist)
    assert result.returncode == 2 and "no event 99999; nothing marked" in result.stderr
    assert json_digest(scenario, "--since", "2000-01-01", "--unreviewed", db=db_copy)["events"][0]["reviewed"] is False
    result = run_docwatch("review", db=db_copy, watchlist=scenario.watchlist)
    assert result.returncode == 2 and "give event ids" in result.stderr


def test_since_last_continues_from_the_previous_digest_to_the_same_place(scenario, db_copy, tmp_path):
    def digest_to(path: Path, *args: str) -> dict:
        digest(scenario, "--output", str(path), *args, db=db_copy)
        return json.loads(path.read_text("utf-8"))

    with sqlite3.connect(db_copy) as con:
        all_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    daily = tmp_path / "daily.json"
    first = digest_to(daily, "--since", "last")
    assert first["since"] is None and len(first["events"]) == all_events  # no digest there before: everything
    second = digest_to(daily)  # `last` is the default
    assert second["since"] == first["generated_at"] and second["events"] == []
    assert len(digest_to(tmp_path / "other.json")["events"]) == all_events  # another destination has its own `last`

    edit(scenario.site, FIGURE_PAGE, "培训人员502人次", "培训人员602人次")
    crawl(db_copy, scenario.watchlist)
    third = digest_to(daily)
    assert third["since"] == second["generated_at"]
    assert [(e["type"], [f["value"] for f in e["figures"]]) for e in third["events"]] == [("changed", [602])]


def test_bad_digest_options_are_refused(scenario):
    cases = [
        (("--since", "yesterday"), "neither a duration"),
        (("--source", "nope"), "unknown source nope"),
        (("--tag", "nope"), "no source has tag nope"),
        (("--email", "--output", "x.html"), "give one or the other"),
    ]
    for args, message in cases:
        result = run_docwatch("digest", *args, db=scenario.db, watchlist=scenario.watchlist)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_digest_by_source_and_tag(scenario):
    by_source = json_digest(scenario, "--since", scenario.second, "--source", "demo-xinhua-xinjiang")["events"]
    assert [(e["source"], e["type"]) for e in by_source] == [("demo-xinhua-xinjiang", "changed")]
    by_tag = json_digest(scenario, "--since", scenario.second, "--tag", "state-media")["events"]
    assert by_tag == by_source


def test_email_digest_arrives_at_a_real_smtp_server(scenario, db_copy, smtp_server):
    env = {
        "DOCWATCH_SMTP_HOST": "127.0.0.1", "DOCWATCH_SMTP_PORT": str(smtp_server.port),
        "DOCWATCH_SMTP_FROM": "docwatch@example.org", "DOCWATCH_SMTP_TO": "analyst@example.org, desk@example.org",
        "DOCWATCH_SMTP_STARTTLS": "false", "DOCWATCH_SMTP_USER": "docwatch", "DOCWATCH_SMTP_PASSWORD": smtp_server.password,
    }
    result = digest(scenario, "--email", "--since", scenario.second, db=db_copy, env=env)
    assert "Sent to analyst@example.org, desk@example.org" in result.stdout
    (envelope,) = smtp_server.received
    assert envelope.rcpt_tos == ["analyst@example.org", "desk@example.org"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == "docwatch digest: 5 event(s), 1 removed, 3 with new figures/hits"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "培训人员~~402~~**502**人次" in text
    assert "<del>402</del><ins>502</ins>" in html and "<script>" not in html

    wrong = {**env, "DOCWATCH_SMTP_PASSWORD": "wrong"}
    result = run_docwatch("digest", "--email", db=db_copy, watchlist=scenario.watchlist, env=wrong)
    assert result.returncode == 1 and "could not send the digest through 127.0.0.1" in result.stderr
    assert len(smtp_server.received) == 1
