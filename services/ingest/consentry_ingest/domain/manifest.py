"""Streaming manifest parsing: bytes in, one :class:`RawItem` or :class:`LineError` per line out.

Pure: the parser is handed bytes (an HTTP body as it streams, a file read by an adapter, a
Kafka record) and never reads anything itself.

Formats
-------
*JSONL* -- an optional header line ``{"manifest": {...}}`` (a
:class:`~consentry_shared.contracts.v1.ManifestHeader`) as the first non-blank line, then one
JSON object per line with the item fields below. Blank lines are skipped.

*CSV* -- RFC 4180: a header row naming the columns (the item field names, matched without
regard to case or surrounding spaces), then one item per record. Quoted fields may hold commas,
doubled quotes and line breaks. CSV has no manifest header line: those fields come from the
caller (CLI options, HTTP parameters).

Item fields: ``id`` (string, or a JSON integer which is read as its decimal string) and ``url``
are required; ``sha256``, ``md5``, ``license`` (an SPDX expression, checked later by rights),
``creator``, ``title``, ``media_type`` and the work identifiers ``isbn``, ``isrc``, ``iswc`` and
``doi`` (see :func:`check_identifiers`) are optional, and an empty string or JSON ``null``
means "not given". The crawl-time evidence fields of :data:`EVIDENCE_FIELDS` are optional too and
land in :attr:`RawItem.evidence` (see there for their forms). Any other field is an error.

Line numbers are 1-based physical lines of the file, counted on ``\\n`` (``\\r\\n`` is
tolerated). A CSV record that spans lines is reported at the line where it starts. Every error
names its line and, where one field is to blame, the field.

A line break inside a quoted CSV field is read as ``\n`` however it was spelt. CSV fields are
limited to 131072 characters (the ``csv`` module's limit, left global and untouched); a longer
one is reported as invalid CSV.

Memory is bounded by :data:`MAX_LINE_BYTES` (the longest line or CSV record kept; a longer one
is skipped and reported, never buffered) plus the output of one :meth:`ManifestParser.feed`
call (proportional to the chunk given) plus the duplicate-id index, the one thing that grows
with the manifest: the 64-bit digest of each id (a keyed SipHash) and the line where it was first seen,
in a compact table of 16 to 32 bytes per item (:mod:`consentry_ingest.domain.id_index`; about
200 MB at ten million items). Two different ids whose digests collide are reported as
duplicates: with 64-bit digests the chance is about ``n**2 / 2**65`` (3e-6 at 10 million items).

This module decides nothing about what a bad line means for the manifest: that policy is in
:mod:`consentry_ingest.domain.policy`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, get_args

import msgspec
from pydantic import ValidationError
from pydantic_core import Url

from consentry_shared.contracts.v1 import (
    IDENTIFIER_SCHEMES,
    CrawlEvidenceField,
    ManifestHeader,
    normalise_identifier,
)

from .errors import InvalidURLError, ParserClosedError, UnsupportedFormatError
from .id_index import DuplicateIds

__all__ = [
    "EVIDENCE_FIELDS",
    "IDENTIFIER_FIELDS",
    "ITEM_FIELDS",
    "MAX_EVIDENCE_CHARS",
    "MAX_ID_CHARS",
    "MAX_LINE_BYTES",
    "MAX_URL_CHARS",
    "LineError",
    "ManifestFormat",
    "ManifestParser",
    "ParsedLine",
    "RawItem",
    "detect_format",
    "normalise_url",
]

ManifestFormat: TypeAlias = Literal["jsonl", "csv"]

MAX_LINE_BYTES: Final = 1 << 20
"""The longest line (CSV: record) the parser keeps, in bytes, not counting its line break."""

MAX_ID_CHARS: Final = 4096
"""The longest item id: the ``item_id`` limit of ``items.v1``."""

MAX_URL_CHARS: Final = 2083
"""The longest normalised URL: the limit of pydantic's ``HttpUrl`` used by ``items.v1``."""

IDENTIFIER_FIELDS: Final = IDENTIFIER_SCHEMES
"""The work identifier fields an item may carry (``isbn``, ``isrc``, ``iswc``, ``doi``)."""

ITEM_FIELDS: Final = (
    "id",
    "url",
    "sha256",
    "md5",
    "license",
    "creator",
    "title",
    "media_type",
    *IDENTIFIER_FIELDS,
)
"""Every field an item line may carry, in the order errors are reported."""

_ITEM_FIELD_SET: Final = frozenset(ITEM_FIELDS)
_IDENTIFIER_FIELD_SET: Final = frozenset(IDENTIFIER_FIELDS)

EVIDENCE_FIELDS: Final[tuple[str, ...]] = get_args(CrawlEvidenceField)
"""The optional crawl-time evidence fields an item may carry, in the order errors are reported.
Their accepted forms and normalised values are described at :attr:`RawItem.evidence`."""

MAX_EVIDENCE_CHARS: Final = 512 * 1024
"""The longest normalised evidence value. RFC 9309 asks crawlers to read at least 500 KiB of a
robots.txt, so a whole body of that size fits."""

_EVIDENCE_FIELD_SET: Final = frozenset(EVIDENCE_FIELDS)
_KNOWN_FIELD_SET: Final = _ITEM_FIELD_SET | _EVIDENCE_FIELD_SET
_NO_STRINGS: Final[Mapping[str, str]] = MappingProxyType({})


def _no_strings() -> Mapping[str, str]:
    return _NO_STRINGS


_REQUIRED_COLUMNS: Final = ("id", "url")
_HEADER_KEY: Final = "manifest"
_BOM: Final = b"\xef\xbb\xbf"
_JSON: Final = json.JSONDecoder()
_read_json_fast: Final = msgspec.json.Decoder().decode
"""msgspec's reading of a line, 3 to 4 times faster than ``_JSON``. Where it reads a line at all it
reads the same value (tests compare the two on generated lines); it refuses more (``NaN``,
numbers out of range, lone surrogate escapes...) and those lines take ``_JSON``, which words
every error message."""
_UNREADABLE: Final = object()
_QUOTED_CHARS: Final = 60
"""How much of an offending value or name an error message quotes, so 100 errors stay small."""


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawItem:
    """One manifest item whose every field has been validated.

    ``url`` is already in the canonical form of :func:`normalise_url`; ``sha256`` and ``md5`` are
    lower-case hex; absent optional fields are ``None``, never ``""``. Only the domain's parsers
    (:class:`ManifestParser` and those of :mod:`consentry_ingest.domain.formats`) build these:
    :func:`~consentry_ingest.domain.items.to_event` trusts them and does not validate them again.

    ``extra`` holds format-specific facts with no field of their own (a CDXJ capture's crawl
    ``timestamp`` and ``sha1``, a Croissant dataset's ``sd_license``...); each format documents
    its keys. ``evidence`` holds the crawl-time evidence fields of :data:`EVIDENCE_FIELDS` that
    were given, normalised: ``headers`` and ``html_meta`` (a JSON object, or its JSON text, of
    names to a string or a list of strings; ``html_meta`` may also be the raw HTML) become the
    compact JSON ``{"lower-case name": ["value", ...]}`` with sorted names; ``c2pa`` and
    ``tdmrep_json`` given as JSON values become compact JSON with sorted keys, as text they are
    kept; ``xmp``, ``robots_txt`` and ``ai_txt`` are bodies kept as given; the ``*_sha256``
    fields are lower-case hex; ``fetched_at`` (ISO 8601, or 14 digits ``YYYYMMDDhhmmss``; a
    time without an offset is read as UTC, as WARC and CDX times are) becomes
    ``YYYY-MM-DDThh:mm:ss[.ffffff]Z``. Both are empty mappings when nothing was given, and
    neither takes part in ``hash()``.
    """

    line: int
    id: str
    url: str
    sha256: str | None = None
    md5: str | None = None
    license: str | None = None
    creator: str | None = None
    title: str | None = None
    media_type: str | None = None
    extra: Mapping[str, str] = field(default_factory=_no_strings, hash=False)
    evidence: Mapping[str, str] = field(default_factory=_no_strings, hash=False)
    identifiers: tuple[str, ...] = ()
    """The work identifiers given, as ``scheme:value`` in their canonical spelling
    (:func:`~consentry_shared.contracts.v1.normalise_identifier`), in :data:`IDENTIFIER_FIELDS` order."""


@dataclass(frozen=True, slots=True)
class LineError:
    """Why line ``line`` was rejected. ``field`` names the field (or CSV column) at fault, or is
    ``None`` when the line as a whole is unreadable (bad UTF-8, bad JSON, too long)."""

    line: int
    field: str | None
    message: str


ParsedLine: TypeAlias = RawItem | LineError


# --- format detection --------------------------------------------------------------------------

_SUFFIX_FORMATS: Final[dict[str, ManifestFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".csv": "csv",
}
_UNSUPPORTED_SUFFIXES: Final = (".parquet", ".tsv", ".xlsx", ".zip", ".tar")
_COMPRESSION_SUFFIXES: Final = (".gz", ".zst", ".bz2", ".xz")


def detect_format(filename: str | None, first_bytes: bytes, *, override: str | None = None) -> ManifestFormat:
    """Tell which format a manifest is in.

    ``override`` (a user's explicit ``--format``) wins; then the file name's extension
    (``.jsonl``/``.ndjson``/``.jsonlines``, ``.csv``; a compression suffix such as ``.gz`` is
    looked through, decompressing is the adapter's job); then the content: JSONL when the first
    non-blank byte of ``first_bytes`` is ``{``, CSV otherwise. Empty content is JSONL (an empty
    manifest either way).

    Raises :class:`UnsupportedFormatError` for an unknown ``override``, for extensions of formats
    ingest does not read (Parquet, TSV, ...), and for content that is a JSON array.
    """
    if override is not None:
        chosen = override.strip().lower()
        if chosen == "jsonl":
            return "jsonl"
        if chosen == "csv":
            return "csv"
        raise UnsupportedFormatError(f"unknown manifest format {override!r}: use jsonl or csv")
    if filename:
        name = filename.strip().lower()
        for suffix in _COMPRESSION_SUFFIXES:
            name = name.removesuffix(suffix)
        for suffix, fmt in _SUFFIX_FORMATS.items():
            if name.endswith(suffix):
                return fmt
        if name.endswith(_UNSUPPORTED_SUFFIXES):
            raise UnsupportedFormatError(
                f"{filename!r}: this manifest format is not supported; send JSONL or CSV"
            )
    head = first_bytes.removeprefix(_BOM).lstrip()
    if head.startswith(b"["):
        raise UnsupportedFormatError(
            "the manifest is a JSON array; send JSON Lines (one JSON object per line)"
        )
    if not head or head.startswith(b"{"):
        return "jsonl"
    return "csv"


# --- URLs --------------------------------------------------------------------------------------

_LOWER_PERCENT: Final = re.compile(r"%(?:[0-9a-f][0-9A-Fa-f]|[0-9A-F][a-f])")


def _url_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    if error["type"] == "string_unicode":
        return "is not valid Unicode (an unpaired surrogate)"
    reason = str(error["msg"]).removeprefix("Input should be a valid URL, ")
    return "has no host" if reason == "empty host" else f"is not a valid URL: {reason}"


def _without_userinfo_and_root_dot(serialised: str, scheme: str) -> str:
    """Drop ``user:password@`` and a fully-qualified host's trailing dots from a WHATWG URL."""
    start = len(scheme) + 3
    end = serialised.index("/", start)  # a special-scheme URL always serialises a path
    host_port = serialised[start:end].rpartition("@")[2]  # userinfo serialises '@' as %40
    if not host_port.startswith("["):
        host, colon, port = host_port.partition(":")
        host = host.rstrip(".")
        host_port = host + colon + port
        if not host:
            raise InvalidURLError("has no host")
    return serialised[:start] + host_port + serialised[end:]


def normalise_url(url: str) -> str:
    """The canonical form of an ``http``/``https`` URL, under which one work has one URL.

    Surrounding whitespace is dropped; scheme and host are lower-cased; an internationalised
    host becomes its IDNA (punycode, UTS #46) form; the default port (80, 443), the fragment,
    user info (``user:password@``: no credentials in events or the ledger) and the trailing dot
    of a fully-qualified host are dropped; an empty path becomes ``/``; percent-escapes are
    upper-cased (``%2f`` -> ``%2F``, RFC 3986 §6.2.2.1). Path and query are otherwise kept,
    except for what the WHATWG URL Standard -- which pydantic's ``HttpUrl`` in ``items.v1``
    applies to every URL anyway -- requires: dot segments resolved, ``\\`` read as ``/`` and
    characters outside the URL character set percent-encoded. The result is a fixed point:
    normalising it again, or validating it as ``HttpUrl``, gives it back unchanged.

    Raises :class:`InvalidURLError` (a ``ValueError``) when the URL is not ``http``/``https``,
    has no host, cannot be parsed, or is longer than :data:`MAX_URL_CHARS` once normalised.
    """
    text = url.strip()
    head = text[:8].lower()
    if head.startswith("http://"):
        authority = 7
    elif head == "https://":
        authority = 8
    else:
        raise InvalidURLError("must be an absolute http:// or https:// URL")
    # WHATWG would read "http:///x" as host "x"; a manifest URL must name its host itself.
    if len(text) == authority or text[authority] in "/\\?#":
        raise InvalidURLError("has no host")
    try:
        parsed = Url(text)
    except ValidationError as exc:
        raise InvalidURLError(_url_error(exc)) from None
    host = parsed.host
    if not host:
        raise InvalidURLError("has no host")
    canonical = str(parsed)
    if parsed.username or parsed.password is not None or host.endswith("."):
        canonical = _without_userinfo_and_root_dot(canonical, parsed.scheme)
    if parsed.fragment is not None:
        # WHATWG serialisation percent-encodes every '#' before the fragment's own.
        canonical = canonical.partition("#")[0]
    if "%" in canonical:
        canonical = _LOWER_PERCENT.sub(lambda m: m.group(0).upper(), canonical)
    if len(canonical) > MAX_URL_CHARS:
        raise InvalidURLError(f"is longer than {MAX_URL_CHARS} characters")
    return canonical


# --- field checks ------------------------------------------------------------------------------

_HEX: Final = {chars: re.compile(f"[0-9a-fA-F]{{{chars}}}") for chars in (32, 64)}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _contains_lone_surrogate(value: object) -> bool:
    """Whether a JSON value holds a string (or key) that is not valid Unicode."""
    if isinstance(value, str):
        return not value.isascii() and _has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(
            _contains_lone_surrogate(key) or _contains_lone_surrogate(item) for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_contains_lone_surrogate(item) for item in value)
    return False


def _quote(text: str) -> str:
    """``text`` safe and short enough to put in an error message (ASCII, at most ~60 chars)."""
    shown = text if len(text) <= _QUOTED_CHARS else text[:_QUOTED_CHARS] + "..."
    return ascii(shown)


def _field_name(name: str) -> str:
    """A field name as reported in ``LineError.field``: printable and bounded."""
    if len(name) <= _QUOTED_CHARS and name.isprintable() and name.isascii():
        return name
    return ascii(name[:_QUOTED_CHARS])[1:-1]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_digest(line: int, name: str, value: object, chars: int, errors: list[LineError]) -> str | None:
    if not isinstance(value, str):
        errors.append(LineError(line, name, f"{name} must be a string, got {_json_type(value)}"))
        return None
    text = value.strip()
    if not text:
        return None
    if _HEX[chars].fullmatch(text) is None:
        errors.append(
            LineError(line, name, f"{name} must be {chars} hexadecimal characters, got {_quote(text)}")
        )
        return None
    return text.lower()


def check_identifiers(line: int, values: Mapping[str, object], errors: list[LineError]) -> tuple[str, ...]:
    """The identifiers among ``values`` (keyed by :data:`IDENTIFIER_FIELDS`) as ``scheme:value``,
    normalised (an ISBN-10 becomes its ISBN-13, a DOI is lower-cased...); each bad one adds an
    error naming its field. An ISBN may be a JSON integer; ``None`` or ``""`` is "not given"."""
    found: list[str] = []
    for name in IDENTIFIER_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        if type(value) is int and name == "isbn":
            value = str(value)
        if not isinstance(value, str):
            errors.append(LineError(line, name, f"{name} must be a string, got {_json_type(value)}"))
            continue
        if not value.strip():
            continue
        try:
            found.append(normalise_identifier(f"{name}:{value}"))
        except ValueError as exc:
            errors.append(LineError(line, name, str(exc)))
    return tuple(found)


def _check_text(line: int, name: str, value: object, errors: list[LineError]) -> str | None:
    if not isinstance(value, str):
        errors.append(LineError(line, name, f"{name} must be a string, got {_json_type(value)}"))
        return None
    if not value:
        return None
    if "\x00" in value:
        errors.append(LineError(line, name, f"{name} contains a NUL character"))
        return None
    return value


def _check_unusual_id(line: int, value: object, errors: list[LineError]) -> str | None:
    """The id check for anything but a plain printable string of 1 to 4096 characters."""
    if value is None:
        errors.append(LineError(line, "id", "missing id"))
        return None
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str):
        errors.append(LineError(line, "id", f"id must be a string or an integer, got {_json_type(value)}"))
        return None
    if not value or value.isspace():
        errors.append(LineError(line, "id", "id is empty"))
        return None
    if len(value) > MAX_ID_CHARS:
        errors.append(LineError(line, "id", f"id is longer than {MAX_ID_CHARS} characters"))
        return None
    if (control := _CONTROL.search(value)) is not None:
        errors.append(LineError(line, "id", f"id contains a control character (U+{ord(control[0]):04X})"))
        return None
    return value


def _check_url(line: int, value: object, errors: list[LineError]) -> str | None:
    if value is None or value == "":
        errors.append(LineError(line, "url", "missing url"))
        return None
    if not isinstance(value, str):
        errors.append(LineError(line, "url", f"url must be a string, got {_json_type(value)}"))
        return None
    try:
        return normalise_url(value)
    except InvalidURLError as exc:
        errors.append(LineError(line, "url", f"url {_quote(value)} {exc}"))
        return None


# --- evidence ----------------------------------------------------------------------------------

_EVIDENCE_KINDS: Final[dict[str, str]] = {
    "headers": "names",
    "html_meta": "names-or-html",
    "xmp": "text",
    "c2pa": "json-or-text",
    "robots_txt": "text",
    "robots_txt_sha256": "sha256",
    "ai_txt": "text",
    "ai_txt_sha256": "sha256",
    "tdmrep_json": "json-or-text",
    "tdmrep_json_sha256": "sha256",
    "fetched_at": "time",
}
_CDX_TIME: Final = re.compile(r"[0-9]{14}")


class _EvidenceError(Exception):
    """Why an evidence value was refused: ``str()`` completes "<name> ..."."""


def _evidence_json(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise _EvidenceError(f"{name} is not valid JSON") from None


def _names_to_values(name: str, value: object) -> str:
    """``{"Name": "v" | ["v", ...]}`` (or ``[["Name", "v"], ...]`` pairs) as sorted compact JSON."""
    pairs: list[tuple[object, object]]
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise _EvidenceError(f"{name} must be a JSON object of names to values, got {_json_type(value)}")
    merged: dict[str, list[str]] = {}
    for key, values in pairs:
        if not isinstance(key, str) or not key.strip():
            raise _EvidenceError(f"{name} has a name that is not a non-empty string")
        if values is None:  # an absent member of a Parquet struct
            continue
        listed = values if isinstance(values, list) else [values]
        if not all(type(v) is str or type(v) is int for v in listed):
            raise _EvidenceError(f"{name}[{_quote(key)}] must be a string or a list of strings")
        merged.setdefault(key.strip().lower(), []).extend(str(v) for v in listed)
    return json.dumps(dict(sorted(merged.items())), ensure_ascii=False, separators=(",", ":"))


def _fetched_at(value: object) -> str:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _CDX_TIME.fullmatch(text):
                moment = datetime.strptime(text, "%Y%m%d%H%M%S")  # UTC: set below
            else:
                moment = datetime.fromisoformat(text)
        except ValueError:
            raise _EvidenceError(
                f"fetched_at {_quote(text)} is not an ISO 8601 time or a 14-digit YYYYMMDDhhmmss"
            ) from None
    else:
        raise _EvidenceError(f"fetched_at must be a string, got {_json_type(value)}")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _evidence_value(name: str, value: object) -> str | None:
    """The normalised form of evidence field ``name`` (see :attr:`RawItem.evidence`); ``None`` when
    not given. Raises :class:`_EvidenceError` for a value it cannot take."""
    kind = _EVIDENCE_KINDS[name]
    if isinstance(value, bytes | bytearray | memoryview):
        if kind == "sha256" and len(value) == 32:  # a raw digest (a Parquet binary column)
            return bytes(value).hex()
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _EvidenceError(f"{name} is not valid UTF-8") from None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "sha256":
        if not isinstance(value, str) or _HEX[64].fullmatch(value.strip()) is None:
            shown = _quote(value) if isinstance(value, str) else _json_type(value)
            raise _EvidenceError(f"{name} must be 64 hexadecimal characters, got {shown}")
        return value.strip().lower()
    if kind == "time":
        return _fetched_at(value)
    try:
        if kind in ("names", "names-or-html"):
            if isinstance(value, str):
                text = value.strip()
                if kind == "names-or-html" and not text.startswith(("{", "[")):
                    normalised = value
                else:
                    normalised = _names_to_values(name, _evidence_json(text, name))
            else:
                normalised = _names_to_values(name, value)
        elif isinstance(value, str):
            normalised = value
        elif kind == "json-or-text" and isinstance(value, dict | list):
            normalised = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        else:
            raise _EvidenceError(f"{name} must be a string, got {_json_type(value)}")
    except RecursionError:
        raise _EvidenceError(f"{name} is nested too deeply") from None
    except (TypeError, ValueError):  # json.dumps: values that are not JSON data, mixed key types
        raise _EvidenceError(f"{name} is not JSON data") from None
    if "\x00" in normalised:
        raise _EvidenceError(f"{name} contains a NUL character")
    if len(normalised) > MAX_EVIDENCE_CHARS:
        raise _EvidenceError(f"{name} is longer than {MAX_EVIDENCE_CHARS} characters")
    return normalised


def _check_evidence(line: int, values: Mapping[str, object], errors: list[LineError]) -> Mapping[str, str]:
    """The evidence among ``values`` (keyed by evidence field name; other keys are ignored),
    normalised; each bad value adds an error named after its field."""
    found: dict[str, str] = {}
    for name in EVIDENCE_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        try:
            normalised = _evidence_value(name, value)
        except _EvidenceError as exc:
            errors.append(LineError(line, name, str(exc)))
            continue
        if normalised is not None:
            found[name] = normalised
    return MappingProxyType(found) if found else _NO_STRINGS


# --- the parser --------------------------------------------------------------------------------


class ManifestParser:
    """Incremental parser for one manifest. Feed it the bytes as they arrive.

    ``feed(chunk)`` returns the results of every line completed by ``chunk``, in line order;
    ``close()`` returns those of the last, unterminated line (and of an unterminated CSV
    record). Chunks may split a line, a CRLF pair or a UTF-8 character anywhere: the results
    do not depend on where the chunks end. Errors are returned, never raised; the only
    exception is :class:`~consentry_ingest.domain.errors.ParserClosedError` for ``feed`` after
    ``close``.

    A parser is single-use and not thread-safe. Besides the results it exposes ``header`` (the
    JSONL manifest header, once its line has been parsed), ``lines_read`` and, after ``close``,
    ``content_sha256`` (the SHA-256 of every byte fed, for ``manifest_id_for``).
    """

    def __init__(
        self,
        format: ManifestFormat,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        ids: DuplicateIds | None = None,
    ) -> None:
        if format not in ("jsonl", "csv"):
            raise UnsupportedFormatError(f"unknown manifest format {format!r}: use jsonl or csv")
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self.format: Final[ManifestFormat] = format
        self.max_line_bytes: Final = max_line_bytes
        self._header: ManifestHeader | None = None
        self._closed = False
        self._sha256 = hashlib.sha256()
        self._lines = 0
        # The line being assembled across chunks; once it is over the limit its bytes are
        # dropped (only its quote count is kept, for CSV) until its end is found.
        self._pending = bytearray()
        self._overflowing = False
        self._overflow_quotes = 0
        # the ids seen so far and the line each was first seen on
        self._ids = ids if ids is not None else DuplicateIds()
        # JSONL: whether a non-blank line was seen (the header must come first)
        self._seen_content = False
        # CSV: columns of the header row, or None before it; a bad header ends all reading
        self._columns: tuple[str, ...] | None = None
        self._header_failed = False
        # CSV: the record being assembled (it continues while its quotes are unbalanced)
        self._record: list[str] = []
        self._record_start = 0
        self._record_open = False
        self._record_quotes_odd = False
        self._record_bytes = 0
        self._record_error: LineError | None = None
        self._on_line: Callable[[int, bytes, list[ParsedLine]], None]
        self._on_line = self._jsonl_line if format == "jsonl" else self._csv_line

    # -- public surface --

    @property
    def header(self) -> ManifestHeader | None:
        """The JSONL ``{"manifest": {...}}`` header, once parsed; ``None`` if absent or invalid
        (its errors are among the results) and always ``None`` for CSV."""
        return self._header

    @property
    def lines_read(self) -> int:
        """How many complete lines have been consumed so far (for progress reports)."""
        return self._lines

    @property
    def content_sha256(self) -> str:
        """Lower-case hex SHA-256 of every byte fed so far: of the whole manifest after
        ``close()``."""
        return self._sha256.hexdigest()

    def feed(self, chunk: bytes) -> list[ParsedLine]:
        """Consume the next bytes; return the results of the lines they complete."""
        if self._closed:
            raise ParserClosedError("feed() after close()")
        out: list[ParsedLine] = []
        if not chunk:
            return out
        self._sha256.update(chunk)
        start = 0
        limit = self.max_line_bytes
        on_line = self._on_line
        find = chunk.find
        while True:
            newline = find(b"\n", start)
            if newline < 0:
                if start < len(chunk):
                    self._hold(chunk[start:])
                return out
            self._lines += 1
            if self._pending or self._overflowing:
                self._finish_pending(chunk[start:newline], out)
            elif newline - start > limit:
                self._on_overflow(self._lines, chunk.count(b'"', start, newline), out)
            else:
                on_line(self._lines, chunk[start:newline], out)
            start = newline + 1

    def close(self) -> list[ParsedLine]:
        """Signal the end of the manifest; return the results of what was still held.

        Idempotent: a second call returns ``[]``.
        """
        out: list[ParsedLine] = []
        if self._closed:
            return out
        self._closed = True
        if self._pending or self._overflowing:
            self._lines += 1
            self._finish_pending(b"", out)
        if self._record_open:
            start = self._record_start
            error = self._record_error or LineError(
                start,
                None,
                f"unterminated quoted field: the CSV record that starts on line "
                f"{start} has an unbalanced '\"'",
            )
            self._end_record()
            if not self._header_failed:
                out.append(error)
        self._pending = bytearray()
        for line, first, item_id in self._ids.deferred():
            out.append(LineError(line, "id", f"duplicate id {_quote(item_id)}, first seen on line {first}"))
        return out

    # -- splitting lines --

    def _hold(self, piece: bytes) -> None:
        if self._overflowing:
            self._overflow_quotes += piece.count(b'"')
        elif len(self._pending) + len(piece) > self.max_line_bytes:
            self._overflowing = True
            self._overflow_quotes = self._pending.count(b'"') + piece.count(b'"')
            self._pending = bytearray()
        else:
            self._pending += piece

    def _finish_pending(self, tail: bytes, out: list[ParsedLine]) -> None:
        self._hold(tail)
        if self._overflowing:
            quotes = self._overflow_quotes
            self._overflowing = False
            self._overflow_quotes = 0
            self._on_overflow(self._lines, quotes, out)
        else:
            line = bytes(self._pending)
            self._pending.clear()
            self._on_line(self._lines, line, out)

    def _too_long(self, line: int, what: str) -> LineError:
        return LineError(line, None, f"{what} is longer than {self.max_line_bytes} bytes")

    def _on_overflow(self, line: int, quotes: int, out: list[ParsedLine]) -> None:
        if self.format == "jsonl":
            self._seen_content = True
            out.append(self._too_long(line, "line"))
            return
        if not self._record_open:
            self._begin_record(line)
        self._record_quotes_odd ^= bool(quotes & 1)
        if self._record_error is None:
            self._record_error = self._too_long(self._record_start, "CSV record")
            self._record.clear()
        if not self._record_quotes_odd:
            self._flush_record(out)

    @staticmethod
    def _decode(line: int, raw: bytes, offset: int = 0) -> str | LineError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return LineError(line, None, f"not valid UTF-8 at byte {exc.start + offset + 1}")

    # -- JSONL --

    def _jsonl_line(self, line: int, raw: bytes, out: list[ParsedLine]) -> None:
        offset = 0
        if line == 1 and raw.startswith(_BOM):
            raw = raw[3:]
            offset = 3
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            return
        first = not self._seen_content
        self._seen_content = True
        # Only a \uD800-\uDFFF escape can put a lone surrogate in decoded JSON; such a string
        # cannot be encoded again, so it would poison every consumer downstream.
        escapes_surrogate = b"\\ud" in raw or b"\\uD" in raw
        if escapes_surrogate:
            obj = self._read_json(line, raw, offset, out)
        else:
            try:
                obj = _read_json_fast(raw)
            except (ValueError, RecursionError):  # the reference reading words the error
                obj = self._read_json(line, raw, offset, out)
        if obj is _UNREADABLE:
            return
        if type(obj) is not dict:
            out.append(LineError(line, None, f"expected a JSON object, got {_json_type(obj)}"))
            return
        if escapes_surrogate and self._surrogates(line, obj, out):
            return
        if _HEADER_KEY in obj:
            self._header_line(line, obj, first=first, out=out)
            return
        self._item(line, obj, out, check_keys=True)

    def _read_json(self, line: int, raw: bytes, offset: int, out: list[ParsedLine]) -> object:
        """The JSON value of a line with the standard library's decoder (the reference), or
        ``_UNREADABLE`` with the line's error added to ``out``."""
        text = self._decode(line, raw, offset)
        if isinstance(text, LineError):
            out.append(text)
            return _UNREADABLE
        try:
            return _JSON.decode(text)
        except json.JSONDecodeError as exc:
            out.append(LineError(line, None, f"invalid JSON: {exc.msg} at column {exc.colno}"))
        except RecursionError:
            out.append(LineError(line, None, "invalid JSON: nested too deeply"))
        except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
            out.append(LineError(line, None, f"invalid JSON: {_quote(str(exc))}"))
        return _UNREADABLE

    @staticmethod
    def _surrogates(line: int, obj: dict[str, object], out: list[ParsedLine]) -> bool:
        found = False
        for key, value in obj.items():
            if _contains_lone_surrogate(key) or _contains_lone_surrogate(value):
                out.append(
                    LineError(
                        line,
                        _field_name(key),
                        f"{_field_name(key)} has an unpaired surrogate escape, not valid Unicode",
                    )
                )
                found = True
        return found

    def _header_line(self, line: int, obj: dict[str, object], *, first: bool, out: list[ParsedLine]) -> None:
        if not first:
            out.append(LineError(line, _HEADER_KEY, "the manifest header must be the first line"))
            return
        errors: list[ParsedLine] = [
            LineError(line, _field_name(key), f"unknown field {_quote(key)} beside the manifest header")
            for key in obj
            if key != _HEADER_KEY
        ]
        body = obj[_HEADER_KEY]
        if not isinstance(body, dict):
            errors.append(
                LineError(line, _HEADER_KEY, f"manifest must be a JSON object, got {_json_type(body)}")
            )
        else:
            try:
                header = ManifestHeader.model_validate(body)
            except ValidationError as exc:
                for err in exc.errors(include_url=False, include_input=False):
                    where = ".".join(str(part) for part in err["loc"])
                    errors.append(LineError(line, _field_name(f"{_HEADER_KEY}.{where}"), err["msg"]))
            else:
                if not errors:
                    self._header = header
        out.extend(errors)

    # -- items (both formats) --

    def _item(self, line: int, obj: dict[str, object], out: list[ParsedLine], *, check_keys: bool) -> None:
        errors: list[LineError] = []
        with_evidence = not _ITEM_FIELD_SET.issuperset(obj)
        if check_keys and with_evidence and not _KNOWN_FIELD_SET.issuperset(obj):
            errors.extend(
                LineError(
                    line,
                    _field_name(key),
                    f"unknown field {_quote(key)}; an item has {', '.join(ITEM_FIELDS)} "
                    "and evidence fields such as headers, robots_txt, fetched_at",
                )
                for key in obj
                if key not in _KNOWN_FIELD_SET
            )
        get = obj.get
        item_id = self._check_id(line, get("id"), errors)
        url = _check_url(line, get("url"), errors)
        # Optional fields are often absent: only call the checks for those present.
        sha256 = md5 = license_ = creator = title = media_type = None
        if (value := get("sha256")) is not None:
            sha256 = _check_digest(line, "sha256", value, 64, errors)
        if (value := get("md5")) is not None:
            md5 = _check_digest(line, "md5", value, 32, errors)
        if (value := get("license")) is not None:
            license_ = _check_text(line, "license", value, errors)
        if (value := get("creator")) is not None:
            creator = _check_text(line, "creator", value, errors)
        if (value := get("title")) is not None:
            title = _check_text(line, "title", value, errors)
        if (value := get("media_type")) is not None:
            media_type = _check_text(line, "media_type", value, errors)
        identifiers: tuple[str, ...] = ()
        if not _IDENTIFIER_FIELD_SET.isdisjoint(obj):
            identifiers = check_identifiers(line, obj, errors)
        evidence = _check_evidence(line, obj, errors) if with_evidence else _NO_STRINGS
        if errors or item_id is None or url is None:
            out.extend(errors)
            return
        if evidence or identifiers:
            out.append(
                RawItem(
                    line,
                    item_id,
                    url,
                    sha256,
                    md5,
                    license_,
                    creator,
                    title,
                    media_type,
                    evidence=evidence,
                    identifiers=identifiers,
                )
            )
            return
        out.append(RawItem(line, item_id, url, sha256, md5, license_, creator, title, media_type))

    def _check_id(self, line: int, value: object, errors: list[LineError]) -> str | None:
        if (
            type(value) is not str
            or not 0 < len(value) <= MAX_ID_CHARS
            or not value.isprintable()
            or value.isspace()
        ):
            value = _check_unusual_id(line, value, errors)
            if value is None:
                return None
        first = self._ids.first_seen(value, line)
        if first is not None:
            errors.append(LineError(line, "id", f"duplicate id {_quote(value)}, first seen on line {first}"))
            return None
        return value

    # -- CSV --

    def _csv_line(self, line: int, raw: bytes, out: list[ParsedLine]) -> None:
        offset = 0
        if line == 1 and raw.startswith(_BOM):
            raw = raw[3:]
            offset = 3
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not self._record_open:
            if not raw or raw.isspace():
                return
            self._begin_record(line)
        self._record_bytes += len(raw) + 1
        if raw.count(b'"') & 1:
            self._record_quotes_odd = not self._record_quotes_odd
        if self._record_error is None:
            if self._record_bytes > self.max_line_bytes + 1:
                self._record_error = self._too_long(self._record_start, "CSV record")
                self._record.clear()
            else:
                text = self._decode(line, raw, offset)
                if isinstance(text, LineError):
                    self._record_error = text
                    self._record.clear()
                else:
                    self._record.append(text)
        if not self._record_quotes_odd:
            self._flush_record(out)

    def _begin_record(self, line: int) -> None:
        self._record_open = True
        self._record_start = line
        self._record_quotes_odd = False
        self._record_bytes = 0
        self._record_error = None
        self._record.clear()

    def _end_record(self) -> None:
        self._record_open = False
        self._record_error = None
        self._record.clear()

    def _flush_record(self, out: list[ParsedLine]) -> None:
        line = self._record_start
        error = self._record_error
        text = "\n".join(self._record)
        self._end_record()
        if self._header_failed:
            return
        if error is not None:
            out.append(error)
            if self._columns is None:
                self._header_failed = True
            return
        try:
            cells = next(csv.reader((text,), strict=True), [])
        except csv.Error as exc:
            out.append(LineError(line, None, f"invalid CSV: {_quote(str(exc))}"))
            if self._columns is None:
                self._header_failed = True
            return
        if self._columns is None:
            self._csv_header(line, cells, out)
            return
        if len(cells) != len(self._columns):
            out.append(LineError(line, None, f"expected {len(self._columns)} columns, got {len(cells)}"))
            return
        self._item(line, dict(zip(self._columns, cells, strict=True)), out, check_keys=False)

    def _csv_header(self, line: int, cells: list[str], out: list[ParsedLine]) -> None:
        names = [cell.strip().lower() for cell in cells]
        errors: list[ParsedLine] = []
        known = [name for name in names if name in _KNOWN_FIELD_SET]
        hint = "" if known else " (is the header row missing?)"
        seen: set[str] = set()
        for name, cell in zip(names, cells, strict=True):
            if name not in _KNOWN_FIELD_SET:
                errors.append(
                    LineError(
                        line,
                        _field_name(cell),
                        f"unknown column {_quote(cell)}; the first row must name the columns "
                        f"({', '.join(ITEM_FIELDS)}; evidence: {', '.join(EVIDENCE_FIELDS)}){hint}",
                    )
                )
            elif name in seen:
                errors.append(LineError(line, name, f"duplicate column {_quote(cell)}"))
            seen.add(name)
        errors.extend(
            LineError(line, required, f"missing column {required!r}")
            for required in _REQUIRED_COLUMNS
            if required not in seen
        )
        if errors:
            self._header_failed = True
            out.extend(errors)
            return
        self._columns = tuple(names)
