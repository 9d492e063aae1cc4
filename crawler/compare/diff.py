"""Sentence-level diff of two versions of a page's text.

Researchers need to see *what* an edited page says now that it did not say before: a figure
changed from 81000 to 82000, a sentence about 激发内生动力 added, a paragraph gone. Lines are
too coarse (one line is often a whole paragraph) and characters too fine, so the diff pairs
sentences first and shows character edits only inside a sentence that was edited.

``added`` and ``removed`` hold only sentences with no similar counterpart; an edited sentence
appears once, in ``changed``, with its old and new forms and the character operations
between them. A sentence that moved is reported as removed at its old place and added at its
new one.

Sentences and characters are shown as each version writes them (，（：), but compared in their
normalised form: a sentence that only switched between full-width and half-width is unchanged.
"""

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal, NamedTuple

from crawler.compare.normalise import normalise_text
from crawler.compare.sentences import split_sentences
from crawler.safe_text import printable

# Two sentences are the same sentence, edited, when at least half their characters match.
CHANGED_SENTENCE_MIN_RATIO = 0.5
# Pairing costs one character comparison per (old, new) pair in a replaced block; above this
# many pairs (a rewritten page) the block is reported as removed + added without pairing.
_MAX_PAIRS_PER_BLOCK = 40_000

# Edit units inside a sentence: a number (82,000 / 175.62), a Latin word, or one character.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+|.", re.DOTALL)
_RED, _GREEN, _RESET = "\x1b[31m", "\x1b[32m", "\x1b[0m"


class CharOp(NamedTuple):
    """One step turning an old sentence into the new one (difflib's tags); in an ``equal`` step
    ``old`` and ``new`` read the same once normalised."""

    tag: Literal["equal", "insert", "delete", "replace"]
    old: str
    new: str


@dataclass(frozen=True)
class SentenceChange:
    """A sentence present in both versions, edited in between."""

    old: str
    new: str
    ops: list[CharOp]


@dataclass(frozen=True)
class TextDiff:
    """What changed between two texts, sentence by sentence."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[SentenceChange] = field(default_factory=list)
    similarity: float = 1.0  # share of characters (both versions) left unchanged, 0..1

    @property
    def is_empty(self) -> bool:
        """True when no sentence was added, removed or edited."""
        return not (self.added or self.removed or self.changed)

    def as_json(self) -> dict:
        """The sentences as stored in an event's detail and printed by `docwatch diff --json`."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": [{"old": c.old, "new": c.new, "ops": [list(op) for op in c.ops]} for c in self.changed],
        }


def diff_texts(old: str, new: str) -> TextDiff:
    """Compare two texts (noise stripped) sentence by sentence."""
    old_sentences, new_sentences = split_sentences(old), split_sentences(new)
    old_keys, new_keys = list(map(normalise_text, old_sentences)), list(map(normalise_text, new_sentences))
    matcher = SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    changed: list[SentenceChange] = []
    unchanged_chars = 0
    for tag, old_lo, old_hi, new_lo, new_hi in matcher.get_opcodes():
        old_block, new_block = old_sentences[old_lo:old_hi], new_sentences[new_lo:new_hi]
        if tag == "equal":
            unchanged_chars += 2 * sum(map(len, old_block))
            continue
        pairs = _pair_similar(old_keys[old_lo:old_hi], new_keys[new_lo:new_hi]) if tag == "replace" else []
        paired_old = {old_index for old_index, _ in pairs}
        paired_new = {new_index for _, new_index in pairs}
        removed += [s for i, s in enumerate(old_block) if i not in paired_old]
        added += [s for i, s in enumerate(new_block) if i not in paired_new]
        for old_index, new_index in pairs:
            change = _char_change(old_block[old_index], new_block[new_index])
            changed.append(change)
            unchanged_chars += 2 * sum(len(op.old) for op in change.ops if op.tag == "equal")
    total_chars = sum(map(len, old_sentences)) + sum(map(len, new_sentences))
    similarity = unchanged_chars / total_chars if total_chars else 1.0
    return TextDiff(added=added, removed=removed, changed=changed, similarity=similarity)


def _pair_similar(old_block: list[str], new_block: list[str]) -> list[tuple[int, int]]:
    """Pair each old sentence with its most similar new one, keeping document order."""
    if len(old_block) * len(new_block) > _MAX_PAIRS_PER_BLOCK:
        return []
    pairs: list[tuple[int, int]] = []
    next_new = 0
    for old_index, old_sentence in enumerate(old_block):
        best_ratio, best_new = CHANGED_SENTENCE_MIN_RATIO, None
        for new_index in range(next_new, len(new_block)):
            matcher = SequenceMatcher(None, old_sentence, new_block[new_index], autojunk=False)
            if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio >= best_ratio:
                best_ratio, best_new = ratio, new_index
        if best_new is not None:
            pairs.append((old_index, best_new))
            next_new = best_new + 1
    return pairs


def _char_change(old: str, new: str) -> SentenceChange:
    """Character operations, with numbers and Latin words kept whole: 8[-1-]{+2+}000 would
    hide that 81000 became 82000."""
    old_tokens, new_tokens = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = SequenceMatcher(
        None, list(map(normalise_text, old_tokens)), list(map(normalise_text, new_tokens)), autojunk=False
    )
    ops = [
        CharOp(tag, "".join(old_tokens[old_lo:old_hi]), "".join(new_tokens[new_lo:new_hi]))
        for tag, old_lo, old_hi, new_lo, new_hi in matcher.get_opcodes()
    ]
    return SentenceChange(old=old, new=new, ops=ops)


def render_terminal(diff: TextDiff, colour: bool) -> str:
    """Readable text for ``docwatch diff``: ``-`` removed, ``+`` added, ``~`` edited sentences.

    Inside an edited sentence, deleted text shows as ``[-old-]`` and inserted text as
    ``{+new+}``, or in red and green when ``colour`` is set.
    """
    if diff.is_empty:
        return "no changes"

    def paint(fragment: str, ansi: str, plain_open: str, plain_close: str) -> str:
        fragment = printable(fragment)
        return f"{ansi}{fragment}{_RESET}" if colour else f"{plain_open}{fragment}{plain_close}"

    lines = [
        f"similarity {diff.similarity:.1%}: {len(diff.changed)} edited, "
        f"{len(diff.added)} added, {len(diff.removed)} removed"
    ]
    for change in diff.changed:
        pieces = []
        for op in change.ops:
            if op.tag == "equal":
                pieces.append(printable(op.new))
                continue
            if op.old:
                pieces.append(paint(op.old, _RED, "[-", "-]"))
            if op.new:
                pieces.append(paint(op.new, _GREEN, "{+", "+}"))
        lines.append("~ " + "".join(pieces))
    lines += [paint("- " + sentence, _RED, "", "") for sentence in diff.removed]
    lines += [paint("+ " + sentence, _GREEN, "", "") for sentence in diff.added]
    return "\n".join(lines)
