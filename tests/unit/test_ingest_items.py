"""Stable manifest and event ids, and the items.v1 event built from a parsed item."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import HttpUrl, ValidationError

from consentry_ingest.domain import (
    ITEM_EVENT_NAMESPACE,
    ManifestParser,
    RawItem,
    item_event_id,
    manifest_id_for,
    to_event,
)
from consentry_shared.contracts.v1 import ItemEvent, Purpose

CONTENT = "0f" * 32
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


# --- manifest ids ------------------------------------------------------------------------------


def test_declared_id_is_scoped_by_platform() -> None:
    assert manifest_id_for("acme", "laion-400m@2", CONTENT) == "acme:id:laion-400m@2"
    assert manifest_id_for("acme", "m", CONTENT) != manifest_id_for("other", "m", CONTENT)


def test_without_a_declared_id_the_content_hash_decides() -> None:
    assert manifest_id_for("acme", None, CONTENT) == f"acme:sha256:{CONTENT}"
    assert manifest_id_for("acme", None, CONTENT.upper()) == f"acme:sha256:{CONTENT}"
    assert manifest_id_for("acme", None, CONTENT) != manifest_id_for("beta", None, CONTENT)
    assert manifest_id_for("acme", None, CONTENT) != manifest_id_for("acme", None, "1" * 64)


def test_a_declared_id_never_collides_with_a_derived_one() -> None:
    assert manifest_id_for("acme", f"sha256:{CONTENT}", CONTENT) != manifest_id_for("acme", None, CONTENT)


def test_the_platform_cannot_be_confused_with_the_declared_id() -> None:
    assert manifest_id_for("a:id:b", "c", CONTENT) != manifest_id_for("a", "b:id:c", CONTENT)
    assert manifest_id_for("a:id:b", "c", CONTENT) == "a%3Aid%3Ab:id:c"


def test_the_content_hash_does_not_matter_when_an_id_is_declared() -> None:
    assert manifest_id_for("acme", "m", CONTENT) == manifest_id_for("acme", "m", "1" * 64)


def test_an_over_long_declared_id_is_hashed_to_fit_the_contract() -> None:
    long_id = "m" * 4096
    manifest_id = manifest_id_for("acme", long_id, CONTENT)
    assert manifest_id.startswith("acme:id-sha256:")
    assert len(manifest_id) <= 4096
    assert manifest_id != manifest_id_for("acme", long_id + "x", CONTENT)


@pytest.mark.parametrize(
    ("platform", "header_id", "content"),
    [("", "m", CONTENT), ("acme", "", CONTENT), ("acme", None, "abc"), ("p" * 1025, "m", CONTENT)],
)
def test_manifest_id_rejects_bad_arguments(platform: str, header_id: str | None, content: str) -> None:
    with pytest.raises(ValueError, match=r"must|longer"):
        manifest_id_for(platform, header_id, content)


# --- event ids ---------------------------------------------------------------------------------


def test_event_id_is_a_pinned_uuid5() -> None:
    # Pinned: if this changes, every re-submitted manifest would look new to every consumer.
    assert str(ITEM_EVENT_NAMESPACE) == "ef461296-6bc8-4b57-9bbd-9536b5236648"
    assert item_event_id("acme:id:m", "item-1") == str(uuid.uuid5(ITEM_EVENT_NAMESPACE, "9:acme:id:mitem-1"))
    assert item_event_id("acme:id:m", "item-1") == "6a2d46a2-1b57-5cd7-8e68-e42b6cb9d2ea"


@given(st.text(), st.text())
def test_event_id_equals_the_standard_library_uuid5(manifest_id: str, item_id: str) -> None:
    try:
        f"{manifest_id}{item_id}".encode()
    except UnicodeEncodeError:
        return  # lone surrogates never reach here: the parser rejects them
    expected = uuid.uuid5(ITEM_EVENT_NAMESPACE, f"{len(manifest_id)}:{manifest_id}{item_id}")
    assert item_event_id(manifest_id, item_id) == str(expected)
    assert uuid.UUID(item_event_id(manifest_id, item_id)).version == 5


def test_event_id_split_between_manifest_and_item_is_unambiguous() -> None:
    assert item_event_id("ab", "c") != item_event_id("a", "bc")
    assert item_event_id("1:a", "b") != item_event_id("1", ":ab")


# --- events ------------------------------------------------------------------------------------

RAW = RawItem(
    3,
    "item-3",
    "https://example.org/c.jpg",
    "ab" * 32,
    "cd" * 16,
    "CC-BY-4.0",
    "Ann",
    "Cat",
    "image/jpeg",
)


def build(raw: RawItem = RAW, **overrides: object) -> ItemEvent:
    arguments: dict[str, object] = {
        "manifest_id": "acme:id:m",
        "platform": "acme",
        "purpose": Purpose.AI_GENERATIVE_TRAINING,
        "territory": "DE",
        "commercial": False,
        "submitted_at": NOW,
    }
    arguments.update(overrides)
    return to_event(raw, **arguments)  # type: ignore[arg-type]


def test_event_carries_every_field_of_the_item_and_the_manifest() -> None:
    event = build()
    assert event == ItemEvent(
        event_id=item_event_id("acme:id:m", "item-3"),
        manifest_id="acme:id:m",
        item_id="item-3",
        line=3,
        platform="acme",
        purpose=Purpose.AI_GENERATIVE_TRAINING,
        territory="DE",
        commercial=False,
        url=HttpUrl("https://example.org/c.jpg"),
        sha256="ab" * 32,
        md5="cd" * 16,
        license="CC-BY-4.0",
        creator="Ann",
        title="Cat",
        media_type="image/jpeg",
        submitted_at=NOW,
    )
    assert isinstance(event.url, HttpUrl)


def test_to_event_fills_every_field_of_the_contract() -> None:
    # A field added to items.v1 must be filled here (or consciously defaulted): this fails first.
    assert build().model_fields_set == set(ItemEvent.model_fields)


def test_same_manifest_and_item_give_the_same_event_id() -> None:
    assert build().event_id == build(submitted_at=NOW + timedelta(days=1)).event_id
    assert build().event_id != build(manifest_id="acme:id:other").event_id


def test_event_keeps_the_given_clock_reading() -> None:
    paris = datetime(2025, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert build(submitted_at=paris).submitted_at == paris


def test_event_round_trips_through_json() -> None:
    event = build()
    assert ItemEvent.model_validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize(
    "overrides",
    [
        {"submitted_at": datetime(2025, 1, 1)},  # naive: whose clock?
        {"platform": ""},
        {"manifest_id": ""},
        {"purpose": "mining"},
    ],
)
def test_bad_manifest_arguments_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        build(**overrides)


def test_purpose_given_as_its_value_is_accepted() -> None:
    assert build(purpose="search").purpose is Purpose.SEARCH


def test_items_parsed_from_a_manifest_become_events() -> None:
    parser = ManifestParser("jsonl")
    results = parser.feed(
        b'{"manifest": {"id": "m", "platform": "acme"}}\n'
        b'{"id": "a", "url": "HTTPS://B\xc3\xbccher.example:443/x y#f", "sha256": "' + b"AB" * 32 + b'"}\n'
    )
    results += parser.close()
    assert parser.header is not None
    [raw] = results
    assert isinstance(raw, RawItem)
    manifest_id = manifest_id_for("acme", parser.header.id, parser.content_sha256)
    event = build(raw, manifest_id=manifest_id)
    assert str(event.url) == "https://xn--bcher-kva.example/x%20y"
    assert event.sha256 == "ab" * 32
    assert event.line == 2
    assert event.manifest_id == "acme:id:m"
