"""Chinese text in the HTML digest renders as Chinese glyphs in Chromium, not as boxes: without
a CJK font (`setup.sh --test` installs fonts-noto-cjk) every character is the same empty box,
so two different phrases would look the same."""

from __future__ import annotations

import pytest

from crawler.report.model import Digest
from crawler.report.render import render_html
from tests.test_digest_e2e import CHROMIUM, chromium

EMPTY_DIGEST = "<p>Nothing changed in this period.</p>"


def rendered(tmp_path, name: str, text: str) -> bytes:
    """A screenshot of `text`, large, in the digest's own page and style."""
    html = render_html(Digest(generated_at="2026-12-01T08:00:00+00:00", since=None, events=()))
    assert EMPTY_DIGEST in html
    page = tmp_path / f"{name}.html"
    page.write_text(html.replace(EMPTY_DIGEST, f'<p style="font-size:64px">{text}</p>'), "utf-8")
    screenshot = tmp_path / f"{name}.png"
    chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=600,400", page.as_uri())
    return screenshot.read_bytes()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install -y chromium)")
@pytest.mark.e2e  # a browser
def test_chinese_renders_as_glyphs_not_boxes(tmp_path):
    transfer = rendered(tmp_path, "transfer", "转移就业")
    motivation = rendered(tmp_path, "motivation", "内生动力")
    no_font_has_these = rendered(tmp_path, "missing", "\U000f0000\U000f0001\U000f0002\U000f0003")
    assert transfer[:8] == b"\x89PNG\r\n\x1a\n"
    assert transfer != no_font_has_these, "Chinese renders as missing-glyph boxes: install a CJK font (fonts-noto-cjk)"
    assert transfer != motivation, "two different phrases render the same: Chinese glyphs are boxes"
