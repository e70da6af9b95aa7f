"""AIPREF Content-Usage: the RFC 9651 Dictionary, the vocabulary drafts' examples, the header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import (
    ALL_PURPOSES,
    SignalParseError,
    combine,
    parse_content_signal,
    parse_content_usage,
    parse_sf_dictionary,
    read_content_usage_header,
)

# --- RFC 9651 Dictionary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("a=y", {"a": ("token", "y")}),
        ("a=y, b=n", {"a": ("token", "y"), "b": ("token", "n")}),
        ("a=y,b=n", {"a": ("token", "y"), "b": ("token", "n")}),
        ("a=y ,\tb=n", {"a": ("token", "y"), "b": ("token", "n")}),
        ("a", {"a": ("boolean", "?1")}),
        ("a;x=1", {"a": ("boolean", "?1")}),
        ("a=?0", {"a": ("boolean", "?0")}),
        ('a="n"', {"a": ("string", "n")}),
        ('a="x\\"y"', {"a": ("string", 'x"y')}),
        ("a=42, b=-1.5", {"a": ("integer", "42"), "b": ("decimal", "-1.5")}),
        ("a=:aGk=:", {"a": ("bytes", ":aGk=:")}),
        ("a=@1659578233", {"a": ("date", "@1659578233")}),
        ("a=(x y);p", {"a": ("inner-list", "(x y)")}),
        ("a=y, a=n", {"a": ("token", "n")}),  # the last value wins
        ("*x=foo/bar:baz", {"*x": ("token", "foo/bar:baz")}),
    ],
)
def test_dictionaries(text: str, expected: dict[str, tuple[str, str]]) -> None:
    assert parse_sf_dictionary(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "A=y",
        "a=y,",
        "a=y,,b=n",
        "a==y",
        "a=y b=n",
        "1a=y",
        'a="open',
        "a=é",
        "a=?2",
        "a=(x",
        "a=1.2345",
        ",a=y",
        "a=y;",
    ],
)
def test_bad_dictionaries(text: str) -> None:
    with pytest.raises(SignalParseError):
        parse_sf_dictionary(text)


# --- the vocabulary -----------------------------------------------------------------------------


def test_vocabulary_example_allow_training_disallow_search() -> None:
    decided = parse_content_usage("train-ai=y, search=n")
    assert decided == {
        "ai-generative-training": ("not-reserved", "train-ai=y"),
        "ai-training": ("not-reserved", "train-ai=y"),
        "search": ("reserved", "search=n"),
    }


def test_vocabulary_example_duplicate_keys_keep_the_last_non_token_values() -> None:
    decided = parse_content_usage('train-ai=y, train-ai, search=n, search="n"')
    assert {status for status, _ in decided.values()} == {"unknown"}


def test_vocabulary_example_parameters_are_ignored() -> None:
    assert parse_content_usage("train-ai;allow=n, train-ai=y")["ai-training"][0] == "not-reserved"
    assert "ai-training" in parse_content_usage('train-ai;has;parameters="?"')


@pytest.mark.parametrize(
    ("value", "purpose", "status"),
    [
        ("train-ai=n", "ai-generative-training", "reserved"),
        ("train-ai=n", "ai-training", "reserved"),
        ("train-ai=n", "ai-inference", None),
        ("train-genai=n", "ai-generative-training", "reserved"),
        ("train-genai=n", "ai-training", None),
        ("train-genai=y, train-ai=n", "ai-generative-training", "not-reserved"),  # the most specific label
        ("train-genai=y, train-ai=n", "ai-training", "reserved"),
        ("ai-use=n", "ai-inference", "reserved"),
        ("all=n", "search", "reserved"),
        ("all=n, search=y", "search", "not-reserved"),
        ("all=n, search=y", "ai-training", "reserved"),
        ("search=n", "search", "reserved"),
        ("train-ai=no", "ai-training", "unknown"),
        ("train-genai=maybe, train-ai=n", "ai-generative-training", "reserved"),
        ("train-genai=maybe, train-ai=y", "ai-generative-training", "unknown"),
        ("bots=n, foo=y", "ai-training", None),  # unknown labels are ignored
    ],
)
def test_the_label_table(value: str, purpose: str, status: str | None) -> None:
    found = parse_content_usage(value).get(purpose)
    assert (found[0] if found else None) == status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "search=yes, ai-train=no",
            {"search": "not-reserved", "ai-training": "reserved", "ai-generative-training": "reserved"},
        ),
        ("ai-input=no", {"ai-inference": "reserved"}),
        ("use=immediate", {}),
        ("ai-train", {"ai-training": "unknown", "ai-generative-training": "unknown"}),
        ("", {}),
    ],
)
def test_content_signal_table(value: str, expected: dict[str, str]) -> None:
    assert {purpose: status for purpose, (status, _) in parse_content_signal(value).items()} == expected


# --- the HTTP header -----------------------------------------------------------------------------


def test_the_attach_draft_header_example() -> None:
    readings = read_content_usage_header(
        {"Content-Type": "text/plain", "Content-Usage": "train-ai=n"}, source="u"
    )
    assert [(r.signal, r.status, r.source) for r in readings] == [("http.content-usage", "reserved", "u")]


def test_header_lines_are_joined_into_one_field() -> None:
    readings = read_content_usage_header([("content-usage", "train-ai=y"), ("Content-Usage", "train-ai=n")])
    assert combine(readings).status("ai-training") == "reserved"


def test_no_header_is_unset_and_a_bad_one_unknown() -> None:
    (absent,) = read_content_usage_header({})
    assert (absent.status, absent.purposes) == ("unset", ALL_PURPOSES)
    (bad,) = read_content_usage_header({"content-usage": "train-ai=n;"})
    assert bad.status == "unknown"
    assert bad.detail


@given(st.text())
def test_arbitrary_header_values(value: str) -> None:
    for reading in read_content_usage_header({"content-usage": value}):
        if reading.status == "not-reserved":
            assert "=y" in value
