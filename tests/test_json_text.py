"""crawler/json_text.py writes what `json.dumps(value, ensure_ascii=False, indent=2)` writes:
`--json` output and JSON digests are read by programs. Byte for byte, but for the spelling of
small floats that Python writes with an exponent (1e-07) and of NaN: the same number, or null."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from datetime import datetime

import pytest

from crawler.json_text import indented_json

AWKWARD_STRINGS = ["", " ", "转移就业 275万人次", 'quote " and \\ backslash', "line\nbreak\ttab\r\x00\x1b[2J\x7f\x85",
                   "\u202e\u2066bidi\u2069", "\ud800 lone surrogate", "\U0001f600", "[{,:}]", "null", "1e5", "\u2028\u2029"]
PLAIN_NUMBERS = [0, -1, 2**64, -(2**63), 2**63 - 1, 1.5, -0.0, 0.1 + 0.2, 2750000.0, 85.3, 1e15, 1e-4, True, False, None]
EXPONENT_FLOATS = [1e16, 1e-7, 1.5e300, -2.5e-10, float("nan"), float("inf"), float("-inf")]


def random_value(rng: random.Random, numbers: list, depth: int = 0):
    kind = rng.randrange(6 if depth < 5 else 2)
    if kind == 0:
        return rng.choice(AWKWARD_STRINGS)
    if kind == 1:
        return rng.choice(numbers)
    if kind in (2, 3):
        items = [random_value(rng, numbers, depth + 1) for _ in range(rng.randrange(4))]
        return tuple(items) if kind == 3 else items
    keys = AWKWARD_STRINGS + [0, 7, -2, 1.5, True, False, None]
    return {rng.choice(keys): random_value(rng, numbers, depth + 1) for _ in range(rng.randrange(5))}


def test_the_same_text_as_the_standard_library_for_every_kind_of_value():
    rng = random.Random(19)
    for _ in range(2000):
        value = {"value": random_value(rng, PLAIN_NUMBERS)}
        assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)
    for value in [*AWKWARD_STRINGS, *PLAIN_NUMBERS, [], {}, (), [[]], {"a": {}}, [{"a": [1, [2, []]]}]]:
        assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2)


def finite(value):
    """`value` as JSON readers see it: NaN and the infinities have no JSON, null stands for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return value


def test_floats_with_an_exponent_read_back_as_the_same_number():
    rng = random.Random(20)
    for _ in range(500):
        value = {"value": random_value(rng, PLAIN_NUMBERS + EXPONENT_FLOATS)}
        ours = indented_json(value)
        assert finite(json.loads(ours)) == finite(json.loads(json.dumps(value, ensure_ascii=False)))
        assert ours.splitlines()[0] == "{"  # the same layout: one member a line
    assert indented_json({"value": 1e-7}) == '{\n  "value": 1e-7\n}'


@dataclasses.dataclass
class Row:
    value: int


@pytest.mark.parametrize("value", [{"a": object()}, [b"bytes"], {(1, 2): "tuple key"}, {1j}, [Row(1)],
                                   {"at": datetime(2026, 12, 1)}])
def test_what_json_cannot_write_is_refused_as_json_refuses_it(value):
    with pytest.raises(TypeError) as standard:
        json.dumps(value, ensure_ascii=False, indent=2)
    with pytest.raises(TypeError) as ours:
        indented_json(value)
    assert str(ours.value) == str(standard.value)
