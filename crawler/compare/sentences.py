"""Sentence splitting for Chinese (and English) policy text.

Sentences are the unit of diffs and of the context shown next to a keyword or a figure, so
the split must be predictable rather than linguistically perfect: a sentence ends at
。！？；!?; or at a line break, and the terminator stays with it. Closing quotes and brackets
right after a terminator (“好！”) belong to the sentence they close. A full stop "." never
ends a sentence, because it is also the decimal point in 175.62万.
"""

import bisect
import re

_TERMINATORS = "。！？；!?;"
_CLOSERS = "”’」』）)】》\"'"
_SENTENCE = re.compile(f"[^\\n{_TERMINATORS}]*[{_TERMINATORS}]+[{_CLOSERS}]*|[^\\n{_TERMINATORS}]+")
_SPACE = " \t\u3000\u00a0"


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets ``(start, end)`` of each sentence in ``text[start:end]``, without outer spaces."""
    spans = []
    for match in _SENTENCE.finditer(text, start, len(text) if end is None else end):
        left, right = match.span()
        while left < right and text[left] in _SPACE:
            left += 1
        while right > left and text[right - 1] in _SPACE:
            right -= 1
        if left < right:
            spans.append((left, right))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, stripped of surrounding spaces, none empty."""
    return [text[left:right] for left, right in sentence_spans(text)]


class SentenceLocator:
    """Finds the sentence around an offset, scanning each line of ``text`` at most once.

    Keyword hits cluster on a few lines; a page that is one huge line must not be re-split
    for every hit.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}

    def around(self, start: int, end: int) -> tuple[int, int]:
        """Offsets of the sentence(s) covering ``text[start:end]``."""
        line_start = self.text.rfind("\n", 0, start) + 1
        if line_start not in self._lines:
            line_end = self.text.find("\n", line_start)
            spans = sentence_spans(self.text, line_start, None if line_end == -1 else line_end)
            self._lines[line_start] = ([right for _, right in spans], spans)
        ends, spans = self._lines[line_start]
        first = bisect.bisect_right(ends, start)
        last = max(first, bisect.bisect_left(ends, end))
        if first >= len(spans):
            return start, end
        return spans[first][0], spans[min(last, len(spans) - 1)][1]
