"""RSL 1.0 (Really Simple Licensing): machine-readable licences, namespace ``https://rslstandard.org/rsl``.

An RSL document holds ``<content url=...>`` elements (standalone in ``<rsl>``, or as ``rsl:``
elements in an RSS feed); each has one or more ``<license>`` elements: distinct term sets, any
one of which a licensee may take. A licence lists ``<permits type="usage|user|geo">`` and
``<prohibits type=...>`` values (separated by spaces or commas) and a ``<payment type=...>``.

Matching: a ``url`` that is a full URL matches items on its host by its path; a path matches
items on the document's own host (when the document's URL is known) with the RFC 9309 rules
(``*``, final ``$``). The most specific (longest) pattern wins, the first one on a tie.

Usage vocabulary: ``all`` ⊃ ``ai-all`` ⊃ {``ai-train``, ``ai-input``, ``ai-index``} and
``all`` ⊃ ``search``. A purpose is granted by a licence when the licence permits its token
(generative and other training: ``ai-train``; inference: ``ai-input``; search: ``search``), or
has no usage permits at all, and prohibits none of its tokens (inference is also prohibited by
``ai-index``). ``user`` and ``geo`` terms are checked against the caller's ``user`` class
(``commercial``, ``non-commercial``, ``education``, ``government``, ``personal``) and
``territory`` (ISO 3166 alpha-2); terms that cannot be checked (no such caller value, an
unknown ``type``) leave the grant conditional.

Decision table per purpose (signal ``rsl``), taking the best licence on offer:

============================================  =============================================
best licence for the purpose                  status
============================================  =============================================
grants it, ``payment`` absent or ``free``,    ``not-reserved``
no licence server
grants it with ``attribution``, or on a       ``constrained``
condition that cannot be checked
grants it for any other payment type          ``constrained``, ``requires_payment``
(purchase, subscription, training, crawl,
use, contribution, unknown types), or the
content names a licence ``server`` (the
spec: a licence must be obtained, even free)
no licence grants it (prohibited, not         ``reserved``
permitted, user/geo excluded)
============================================  =============================================

No ``<content>`` matches the item: ``unset``. A content without a licence: ``unset``. A document
that is not well-formed XML, or not RSL: ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from ._markup import parse_xml
from ._patterns import PathPattern, url_path
from .base import (
    ALL_PURPOSES,
    GENERATIVE,
    INFERENCE,
    SEARCH,
    TRAINING,
    SignalParseError,
    SignalReading,
    Status,
    clip,
    unknown,
)

__all__ = ["RSL_NAMESPACE", "RslDocument", "read_rsl"]

SIGNAL: Final = "rsl"
RSL_NAMESPACE: Final = "https://rslstandard.org/rsl"
_NS: Final = "{" + RSL_NAMESPACE + "}"

_PARENT: Final = {
    "ai-train": "ai-all",
    "ai-input": "ai-all",
    "ai-index": "ai-all",
    "ai-all": "all",
    "search": "all",
}
# purpose -> (the token a permit must cover, the tokens a prohibition of which reserves it)
_TOKENS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    GENERATIVE: ("ai-train", ("ai-train",)),
    TRAINING: ("ai-train", ("ai-train",)),
    INFERENCE: ("ai-input", ("ai-input", "ai-index")),
    SEARCH: ("search", ("search",)),
}
_CONDITION_TYPES: Final = frozenset({"usage", "user", "geo"})
_SPLIT: Final = re.compile(r"[\s,]+")

# Outcome ranks, best (most permissive) first.
_FREE, _DUTY, _PAID, _DENIED = 0, 1, 2, 3


def _covered(token: str, listed: frozenset[str]) -> bool:
    current: str | None = token
    while current is not None:
        if current in listed:
            return True
        current = _PARENT.get(current)
    return False


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


@dataclass(frozen=True, slots=True)
class _License:
    permits: dict[str, frozenset[str]]
    prohibits: dict[str, frozenset[str]]
    payment: str
    link: str | None
    summary: str

    def outcome(self, purpose: str, user: str | None, territory: str | None) -> tuple[int, str]:
        grant, restricting = _TOKENS[purpose]
        usage_prohibits = self.prohibits.get("usage", frozenset())
        for token in restricting:
            if _covered(token, usage_prohibits):
                return _DENIED, f"prohibits usage {token}"
        usage_permits = self.permits.get("usage")
        if usage_permits is not None and not _covered(grant, usage_permits):
            return _DENIED, f"does not permit usage {grant}"
        conditions: list[str] = []
        for kind, value in (("user", user), ("geo", territory)):
            allowed, refused = self.permits.get(kind), self.prohibits.get(kind, frozenset())
            if allowed is None and not refused:
                continue
            if value is None:
                conditions.append(f"limited by {kind} terms that were not checked")
            elif (allowed is not None and value not in allowed) or value in refused:
                return _DENIED, f"{kind} {value} is not licensed"
        unknown_types = sorted((set(self.permits) | set(self.prohibits)) - _CONDITION_TYPES)
        if unknown_types:
            conditions.append(f"terms of unknown type {', '.join(unknown_types)}")
        if self.payment == "free":
            rank = _DUTY if conditions else _FREE
            return rank, "; ".join(["free", *conditions])
        if self.payment == "attribution":
            return _DUTY, "; ".join(["attribution required", *conditions])
        return _PAID, "; ".join([f"payment {self.payment}", *conditions])


@dataclass(frozen=True, slots=True)
class _Content:
    url: str
    host: str | None
    pattern: PathPattern
    server: str | None
    licenses: tuple[_License, ...]


def _terms(license_element: Element, name: str) -> dict[str, frozenset[str]]:
    terms: dict[str, set[str]] = {}
    for element in license_element:
        if element.tag != _NS + name:
            continue
        kind = (element.get("type") or "usage").strip().lower()
        values = {value for value in _SPLIT.split((element.text or "").strip()) if value}
        values = {value.upper() for value in values} if kind == "geo" else {value.lower() for value in values}
        terms.setdefault(kind, set()).update(values)
    return {kind: frozenset(values) for kind, values in terms.items()}


def _license(element: Element) -> _License:
    permits, prohibits = _terms(element, "permits"), _terms(element, "prohibits")
    payment_element = element.find(_NS + "payment")
    payment = "free"
    link: str | None = None
    if payment_element is not None:
        payment = (payment_element.get("type") or "free").strip().lower() or "free"
        for child in ("standard", "custom"):
            found = payment_element.find(_NS + child)
            if found is not None and (found.text or "").strip():
                link = (found.text or "").strip()
                break
    parts = [f"permits {kind}={' '.join(sorted(values))}" for kind, values in sorted(permits.items())]
    parts += [f"prohibits {kind}={' '.join(sorted(values))}" for kind, values in sorted(prohibits.items())]
    parts.append(f"payment={payment}")
    return _License(permits, prohibits, payment, link, "; ".join(parts))


class RslDocument:
    """A parsed RSL document. Parse once (:meth:`parse`), evaluate per item."""

    __slots__ = ("contents", "error", "source")

    def __init__(self, contents: tuple[_Content, ...], source: str | None, error: str | None) -> None:
        self.contents = contents
        self.source = source
        self.error = error

    @classmethod
    def parse(cls, body: str | bytes, *, source: str | None = None) -> RslDocument:
        """Parse ``body``; never raises (an unreadable document has ``error`` set)."""
        try:
            root = parse_xml(body)
        except SignalParseError as error:
            return cls((), source, str(error))
        if _local(root) == "rsl" and root.tag != _NS + "rsl":
            return cls((), source, f"the <rsl> element is not in the {RSL_NAMESPACE} namespace")
        elements = list(root.iter(_NS + "content"))
        if not elements and root.tag != _NS + "rsl":
            return cls((), source, "not an RSL document (no RSL content element)")
        source_host = (urlsplit(source).hostname or "").lower() if source else None
        contents: list[_Content] = []
        for element in elements:
            url = (element.get("url") or "").strip()
            if not url:
                continue
            host: str | None = source_host or None
            path = url
            if "://" in url:
                try:
                    parts = urlsplit(url)
                except ValueError:
                    continue
                host = (parts.hostname or "").lower()
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            licenses = tuple(_license(found) for found in element.iter(_NS + "license"))
            server = (element.get("server") or "").strip() or None
            contents.append(_Content(url, host, PathPattern.compile(path), server, licenses))
        return cls(tuple(contents), source, None)

    def content_for(self, url: str) -> _Content | None:
        """The most specific ``<content>`` that matches ``url``, if any."""
        path = url_path(url)
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            host = ""
        best: _Content | None = None
        for content in self.contents:
            if content.host is not None and content.host != host:
                continue
            if content.pattern.matches(path) and (
                best is None or content.pattern.length > best.pattern.length
            ):
                best = content
        return best

    def evaluate(
        self, url: str, *, user: str | None = None, territory: str | None = None
    ) -> list[SignalReading]:
        """Readings for the item at ``url`` for a licensee of class ``user`` in ``territory``."""
        if self.error is not None:
            return [unknown(SIGNAL, self.source, None, self.error)]
        content = self.content_for(url)
        if content is None:
            return [
                SignalReading(
                    SIGNAL, self.source, None, "unset", ALL_PURPOSES, "no <content> matches the item"
                )
            ]
        raw = f'<content url="{content.url}">'
        if not content.licenses:
            return [
                SignalReading(
                    SIGNAL, self.source, clip(raw), "unset", ALL_PURPOSES, "content without a licence"
                )
            ]
        who = (user or "").strip().lower() or None
        where = (territory or "").strip().upper() or None
        groups: dict[tuple[Status, bool, str, str | None, str], set[str]] = {}
        for purpose in sorted(ALL_PURPOSES):
            ranked = [
                (lic.outcome(purpose, who, where), index, lic) for index, lic in enumerate(content.licenses)
            ]
            (rank, why), index, chosen = min(ranked, key=lambda item: (item[0][0], item[1]))
            status: Status
            payment = rank == _PAID
            link = chosen.link
            if rank == _DENIED:
                status = "reserved"
                why = "; ".join(sorted({f"licence {i + 1} {o[1]}" for o, i, _ in ranked}))
                link = None
            elif content.server is not None:
                status, payment = "constrained", True
                why = f"licence {index + 1}: {why}; a licence must be obtained from {content.server}"
                link = link or content.server
            else:
                status = "not-reserved" if rank == _FREE else "constrained"
                why = f"licence {index + 1}: {why}"
            summary = raw if rank == _DENIED else f"{raw} {chosen.summary}"
            groups.setdefault((status, payment, why, link, summary), set()).add(purpose)
        return [
            SignalReading(
                SIGNAL, self.source, clip(summary), status, frozenset(purposes), clip(why), link, payment
            )
            for (status, payment, why, link, summary), purposes in groups.items()
        ]


def read_rsl(
    body: str | bytes,
    url: str,
    *,
    user: str | None = None,
    territory: str | None = None,
    source: str | None = None,
) -> list[SignalReading]:
    """Parse the RSL document ``body`` (found at ``source``) and evaluate it for ``url``."""
    return RslDocument.parse(body, source=source).evaluate(url, user=user, territory=territory)
