"""The digest puts the important item first: on the demo's data, the edited quota (a figure
no longer stated, a silent edit) leads its section; long new-page cards fold away; the Atom
feed names itself and tells its entries apart."""

from __future__ import annotations

import json
import subprocess

import feedparser
import lxml.etree
import lxml.html
import pytest

from crawler.demo import EDITED_ARTICLE
from tests.conftest import run_docwatch


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    result = run_docwatch("--data-dir", str(root), "demo")
    assert result.returncode == 0, result.stderr
    return root / "demo"


def digest(demo_data, *args: str) -> subprocess.CompletedProcess:
    result = run_docwatch("digest", "--since", "7d", *args, env={"DOCWATCH_DATA_DIR": str(demo_data)})
    assert result.returncode == 0, result.stderr
    return result


def test_the_edited_quota_leads_its_section_and_scores_order_each_source(demo_data):
    events = json.loads(digest(demo_data, "--format", "json").stdout)["events"]
    evidence = [event for event in events if event["section"] == "evidence"]
    assert len(evidence) == 6  # with the scanned 附件 the edit linked (its figure read by OCR)
    first = evidence[0]
    assert first["type"] == "changed" and first["url"].endswith(EDITED_ARTICLE)
    assert first["silent_edit"] and [f["text"] for f in first["removed_figures"]] == ["20859人"]
    assert first["event_id"] == max(event["event_id"] for event in events  # the newest page: not id order
                                    if event["type"] != "new_document" and event["section"] != "history")
    scores = [event["score"] for event in evidence]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]


def test_html_cards_in_score_order_with_long_new_pages_folded(demo_data, tmp_path):
    output = tmp_path / "digest.html"
    digest(demo_data, "--output", str(output))
    page = lxml.html.fromstring(output.read_text("utf-8"))
    section = next(s for s in page.iter("section") if s.findtext("h2") == "New figures and keyword hits")
    cards = section.findall(".//article")
    assert cards[0].findtext("h4/span") == "changed"
    assert cards[0].find(".//details") is None  # the change shows everything
    folded = [card for card in cards[1:] if card.find(".//details") is not None]
    assert folded, "a new page with many terms and figures keeps the rest behind <details>"
    for card in folded:
        visible = [li for ul in card.findall("ul") for li in ul.findall("li")]
        assert len(visible) <= 6  # three terms and three figures
        assert "more new term(s)" in card.find(".//details/summary").text_content()


def test_atom_feed_links_to_itself_and_each_entry_has_its_own_updated(demo_data, tmp_path):
    output = tmp_path / "feed.atom"
    digest(demo_data, "--output", str(output))
    feed = feedparser.parse(output.read_text("utf-8"))
    assert not feed.bozo, feed.get("bozo_exception")
    atom = lxml.etree.fromstring(output.read_bytes())
    assert atom.xpath("/a:feed/a:link[@rel='self']/@href", namespaces={"a": "http://www.w3.org/2005/Atom"}) == [
        output.resolve().as_uri()]
    updated = [entry.updated for entry in feed.entries]
    assert len(updated) == 12 and len(set(updated)) == 12  # with the report's history the demo backfilled

    served = feedparser.parse(digest(demo_data, "--format", "atom", "--feed-url", "https://example.org/dw.atom").stdout)
    assert [link.href for link in served.feed.links if link.rel == "self"] == ["https://example.org/dw.atom"]
    refused = run_docwatch("digest", "--format", "atom", "--feed-url", "dw.atom", env={"DOCWATCH_DATA_DIR": str(demo_data)})
    assert refused.returncode == 2 and "--feed-url 'dw.atom'" in refused.stderr
