"""What the web says about one item: every reservation signal read from a capture, combined.

A :class:`SignalCapture` is what was seen of an item and its origin at one moment, from one
place: at crawl time (the ``evidence`` an :class:`ItemEvent` carries, see
:func:`capture_from_evidence`) or by Consentry's own signal fetcher. :func:`read_signals` turns
one or more captures into :class:`WebSignals`: every :class:`SignalReading` with the
:class:`Evidence` that records it (signal, source URL, raw value, body hash, time seen), and the
per-purpose result of :func:`~.signals.combine` (the most restrictive status wins).

What a capture may hold, and what is read from it (signal names of :mod:`.signals`):

==================  ===========================================================================
capture field       readings
==================  ===========================================================================
``headers``         ``tdmrep.header`` (through TDMRep precedence), ``x-robots-tag``,
                    ``http.content-usage``
``html`` / ``meta`` ``tdmrep.meta`` (through TDMRep precedence), ``meta-robots``
``xmp``             ``iptc.data-mining``
``c2pa``            ``c2pa.training-mining``
``robots_txt``      ``robots.txt``, ``robots.content-usage``, ``robots.content-signal``; each
                    RSL ``License:`` URL it names: ``rsl`` from ``rsl[url]``, ``unknown`` when
                    that licence was not read
``ai_txt``          ``ai.txt``
``tdmrep_json``     ``tdmrep.well-known`` (a header or meta declaration supersedes it)
==================  ===========================================================================

Never fail open: an origin file known only by its hash, one that could not be fetched (5xx,
429, a timeout, an open circuit) or could not be parsed, and headers or HTML that could not be
read all become ``unknown`` readings. Only a 4xx other than 429 means "there is no such file"
(RFC 9309 §2.3.1.3), which says nothing (``unset``), never ``not-reserved``.

Purity and cost: no I/O and no clock. Parsed origin files (robots.txt, ai.txt, tdmrep.json, RSL)
are memoised by (kind, body sha256, URL) in a bounded LRU (:class:`ParsedDocuments`): the items
of a manifest that share an origin parse its files once. A parse is a pure function of those
keys, so the memo never changes a result.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Final, TypeVar
from urllib.parse import urlsplit

from consentry_shared.contracts.v1 import CrawlEvidenceField, Evidence

from .signals import (
    AiTxt,
    CombinedSignals,
    PurposeOutcome,
    RobotsTxt,
    RslDocument,
    SignalReading,
    TdmRepFile,
    combine,
    read_c2pa_training_mining,
    read_content_usage_header,
    read_iptc_data_mining,
    read_meta_robots,
    read_meta_robots_tags,
    read_tdmrep_headers,
    read_tdmrep_meta,
    read_tdmrep_meta_tags,
    read_x_robots_tag,
    reading_to_evidence,
    resolve_tdmrep,
    robots_unavailable,
)
from .signals.base import AI_PURPOSES, ALL_PURPOSES, unknown
from .signals.tdmrep import TdmDeclaration

__all__ = [
    "OriginDocument",
    "ParsedDocuments",
    "SignalCapture",
    "WebSignals",
    "body_sha256",
    "capture_from_evidence",
    "origin_of",
    "read_signals",
]

ROBOTS_PATH: Final = "/robots.txt"
AI_TXT_PATH: Final = "/ai.txt"
TDMREP_PATH: Final = "/.well-known/tdmrep.json"


def body_sha256(body: str | bytes) -> str:
    """The hex sha256 of a body (text is hashed as UTF-8): the hash recorded as evidence."""
    return hashlib.sha256(
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    ).hexdigest()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased, default port dropped; ``""`` if none."""
    scheme_end = url.find("://")
    if scheme_end <= 0:
        return ""
    end = len(url)
    for delimiter in "/?#":
        found = url.find(delimiter, scheme_end + 3)
        if found != -1 and found < end:
            end = found
    return _origin(url[:end])  # memoised by scheme://authority: items share their origin


@lru_cache(maxsize=4096)
def _origin(prefix: str) -> str:
    try:
        parts = urlsplit(prefix)
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class OriginDocument:
    """One origin-wide file (robots.txt, ai.txt, tdmrep.json, an RSL licence) as captured.

    ``body`` is the text or bytes read, ``None`` when there is none; ``sha256`` the hash of the
    body as it was fetched (computed from ``body`` when not given); ``status`` the HTTP status
    when known; ``error`` why there is no body. A document without a body is *absent* only when
    ``status`` is a 4xx other than 429; otherwise its content is unknown. ``seen_at`` is when it
    was fetched, when that differs from its capture's time (an origin file cached by a fetcher).
    """

    url: str
    body: str | bytes | None = None
    sha256: str | None = None
    status: int | None = None
    error: str | None = None
    seen_at: datetime | None = None

    @property
    def absent(self) -> bool:
        """Whether the origin says there is no such file (HTTP 4xx other than 429)."""
        return (
            self.body is None and self.status is not None and 400 <= self.status < 500 and self.status != 429
        )

    def why_unread(self) -> str:
        if self.error:
            return self.error
        if self.status is not None:
            return f"HTTP {self.status}"
        if self.sha256 is not None:
            return "only the sha256 of the body was given"
        return "not fetched"


@dataclass(frozen=True, slots=True)
class SignalCapture:
    """What was seen of one item and its origin at one moment, from one place.

    ``where`` labels the place (``crawl``, ``fetch``); :func:`read_signals` appends it to every
    signal name as ``<signal>@<where>`` when several captures are read together. ``seen_at`` is
    when it was seen (``None`` when nobody said). Item-level fields: ``headers`` (lower-case name
    -> values), ``html`` (the page, or its head) or ``meta`` (meta tags as (lower-case name,
    content) pairs), ``xmp`` (an XMP packet), ``c2pa`` (the manifest store as JSON);
    ``item_error`` says why the item's own headers and HTML could not be read (they are then
    unknown). Origin files: ``robots_txt``, ``ai_txt``, ``tdmrep_json``, and ``rsl``: the RSL
    licences read, by URL. A field left ``None`` was not looked at and yields no reading.
    """

    where: str | None = None
    seen_at: datetime | None = None
    headers: Mapping[str, Sequence[str]] | None = None
    html: str | bytes | None = None
    meta: Sequence[tuple[str, str]] | None = None
    xmp: str | bytes | None = None
    c2pa: str | bytes | None = None
    item_error: str | None = None
    headers_error: str | None = None
    meta_error: str | None = None
    robots_txt: OriginDocument | None = None
    ai_txt: OriginDocument | None = None
    tdmrep_json: OriginDocument | None = None
    rsl: Mapping[str, OriginDocument] = field(default_factory=lambda: _NO_DOCUMENTS)

    def document_with_sha256(self, sha256: str) -> OriginDocument | None:
        """An origin file of this capture whose body has this hash (to read a hash-only one)."""
        for document in (self.robots_txt, self.ai_txt, self.tdmrep_json, *self.rsl.values()):
            if document is not None and document.body is not None and document.sha256 == sha256:
                return document
        return None


_NO_DOCUMENTS: Final[Mapping[str, OriginDocument]] = MappingProxyType({})


# --- crawl-time evidence ----------------------------------------------------------------------


_NOT_READ: Final[frozenset[str]] = frozenset({"fetched_at"})


@lru_cache(maxsize=256)
def _seen_at(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _names_to_values(text: str, what: str) -> dict[str, list[str]]:
    """The compact JSON ``{"name": ["value", ...]}`` ingest stores; raises ``ValueError``."""
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"{what} is not a JSON object of names to values")
    found: dict[str, list[str]] = {}
    for name, values in document.items():
        listed = values if isinstance(values, list) else [values]
        found[str(name).strip().lower()] = [value for value in listed if isinstance(value, str)]
    return found


def _origin_document(body: str | None, sha256: str | None, url: str) -> OriginDocument | None:
    if body is None and sha256 is None:
        return None
    return OriginDocument(url, body, sha256.lower() if sha256 is not None else None)


def capture_from_evidence(evidence: Mapping[CrawlEvidenceField, str], url: str) -> SignalCapture | None:
    """The crawl-time capture an item's ``evidence`` holds (see ``ItemEvent.evidence``), or
    ``None`` when it holds nothing to read. Never raises: a field that cannot be read is kept as
    an error, which :func:`read_signals` turns into ``unknown``."""
    if not evidence or evidence.keys() <= _NOT_READ:
        return None  # nothing to read (only a fetch time, or nothing at all)
    origin = origin_of(url)
    headers: dict[str, list[str]] | None = None
    headers_error: str | None = None
    if "headers" in evidence:
        try:
            headers = _names_to_values(evidence["headers"], "headers")
        except (ValueError, RecursionError) as error:
            headers_error = f"crawl-time headers unreadable: {error}"
    html: str | None = None
    meta: list[tuple[str, str]] | None = None
    meta_error: str | None = None
    carried = evidence.get("html_meta")
    if carried is not None:
        if carried.lstrip().startswith("{"):
            try:
                names = _names_to_values(carried, "html_meta")
            except (ValueError, RecursionError) as error:
                meta_error = f"crawl-time html_meta unreadable: {error}"
            else:
                meta = [(name, value.strip()) for name, values in names.items() for value in values]
        else:
            html = carried
    fetched_at = evidence.get("fetched_at")
    return SignalCapture(
        where="crawl",
        seen_at=_seen_at(fetched_at) if fetched_at else None,
        headers=headers,
        html=html,
        meta=meta,
        xmp=evidence.get("xmp"),
        c2pa=evidence.get("c2pa"),
        headers_error=headers_error,
        meta_error=meta_error,
        robots_txt=_origin_document(
            evidence.get("robots_txt"), evidence.get("robots_txt_sha256"), origin + ROBOTS_PATH
        ),
        ai_txt=_origin_document(evidence.get("ai_txt"), evidence.get("ai_txt_sha256"), origin + AI_TXT_PATH),
        tdmrep_json=_origin_document(
            evidence.get("tdmrep_json"), evidence.get("tdmrep_json_sha256"), origin + TDMREP_PATH
        ),
    )


# --- parsed origin files ----------------------------------------------------------------------

_D = TypeVar("_D", RobotsTxt, AiTxt, TdmRepFile, RslDocument)


class ParsedDocuments:
    """A bounded LRU of parsed origin files keyed by (kind, body sha256, URL).

    ``hits`` and ``misses`` count lookups (a miss is a parse). Not thread-safe: one per event
    loop, as the rights service runs.
    """

    __slots__ = ("_entries", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str, str], object] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kind: type[_D], sha256: str, url: str, parse: Callable[[], _D]) -> _D:
        key = (kind.__name__, sha256, url)
        entries = self._entries
        found = entries.get(key)
        if found is not None:
            entries.move_to_end(key)
            self.hits += 1
            assert isinstance(found, kind)
            return found
        self.misses += 1
        parsed = parse()
        entries[key] = parsed
        if len(entries) > self.maxsize:
            entries.popitem(last=False)
        return parsed


DEFAULT_DOCUMENTS: Final = ParsedDocuments()


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebSignals:
    """Every reading of an item's captures, its evidence, and the combined status per purpose.

    ``readings`` and ``evidence`` are parallel tuples in a fixed order (per capture: TDMRep,
    robots.txt and its RSL licences, ai.txt, X-Robots-Tag, Content-Usage, meta robots, IPTC,
    C2PA), so the same captures always give equal values.
    """

    readings: tuple[SignalReading, ...]
    evidence: tuple[Evidence, ...]
    combined: CombinedSignals

    def outcome(self, purpose: str) -> PurposeOutcome:
        """The combined status for ``purpose`` and the readings that decided it."""
        return self.combined.by_purpose[purpose]

    def evidence_of(self, deciding: Iterable[SignalReading]) -> list[Evidence]:
        """The evidence of ``deciding`` (readings of this object), then every other, in order."""
        chosen = {id(reading) for reading in deciding}
        first = [e for r, e in zip(self.readings, self.evidence, strict=True) if id(r) in chosen]
        rest = [e for r, e in zip(self.readings, self.evidence, strict=True) if id(r) not in chosen]
        return first + rest


@dataclass(frozen=True, slots=True)
class _Observed:
    reading: SignalReading
    sha256: str | None
    shared: bool = False  # read from an origin file: the same reading recurs for its items
    seen_at: datetime | None = None  # the origin file's own fetch time, if it has one


@lru_cache(maxsize=8192)
def _shared_evidence(reading: SignalReading, sha256: str | None, seen_at: datetime | None) -> Evidence:
    # Memoised for origin files only: their readings repeat for every item of the origin, while
    # an item's own readings (its URL is their source) never would and would only flood the memo.
    return reading_to_evidence(reading, seen_at=seen_at, body_sha256=sha256)


def read_signals(
    captures: Iterable[SignalCapture | None],
    url: str,
    *,
    media_type: str | None = None,
    platform_token: str | None = None,
    user: str | None = None,
    territory: str | None = None,
    label: bool = False,
    documents: ParsedDocuments = DEFAULT_DOCUMENTS,
) -> WebSignals | None:
    """Read every capture of the item at ``url`` and combine the readings; ``None`` without any.

    ``platform_token`` is the platform's own crawler token (robots.txt, ai.txt, X-Robots-Tag
    scoping), ``user`` and ``territory`` the licensee's class and territory (RSL). With
    ``label`` every signal name gets its capture's ``@where``. A capture's origin file known
    only by its hash is read from another capture's body with the same hash when there is one.
    """
    present = [capture for capture in captures if capture is not None]
    if not present:
        return None
    readings: list[SignalReading] = []
    evidence: list[Evidence] = []
    for capture in present:
        observed = _read_capture(
            _with_bodies_by_hash(capture, present),
            url,
            media_type=media_type,
            platform_token=platform_token,
            user=user,
            territory=territory,
            documents=documents,
        )
        suffix = f"@{capture.where}" if label and capture.where else ""
        for found in observed:
            reading = found.reading
            if suffix:
                reading = replace(reading, signal=reading.signal + suffix)
            readings.append(reading)
            seen_at = found.seen_at or capture.seen_at
            if found.shared and not suffix:
                evidence.append(_shared_evidence(reading, found.sha256, seen_at))
            else:
                evidence.append(reading_to_evidence(reading, seen_at=seen_at, body_sha256=found.sha256))
    if not readings:
        return None
    return WebSignals(tuple(readings), tuple(evidence), combine(readings))


def _with_bodies_by_hash(capture: SignalCapture, captures: Sequence[SignalCapture]) -> SignalCapture:
    def resolved(document: OriginDocument | None) -> OriginDocument | None:
        if document is None or document.body is not None or document.sha256 is None:
            return document
        for other in captures:
            if other is not capture:
                same = other.document_with_sha256(document.sha256)
                if same is not None:
                    return replace(document, body=same.body)
        return document

    robots, ai_txt, tdmrep = (
        resolved(capture.robots_txt),
        resolved(capture.ai_txt),
        resolved(capture.tdmrep_json),
    )
    if robots is capture.robots_txt and ai_txt is capture.ai_txt and tdmrep is capture.tdmrep_json:
        return capture
    return replace(capture, robots_txt=robots, ai_txt=ai_txt, tdmrep_json=tdmrep)


def _hash_of(document: OriginDocument) -> str:
    assert document.body is not None
    return body_sha256(document.body)


def _note_mismatch(readings: list[SignalReading], document: OriginDocument, read_sha256: str) -> None:
    """A carried hash that differs from the carried body's: kept in the detail, not hidden."""
    if document.sha256 is None or document.sha256 == read_sha256:
        return
    note = f"the body read has sha256 {read_sha256}, the capture gave {document.sha256}"
    for index, reading in enumerate(readings):
        detail = f"{reading.detail}; {note}" if reading.detail else note
        readings[index] = replace(reading, detail=detail)


def _read_capture(
    capture: SignalCapture,
    url: str,
    *,
    media_type: str | None,
    platform_token: str | None,
    user: str | None,
    territory: str | None,
    documents: ParsedDocuments,
) -> list[_Observed]:
    observed = _read_tdmrep(capture, url, documents)
    if capture.robots_txt is not None:
        observed.extend(
            _read_robots(capture, capture.robots_txt, url, platform_token, user, territory, documents)
        )
    if capture.ai_txt is not None:
        observed.append(_read_ai_txt(capture.ai_txt, url, platform_token, documents))
    observed.extend(_read_item(capture, url, media_type, platform_token))
    if capture.xmp is not None:
        sha256 = body_sha256(capture.xmp)
        found = _read_body(read_iptc_data_mining, capture.xmp, url)
        observed.extend(_Observed(reading, sha256) for reading in found)
    if capture.c2pa is not None:
        sha256 = body_sha256(capture.c2pa)
        found = _read_body(read_c2pa_training_mining, capture.c2pa, url)
        observed.extend(_Observed(reading, sha256) for reading in found)
    return observed


# --- item-level readings, memoised without their URL -------------------------------------------
#
# The item-level readers (headers, XMP, C2PA) use the item's URL only as each reading's
# ``source``; everything else they say depends on the header values or the body. Items repeat
# those (a site sends the same headers, a photographer embeds the same XMP), so each reader's
# readings are kept by its inputs with a placeholder source, and given the item's URL per item.

_SOURCE: Final = "\x00item-url\x00"  # never in a real URL (ingest validates them)
_ITEM_READINGS: Final = 4096  # of at most 16 KiB of input each (see _MEMO_BODY)


def _at(readings: tuple[SignalReading, ...], url: str) -> list[SignalReading]:
    """``readings`` read at the placeholder source, as read at ``url``."""
    return [
        SignalReading(
            reading.signal,
            url,
            reading.raw,
            reading.status,
            reading.purposes,
            reading.detail,
            reading.policy_url,
            reading.requires_payment,
        )
        if reading.source == _SOURCE
        else reading
        for reading in readings
    ]


def _placeholder_only(readings: list[SignalReading]) -> tuple[SignalReading, ...] | None:
    """``readings`` if the placeholder appears nowhere but as a source, else ``None`` (then
    they are not memoised: a body that holds the placeholder, or a reader that copied its
    source into some text, would be misread)."""
    for reading in readings:
        for text in (reading.raw, reading.detail, reading.policy_url):
            if text is not None and _SOURCE in text:
                return None
    return tuple(readings)


# Bodies up to this size are memoised (the memo holds them): XMP packets, small C2PA stores.
_MEMO_BODY: Final = 16_384
_Reader = Callable[..., list[SignalReading]]


def _read_body(reader: _Reader, body: str | bytes, url: str) -> list[SignalReading]:
    """``reader(body, source=url)`` for an XMP packet or a C2PA store."""
    if len(body) <= _MEMO_BODY:
        found = _body_read(reader, body)
        if found is not None:
            return _at(found, url)
    return reader(body, source=url)


@lru_cache(maxsize=_ITEM_READINGS)
def _body_read(reader: _Reader, body: str | bytes) -> tuple[SignalReading, ...] | None:
    return _placeholder_only(reader(body, source=_SOURCE))


_HeaderKey = tuple[tuple[str, tuple[str, ...]], ...]


def _header_key(headers: Mapping[str, Sequence[str]]) -> _HeaderKey | None:
    """The headers as a memo key, ``None`` when some value is not a list or tuple of text or
    they are large (then they are read directly)."""
    key = []
    size = 0
    for name, values in headers.items():
        if not isinstance(name, str) or not isinstance(values, (list, tuple)):
            return None
        if not all(isinstance(value, str) for value in values):
            return None
        size += len(name) + sum(len(value) for value in values)
        key.append((name, tuple(values)))
    return tuple(key) if size <= _MEMO_BODY else None


def _read_headers(
    headers: Mapping[str, Sequence[str]], url: str, media_type: str | None, platform_token: str | None
) -> list[SignalReading]:
    """X-Robots-Tag and Content-Usage readings of ``headers``, in that order."""
    key = _header_key(headers)
    if key is not None:
        found = _headers_read(key, media_type, platform_token)
        if found is not None:
            return _at(found, url)
    readings = read_x_robots_tag(headers, media_type=media_type, platform_token=platform_token, source=url)
    readings.extend(read_content_usage_header(headers, source=url))
    return readings


@lru_cache(maxsize=_ITEM_READINGS)
def _headers_read(
    key: _HeaderKey, media_type: str | None, platform_token: str | None
) -> tuple[SignalReading, ...] | None:
    headers = {name: list(values) for name, values in key}
    found = read_x_robots_tag(headers, media_type=media_type, platform_token=platform_token, source=_SOURCE)
    found.extend(read_content_usage_header(headers, source=_SOURCE))
    return _placeholder_only(found)


def _read_tdmrep(capture: SignalCapture, url: str, documents: ParsedDocuments) -> list[_Observed]:
    """TDMRep: the well-known file, superseded by headers, superseded by HTML meta."""
    tdm_file = capture.tdmrep_json
    headers_error = capture.item_error or capture.headers_error
    meta_error = capture.item_error or capture.meta_error
    looked = tdm_file is not None or headers_error is not None or meta_error is not None
    if not looked and capture.headers is None and capture.html is None and capture.meta is None:
        return []
    file_sha256: str | None = None
    declarations: list[TdmDeclaration | None] = []
    if tdm_file is not None:
        if tdm_file.body is not None:
            file_sha256 = _hash_of(tdm_file)
            body, source = tdm_file.body, tdm_file.url
            parsed = documents.get(
                TdmRepFile, file_sha256, source, lambda: TdmRepFile.parse(body, source=source)
            )
            declarations.append(parsed.declaration_for(url))
        elif not tdm_file.absent:
            file_sha256 = tdm_file.sha256
            error = f"tdmrep.json not read ({tdm_file.why_unread()})"
            declarations.append(TdmDeclaration("well-known", None, None, None, tdm_file.url, error=error))
    if headers_error is not None:
        declarations.append(TdmDeclaration("header", None, None, None, url, error=headers_error))
    elif capture.headers is not None:
        declarations.append(read_tdmrep_headers(capture.headers, source=url))
    if meta_error is not None:
        declarations.append(TdmDeclaration("meta", None, None, None, url, error=meta_error))
    elif capture.meta is not None:
        declarations.append(read_tdmrep_meta_tags(capture.meta, source=url))
    elif capture.html is not None:
        declarations.append(read_tdmrep_meta(capture.html, source=url))
    if tdm_file is None and not any(declarations):
        return []  # headers or HTML without any TDMRep property: TDMRep is silent, not read
    reading = resolve_tdmrep(declarations, url=url)
    if tdm_file is not None and reading.status == "unset" and not any(declarations):
        detail = "no rule of tdmrep.json matches the item" if tdm_file.body is not None else None
        detail = detail or f"tdmrep.json absent (HTTP {tdm_file.status})"
        reading = replace(reading, source=tdm_file.url, detail=detail)
    from_file = reading.signal == "tdmrep.well-known"
    seen_at = tdm_file.seen_at if from_file and tdm_file is not None else None
    return [_Observed(reading, file_sha256 if from_file else None, shared=from_file, seen_at=seen_at)]


def _read_robots(
    capture: SignalCapture,
    robots: OriginDocument,
    url: str,
    platform_token: str | None,
    user: str | None,
    territory: str | None,
    documents: ParsedDocuments,
) -> list[_Observed]:
    """robots.txt, and the RSL licences its ``License:`` lines name."""
    if robots.body is None:
        if robots.absent:
            report = robots_unavailable(robots.status, source=robots.url)
        else:
            report = robots_unavailable(None, source=robots.url, error=robots.why_unread())
        return [_Observed(reading, robots.sha256, seen_at=robots.seen_at) for reading in report.readings]
    sha256 = _hash_of(robots)
    body, source = robots.body, robots.url
    parsed = documents.get(RobotsTxt, sha256, source, lambda: RobotsTxt.parse(body, source=source))
    report = parsed.evaluate(url, platform_token=platform_token)
    found = list(report.readings)
    _note_mismatch(found, robots, sha256)
    observed = [_Observed(reading, sha256, shared=True, seen_at=robots.seen_at) for reading in found]
    for licence in report.licences:
        observed.extend(_read_rsl(capture.rsl.get(licence), licence, url, user, territory, documents))
    return observed


def _read_ai_txt(
    ai_txt: OriginDocument, url: str, platform_token: str | None, documents: ParsedDocuments
) -> _Observed:
    if ai_txt.body is None:
        if ai_txt.absent:
            detail = f"ai.txt absent (HTTP {ai_txt.status})"
            reading = SignalReading("ai.txt", ai_txt.url, None, "unset", AI_PURPOSES, detail)
            return _Observed(reading, None, seen_at=ai_txt.seen_at)
        error = f"ai.txt not read ({ai_txt.why_unread()})"
        reading = unknown("ai.txt", ai_txt.url, None, error, AI_PURPOSES)
        return _Observed(reading, ai_txt.sha256, seen_at=ai_txt.seen_at)
    sha256 = _hash_of(ai_txt)
    body, source = ai_txt.body, ai_txt.url
    parsed = documents.get(AiTxt, sha256, source, lambda: AiTxt.parse(body, source=source))
    found = [parsed.evaluate(url, platform_token=platform_token)]
    _note_mismatch(found, ai_txt, sha256)
    return _Observed(found[0], sha256, shared=True, seen_at=ai_txt.seen_at)


def _read_item(
    capture: SignalCapture, url: str, media_type: str | None, platform_token: str | None
) -> list[_Observed]:
    """The item's own response headers and HTML meta tags (TDMRep aside)."""
    observed: list[_Observed] = []
    headers_error = capture.item_error or capture.headers_error
    meta_error = capture.item_error or capture.meta_error
    if headers_error is not None:
        observed.append(_Observed(unknown("x-robots-tag", url, None, headers_error), None))
        observed.append(_Observed(unknown("http.content-usage", url, None, headers_error), None))
    elif capture.headers is not None:
        found = _read_headers(capture.headers, url, media_type, platform_token)
        observed.extend(_Observed(reading, None) for reading in found)
    if meta_error is not None:
        observed.append(_Observed(unknown("meta-robots", url, None, meta_error), None))
    elif capture.meta is not None:
        found = read_meta_robots_tags(
            capture.meta, media_type=media_type, platform_token=platform_token, source=url
        )
        observed.extend(_Observed(reading, None) for reading in found)
    elif capture.html is not None:
        found = read_meta_robots(
            capture.html, media_type=media_type, platform_token=platform_token, source=url
        )
        sha256 = body_sha256(capture.html)
        observed.extend(_Observed(reading, sha256) for reading in found)
    return observed


def _read_rsl(
    document: OriginDocument | None,
    licence: str,
    url: str,
    user: str | None,
    territory: str | None,
    documents: ParsedDocuments,
) -> list[_Observed]:
    if document is None or document.body is None:
        why = "not fetched" if document is None else document.why_unread()
        error = f"RSL licence {licence} named by robots.txt not read ({why})"
        seen_at = document.seen_at if document is not None else None
        return [_Observed(unknown("rsl", licence, None, error, ALL_PURPOSES), None, seen_at=seen_at)]
    sha256 = _hash_of(document)
    body = document.body
    parsed = documents.get(RslDocument, sha256, licence, lambda: RslDocument.parse(body, source=licence))
    found = parsed.evaluate(url, user=user, territory=territory)
    return [_Observed(reading, sha256, shared=True, seen_at=document.seen_at) for reading in found]
