"""The Atom digest is written as text: it must stay well-formed XML whatever it carries."""

from __future__ import annotations

import feedparser
import lxml.etree

from crawler.report.model import Digest
from crawler.report.render import render_atom


def test_markup_quotes_and_characters_xml_cannot_carry_leave_a_well_formed_feed():
    hostile = 'https://example.org/feed.atom?a=1&b="<x>"\x0b\x00'
    feed = render_atom(Digest(generated_at="2026-12-01T08:00:00+00:00", since=None, events=()), hostile)
    root = lxml.etree.fromstring(feed.encode("utf-8"))  # raises on anything not well-formed
    atom = {"a": "http://www.w3.org/2005/Atom"}
    assert root.xpath("/a:feed/a:link[@rel='self']/@href", namespaces=atom) == ['https://example.org/feed.atom?a=1&b="<x>"']
    parsed = feedparser.parse(feed)
    assert not parsed.bozo and parsed.feed.subtitle == "no changes" and parsed.entries == []
