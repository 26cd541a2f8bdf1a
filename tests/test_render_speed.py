"""``render`` writes its own JSON (json's indenting encoder is pure Python, issue 15): the text must stay
exactly ``json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\\n"``, byte for byte."""

from __future__ import annotations

import collections
import enum
import json
import random
from typing import Any

import pytest

from blueprints import template
from blueprints.template import _encoded, render
from tests.helpers import OUT


def _reference(body: Any) -> str:
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


_CHARS = (
    [chr(c) for c in range(0x20)]  # every control character
    + list(' "\\/\x7f\x80\xa0\xad\u2028\u2029\ufeff\ufffd\ud800\udfff')
    + list("abcXYZ019 :{}[],${}é中ß😀\U0010ffff")
)
_FLOATS = [0.0, -0.0, 0.1, 1e16, 1e15, 1e-7, 5e-324, 1.7976931348623157e308, -2.5, 1 / 3]
_FLOATS += [float("nan"), float("inf"), float("-inf")]
_INTS = [0, -1, 1, 2**31, 2**63, -(2**64), 10**30]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.choice([0, 1, 2, 5, 20, 200])))


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(12 if depth < 6 else 7)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.choice([*_FLOATS, rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-20, 20)])
    if kind == 2:
        return rng.choice([*_INTS, rng.randint(-(10**12), 10**12)])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.choice([{}, [], ()])
    if kind in (5, 6):
        return _text(rng)
    if kind in (7, 8, 9):
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(1, 6))}
    items = [_value(rng, depth + 1) for _ in range(rng.randint(1, 6))]
    return tuple(items) if kind == 10 and rng.random() < 0.3 else items


@pytest.mark.parametrize("seed", range(40))
def test_random_documents_are_written_as_json_dumps_writes_them(seed):
    rng = random.Random(seed)
    for _ in range(25):
        body = _value(rng, 0)
        if isinstance(body, dict):
            body.pop("Resources", None)  # under Resources long texts are joined (test_readable_out.py)
        assert render(body) == _reference(body)


@pytest.mark.parametrize("seed", range(10))
def test_resources_are_joined_then_written_as_json_dumps_writes_them(seed):
    rng = random.Random(1000 + seed)
    words = ["".join(rng.choice(_CHARS[:-3]) for _ in range(rng.randint(0, 40))).replace(" ", "") for _ in range(30)]
    text = "\n".join(" ".join(words[: rng.randint(0, 30)]) for _ in range(5))
    body = {
        "Resources": {"R": {"Properties": {"BuildSpec": text, "Other": _value(rng, 3)}}},
        "Outputs": _value(rng, 1),
    }
    joined = {**body, "Resources": template._join_long_texts(body["Resources"])}
    assert render(body) == _reference(joined)


def test_every_file_in_out_is_written_back_byte_for_byte():
    paths = sorted(OUT.glob("*/*.json"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        body = json.loads(text)
        assert render(body) == text == _reference(body), path


class _Colour(enum.StrEnum):
    RED = "red"


class _Size(enum.IntEnum):
    BIG = 3


class _Ratio(float):
    def __repr__(self) -> str:
        return "not used by json"


@pytest.mark.parametrize(
    "body",
    [
        {"a": _Colour.RED, "b": [_Size.BIG, _Ratio(0.5)], _Colour.RED: collections.OrderedDict(z=1, a=2)},
        [{}, [], (), [[[]]], {"": {"": ""}}],
        {"k": (1, (2.0, ("3",)))},
        [10**40, -0.0, float("nan")],
    ],
)
def test_subclasses_tuples_and_empty_containers(body):
    assert render(body) == _reference(body)


@pytest.mark.parametrize(
    "body",
    [
        {3: "int key", 2.5: "float key", True: "bool key"},
        {None: "null key"},
        [{"nested": {3: "x", 1: "y"}}],
    ],
)
def test_keys_json_converts_are_left_to_json(body):
    assert render(body) == _reference(body)


@pytest.mark.parametrize("body", [{"a": object()}, {1: "x", "b": "y"}, [b"bytes"], {"s": {1, 2}}])
def test_what_json_refuses_is_refused_the_same_way(body):
    with pytest.raises(TypeError) as expected:
        _reference(body)
    with pytest.raises(TypeError) as got:
        render(body)
    assert str(got.value) == str(expected.value)


def test_a_cycle_is_refused_as_json_refuses_it():
    body: dict[str, Any] = {"a": []}
    body["a"].append(body)
    with pytest.raises(ValueError, match="Circular reference detected"):
        render(body)


def test_plain_documents_do_not_go_through_json_dumps(monkeypatch):
    """The speed of render: no json.dumps call at all for what out/ holds, long texts included."""
    body = {
        "Resources": {"R": {"Properties": {"ZipFile": "x " * 300 + "\nline\n", "N": [1, 2.5, True, None]}}},
        "Outputs": {},
    }
    expected = _reference({**body, "Resources": template._join_long_texts(body["Resources"])})  # as written

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("json.dumps or json's encoder called")

    monkeypatch.setattr(json, "dumps", refuse)
    # ...nor json's encoder object directly (json.dumps with indent is JSONEncoder.iterencode).
    monkeypatch.setattr(json.JSONEncoder, "iterencode", refuse)
    assert render(body) == expected


@pytest.mark.parametrize("seed", range(5))
def test_encoded_length_is_that_of_json_dumps(seed):
    rng = random.Random(seed)
    for _ in range(200):
        text = _text(rng)
        assert _encoded(text) == len(json.dumps(text, ensure_ascii=False))
