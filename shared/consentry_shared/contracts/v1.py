"""Version 1 of Consentry's message contracts.

Each model is the body of one topic (``items.v1``, ``decisions.v1``, ...) or one line of an
input file (registry JSONL). Models are strict about what matters for a rights decision
(hashes, URLs, purposes) and forbid unknown fields on events, so a producer that drifts
from the contract is caught at the first consumer and its message dead-lettered with the reason.

Compatibility rule: within ``v1`` fields may only be *added* with a default. Anything else is
a ``v2`` topic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    field_validator,
)

__all__ = [
    "CrawlEvidenceField",
    "DeadLetter",
    "Deal",
    "DecisionEvent",
    "Evidence",
    "ItemEvent",
    "LedgerEntry",
    "ManifestHeader",
    "ManifestMessage",
    "Match",
    "Purpose",
    "RegistryChange",
    "RegistryRecord",
    "Reservation",
    "Verdict",
    "Work",
    "registry_record_adapter",
    "utc_now",
]


def utc_now() -> datetime:
    """Aware UTC now: every timestamp in a contract is timezone-aware UTC."""
    return datetime.now(UTC)


class Purpose(StrEnum):
    """What the platform wants to use an item for. Decisions are per purpose."""

    AI_GENERATIVE_TRAINING = "ai-generative-training"
    AI_TRAINING = "ai-training"
    AI_INFERENCE = "ai-inference"
    SEARCH = "search"


class Verdict(StrEnum):
    """The outcome of a rights decision. ``unknown`` means evidence could not be read."""

    CONSENT = "consent"
    VIOLATION = "violation"
    UNKNOWN = "unknown"


_HEX = re.compile(r"^[0-9a-f]*$")


def _hex_digest(length: int) -> AfterValidator:
    def check(value: str) -> str:
        lowered = value.lower()
        if len(lowered) != length or not _HEX.match(lowered):
            raise ValueError(f"must be {length} hexadecimal characters")
        return lowered

    return AfterValidator(check)


Sha256Hex = Annotated[str, _hex_digest(64)]
Md5Hex = Annotated[str, _hex_digest(32)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=4096)]


CrawlEvidenceField = Literal[
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
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- manifests --------------------------------------------------------------------------------


class ManifestHeader(BaseModel):
    """The optional first line of a JSONL manifest: ``{"manifest": {...}}``.

    ``platform`` and ``purpose`` given on the command line win over the file's.
    """

    model_config = ConfigDict(extra="forbid")

    id: NonEmpty | None = None
    dataset: NonEmpty | None = None
    version: NonEmpty | None = None
    platform: NonEmpty | None = None
    purpose: Purpose | None = None
    territory: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    jurisdiction: Annotated[str, Field(pattern=r"^[A-Z]{2,3}$")] | None = Field(
        default=None,
        description="Whose copyright law governs the use (ISO 3166 alpha-2, or EU/EEA); picks the "
        "opt-in or opt-out regime. Defaults to the territory.",
    )
    commercial: bool = True


class ManifestMessage(_Event):
    """``manifests.v1``: a whole manifest (or one part of a large one) produced straight to Kafka.

    ``items`` are objects with the fields of a JSONL manifest line; ingest validates them exactly
    as it validates an upload (errors name the item's position and field), publishes one
    ``items.v1`` event per item, and dead-letters a message with any invalid item, whole.
    A manifest split in parts gives each part the same ``manifest.id``.
    """

    manifest: ManifestHeader
    items: Annotated[list[dict[str, object]], Field(min_length=1, max_length=100_000)]
    part: int = Field(default=1, ge=1)
    parts: int = Field(default=1, ge=1)


class ItemEvent(_Event):
    """``items.v1``: one manifest item, validated and normalised by ingest.

    ``event_id`` is derived from ``manifest_id`` and ``item_id``, so a manifest submitted twice
    produces the same events and every consumer can drop the repeats.
    """

    event_id: NonEmpty
    manifest_id: NonEmpty
    item_id: NonEmpty
    line: int = Field(ge=1, description="Line (or CSV row) of the item in its manifest file")
    platform: NonEmpty
    purpose: Purpose
    territory: str | None = None
    jurisdiction: str | None = None
    commercial: bool = True
    url: HttpUrl
    sha256: Sha256Hex | None = None
    md5: Md5Hex | None = None
    license: str | None = None
    creator: str | None = None
    title: str | None = None
    media_type: str | None = None
    submitted_at: AwareDatetime
    evidence: dict[CrawlEvidenceField, str] = Field(
        default_factory=dict,
        description="Crawl-time evidence the platform captured with the item (headers and HTML "
        "meta as compact JSON of lower-case names to value lists; XMP, C2PA manifest-store JSON, "
        "robots.txt, ai.txt and tdmrep.json bodies, or their sha256; fetched_at). The rights "
        "engine reads the signals in it.",
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="Format-specific facts without a field of their own (a CDXJ capture's crawl "
        "timestamp and SHA-1, a Croissant dataset's sdLicense...)",
    )


# --- the registry -----------------------------------------------------------------------------


class Match(BaseModel):
    """What a registry record covers. An item matches when *any* given selector matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_prefix: Annotated[str, Field(min_length=8)] | None = None
    domain: Annotated[str, Field(min_length=1)] | None = None
    sha256: Sha256Hex | None = None

    @field_validator("url_prefix")
    @classmethod
    def _http_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("domain")
    @classmethod
    def _bare_domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        lowered = value.strip().lower().rstrip(".")
        if "/" in lowered or ":" in lowered or " " in lowered:
            raise ValueError("must be a bare host name such as example.org")
        return lowered

    def is_empty(self) -> bool:
        return self.url_prefix is None and self.domain is None and self.sha256 is None


def _non_empty_match(match: Match) -> Match:
    if match.is_empty():
        raise ValueError("needs at least one of url_prefix, domain, sha256")
    return match


RecordPurpose = Literal["all", "ai-all", "ai-generative-training", "ai-training", "ai-inference", "search"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: NonEmpty
    holder: NonEmpty
    evidence_sha256: Sha256Hex | None = Field(
        default=None,
        description="SHA-256 of the file this record was read from (an origin's robots.txt, ai.txt "
        "or tdmrep.json), kept by the rights service at GET /registry/evidence/{sha256}",
    )


class Reservation(_Record):
    """A rights holder's opt-out: the matched works may not be used for ``purposes``."""

    kind: Literal["reservation"] = "reservation"
    match: Annotated[Match, AfterValidator(_non_empty_match)]
    purposes: Annotated[list[RecordPurpose], Field(min_length=1)]
    valid_from: AwareDatetime = Field(alias="from")
    valid_until: AwareDatetime | None = Field(default=None, alias="until")


class Deal(_Record):
    """A licensing deal: ``licensee`` may use the matched works for ``purposes``.

    ``territories`` holds ISO 3166 alpha-2 codes, or ``"*"`` for worldwide.
    """

    kind: Literal["deal"] = "deal"
    licensee: NonEmpty
    match: Annotated[Match, AfterValidator(_non_empty_match)]
    purposes: Annotated[list[RecordPurpose], Field(min_length=1)]
    territories: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["*"])
    valid_from: AwareDatetime = Field(alias="from")
    valid_until: AwareDatetime = Field(alias="until")
    revoked_at: AwareDatetime | None = None


class Work(_Record):
    """A registered work, known by its hash, with the licence its holder grants."""

    kind: Literal["work"] = "work"
    sha256: Sha256Hex
    license: NonEmpty


RegistryRecord = Annotated[Reservation | Deal | Work, Field(discriminator="kind")]

registry_record_adapter: TypeAdapter[Reservation | Deal | Work] = TypeAdapter(RegistryRecord)


class RegistryChange(_Event):
    """``rights.updates.v1``: one registry record was created or replaced."""

    registry_version: int = Field(ge=1)
    record: RegistryRecord
    changed_at: AwareDatetime


# --- decisions and the ledger -----------------------------------------------------------------


class Evidence(BaseModel):
    """One fact a decision rests on, as it was seen: enough for an auditor to re-check it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: NonEmpty = Field(description="e.g. registry.deal, registry.reservation, manifest.license")
    ref: str | None = Field(default=None, description="Record id or source URL")
    value: str | None = Field(default=None, description="The raw value read")
    body_sha256: Sha256Hex | None = None
    seen_at: AwareDatetime | None = None


class DecisionEvent(_Event):
    """``decisions.v1``: the rights verdict for one item and one purpose, with its evidence."""

    event_id: NonEmpty
    item_event_id: NonEmpty
    manifest_id: NonEmpty
    item_id: NonEmpty
    platform: NonEmpty
    purpose: Purpose
    url: str = Field(description="The item's URL as ingest normalised it (validated on items.v1)")
    sha256: Sha256Hex | None = None
    verdict: Verdict
    reasons: Annotated[list[str], Field(min_length=1)]
    evidence: list[Evidence]
    policy_version: NonEmpty
    registry_version: int = Field(ge=0)
    decided_at: AwareDatetime
    # The item's own inputs to the decision, so an auditor can decide it again (audit replay).
    # Optional: decisions published before they were recorded still validate.
    license: str | None = Field(default=None, description="The licence the manifest declared")
    territory: str | None = None
    jurisdiction: str | None = None
    commercial: bool | None = None


class LedgerEntry(_Event):
    """One leaf of the transparency log and one record of ``ledger.entries.v1``.

    The leaf bytes are the RFC 8785 canonical JSON of this model in JSON mode, so anyone can
    recompute the leaf hash from the entry alone.
    """

    index: int = Field(ge=0)
    event_id: NonEmpty
    manifest_id: NonEmpty
    item_id: NonEmpty
    platform: NonEmpty
    purpose: Purpose
    url: str
    verdict: Verdict
    reasons: list[str]
    evidence: list[Evidence]
    policy_version: NonEmpty
    registry_version: int = Field(ge=0)
    decided_at: AwareDatetime
    topic: NonEmpty
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    # The decision's item inputs (see DecisionEvent), copied from it. Left out of the leaf when
    # null, so entries logged before these fields existed keep their exact bytes and hashes.
    sha256: Sha256Hex | None = None
    license: str | None = None
    territory: str | None = None
    jurisdiction: str | None = None
    commercial: bool | None = None


class DeadLetter(_Event):
    """``<topic>.dlq``: a message that could not be processed, and why. Nothing is dropped."""

    source_topic: NonEmpty
    partition: int
    offset: int
    key: str | None
    reason: NonEmpty
    payload: str = Field(description="The original value, decoded as UTF-8 with replacement")
    service: NonEmpty
    failed_at: AwareDatetime
