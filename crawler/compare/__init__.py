"""Pure functions over text: tidy and normalise, split sentences, diff, match keywords, extract figures.

Nothing here touches Scrapy, the network or the database, so every rule is unit-testable.
"""

from crawler.compare.diff import SentenceChange, TextDiff, diff_texts, render_terminal
from crawler.compare.figures import DEFAULT_FIGURE_TERMS, Figure, extract_figures, one_per_figure
from crawler.compare.keywords import Hit, KeywordMatcher, KeywordSet
from crawler.compare.noise import strip_noise
from crawler.compare.normalise import fold_for_matching, normalise_text, tidy_text
from crawler.compare.sentences import split_sentences

__all__ = [
    "DEFAULT_FIGURE_TERMS",
    "Figure",
    "Hit",
    "KeywordMatcher",
    "KeywordSet",
    "SentenceChange",
    "TextDiff",
    "diff_texts",
    "extract_figures",
    "fold_for_matching",
    "normalise_text",
    "one_per_figure",
    "render_terminal",
    "split_sentences",
    "strip_noise",
    "tidy_text",
]
