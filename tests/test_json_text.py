"""crawler/json_text.py writes what `json.dumps(value, ensure_ascii=False, indent=2)` writes,
byte for byte: `--json` output and JSON digests are read by programs."""

from __future__ import annotations

import json
import random

import pytest

from crawler.json_text import indented_json

AWKWARD_STRINGS = ["", " ", "转移就业 275万人次", 'quote " and \\ backslash', "line\nbreak\ttab\r\x00\x1b[2J\x7f\x85",
                   "\u202e\u2066bidi\u2069", "\ud800 lone surrogate", "\U0001f600", "[{,:}]", "null", "1e5"]
AWKWARD_NUMBERS = [0, -1, 2**64, -(2**63), 1.5, -0.0, 1e16, 1e-7, 0.1 + 0.2, float("nan"), float("inf"), float("-inf"),
                   True, False, None]


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(6 if depth < 5 else 2)
    if kind == 0:
        return rng.choice(AWKWARD_STRINGS)
    if kind == 1:
        return rng.choice(AWKWARD_NUMBERS)
    if kind in (2, 3):
        items = [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        return tuple(items) if kind == 3 else items
    keys = AWKWARD_STRINGS + [0, 7, -2, 1.5, True, False, None]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_the_same_text_as_the_standard_library_for_every_kind_of_value():
    rng = random.Random(19)
    for _ in range(2000):
        value = {"value": random_value(rng)}
        assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)
    for value in [*AWKWARD_STRINGS, *AWKWARD_NUMBERS, [], {}, (), [[]], {"a": {}}, [{"a": [1, [2, []]]}]]:
        assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("value", [{"a": object()}, [b"bytes"], {(1, 2): "tuple key"}, {1j}])
def test_what_json_cannot_write_is_refused_as_json_refuses_it(value):
    with pytest.raises(TypeError) as standard:
        json.dumps(value, ensure_ascii=False, indent=2)
    with pytest.raises(TypeError) as ours:
        indented_json(value)
    assert str(ours.value) == str(standard.value)
