"""The msgspec writer of ``items.v1`` records against the pydantic model path it replaces.

The writer's value must be exactly ``to_event(...).model_dump_json(exclude_none=True)`` (what
ingest published before) for every item a parser can produce, so consumers receive the same bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from consentry_ingest.domain import (
    EVIDENCE_FIELDS,
    ManifestParser,
    RawItem,
    item_event_id,
    item_event_ids,
    to_event,
    wire,
)
from consentry_ingest.domain.wire import ItemEventWriter, mirror_is_current
from consentry_shared.contracts.v1 import ItemEvent, Purpose

# Any Unicode scalar value (no lone surrogates: the parsers refuse those), controls included.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
short_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
hex64 = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
hex32 = st.text("0123456789abcdefABCDEF", min_size=32, max_size=32)

urls = st.builds(
    lambda scheme, user, host, port, path, query, fragment: (
        f"{scheme}://{user}{host}{port}/{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTPS", "hTtP"]),
    st.sampled_from(["", "user:pw@", "a@"]),
    st.sampled_from(
        ["example.org", "EXAMPLE.org.", "bücher.example", "10.0.0.1", "[::1]", "xn--bcher-kva.de"]
    ),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="#?\x00"), max_size=16),
    st.sampled_from(["", "?", "?a=b&c=%2f", "?q=é ü"]),
    st.sampled_from(["", "#frag", "#x#y"]),
)

identifiers = st.fixed_dictionaries(
    {},
    optional={
        "isbn": st.sampled_from(["978-3-16-148410-0", "0-306-40615-2", "9780306406157"]),
        "isrc": st.sampled_from(["US-S1Z-99-00001", "gbaye6800011"]),
        "iswc": st.sampled_from(["T-345.246.800-1"]),
        "doi": st.sampled_from(["10.1000/XYZ123", "https://doi.org/10.5555/Ab.C"]),
    },
)

header_values = st.one_of(text, st.lists(text, max_size=3))
evidence = st.fixed_dictionaries(
    {},
    optional={
        "headers": st.dictionaries(short_text, header_values, max_size=3),
        "html_meta": st.one_of(st.dictionaries(short_text, header_values, max_size=2), text),
        "xmp": text,
        "c2pa": st.one_of(text, st.dictionaries(short_text, text, max_size=2)),
        "robots_txt": text,
        "robots_txt_sha256": hex64,
        "ai_txt": text,
        "ai_txt_sha256": hex64,
        "tdmrep_json": st.one_of(text, st.lists(st.dictionaries(short_text, text, max_size=2), max_size=2)),
        "tdmrep_json_sha256": hex64,
        "fetched_at": st.sampled_from(
            ["2024-05-01T10:00:00Z", "20240501100000", "2024-05-01T12:00:00.5+02:00", "2024-05-01"]
        ),
    },
)
assert set(EVIDENCE_FIELDS) == {
    "headers",
    "html_meta",
    "xmp",
    "c2pa",
    "robots_txt",
    "robots_txt_sha256",
    "ai_txt",
    "ai_txt_sha256",
    "tdmrep_json",
    "tdmrep_json_sha256",
    "fetched_at",
}, "new evidence fields: generate them here too"

item_lines = st.builds(
    lambda base, optional, ids, ev: {**base, **optional, **ids, **ev},
    st.fixed_dictionaries({"id": st.one_of(short_text, st.integers(min_value=0)), "url": urls}),
    st.fixed_dictionaries(
        {},
        optional={
            "sha256": st.one_of(hex64, st.none(), st.just("")),
            "md5": st.one_of(hex32, st.none()),
            "license": st.one_of(text, st.none()),
            "creator": text,
            "title": text,
            "media_type": text,
        },
    ),
    identifiers,
    evidence,
)

zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
manifest_args = st.fixed_dictionaries(
    {
        "manifest_id": st.one_of(
            st.just("acme:sha256:" + "a" * 64), st.text(st.characters(exclude_categories=("Cs",)), min_size=1)
        ),
        "platform": short_text,
        "purpose": st.sampled_from(list(Purpose)),
        "territory": st.one_of(st.none(), st.sampled_from(["DE", "GB"]), text),
        "commercial": st.booleans(),
        "submitted_at": st.datetimes(timezones=st.sampled_from(zones)),
        "jurisdiction": st.one_of(st.none(), st.sampled_from(["EU", "US"]), text),
    }
)


def parsed_items(lines: list[dict[str, Any]]) -> list[RawItem]:
    parser = ManifestParser("jsonl")
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    return [item for item in [*parser.feed(data), *parser.close()] if isinstance(item, RawItem)]


def assert_same_as_model(writer: ItemEventWriter, item: RawItem, args: dict[str, Any]) -> None:
    key, value = writer.record(item)
    event = to_event(item, **args)
    assert value == event.model_dump_json(exclude_none=True).encode()
    assert ItemEvent.model_validate_json(value) == event
    assert key == (event.sha256 or str(event.url)).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(item_lines, min_size=1, max_size=5), args=manifest_args)
def test_the_writer_writes_the_models_bytes_for_every_parsed_item(
    lines: list[dict[str, Any]], args: dict[str, Any]
) -> None:
    items = parsed_items(lines)
    assume(items)
    writer = ItemEventWriter(**args)
    for item in items:
        assert_same_as_model(writer, item, args)


@settings(max_examples=200, deadline=None)
@given(
    extra=st.dictionaries(text, text, max_size=4),
    title=st.one_of(st.none(), text),
    line=st.integers(min_value=1, max_value=2**63),
    args=manifest_args,
)
def test_the_writer_writes_extra_as_the_model_does(
    extra: dict[str, str], title: str | None, line: int, args: dict[str, Any]
) -> None:
    # Other formats (CDXJ, Croissant...) fill ``extra``; the JSONL parser never does.
    item = RawItem(line, "an-id", "https://example.org/a", title=title, extra=extra)
    assert_same_as_model(ItemEventWriter(**args), item, args)


def test_every_field_of_a_full_item_is_written() -> None:
    (item,) = parsed_items(
        [
            {
                "id": "x1",
                "url": "https://Example.org/a b",
                "sha256": "A" * 64,
                "md5": "b" * 32,
                "license": "CC-BY-4.0",
                "creator": "Zoë",
                "title": 'a "quoted"\ntitle',
                "media_type": "image/jpeg",
                "isbn": "0-306-40615-2",
                "headers": {"X-Robots-Tag": "noai"},
                "fetched_at": "20240501100000",
            }
        ]
    )
    args: dict[str, Any] = {
        "manifest_id": "acme:id:m",
        "platform": "acme",
        "purpose": Purpose.SEARCH,
        "territory": "DE",
        "commercial": False,
        "submitted_at": datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "jurisdiction": "EU",
    }
    _, value = ItemEventWriter(**args).record(item)
    written = json.loads(value)
    assert list(written) == list(ItemEvent.model_fields)
    assert written["submitted_at"] == "2025-01-02T03:04:05.000006Z"
    assert_same_as_model(ItemEventWriter(**args), item, args)


def test_the_mirror_has_the_models_fields_in_the_models_order() -> None:
    # Fails when ItemEvent's schema changes: update _ItemWire and MIRRORED_SCHEMA_SHA256 together.
    assert mirror_is_current()
    assert wire._ItemWire.__struct_fields__ == tuple(ItemEvent.model_fields)


def test_a_changed_model_sends_every_item_through_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "mirror_is_current", lambda: False)
    encoded: list[object] = []

    def spy(value: object) -> bytes:
        encoded.append(value)
        return b""

    monkeypatch.setattr(wire, "_encode", spy)
    args: dict[str, Any] = {
        "manifest_id": "acme:id:m",
        "platform": "acme",
        "purpose": Purpose.AI_TRAINING,
        "territory": None,
        "commercial": True,
        "submitted_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    writer = ItemEventWriter(**args)
    item = RawItem(3, "i", "https://example.org/", sha256="c" * 64)
    key, value = writer.record(item)
    assert value == to_event(item, **args).model_dump_json(exclude_none=True).encode()
    assert key == b"c" * 64
    assert not any(isinstance(value, msgspec.Struct) for value in encoded)


def test_bad_manifest_arguments_are_refused_when_the_writer_is_built() -> None:
    with pytest.raises(ValueError, match="platform"):
        ItemEventWriter(
            manifest_id="m",
            platform="",
            purpose=Purpose.AI_TRAINING,
            territory=None,
            commercial=True,
            submitted_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
    with pytest.raises(ValueError, match="timezone"):
        ItemEventWriter(
            manifest_id="m",
            platform="p",
            purpose=Purpose.AI_TRAINING,
            territory=None,
            commercial=True,
            submitted_at=datetime(2025, 1, 1),  # naive on purpose
        )


@settings(max_examples=500)
@given(manifest_id=st.text(), item_ids=st.lists(st.text(), max_size=4))
def test_per_manifest_event_ids_equal_item_event_id(manifest_id: str, item_ids: list[str]) -> None:
    try:
        event_id = item_event_ids(manifest_id)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            item_event_id(manifest_id, "x")
        return
    for item_id in item_ids:
        try:
            expected = item_event_id(manifest_id, item_id)
        except UnicodeEncodeError:
            with pytest.raises(UnicodeEncodeError):
                event_id(item_id)
            continue
        assert event_id(item_id) == expected
