"""Remove page furniture that changes on every load, so that it never counts as a change.

Government pages print visitor counters (浏览次数：1632) and page-generation times
(页面生成时间 2023-10-11 14:34:31); hashing them would report every fetch as an edit. Only
the changing value is removed, the label stays: a counter that the page filled by script
(left empty, "浏览次数:") and one that printed a number then give the same text.

Patterns match on :func:`fold_width` of the text (浏览次数：１６３２ reads 浏览次数:1632) and
what they match is cut from the text itself, so the page's own characters (the form people
read) and its normalised form (the form that is hashed) lose the same furniture.
"""

import re
from collections.abc import Sequence

from crawler.compare.normalise import fold_width

# A counter's number stands alone: "延伸阅读:2023年…" is a heading followed by a title.
_COUNTER = re.compile(
    r"((?:浏览|访问|点击|阅读)(?:次数|量|数)?\s*[:：])"
    r"\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?![\d.年月日万/-])(?:\s*次)?"
)
# Starts at the literal 生成, so the regex engine jumps from one 生成 to the next (a 页面 before
# it stays in the text either way: only what follows the label is removed).
_GENERATED_AT = re.compile(
    r"(生成(?:时间|日期|于)\s*[:：]?)\s*"
    r"\d{4}[-/年.]\d{1,2}[-/月.]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
)
_BUILT_IN = (_COUNTER, _GENERATED_AT)


def strip_noise(text: str, patterns: Sequence[re.Pattern[str]] = ()) -> str:
    """Return ``text`` without counters, generation times and matches of ``patterns``.

    Built-in noise keeps its label (group 1); a source's own ``patterns`` are removed whole,
    because only the source's configuration knows what its furniture looks like.
    """
    for pattern in patterns:
        if not isinstance(pattern, re.Pattern):
            raise TypeError(f"noise patterns must be compiled with re.compile, got {pattern!r}")
    folded = fold_width(text)
    for noise, keep_label in [*((noise, True) for noise in _BUILT_IN), *((pattern, False) for pattern in patterns)]:
        pieces, kept_until = [], 0
        for match in noise.finditer(folded):
            pieces.append(text[kept_until : match.end(1) if keep_label else match.start()])
            kept_until = match.end()
        if pieces:
            text = "".join(pieces) + text[kept_until:]
            folded = fold_width(text)
    return text
