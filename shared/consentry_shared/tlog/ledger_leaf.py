"""A fast, exact test of "this leaf is a valid ledger entry in RFC 8785 canonical form".

``consentry ledger verify`` checks every entry of an export against the ledger schema and the
canonical form; with the pydantic model that costs about 10 µs an entry. Here msgspec (C)
decodes a leaf into a :class:`LedgerLeaf`, a struct mirroring
:class:`~consentry_shared.contracts.v1.LedgerEntry`, and writes it back: when the bytes come
back unchanged, the leaf is the canonical form of a schema-valid entry.

Why that is exact, for ``True`` answers (a ``None`` only sends the leaf to the model, which has
the last word and words the error):

- The mirror is never looser than the model: same fields, unknown ones forbidden; optional
  fields may be absent but not ``null`` (the ledger leaves nulls out); integers at most
  2**53 - 1 (RFC 8785's range); enums as the literal set of their values; hex digests in
  lower case only; timestamps must carry a zone. Tests compare both on generated entries.
- msgspec writes struct fields in declaration order, declared here in sorted order (RFC 8785
  sorts keys by UTF-16 code units: for ASCII keys, plain sorted order), compact, integers
  plainly, strings with exactly RFC 8785's escapes (``"``, ``\\``, ``\\b \\t \\n \\f \\r``,
  ``\\u00xx`` for other controls, everything else literal). Timestamps decode to ``datetime``
  and are written back in one fixed RFC 3339 form, so one spelled any other way (``+00:00``,
  ``.5``, lower-case ``t``) comes back different and is refused here, not changed. Anything
  msgspec would write differently from RFC 8785 therefore fails the byte comparison.
"""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "MIRRORED_SCHEMA_SHA256",
    "LeafEvidence",
    "LedgerLeaf",
    "canonical_leaf",
    "canonical_leaves",
    "indexes",
]

MIRRORED_SCHEMA_SHA256 = "f5c77cf1424bcd877eca448db4c725aa0c5cc3156bd48f812c3df43d9df1fc93"
"""SHA-256 of the JSON schema of the ``LedgerEntry`` these structs mirror (``model_json_schema()``
as compact JSON, keys sorted). Where the model's schema has another digest, the mirror may be
looser than the model, and MUST NOT be used (``consentry ledger verify`` then takes the model
path only). Change the mirror and this digest together. Validator functions (the hex-digest
check) do not show in a JSON schema: tests compare their behaviour."""

_MAX_SAFE = 2**53 - 1
_Count = Annotated[int, Meta(ge=0, le=_MAX_SAFE)]
_NonEmpty = Annotated[str, Meta(min_length=1, max_length=4096)]  # as contracts.v1.NonEmpty
_Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]  # the model also lower-cases: stricter
_Stamp = Annotated[datetime, Meta(tz=True)]  # AwareDatetime


# gc=False: a decoded leaf holds strings, numbers, datetimes and lists of those or of structs,
# never itself, so it cannot be part of a cycle; untracked, a bundle's 256 structs do not
# trigger garbage collections (about 0.1 us an entry).


class LeafEvidence(Struct, kw_only=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """Mirror of ``contracts.v1.Evidence``; fields in RFC 8785 (sorted) order."""

    body_sha256: _Sha256 | UnsetType = UNSET
    ref: str | UnsetType = UNSET
    seen_at: _Stamp | UnsetType = UNSET
    signal: _NonEmpty
    value: str | UnsetType = UNSET


class LedgerLeaf(Struct, kw_only=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """Mirror of ``contracts.v1.LedgerEntry``; fields in RFC 8785 (sorted) order."""

    commercial: bool | UnsetType = UNSET
    decided_at: _Stamp
    event_id: _NonEmpty
    evidence: list[LeafEvidence]
    index: _Count
    item_id: _NonEmpty
    jurisdiction: str | UnsetType = UNSET
    license: str | UnsetType = UNSET
    manifest_id: _NonEmpty
    offset: _Count
    partition: _Count
    platform: _NonEmpty
    policy_version: _NonEmpty
    purpose: Literal["ai-generative-training", "ai-training", "ai-inference", "search"]
    reasons: list[str]
    registry_version: _Count
    sha256: _Sha256 | UnsetType = UNSET
    territory: str | UnsetType = UNSET
    topic: _NonEmpty
    url: str
    verdict: Literal["consent", "violation", "unknown"]


_decode = msgspec.json.Decoder(LedgerLeaf).decode
_encode = msgspec.json.Encoder().encode
_index = attrgetter("index")


def canonical_leaf(leaf: bytes) -> LedgerLeaf | None:
    """The entry, if ``leaf`` is the canonical form of a valid ledger entry; else ``None``
    (which proves nothing: the model decides those)."""
    try:
        value = _decode(leaf)
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return None
    return value if _encode(value) == leaf else None


def canonical_leaves(leaves: list[bytes]) -> list[LedgerLeaf] | None:
    """:func:`canonical_leaf` of every leaf, or ``None`` unless all of them are.

    One pass of C calls for a whole bundle (no Python frame per entry): the common case of an
    export where every entry is fine. On ``None`` the caller goes entry by entry.

    The values are written back as one JSON array and compared with the leaves joined the same
    way. That equals comparing them one by one: each leaf decoded alone, so it is one JSON
    value (perhaps with whitespace around it); each written value is a compact object. Where
    the two texts are equal, a leaf starting where a written value starts starts with its
    ``{``, ends at the same ``}`` (objects are prefix-free), and cannot run on with whitespace
    where the written text has the next ``,`` or the final ``]``: so every leaf is its value.
    """
    try:
        values = list(map(_decode, leaves))
    except ValueError:  # msgspec.DecodeError, or invalid UTF-8
        return None
    return values if _encode(values) == b"[" + b",".join(leaves) + b"]" else None


def indexes(values: list[LedgerLeaf]) -> list[int]:
    """The ``index`` of each value (in C)."""
    return list(map(_index, values))
