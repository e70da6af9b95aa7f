"""An immutable, indexed snapshot of the rights registry, built for matching items fast.

A record's :class:`~consentry_shared.contracts.v1.Match` covers an item when *any* of its
selectors does:

- ``sha256`` / ``md5``: the item's content hash equals it;
- ``identifier``: one of the item's work identifiers (``isbn:...``, ``doi:...``; both sides are
  normalised by the contract) equals it;
- ``domain``: the item's host is that domain or a subdomain of it (``example.org`` covers
  ``img.example.org``, not ``badexample.org``);
- ``url_prefix``: the item's normalised URL starts with the normalised prefix (see
  :func:`normalise_url`). The scheme is part of the prefix: ``https://`` does not cover ``http://``.

Every lookup is a handful of dict reads plus, for prefixes, a binary search among the prefixes
registered for the item's host, so its cost does not grow with the size of the registry.
Results are ordered most specific first (hash or identifier, then longer prefix, then deeper
domain), ties by record id, so callers get the same order for the same snapshot whatever order
it was built in.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Generic, TypeVar
from urllib.parse import quote

from consentry_shared.contracts.v1 import Deal, Reservation, Work

from .compact import CompactReservations

__all__ = ["BatchMatcher", "RegistryView", "normalise_url"]

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
_FEW_PREFIXES = 8


class _PrefixTable(Generic[_R]):
    """The URL prefixes registered for one host, sorted, with the records behind each."""

    __slots__ = ("_few", "_prefixes", "_records")

    def __init__(self, records: dict[str, tuple[_R, ...]]) -> None:
        self._records: dict[str, tuple[_R, ...]] = records
        self._prefixes: list[str] = sorted(records)
        # A host with a few prefixes (the usual case) is faster scanned than searched.
        few = len(records) <= _FEW_PREFIXES
        self._few = tuple(sorted(records, key=len, reverse=True)) if few else None

    def records_for(self, url: str) -> tuple[_R, ...]:
        """The records of every registered prefix of ``url``, longest prefix first, each
        prefix's records by id (what :meth:`matching` yields, flattened)."""
        if self._few is None:
            return tuple(record for _prefix, records in self.matching(url) for record in records)
        found: tuple[_R, ...] = ()
        for prefix in self._few:
            if url.startswith(prefix):
                found += self._records[prefix]
        return found

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


@dataclass(frozen=True, slots=True)
class _HashedRecords(Generic[_R]):
    """Records held outside the index's dicts, by hash (a :class:`CompactReservations`)."""

    records_for: Callable[[str], tuple[_R, ...]]
    holds: Callable[[str], bool]


class _SelectorIndex(Generic[_R]):
    """Reservations or deals indexed by each kind of selector."""

    __slots__ = ("_by_domain", "_by_identifier", "_by_md5", "_by_netloc", "_by_sha256", "_compact")

    def __init__(self, records: Iterable[_R], compact: _HashedRecords[_R] | None = None) -> None:
        self._compact: _HashedRecords[_R] | None = compact
        by_sha256: dict[str, list[_R]] = {}
        by_md5: dict[str, list[_R]] = {}
        by_identifier: dict[str, list[_R]] = {}
        by_domain: dict[str, list[_R]] = {}
        by_netloc: dict[str, dict[str, list[_R]]] = {}
        for record in records:
            match = record.match
            if match.sha256 is not None:
                by_sha256.setdefault(match.sha256, []).append(record)
            if match.md5 is not None:
                by_md5.setdefault(match.md5, []).append(record)
            if match.identifier is not None:
                by_identifier.setdefault(match.identifier, []).append(record)
            if match.domain is not None:
                by_domain.setdefault(_normalise_host(match.domain), []).append(record)
            if match.url_prefix is not None:
                prefix = normalise_url(match.url_prefix)
                by_netloc.setdefault(_netloc(prefix), {}).setdefault(prefix, []).append(record)
        self._by_sha256: dict[str, tuple[_R, ...]] = _freeze(by_sha256)
        self._by_md5: dict[str, tuple[_R, ...]] = _freeze(by_md5)
        self._by_identifier: dict[str, tuple[_R, ...]] = _freeze(by_identifier)
        self._by_domain: dict[str, tuple[_R, ...]] = _freeze(by_domain)
        self._by_netloc: dict[str, _PrefixTable[_R]] = {
            netloc: _PrefixTable(_freeze(prefixes)) for netloc, prefixes in by_netloc.items()
        }

    def by_sha256(self, sha256: str) -> tuple[_R, ...]:
        """What ``lookup(None, sha256)`` returns: the hash's records, by id (one rank)."""
        found: tuple[_R, ...] = self._by_sha256.get(sha256, ())
        if self._compact is None:
            return found
        held: tuple[_R, ...] = self._compact.records_for(sha256)
        if not held:
            return found
        return tuple(sorted(found + held, key=lambda record: record.id))

    def by_identity(self, sha256: str | None, md5: str | None, identifiers: Iterable[str]) -> tuple[_R, ...]:
        """The records matching the item's content itself (sha256, md5 or an identifier), each once,
        by id: one rank, as :meth:`lookup` ranks them."""
        found: tuple[_R, ...] = self.by_sha256(sha256) if sha256 is not None else ()
        extra: tuple[_R, ...] = self._by_md5.get(md5, ()) if md5 is not None else ()
        for identifier in identifiers:
            extra += self._by_identifier.get(identifier, ())
        if not extra:
            return found
        unique: dict[str, _R] = {record.id: record for record in found}
        unique.update((record.id, record) for record in extra)
        return tuple(sorted(unique.values(), key=lambda record: record.id))

    @property
    def knows_hashes_compactly(self) -> bool:
        return self._compact is not None

    def knows_hash(self, sha256: str) -> bool:
        """Whether the compact store holds this hash (the dict's hashes are in :meth:`hashes`)."""
        return self._compact is not None and self._compact.holds(sha256)

    def hashes(self) -> Iterable[str]:
        """Every sha256 a selector names."""
        return self._by_sha256.keys()

    def md5s(self) -> Iterable[str]:
        """Every md5 a selector names."""
        return self._by_md5.keys()

    def identifiers(self) -> Iterable[str]:
        """Every identifier a selector names (normalised)."""
        return self._by_identifier.keys()

    def domains(self) -> Iterable[str]:
        """Every domain a selector names (normalised)."""
        return self._by_domain.keys()

    def netlocs(self) -> Iterable[str]:
        """Every netloc some URL prefix is registered for."""
        return self._by_netloc.keys()

    def prefix_table(self, netloc: str) -> _PrefixTable[_R] | None:
        """The URL prefixes registered for ``netloc``, if any."""
        return self._by_netloc.get(netloc)

    def lookup(
        self,
        location: _Location | None,
        sha256: str | None,
        md5: str | None = None,
        identifiers: Iterable[str] = (),
        *,
        with_prefixes: bool = True,
    ) -> tuple[_R, ...]:
        best: dict[str, tuple[_Rank, _R]] = {}

        def offer(rank: _Rank, records: tuple[_R, ...]) -> None:
            for record in records:
                held = best.get(record.id)
                if held is None or rank < held[0]:
                    best[record.id] = (rank, record)

        offer(_SHA256_RANK, self.by_identity(sha256, md5, identifiers))
        if location is not None:
            table = self._by_netloc.get(location.netloc) if with_prefixes else None
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

    ``hashed_reservations`` holds sha256-only reservations compactly (millions of them, see
    :mod:`.compact`); lookups return them exactly as if they were among ``reservations``. Their
    ids MUST differ from those of ``reservations``.
    """

    __slots__ = (
        "__weakref__",
        "_deals",
        "_matcher",
        "_record_count",
        "_reservations",
        "_version",
        "_works",
        "_works_by_identifier",
        "_works_by_md5",
    )

    def __init__(
        self,
        *,
        reservations: Iterable[Reservation] = (),
        deals: Iterable[Deal] = (),
        works: Iterable[Work] = (),
        hashed_reservations: CompactReservations | None = None,
        version: int = 0,
    ) -> None:
        if version < 0:
            raise ValueError("registry version must be >= 0")
        self._version = version
        unique_reservations = _latest_by_id(reservations)
        hashed = (
            None
            if hashed_reservations is None
            else _HashedRecords(hashed_reservations.for_sha256, hashed_reservations.__contains__)
        )
        self._reservations = _SelectorIndex(unique_reservations, hashed)

        deals_by_licensee: dict[str, list[Deal]] = {}
        unique_deals = _latest_by_id(deals)
        for deal in unique_deals:
            deals_by_licensee.setdefault(deal.licensee, []).append(deal)
        self._deals = {licensee: _SelectorIndex(licensed) for licensee, licensed in deals_by_licensee.items()}

        latest_works: dict[str, Work] = {}
        for work in works:
            latest_works[work.id] = work
        works_by_sha256: dict[str, list[Work]] = {}
        works_by_md5: dict[str, list[Work]] = {}
        works_by_identifier: dict[str, list[Work]] = {}
        for work in latest_works.values():
            if work.sha256 is not None:
                works_by_sha256.setdefault(work.sha256, []).append(work)
            if work.md5 is not None:
                works_by_md5.setdefault(work.md5, []).append(work)
            for identifier in work.identifiers:
                works_by_identifier.setdefault(identifier, []).append(work)
        self._works = _freeze_works(works_by_sha256)
        self._works_by_md5 = _freeze_works(works_by_md5)
        self._works_by_identifier = _freeze_works(works_by_identifier)
        self._record_count = len(unique_reservations) + len(unique_deals) + len(latest_works)
        if hashed_reservations is not None:
            self._record_count += len(hashed_reservations)
        self._matcher: BatchMatcher | None = None

    @property
    def version(self) -> int:
        """The registry version this snapshot reflects (0: the empty registry)."""
        return self._version

    def __len__(self) -> int:
        return self._record_count

    def __repr__(self) -> str:
        return f"RegistryView(version={self._version}, records={self._record_count})"

    def works_for(
        self, sha256: str | None, md5: str | None = None, identifiers: Iterable[str] | None = ()
    ) -> tuple[Work, ...]:
        """The registered works with this content hash (sha256 or md5) or one of these
        identifiers (``scheme:value``, normalised as items carry them), each once, by id.
        ``None`` matches nothing."""
        found = self._works.get(sha256.lower(), ()) if sha256 is not None else ()
        extra = self._works_by_md5.get(md5.lower(), ()) if md5 is not None else ()
        for identifier in identifiers or ():
            extra += self._works_by_identifier.get(identifier, ())
        if not extra:
            return found
        unique = {work.id: work for work in (*found, *extra)}
        return tuple(unique[work_id] for work_id in sorted(unique))

    def reservations_for(
        self, url: str, sha256: str | None, md5: str | None = None, identifiers: Iterable[str] | None = ()
    ) -> tuple[Reservation, ...]:
        """Every reservation whose match covers the item, most specific first.

        Only the selectors are checked here; purposes, territories and validity are the caller's
        business.
        """
        return self._reservations.lookup(_locate(url), _lower(sha256), _lower(md5), identifiers or ())

    def deals_for(
        self,
        licensee: str,
        url: str,
        sha256: str | None,
        md5: str | None = None,
        identifiers: Iterable[str] | None = (),
    ) -> tuple[Deal, ...]:
        """Every deal granted to ``licensee`` (exact spelling) whose match covers the item,
        most specific first. Purposes, territories and time are the caller's business."""
        index = self._deals.get(licensee)
        if index is None:
            return ()
        return index.lookup(_locate(url), _lower(sha256), _lower(md5), identifiers or ())

    def matcher(self) -> BatchMatcher:
        """This view's :class:`BatchMatcher` (made on first use, then kept with the view)."""
        if self._matcher is None:
            self._matcher = BatchMatcher(
                self._reservations,
                self._deals,
                self._works.keys(),
                self._works_by_md5.keys(),
                self._works_by_identifier.keys(),
            )
        return self._matcher


def _lower(digest: str | None) -> str | None:
    return None if digest is None else digest.lower()


def _freeze_works(index: dict[str, list[Work]]) -> dict[str, tuple[Work, ...]]:
    return {key: tuple(sorted(found, key=lambda work: work.id)) for key, found in index.items()}


def _authority_key(url: str) -> str | None:
    """``scheme://authority`` of ``url``: everything :func:`normalise_url` makes of the host
    depends on it alone. ``None`` when the URL has no ``/`` after the authority, or a ``?`` or
    ``#`` before it (then the caller takes the general path)."""
    start = url.find("://")
    if start < 0:
        return None
    end = url.find("/", start + 3)
    if end < 0:
        return None
    key = url[:end]
    if "?" in key or "#" in key:
        return None
    return key


# Per-origin entries kept by a BatchMatcher before it starts over (bounds its memory).
_MAX_ORIGINS = 200_000


@dataclass(frozen=True, slots=True)
class _Host(Generic[_R]):
    """What one index holds for one ``scheme://authority``, kept by a :class:`BatchMatcher`."""

    by_domain: tuple[_R, ...]  # what lookup() returns for the host's domains alone
    prefixes: _PrefixTable[_R] | None  # the URL prefixes registered for its netloc
    netloc: str
    domains: tuple[str, ...]
    plain: bool  # the scheme and authority are already spelled as normalise_url spells them


_UNREGISTERED: Final = "unregistered"  # a host no domain or URL-prefix selector can match


def _surely_unregistered(authority: str, domains: frozenset[str], netlocs: frozenset[str]) -> bool:
    """Whether no domain or URL-prefix selector can match a URL with this authority.

    Only a plain lower-case host (no user info, port, IPv6 literal or trailing dot) is answered
    here, since :func:`normalise_url` leaves those unchanged; anything else is "not sure". The
    host and every suffix after a dot are tried: a superset of :func:`_domains`.
    """
    if (
        not authority.islower()
        or not authority.isascii()
        or "@" in authority
        or ":" in authority
        or authority.endswith(".")
        or authority in netlocs
        or authority in domains
    ):
        return False
    dot = authority.find(".")
    while dot != -1:
        if authority[dot + 1 :] in domains:
            return False
        dot = authority.find(".", dot + 1)
    return True


class BatchMatcher:
    """:meth:`RegistryView.deals_for` and :meth:`~RegistryView.reservations_for` for deciding
    many items: the same results, in the same order, for less work.

    An item's domain and URL-prefix matches depend only on its ``scheme://authority``: a host
    that no domain or prefix selector can match is recognised with a few set reads, any other
    host's domain matches are looked up once and kept. Hash matches are one dict read. Only an
    item whose origin has URL prefixes registered, or that matches both by hash and by domain,
    takes the general lookup (which ranks and merges several selector kinds).
    """

    __slots__ = (
        "_deal_hosts",
        "_deals",
        "_domains",
        "_hashes",
        "_identifiers",
        "_md5s",
        "_netlocs",
        "_reservation_hosts",
        "_reservations",
    )

    def __init__(
        self,
        reservations: _SelectorIndex[Reservation],
        deals: dict[str, _SelectorIndex[Deal]],
        work_hashes: Iterable[str],
        work_md5s: Iterable[str] = (),
        work_identifiers: Iterable[str] = (),
    ) -> None:
        self._reservations = reservations
        self._deals = deals
        indexes: list[_SelectorIndex[Reservation] | _SelectorIndex[Deal]] = [reservations, *deals.values()]
        self._domains = frozenset(domain for index in indexes for domain in index.domains())
        self._netlocs = frozenset(netloc for index in indexes for netloc in index.netlocs())
        # One set read tells most items that no record of any kind names their hash.
        hashes = {sha256 for index in indexes for sha256 in index.hashes()}
        hashes.update(work_hashes)
        self._hashes = frozenset(hashes)
        md5s = {md5 for index in indexes for md5 in index.md5s()}
        md5s.update(work_md5s)
        self._md5s = frozenset(md5s)
        identifiers = {identifier for index in indexes for identifier in index.identifiers()}
        identifiers.update(work_identifiers)
        self._identifiers = frozenset(identifiers)
        self._reservation_hosts: dict[str, _Host[Reservation] | str] = {}
        self._deal_hosts: dict[tuple[str, str], _Host[Deal]] = {}

    @property
    def has_compact(self) -> bool:
        """Whether some reservations are held compactly (see :meth:`known_hash`)."""
        return self._reservations.knows_hashes_compactly

    @property
    def hashes(self) -> frozenset[str]:
        """The hashes ordinary records name (those held compactly are not listed)."""
        return self._hashes

    @property
    def md5s(self) -> frozenset[str]:
        """The md5s any reservation, deal or work names."""
        return self._md5s

    @property
    def identifiers(self) -> frozenset[str]:
        """The identifiers any reservation, deal or work names."""
        return self._identifiers

    def known_hash(self, sha256: str) -> bool:
        """Whether any reservation, deal or work names this (lower-case) hash."""
        return sha256 in self._hashes or self._reservations.knows_hash(sha256)

    def matches(
        self,
        licensee: str,
        url: str,
        sha256: str | None,
        md5: str | None = None,
        identifiers: tuple[str, ...] = (),
    ) -> tuple[tuple[Deal, ...], tuple[Reservation, ...]]:
        """``(view.deals_for(licensee, url, sha256, md5, identifiers), view.reservations_for(url,
        sha256, md5, identifiers))``, equal in content and order; ``sha256`` and ``md5`` MUST
        already be in lower case. A hash that :meth:`known_hash` denies (an md5 or identifier not
        in :attr:`md5s` / :attr:`identifiers`) may be left out: it matches nothing either way."""
        deal_index = self._deals.get(licensee)
        start = url.find("://")
        end = url.find("/", start + 3) if start > 0 else -1
        key = url[:end] if end > 0 else "?"
        if "?" in key or "#" in key:  # no authority to key by: the general lookup
            location = _locate(url)
            deals = deal_index.lookup(location, sha256, md5, identifiers) if deal_index is not None else ()
            return deals, self._reservations.lookup(location, sha256, md5, identifiers)
        hosts = self._reservation_hosts
        entry = hosts.get(key)
        if entry is None:
            if len(hosts) >= _MAX_ORIGINS:
                hosts.clear()
            if _surely_unregistered(key[start + 3 :], self._domains, self._netlocs):
                entry = _UNREGISTERED
            else:
                entry = _host_entry(self._reservations, url, key)
            hosts[key] = entry
        if entry is _UNREGISTERED:
            if sha256 is None and md5 is None and not identifiers:
                return (), ()
            deals = deal_index.by_identity(sha256, md5, identifiers) if deal_index is not None else ()
            return deals, self._reservations.by_identity(sha256, md5, identifiers)
        assert not isinstance(entry, str)
        deals = ()
        if deal_index is not None:
            deal_hosts = self._deal_hosts
            deal_entry = deal_hosts.get((licensee, key))
            if deal_entry is None:
                if len(deal_hosts) >= _MAX_ORIGINS:
                    deal_hosts.clear()
                deal_entry = deal_hosts[licensee, key] = _host_entry(deal_index, url, key)
            deals = _combine(deal_index, deal_entry, url, len(key), sha256, md5, identifiers)
        return deals, _combine(self._reservations, entry, url, len(key), sha256, md5, identifiers)


def _host_entry(index: _SelectorIndex[_R], url: str, key: str) -> _Host[_R]:
    location = _locate(url)
    scheme = location.url.partition("://")[0]
    return _Host(
        index.lookup(location, None, with_prefixes=False),
        index.prefix_table(location.netloc),
        location.netloc,
        location.domains,
        key == f"{scheme}://{location.netloc}",
    )


def _combine(
    index: _SelectorIndex[_R],
    host: _Host[_R],
    url: str,
    authority_end: int,
    sha256: str | None,
    md5: str | None,
    identifiers: tuple[str, ...],
) -> tuple[_R, ...]:
    """What ``index.lookup`` returns, from the parts: hash and identifier matches (by id), then URL-prefix
    matches (longest first, by id), then domain matches (deepest first, by id), each record
    once, at its first (most specific) place: lookup's rank order, without its sort."""
    by_hash = (
        index.by_identity(sha256, md5, identifiers)
        if sha256 is not None or md5 is not None or identifiers
        else ()
    )
    by_prefix: tuple[_R, ...] = ()
    table = host.prefixes
    if table is not None:
        tail = url[authority_end:]
        if host.plain and tail.isascii() and not (" " in tail or "#" in tail or "%" in tail):
            by_prefix = table.records_for(url)  # normalise_url(url) == url
        else:
            by_prefix = table.records_for(_locate(url).url)
    by_domain = host.by_domain
    if not by_prefix:
        if not by_hash or not by_domain:
            return by_hash or by_domain
    elif not by_hash and not by_domain:
        return by_prefix
    seen: set[str] = set()
    merged: list[_R] = []
    for part in (by_hash, by_prefix, by_domain):
        for record in part:
            if record.id not in seen:
                seen.add(record.id)
                merged.append(record)
    return tuple(merged)
