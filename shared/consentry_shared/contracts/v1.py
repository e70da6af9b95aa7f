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
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    field_validator,
    model_validator,
)

__all__ = [
    "IDENTIFIER_SCHEMES",
    "Compensation",
    "CrawlEvidenceField",
    "DeadLetter",
    "Deal",
    "DecisionEvent",
    "Evidence",
    "Holder",
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
    "normalise_creator_id",
    "normalise_identifier",
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


# --- work identifiers -------------------------------------------------------------------------
#
# Identifiers are spelled ``scheme:value`` with the value in one canonical form, so that equal
# identifiers are equal strings and matching is a dict read: ISBNs as ISBN-13 digits (an ISBN-10
# is converted), ISRCs as 12 upper-case characters, ISWCs as ``T`` and 10 digits, DOIs in lower
# case (DOIs are case-insensitive) without a resolver prefix. A value whose check digit is wrong
# is refused: a typo would otherwise silently match nothing, or the wrong work.

IDENTIFIER_SCHEMES: Final = ("isbn", "isrc", "iswc", "doi")
CREATOR_ID_SCHEMES: Final = ("orcid", "isni", "ipi")

_SEPARATORS = re.compile(r"[\s\-.]")
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_ISWC = re.compile(r"^T[0-9]{10}$")
_DOI = re.compile(r"^10\.[0-9]+(\.[0-9]+)*/\S+$")
_DOI_RESOLVERS = (
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
    "doi.org/",
)
_ISNI = re.compile(r"^[0-9]{15}[0-9X]$")
_IPI = re.compile(r"^[0-9]{9,11}$")


def _isbn13_check(first12: str) -> str:
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first12))
    return str((10 - total % 10) % 10)


def _isbn(value: str) -> str:
    digits = re.sub(r"[\s\-]", "", value).upper()
    if len(digits) == 10:
        if not (digits[:9].isdigit() and (digits[9].isdigit() or digits[9] == "X")):
            raise ValueError(f"ISBN-10 {value!r} must be 9 digits and a check digit (0-9 or X)")
        total = sum((10 - index) * int(digit) for index, digit in enumerate(digits[:9]))
        total += 10 if digits[9] == "X" else int(digits[9])
        if total % 11:
            raise ValueError(f"ISBN-10 {value!r} has a wrong check digit")
        body = "978" + digits[:9]
        return body + _isbn13_check(body)
    if len(digits) == 13 and digits.isdigit():
        if not digits.startswith(("978", "979")):
            raise ValueError(f"ISBN-13 {value!r} must start with 978 or 979")
        if _isbn13_check(digits[:12]) != digits[12]:
            raise ValueError(f"ISBN-13 {value!r} has a wrong check digit")
        return digits
    raise ValueError(f"ISBN {value!r} must have 10 or 13 digits (hyphens and spaces are ignored)")


def _isrc(value: str) -> str:
    code = re.sub(r"[\s\-]", "", value).upper()
    if not _ISRC.match(code):
        raise ValueError(
            f"ISRC {value!r} must be 2 letters, 3 letters or digits and 7 digits (CC-XXX-YY-NNNNN)"
        )
    return code


def _iswc(value: str) -> str:
    code = _SEPARATORS.sub("", value).upper()
    if not _ISWC.match(code):
        raise ValueError(f"ISWC {value!r} must be T and 10 digits (T-345.246.800-1)")
    total = 1 + sum(index * int(digit) for index, digit in enumerate(code[1:10], start=1))
    if (10 - total % 10) % 10 != int(code[10]):
        raise ValueError(f"ISWC {value!r} has a wrong check digit")
    return code


def _doi(value: str) -> str:
    code = value.strip()
    lowered = code.lower()
    for resolver in _DOI_RESOLVERS:
        if lowered.startswith(resolver):
            lowered = lowered[len(resolver) :]
            break
    if not _DOI.match(lowered):
        raise ValueError(f"DOI {value!r} must look like 10.<registrant>/<suffix>, without spaces")
    return lowered


_NORMALISERS: Final = {"isbn": _isbn, "isrc": _isrc, "iswc": _iswc, "doi": _doi}


def _split_scheme(value: str, schemes: tuple[str, ...], what: str) -> tuple[str, str]:
    scheme, separator, rest = value.partition(":")
    scheme = scheme.strip().lower()
    if not separator or scheme not in schemes or not rest.strip():
        raise ValueError(
            f"{what} {value!r} must be spelled scheme:value with a scheme of {', '.join(schemes)}"
        )
    return scheme, rest.strip()


def normalise_identifier(value: str) -> str:
    """``scheme:value`` in its canonical spelling (see above); ``ValueError`` saying what is wrong."""
    scheme, rest = _split_scheme(value, IDENTIFIER_SCHEMES, "identifier")
    return f"{scheme}:{_NORMALISERS[scheme](rest)}"


def _iso7064_mod11_2(first15: str) -> str:
    total = 0
    for digit in first15:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def normalise_creator_id(value: str) -> str:
    """A creator's id as ``orcid:``, ``isni:`` (16 characters, check digit verified; ORCID iDs
    are ISNIs) or ``ipi:`` (9 to 11 digits), separators dropped."""
    scheme, rest = _split_scheme(value, CREATOR_ID_SCHEMES, "creator id")
    if scheme == "orcid":
        rest = rest.removeprefix("https://orcid.org/").removeprefix("http://orcid.org/")
    code = _SEPARATORS.sub("", rest).upper()
    if scheme == "ipi":
        if not _IPI.match(code):
            raise ValueError(f"IPI {value!r} must be 9 to 11 digits")
        return f"ipi:{code}"
    if not _ISNI.match(code):
        raise ValueError(f"{scheme.upper()} {value!r} must be 15 digits and a check character (0-9 or X)")
    if _iso7064_mod11_2(code[:15]) != code[15]:
        raise ValueError(f"{scheme.upper()} {value!r} has a wrong check character")
    return f"{scheme}:{code}"


def _scheme_value(scheme: str) -> AfterValidator:
    return AfterValidator(_NORMALISERS[scheme])


Identifier = Annotated[str, AfterValidator(normalise_identifier)]
CreatorId = Annotated[str, AfterValidator(normalise_creator_id)]


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
    identifiers: list[Identifier] | None = Field(
        default=None,
        description="The work's identifiers as scheme:value (isbn:, isrc:, iswc:, doi:), normalised",
    )
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
    md5: Md5Hex | None = None
    identifier: Identifier | None = Field(
        default=None, description="A work identifier, scheme:value (isbn:, isrc:, iswc:, doi:)"
    )

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
        return (
            self.url_prefix is None
            and self.domain is None
            and self.sha256 is None
            and self.md5 is None
            and self.identifier is None
        )


def _non_empty_match(match: Match) -> Match:
    if match.is_empty():
        raise ValueError("needs at least one of url_prefix, domain, sha256, md5, identifier")
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
    territories: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["*"],
        description="Where the reservation applies: ISO 3166 alpha-2 codes, or * for everywhere",
    )
    valid_from: AwareDatetime = Field(alias="from")
    valid_until: AwareDatetime | None = Field(default=None, alias="until")


class Compensation(BaseModel):
    """What a licensee pays under a deal. Recorded and shown with the decisions the deal grants;
    Consentry does not bill. ``amount`` is money in ``currency`` (per item for ``per-item``), or a
    percentage of revenue for ``revenue-share`` (then ``currency`` may be left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    basis: Literal["flat", "per-item", "revenue-share"]
    amount: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")] | None = None

    @model_validator(mode="after")
    def _currency_for_money(self) -> Self:
        if self.basis == "revenue-share":
            if self.amount > 100:
                raise ValueError("a revenue share is a percentage: amount must be at most 100")
        elif self.currency is None:
            raise ValueError(f"a {self.basis} compensation needs a currency (ISO 4217, e.g. EUR)")
        return self

    def describe(self) -> str:
        """The terms in one line, as decision evidence records them."""
        value = f"basis={self.basis};amount={self.amount}"
        return value if self.currency is None else f"{value};currency={self.currency}"


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
    attribution: bool | NonEmpty | None = Field(
        default=None,
        description="Whether the licensee must credit the work (true), or the credit line it must show",
    )
    compensation: Compensation | None = None


class Work(_Record):
    """A registered work, known by any of its identifiers, with the licence its holder grants.

    ``isbn``, ``isrc``, ``iswc`` and ``doi`` are bare values (normalised as in
    :func:`normalise_identifier`); :attr:`identifiers` gives them scheme-prefixed, as items and
    match selectors carry them. At least one of the hashes or identifiers is required.
    """

    kind: Literal["work"] = "work"
    sha256: Sha256Hex | None = None
    md5: Md5Hex | None = None
    isbn: Annotated[str, _scheme_value("isbn")] | None = None
    isrc: Annotated[str, _scheme_value("isrc")] | None = None
    iswc: Annotated[str, _scheme_value("iswc")] | None = None
    doi: Annotated[str, _scheme_value("doi")] | None = None
    creator_ids: list[CreatorId] | None = Field(default=None, description="orcid:, isni: or ipi: ids")
    license: NonEmpty

    @model_validator(mode="after")
    def _known_by_something(self) -> Self:
        if self.sha256 is None and self.md5 is None and not self.identifiers:
            raise ValueError("a work needs at least one of sha256, md5, isbn, isrc, iswc, doi")
        return self

    @property
    def identifiers(self) -> tuple[str, ...]:
        """The work's identifiers as ``scheme:value``, in scheme order."""
        return tuple(
            f"{scheme}:{value}"
            for scheme, value in (
                ("isbn", self.isbn),
                ("isrc", self.isrc),
                ("iswc", self.iswc),
                ("doi", self.doi),
            )
            if value is not None
        )


class Holder(_Record):
    """A rights holder: who the ``holder`` of other records is. A holder record's ``holder`` is
    its own id (filled in when left out), so only the holder itself may change it."""

    kind: Literal["holder"] = "holder"
    name: NonEmpty
    contact: NonEmpty | None = None
    creator_ids: list[CreatorId] | None = Field(default=None, description="orcid:, isni: or ipi: ids")

    @model_validator(mode="before")
    @classmethod
    def _holds_itself(cls, data: Any) -> Any:
        if isinstance(data, dict) and "holder" not in data and "id" in data:
            return {**data, "holder": data["id"]}
        return data

    @model_validator(mode="after")
    def _holder_is_id(self) -> Self:
        if self.holder != self.id:
            raise ValueError(f"a holder record's holder must be its own id {self.id!r}")
        return self


RegistryRecord = Annotated[Reservation | Deal | Work | Holder, Field(discriminator="kind")]

registry_record_adapter: TypeAdapter[Reservation | Deal | Work | Holder] = TypeAdapter(RegistryRecord)


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
