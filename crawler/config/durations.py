"""Durations as people write them ("30s", "15m", "6h", "1d", "2w", "1h30m"): one grammar for the
watchlist's `interval:` and the CLI's `--since`, each of which says in its own words where the
bad one was."""

from __future__ import annotations

import re

UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
EXAMPLES = "30s, 15m, 6h, 1d, 2w or 1h30m"
_PATTERN = re.compile(r"\s*".join(rf"(?:(?P<{unit}>\d+)\s*{unit})?" for unit in UNIT_SECONDS))


def duration_seconds(text: str) -> int:
    """'1h30m' -> 5400: numbers with units w, d, h, m, s, largest first, any case."""
    match = _PATTERN.fullmatch(text.strip().lower()) if text.strip() else None
    if match is None:
        raise ValueError(f"'{text}' is not a duration: write a number with a unit (s, m, h, d, w), e.g. {EXAMPLES}")
    return sum(int(amount) * UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


def format_duration(seconds: int) -> str:
    """5400 -> '1h30m', the inverse of duration_seconds (in days at most: a schedule reads
    "every 14d", not "every 2w")."""
    parts = []
    for unit in ("d", "h", "m", "s"):
        amount, seconds = divmod(seconds, UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
