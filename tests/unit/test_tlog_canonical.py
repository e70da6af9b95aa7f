"""RFC 8785 canonical JSON: agrees with the reference ``rfc8785`` package, rejects what JCS can't."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_shared.tlog import CanonicalizationError, TlogError, canonical_json

SAFE = 2**53 - 1


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


EXAMPLES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    SAFE,
    -SAFE,
    "",
    "plain",
    'quote " backslash \\ slash /',
    "\b\f\n\r\t\x00\x01\x1f\x7f",
    "\u2028\u2029 é € 😀 \U0010ffff",
    [],
    {},
    [1, [2, [3, []]], {}],
    (1, 2, "tuple"),
    {"b": 1, "a": 2, "aa": 3, "A": 4, "": 5},
    {"numbers": [0, 1, -1, 12345678901234], "nested": {"z": None, "y": [True, False]}},
    # RFC 8785 §3.2.3 sorting example: UTF-16 code unit order, not code point order.
    {"€": "Euro Sign", "\r": "Carriage Return", "דּ": "Hebrew Letter Dalet With Dagesh", "1": "One",
     "😀": "Emoji: Grinning Face", "\u0080": "Control", "ö": "Latin Small Letter O With Diaeresis"},
    {"\ue000": 1, "\U0001f600": 2, "\uffff": 3, "\U00010000": 4},
    {"decision": {"verdict": "CONSENT", "reasons": ["deal"], "kafka": {"partition": 3, "offset": 9}}},
]  # fmt: skip


@pytest.mark.parametrize("value", EXAMPLES)
def test_matches_reference_implementation(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_rfc8785_sort_example_order() -> None:
    out = canonical_json({"€": 1, "\r": 2, "דּ": 3, "1": 4, "😀": 5, "\u0080": 6, "ö": 7})
    keys = list(json.loads(out))
    assert keys == ["\r", "1", "\u0080", "ö", "€", "😀", "דּ"]


def test_non_bmp_key_sorts_below_private_use_area() -> None:
    # Code point order would put U+1F600 last; UTF-16 puts its surrogates (D83D) first.
    assert canonical_json({"\ue000": 1, "\U0001f600": 2}) == '{"😀":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (-0.0, b"0"),
        (0.0, b"0"),
        (-7.0, b"-7"),
        (float(SAFE), str(SAFE).encode()),
        ({"a": 2.0, "b": [3.0]}, b'{"a":2,"b":[3]}'),
    ],
)
def test_integral_floats_are_written_as_integers(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        {"x": 0.1},
        float("nan"),
        float("inf"),
        -float("inf"),
        2.0**53,
        2**53,
        -(2**53),
        {1: "int key"},
        {"a": {2: "nested int key"}},
        {"a": object()},
        {1, 2},
        b"bytes",
        "\ud800",
        {"\udc00": 1},
    ],
)
def test_rejects_values_without_a_canonical_form(value: object) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonical_json(value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TlogError)


def test_rejects_absurd_nesting() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CanonicalizationError):
        canonical_json(deep)


def test_rejects_cycles() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(CanonicalizationError):
        canonical_json(cyclic)


def test_enums_and_mapping_subclasses_are_written_as_their_values() -> None:
    value = OrderedDict([("z", Colour.RED), ("a", Level.HIGH), (Colour.RED, [Level.HIGH])])
    assert canonical_json(value) == b'{"a":3,"red":[3],"z":"red"}'


json_scalars = st.none() | st.booleans() | st.integers(min_value=-SAFE, max_value=SAFE) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_matches_reference_on_generated_values(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(
            alphabet=st.characters(min_codepoint=0xD000, max_codepoint=0x1F64F, exclude_categories=["Cs"]),
            max_size=4,
        ),
        st.integers(min_value=-SAFE, max_value=SAFE).map(float),
        max_size=6,
    )
)
def test_matches_reference_on_astral_keys_and_integral_floats(value: dict[str, float]) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)
