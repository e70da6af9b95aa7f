"""An immutable, indexed snapshot of the rights registry, built for matching items fast.

A record's :class:`~consentry_shared.contracts.v1.Match` covers an item when *any* of its
selectors does:

- ``sha256``: the item's content hash equals it;
- ``domain``: the item's host is that domain or a subdomain of it (``example.org`` covers
  ``img.example.org``, not ``badexample.org``);
- ``url_prefix``: the item's normalised URL starts with the normalised prefix (see
  :func:`normalise_url`). The scheme is part of the prefix: ``https://`` does not cover ``http://``.

Every lookup is a handful of dict reads plus, for prefixes, a binary search among the prefixes
registered for the item's host, so its cost does not grow with the size of the registry.
Results are ordered most specific first (hash, then longer prefix, then deeper domain), ties by
record id, so callers get the same order for the same snapshot whatever order it was built in.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar
from urllib.parse import quote

from consentry_shared.contracts.v1 import Deal, Reservation, Work

__all__ = ["RegistryView", "normalise_url"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Characters left alone when percent-encoding a path: the reserved set, "%" and "~".
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def _normalise_host(host: str) -> str:
    host = host.lower().rstrip(".")
    if not host.isascii():
        # On failure keep the Unicode spelling: it can still match an identical registry entry.
        with suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host


def normalise_url(url: str) -> str:
    """The spelling of ``url`` used for matching.

    Lower-cases the scheme and host, drops user info, a default port (80 for http, 443 for
    https), the fragment and a host's trailing dot, turns an empty path into ``/`` and
    percent-encodes non-ASCII path characters and spaces (as item URLs arrive encoded). Never
    raises: a string without ``scheme://`` is returned unchanged and simply matches nothing.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    scheme = scheme.lower()
    cut = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if found != -1 and found < cut:
            cut = found
    authority, tail = rest[:cut].rpartition("@")[2], rest[cut:]
    if authority.startswith("["):  # IPv6 literal
        closing = authority.find("]")
        host, port = authority[: closing + 1], authority[closing + 1 :].removeprefix(":")
    else:
        host, _, port = authority.partition(":")
    host = _normalise_host(host)
    if port.isdigit():
        port = str(int(port))
    netloc = host if port in ("", _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    tail = tail.partition("#")[0]
    if not tail.startswith("/"):
        tail = "/" + tail
    if not tail.isascii() or " " in tail:
        tail = quote(tail, safe=_PATH_SAFE)
    if "%" in tail:
        # Ingest spells escapes in upper case (WHATWG); a registry prefix typed as %2f must match.
        tail = _ESCAPE.sub(lambda m: m.group().upper(), tail)
    return f"{scheme}://{netloc}{tail}"


def _netloc(normalised: str) -> str:
    rest = normalised.partition("://")[2]
    return rest.partition("/")[0]


def _host(netloc: str) -> str:
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.partition(":")[0]


def _domains(host: str) -> tuple[str, ...]:
    """The host and its parent domains, most specific first. An IP address has no parents."""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return (host,)
    labels = host.split(".")
    return tuple(".".join(labels[index:]) for index in range(len(labels)) if labels[index])


@dataclass(frozen=True, slots=True)
class _Location:
    url: str
    netloc: str
    domains: tuple[str, ...]


@lru_cache(maxsize=1024)
def _locate(url: str) -> _Location:
    # Memoised because one decision looks the same URL up in several indexes.
    normalised = normalise_url(url)
    netloc = _netloc(normalised)
    return _Location(normalised, netloc, _domains(_host(netloc)))


def _common_prefix_length(first: str, second: str) -> int:
    low, high = 0, min(len(first), len(second))
    while low < high:  # binary search: slicing compares in C, a char loop would not
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


_R = TypeVar("_R", Reservation, Deal)
_Rank = tuple[int, int]  # (selector kind, -length): smaller is more specific

_SHA256_RANK: _Rank = (0, 0)


class _PrefixTable(Generic[_R]):
    """The URL prefixes registered for one host, sorted, with the records behind each."""

    __slots__ = ("_prefixes", "_records")

    def __init__(self, records: dict[str, tuple[_R, ...]]) -> None:
        self._records: dict[str, tuple[_R, ...]] = records
        self._prefixes: list[str] = sorted(records)

    def matching(self, url: str) -> Iterator[tuple[str, tuple[_R, ...]]]:
        """Every registered prefix of ``url``, longest first.

        The greatest prefix-table entry <= the query is either a prefix of it, or shares a common
        prefix ``c`` with it such that no longer entry can be a prefix of the query; so the search
        continues with ``c``. Each step shortens the query: steps <= matches + near misses.
        """
        prefixes, query = self._prefixes, url
        while query:
            index = bisect_right(prefixes, query) - 1
            if index < 0:
                return
            candidate = prefixes[index]
            if query.startswith(candidate):
                yield candidate, self._records[candidate]
                query = candidate[:-1]
            else:
                query = query[: _common_prefix_length(candidate, query)]


class _SelectorIndex(Generic[_R]):
    """Reservations or deals indexed by each kind of selector."""

    __slots__ = ("_by_domain", "_by_netloc", "_by_sha256")

    def __init__(self, records: Iterable[_R]) -> None:
        by_sha256: dict[str, list[_R]] = {}
        by_domain: dict[str, list[_R]] = {}
        by_netloc: dict[str, dict[str, list[_R]]] = {}
        for record in records:
            match = record.match
            if match.sha256 is not None:
                by_sha256.setdefault(match.sha256, []).append(record)
            if match.domain is not None:
                by_domain.setdefault(_normalise_host(match.domain), []).append(record)
            if match.url_prefix is not None:
                prefix = normalise_url(match.url_prefix)
                by_netloc.setdefault(_netloc(prefix), {}).setdefault(prefix, []).append(record)
        self._by_sha256: dict[str, tuple[_R, ...]] = _freeze(by_sha256)
        self._by_domain: dict[str, tuple[_R, ...]] = _freeze(by_domain)
        self._by_netloc: dict[str, _PrefixTable[_R]] = {
            netloc: _PrefixTable(_freeze(prefixes)) for netloc, prefixes in by_netloc.items()
        }

    def lookup(self, location: _Location | None, sha256: str | None) -> tuple[_R, ...]:
        best: dict[str, tuple[_Rank, _R]] = {}

        def offer(rank: _Rank, records: tuple[_R, ...]) -> None:
            for record in records:
                held = best.get(record.id)
                if held is None or rank < held[0]:
                    best[record.id] = (rank, record)

        if sha256 is not None:
            offer(_SHA256_RANK, self._by_sha256.get(sha256, ()))
        if location is not None:
            table = self._by_netloc.get(location.netloc)
            if table is not None:
                for prefix, by_prefix in table.matching(location.url):
                    offer((1, -len(prefix)), by_prefix)
            for domain in location.domains:
                by_domain = self._by_domain.get(domain)
                if by_domain is not None:
                    offer((2, -len(domain)), by_domain)
        if not best:
            return ()
        ranked = sorted(best.values(), key=lambda held: (held[0], held[1].id))
        return tuple(record for _rank, record in ranked)


def _freeze(index: dict[str, list[_R]]) -> dict[str, tuple[_R, ...]]:
    return {key: tuple(sorted(records, key=lambda record: record.id)) for key, records in index.items()}


def _latest_by_id(records: Iterable[_R]) -> list[_R]:
    latest: dict[str, _R] = {}
    for record in records:
        latest[record.id] = record
    return list(latest.values())


class RegistryView:
    """A read-only snapshot of the registry at ``version``, indexed for matching.

    Built once from the records (a later record with the same id replaces an earlier one, as a
    ``RegistryChange`` would) and never changed afterwards: a new registry version is a new view.
    All lookups are pure, deterministic and independent of the number of records.
    """

    __slots__ = ("_deals", "_record_count", "_reservations", "_version", "_works")

    def __init__(
        self,
        *,
        reservations: Iterable[Reservation] = (),
        deals: Iterable[Deal] = (),
        works: Iterable[Work] = (),
        version: int = 0,
    ) -> None:
        if version < 0:
            raise ValueError("registry version must be >= 0")
        self._version = version
        unique_reservations = _latest_by_id(reservations)
        self._reservations = _SelectorIndex(unique_reservations)

        deals_by_licensee: dict[str, list[Deal]] = {}
        unique_deals = _latest_by_id(deals)
        for deal in unique_deals:
            deals_by_licensee.setdefault(deal.licensee, []).append(deal)
        self._deals = {licensee: _SelectorIndex(licensed) for licensee, licensed in deals_by_licensee.items()}

        latest_works: dict[str, Work] = {}
        for work in works:
            latest_works[work.id] = work
        works_by_sha256: dict[str, list[Work]] = {}
        for work in latest_works.values():
            works_by_sha256.setdefault(work.sha256, []).append(work)
        self._works = {
            sha256: tuple(sorted(found, key=lambda work: work.id))
            for sha256, found in works_by_sha256.items()
        }
        self._record_count = len(unique_reservations) + len(unique_deals) + len(latest_works)

    @property
    def version(self) -> int:
        """The registry version this snapshot reflects (0: the empty registry)."""
        return self._version

    def __len__(self) -> int:
        return self._record_count

    def __repr__(self) -> str:
        return f"RegistryView(version={self._version}, records={self._record_count})"

    def works_for(self, sha256: str | None) -> tuple[Work, ...]:
        """The registered works with this content hash, by id. ``None`` matches nothing."""
        if sha256 is None:
            return ()
        return self._works.get(sha256.lower(), ())

    def reservations_for(self, url: str, sha256: str | None) -> tuple[Reservation, ...]:
        """Every reservation whose match covers the item, most specific first.

        Only the selectors are checked here; purposes and validity are the caller's business.
        """
        return self._reservations.lookup(_locate(url), _lower(sha256))

    def deals_for(self, licensee: str, url: str, sha256: str | None) -> tuple[Deal, ...]:
        """Every deal granted to ``licensee`` (exact spelling) whose match covers the item,
        most specific first. Purposes, territories and time are the caller's business."""
        index = self._deals.get(licensee)
        if index is None:
            return ()
        return index.lookup(_locate(url), _lower(sha256))


def _lower(sha256: str | None) -> str | None:
    return None if sha256 is None else sha256.lower()
