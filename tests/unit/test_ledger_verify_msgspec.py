"""The msgspec fast path of ``consentry ledger verify`` against the project's own references.

Generated entries (any Unicode in the strings, optional fields present or absent, integers at
the edges, timestamps in many spellings, wrong types, nulls, extra keys) are written with the
project's RFC 8785 encoder (``canonical_json``) and checked three ways: the msgspec mirror must
write back exactly those bytes whenever the entry is one the ledger could have written, and the
per-entry and whole-bundle checks must give the model path's verdict, word for word.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from consentry import ledger_tools
from consentry.ledger_tools import _EntryChecker
from consentry_shared.contracts.v1 import Evidence, LedgerEntry, Purpose, Verdict
from consentry_shared.tlog import canonical_json
from consentry_shared.tlog.ledger_leaf import LeafEvidence, LedgerLeaf, canonical_leaf, canonical_leaves

SAFE = 2**53 - 1

# Strings: any Unicode scalar value (hypothesis leaves lone surrogates out; a test below has them).
text = st.text(max_size=12)
non_empty = st.text(min_size=1, max_size=12)
digest = st.text("0123456789abcdef", min_size=64, max_size=64)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23, minutes=-59))]
)
stamp = st.builds(
    lambda moment, zone: to_json(moment.replace(tzinfo=zone)).decode()[1:-1],
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
)
count = st.integers(0, SAFE)


def with_optional(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """Dicts with every required key and any subset of the optional ones."""
    return st.fixed_dictionaries(required, optional=optional)


evidence = with_optional(
    {"signal": non_empty},
    {"ref": text, "value": text, "body_sha256": digest, "seen_at": stamp},
)
entry = with_optional(
    {
        "index": count,
        "event_id": non_empty,
        "manifest_id": non_empty,
        "item_id": non_empty,
        "platform": non_empty,
        "purpose": st.sampled_from([p.value for p in Purpose]),
        "url": text,
        "verdict": st.sampled_from([v.value for v in Verdict]),
        "reasons": st.lists(text, max_size=3),
        "evidence": st.lists(evidence, max_size=3),
        "policy_version": non_empty,
        "registry_version": count,
        "decided_at": stamp,
        "topic": non_empty,
        "partition": count,
        "offset": count,
    },
    {
        "sha256": digest,
        "license": text,
        "territory": text,
        "jurisdiction": text,
        "commercial": st.booleans(),
    },
)

# Values that are wrong, or right but spelled other than the ledger spells them.
odd_value = st.one_of(
    st.none(),
    st.just(""),
    st.just("x" * 4097),
    st.integers(-3, 3) | st.sampled_from([SAFE, SAFE + 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01t00:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-02-30T00:00:00Z",
            "2026-01-01T00:00:00.1234567Z",
            "2026-01-01T00:00:00-00:00",
            "AB" * 32,
            "ab" * 32 + "\n",
            "ab" * 31,
            "ai-training",
            "consent",
        ]
    ),
    text,
    st.lists(text, max_size=2),
    st.lists(st.fixed_dictionaries({"signal": text}), max_size=2),
)
ENTRY_KEYS = sorted(LedgerEntry.model_fields)
EVIDENCE_KEYS = sorted(Evidence.model_fields)


@st.composite
def tampered_entry(draw: st.DrawFn) -> dict[str, Any]:
    """A valid entry with one field (maybe of an evidence item) changed, removed or added."""
    value: dict[str, Any] = draw(entry)
    target = value
    if value["evidence"] and draw(st.booleans()):
        target = value["evidence"][0]
        keys = [*EVIDENCE_KEYS, "extra"]
    else:
        keys = [*ENTRY_KEYS, "extra"]
    key = draw(st.sampled_from(keys))
    if draw(st.integers(0, 3)) == 0:
        target.pop(key, None)
    else:
        target[key] = draw(odd_value)
    return value


def written(value: dict[str, Any]) -> bytes:
    """The RFC 8785 form of ``value``, or if it has none (a float, a huge integer) as Python
    writes it with sorted keys."""
    try:
        return canonical_json(value)
    except ValueError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verdicts(index: int, leaf: bytes) -> tuple[str | None, str | None, tuple[int, str] | None]:
    """The model path's, the per-entry check's and the bundle check's verdict on one leaf."""
    return (
        _EntryChecker()._checked(index, leaf),
        _EntryChecker()(index, leaf),
        _EntryChecker().check_entries(index, [leaf]),
    )


def test_the_mirror_has_the_models_fields_in_canonical_order() -> None:
    for mirror, model in ((LedgerLeaf, LedgerEntry), (LeafEvidence, Evidence)):
        fields = msgspec.structs.fields(mirror)
        assert [f.name for f in fields] == sorted(model.model_fields)  # RFC 8785 order
        required = {f.name for f in fields if f.required}
        assert required == {name for name, info in model.model_fields.items() if info.is_required()}
    literals = {f.name: set(get_args(f.type)) for f in msgspec.structs.fields(LedgerLeaf)}
    assert literals["purpose"] == {p.value for p in Purpose}
    assert literals["verdict"] == {v.value for v in Verdict}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(entry)
def test_msgspec_writes_what_the_canonical_encoder_writes(value: dict[str, Any]) -> None:
    leaf = canonical_json(value)
    decoded = canonical_leaf(leaf)
    assert decoded is not None, leaf
    assert msgspec.json.encode(decoded) == leaf
    model, fast, bundle = verdicts(value["index"], leaf)
    assert model is None and fast is None and bundle is None


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(tampered_entry())
@example({"index": 0, "extra": None})
@example(  # found by hypothesis: an index of 1.0 is written as 1, so the leaf carries index 1
    {
        "index": 1.0,
        "event_id": "0",
        "manifest_id": "0",
        "item_id": "0",
        "platform": "0",
        "purpose": "ai-generative-training",
        "url": "",
        "verdict": "consent",
        "reasons": [],
        "evidence": [],
        "policy_version": "0",
        "registry_version": 0,
        "decided_at": "2000-01-01T00:00:00Z",
        "topic": "0",
        "partition": 0,
        "offset": 0,
    }
)
def test_fast_paths_never_disagree_with_the_model(value: dict[str, Any]) -> None:
    leaf = written(value)
    # The position to check at: the index the leaf carries when it is a JSON integer (an index of
    # 1.0 is written as 1 in RFC 8785 form), else 0.
    parsed = json.loads(leaf)
    carried = parsed.get("index") if isinstance(parsed, dict) else None
    index = carried if type(carried) is int else 0
    model, fast, bundle = verdicts(index, leaf)
    assert fast == model
    assert bundle == (None if model is None else (index, model))
    if canonical_leaf(leaf) is not None:
        assert model is None  # what the fast path takes, the model takes


ODD_VALUES: list[Any] = [
    None,
    "",
    "x" * 4096,
    "x" * 4097,
    "😀" * 4096,
    -1,
    0,
    SAFE,
    SAFE + 1,
    1.0,
    0.5,
    True,
    "true",
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T00:00:00.5Z",
    "2026-01-01t00:00:00Z",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00.000001",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:60Z",
    "2026-01-01T00:00:00.1234567Z",
    "2026-01-01T00:00:00-00:00",
    "2026-01-01T00:00:00+24:00",
    "AB" * 32,
    "ab" * 32 + "\n",
    "ab" * 31,
    "ab" * 32,
    "ai-training",
    "consent",
    "CONSENT",
    [],
    ["x"],
    [1],
    [{"signal": "s"}],
    [{"signal": ""}],
    {},
]
FULL_EVIDENCE = {
    "signal": "s",
    "ref": "r",
    "value": "v",
    "body_sha256": "cd" * 32,
    "seen_at": "2026-01-01T00:00:00.000001Z",
}


def full_entry() -> dict[str, Any]:
    """A valid entry with every optional field set (evidence too)."""
    value: dict[str, Any] = json.loads(_valid_leaves(1)[0])
    value.update(sha256="ef" * 32, license="CC0", territory="DE", jurisdiction="EU", commercial=False)
    value["evidence"] = [dict(FULL_EVIDENCE)]
    return value


def test_every_field_with_every_odd_value_gets_the_models_verdict() -> None:
    """A grid, not a sample: each field of the entry and of its evidence, removed, or set to each
    value of ODD_VALUES (wrong types, nulls, edges of the constraints, other spellings)."""
    accepted = 0
    for where in ("entry", "evidence"):
        for key in [*(ENTRY_KEYS if where == "entry" else EVIDENCE_KEYS), "extra"]:
            for change in [_REMOVE, *ODD_VALUES]:
                value = full_entry()
                target = value if where == "entry" else value["evidence"][0]
                if change is _REMOVE:
                    target.pop(key, None)
                else:
                    target[key] = change
                try:
                    leaf = canonical_json(value)
                except ValueError:
                    leaf = json.dumps(
                        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                    ).encode()
                model, fast, bundle = verdicts(0, leaf)
                assert (fast, bundle) == (model, None if model is None else (0, model)), (where, key, change)
                accepted += model is None
    assert accepted > 50  # many changes keep a valid entry: the grid is not all refusals


_REMOVE = object()


@given(st.text(max_size=40))
def test_string_escapes_match_rfc_8785(value: str) -> None:
    assert msgspec.json.encode(value) == canonical_json(value)


@pytest.mark.parametrize(
    "character", ["\x00", "\x1f", "\x7f", '"', "\\", "/", "\u2028", "\u2029", "\ufeff", "😀"]
)
def test_special_characters_are_written_as_rfc_8785_writes_them(character: str) -> None:
    assert msgspec.json.encode(character) == canonical_json(character)


@pytest.mark.parametrize("escaped", [b"\\ud800", b"\\udfff", b"\\ud83dx"])
def test_lone_surrogates_are_refused_by_both_paths(escaped: bytes) -> None:
    leaf = next(iter(_valid_leaves(1)))
    broken = leaf.replace(b'"platform":"', b'"platform":"' + escaped, 1)
    assert broken != leaf
    assert canonical_leaf(broken) is None
    model, fast, bundle = verdicts(0, broken)
    assert model is not None and fast == model and bundle == (0, model)


def _valid_leaves(size: int) -> list[bytes]:
    return [
        canonical_json(
            {
                "index": n,
                "event_id": f"e{n}",
                "manifest_id": "m",
                "item_id": "i",
                "platform": "p",
                "purpose": "search",
                "url": "u",
                "verdict": "consent",
                "reasons": [],
                "evidence": [],
                "policy_version": "1",
                "registry_version": 0,
                "decided_at": "2026-01-01T00:00:00Z",
                "topic": "t",
                "partition": n % 2,
                "offset": n,
            }
        )
        for n in range(size)
    ]


def test_the_bundle_check_takes_a_whole_good_bundle_and_nothing_else() -> None:
    leaves = _valid_leaves(256)
    assert canonical_leaves(leaves) is not None
    assert _EntryChecker().check_entries(0, leaves) is None
    # One entry out of place: the bundle falls back, and the entry is named as the model names it.
    swapped = [*leaves[:10], leaves[11], leaves[10], *leaves[12:]]
    assert canonical_leaves(swapped) is not None  # each one is fine on its own
    assert _EntryChecker().check_entries(0, swapped) == (10, "carries index 11 at position 10")
    # Offsets of partition 0 going back, in the bundle's own loop.
    back = [*leaves[:20], leaves[20].replace(b'"offset":20', b'"offset":2'), *leaves[21:]]
    assert _EntryChecker().check_entries(0, back) == (20, "source offset 2 of t/0 is not after 18")


def test_the_bundle_decoder_takes_exactly_what_the_entry_decoder_takes() -> None:
    """Whole bundles are compared as one joined text: whitespace around a leaf, or a leaf that
    borrows bytes from its neighbour, must not slip through the joins."""
    leaves = _valid_leaves(3)
    first, second = leaves[0], leaves[1]
    variants = [
        b" " + first,
        first + b" ",
        first + b"\n",
        first[:-1] + b" }",
        first[:-1],  # the "}" moved to the next leaf ...
        b"}" + second,  # ... here
        first + b"," + second,
        b"",
    ]
    for variant in variants:
        for position in range(3):
            bundle = list(leaves)
            bundle[position] = variant
            one_by_one = all(canonical_leaf(leaf) is not None for leaf in bundle)
            assert (canonical_leaves(bundle) is not None) == one_by_one, (position, variant)
            assert not one_by_one
    assert canonical_leaves(leaves) is not None
    # The split leaves of the pair above, together, would be two good entries.
    assert canonical_leaves([first[:-1], b"}" + second]) is None


def test_the_mirror_was_written_against_the_current_model() -> None:
    # Fails when LedgerEntry's schema changes: update LedgerLeaf and MIRRORED_SCHEMA_SHA256 together
    # (until then verify is correct but takes the model path for every entry).
    assert ledger_tools._MIRROR


def test_a_stale_mirror_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def unusable(*_: object) -> None:
        raise AssertionError("the stale mirror was used")

    monkeypatch.setattr(ledger_tools, "_MIRROR", False)
    monkeypatch.setattr(ledger_tools, "canonical_leaf", unusable)
    monkeypatch.setattr(ledger_tools, "canonical_leaves", unusable)
    leaves = _valid_leaves(4)
    assert _EntryChecker().check_entries(0, leaves) is None
    assert _EntryChecker()(0, leaves[0]) is None
    assert _EntryChecker().check_entries(0, leaves[1:]) == (0, "carries index 1 at position 0")
