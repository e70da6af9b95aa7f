"""``items.v1`` record bytes written straight from parsed items, without building ``ItemEvent``s.

:func:`~consentry_ingest.domain.items.to_event` validates every event with its pydantic model and
``model_dump_json`` writes it: about 15 µs an item, most of an upload's cost. An
:class:`ItemEventWriter` writes the same bytes from a :class:`~.manifest.RawItem` through a msgspec
struct (C) that mirrors ``ItemEvent`` field by field, in about 1 µs.

Why the bytes are the model's own (tests compare both on generated items, byte for byte):

- The struct declares the model's fields in the model's order, and leaves out exactly the fields
  ``model_dump_json(exclude_none=True)`` leaves out (``None`` ones); ``commercial``,
  ``evidence`` and ``extra`` are always written, as the model writes them.
- msgspec and pydantic escape every string alike (``"``, ``\\``, controls; everything else,
  non-ASCII included, literal): checked over every Unicode scalar value.
- The fields one manifest shares (its id, platform, purpose, territory, jurisdiction,
  ``commercial``, ``submitted_at``) are validated once, by the model itself, when the writer is
  built; ``submitted_at`` is written in the model's own spelling of it.
- A ``RawItem`` holds its fields already in their canonical, contract-valid form (see there):
  the URL a fixed point of ``HttpUrl``, hex digests in lower case, identifiers canonical,
  evidence keys among ``CrawlEvidenceField``. The model would not change them.

The mirror is used only while ``ItemEvent``'s JSON schema has the digest it was written against
(:data:`MIRRORED_SCHEMA_SHA256`); otherwise every item takes the model path, slower and exact.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache, partial
from typing import Final

import msgspec

from consentry_shared.contracts.v1 import ItemEvent, Purpose

from .items import item_event_ids, to_event
from .manifest import RawItem

__all__ = ["MIRRORED_SCHEMA_SHA256", "ItemEventWriter", "mirror_is_current"]

MIRRORED_SCHEMA_SHA256: Final = "a6611e9d79b0012ee0200c46bcf50f6031a82951595b545162f76762225ff834"
"""SHA-256 of the JSON schema of the ``ItemEvent`` that :class:`_ItemWire` mirrors
(``model_json_schema()`` as compact JSON, keys sorted). Change the mirror and this together."""


@cache
def mirror_is_current() -> bool:
    """Whether :class:`_ItemWire` was written against this ``ItemEvent`` (see the module doc)."""
    schema = json.dumps(ItemEvent.model_json_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(schema.encode()).hexdigest() == MIRRORED_SCHEMA_SHA256


# gc=False: a struct holds strings, an int, a bool, and dicts and lists of strings: no cycles.
class _ItemWire(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """``ItemEvent`` as ``model_dump_json(exclude_none=True)`` writes it: same fields, same order."""

    event_id: str
    manifest_id: str
    item_id: str
    line: int
    platform: str
    purpose: str
    territory: str | None = None
    jurisdiction: str | None = None
    commercial: bool
    url: str
    sha256: str | None = None
    md5: str | None = None
    identifiers: list[str] | None = None
    license: str | None = None
    creator: str | None = None
    title: str | None = None
    media_type: str | None = None
    submitted_at: msgspec.Raw
    evidence: dict[str, str]
    extra: dict[str, str]


_encode = msgspec.json.Encoder().encode
_NOTHING: Final[dict[str, str]] = {}


class ItemEventWriter:
    """Writes the ``items.v1`` record (key, value) of each item of one manifest.

    The value is exactly ``to_event(raw, ...).model_dump_json(exclude_none=True).encode()``; the
    key is the item's ``sha256``, else its URL, as bytes (one work, one partition).
    Raises ``pydantic.ValidationError`` when built with bad per-manifest arguments, as
    ``to_event`` would for every item.
    """

    __slots__ = (
        "_commercial",
        "_event_id",
        "_jurisdiction",
        "_manifest",
        "_platform",
        "_purpose",
        "_submitted_at",
        "_territory",
        "_to_event",
        "_use_mirror",
    )

    def __init__(
        self,
        *,
        manifest_id: str,
        platform: str,
        purpose: Purpose,
        territory: str | None,
        commercial: bool,
        submitted_at: datetime,
        jurisdiction: str | None = None,
    ) -> None:
        self._to_event = partial(
            to_event,
            manifest_id=manifest_id,
            platform=platform,
            purpose=purpose,
            territory=territory,
            commercial=commercial,
            submitted_at=submitted_at,
            jurisdiction=jurisdiction,
        )
        # The shared fields, validated once by the model (with an item that cannot fail).
        probe = self._to_event(RawItem(1, "probe", "https://example.org/"))
        self._manifest = probe.manifest_id
        self._event_id = item_event_ids(probe.manifest_id)
        self._platform = probe.platform
        self._purpose = probe.purpose.value
        self._territory = probe.territory
        self._jurisdiction = probe.jurisdiction
        self._commercial = probe.commercial
        written = json.loads(probe.model_dump_json(include={"submitted_at"}))["submitted_at"]
        self._submitted_at = msgspec.Raw(_encode(written))
        self._use_mirror = mirror_is_current()

    def record(self, raw: RawItem) -> tuple[bytes, bytes]:
        """The key and value of ``raw``'s event."""
        key = (raw.sha256 or raw.url).encode()
        if not self._use_mirror:
            return key, self._to_event(raw).model_dump_json(exclude_none=True).encode()
        wire = _ItemWire(
            event_id=self._event_id(raw.id),
            manifest_id=self._manifest,
            item_id=raw.id,
            line=raw.line,
            platform=self._platform,
            purpose=self._purpose,
            territory=self._territory,
            jurisdiction=self._jurisdiction,
            commercial=self._commercial,
            url=raw.url,
            sha256=raw.sha256,
            md5=raw.md5,
            identifiers=list(raw.identifiers) if raw.identifiers else None,
            license=raw.license,
            creator=raw.creator,
            title=raw.title,
            media_type=raw.media_type,
            submitted_at=self._submitted_at,
            evidence=dict(raw.evidence) if raw.evidence else _NOTHING,
            extra=dict(raw.extra) if raw.extra else _NOTHING,
        )
        return key, _encode(wire)
