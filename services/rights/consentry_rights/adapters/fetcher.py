"""The signal fetcher: what an item's origin and the item itself say *now*, as a :class:`SignalCapture`.

For an item URL it fetches, once per origin (cached for ``origin_ttl`` seconds, concurrent callers
sharing one fetch), ``/.well-known/tdmrep.json``, ``/robots.txt`` and ``/ai.txt``, and the RSL
licences robots.txt names; and for the item itself a ``HEAD`` (a ``GET`` of the page's head for
HTML) for its response headers and meta tags. The sha256 of every body read is kept with it.

Contract: :meth:`SignalFetcher.capture` never raises on the network's account. A refused address,
a timeout, a 5xx or 429, a body over the limit, too many redirects or an open circuit all become
an error in the capture, which the domain reads as ``unknown``, never as permission. Only a 4xx
(other than 429) means "no such file".

Safety:

- **SSRF.** Every host is resolved by the fetcher; unless ``allow_private_origins`` is set, a
  host with any address that is not globally routable (private, loopback, link-local, multicast,
  reserved, shared, documentation, unspecified; IPv4-mapped IPv6 checked as IPv4) is refused.
  The request then goes to the checked address itself (TLS still verifies the host name through
  SNI), so a DNS answer cannot change between the check and the connection. Redirects are
  followed by hand, each hop checked the same way, at most ``max_redirects``. Connections are
  not kept alive: a pooled connection to an address would otherwise carry a request for another
  host name it was never verified for.
- **Bounded.** A semaphore caps concurrent requests; every request has a timeout; bodies are
  read up to ``max_body_bytes`` (an origin file) or ``max_html_bytes`` (a page, up to its
  ``</head>``).
- **Circuit breaker.** After ``failure_threshold`` consecutive failures an origin is not asked
  again for ``cooldown`` seconds (everything from it is ``unknown`` meanwhile); after that the
  first failure opens it again and the first success closes it.

Failures are counted in ``consentry_signal_fetch_errors{origin}``.

Errors (internal, each turned into a capture error; :class:`FetchError` is the base)::

    FetchError
    ├── RefusedAddress      the host resolves to an address that is not public
    ├── CircuitOpen         the origin failed too often lately
    ├── TooManyRedirects
    └── BodyTooLarge
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypeAlias
from urllib.parse import urljoin, urlsplit

import httpx

from consentry_rights.domain.signals import AI_USER_AGENTS, RobotsTxt
from consentry_rights.domain.web_signals import (
    AI_TXT_PATH,
    ROBOTS_PATH,
    TDMREP_PATH,
    OriginDocument,
    SignalCapture,
    origin_of,
)
from consentry_shared.contracts.v1 import utc_now
from consentry_shared.metrics import SIGNAL_FETCH_ERRORS

__all__ = [
    "BodyTooLarge",
    "CircuitOpen",
    "FetchError",
    "FetcherConfig",
    "RefusedAddress",
    "Resolver",
    "SignalFetcher",
    "TooManyRedirects",
    "is_public_address",
    "system_resolver",
]

log = logging.getLogger(__name__)

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver: TypeAlias = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves ``(host, port)`` to IP address strings; raises ``OSError`` when it cannot."""

_HTML_TYPES: Final = ("text/html", "application/xhtml+xml")
_MAX_RSL_LICENCES: Final = 4  # per origin and platform: a robots.txt naming hundreds is not honoured
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A signal could not be fetched; the message says why (it becomes the capture's error)."""


class RefusedAddress(FetchError):
    """The host resolves to an address the fetcher may not connect to."""


class CircuitOpen(FetchError):
    """The origin failed too often lately; it is not asked until its cool-down ends."""


class TooManyRedirects(FetchError):
    """More redirects than ``max_redirects``."""


class BodyTooLarge(FetchError):
    """The body is larger than the fetcher reads."""


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast and not address.is_reserved


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the system resolver gives for ``host`` (TCP)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class FetcherConfig:
    """How the fetcher behaves; every default is safe for production."""

    timeout: float = 5.0
    max_concurrency: int = 16
    origin_ttl: float = 3600.0
    failure_ttl: float = 60.0  # how long a failed origin file is remembered as failed
    failure_threshold: int = 3
    cooldown: float = 60.0
    max_redirects: int = 5
    max_body_bytes: int = 2 * 1024 * 1024
    max_html_bytes: int = 256 * 1024
    allow_private_origins: bool = False
    user_agent: str = "Consentry-SignalFetcher/1"

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.failure_threshold < 1 or self.max_redirects < 0:
            raise ValueError("max_concurrency and failure_threshold must be >= 1, max_redirects >= 0")
        if min(self.timeout, self.origin_ttl, self.failure_ttl, self.cooldown) <= 0:
            raise ValueError("timeout, origin_ttl, failure_ttl and cooldown must be positive")


@dataclass(slots=True)
class _Circuit:
    failures: int = 0  # consecutive
    open_until: float = 0.0


@dataclass(frozen=True, slots=True)
class _Fetched:
    """One HTTP exchange: the final URL, status, headers and the body read (if asked)."""

    url: str
    status: int
    headers: Mapping[str, Sequence[str]]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class _OriginFiles:
    robots_txt: OriginDocument
    ai_txt: OriginDocument
    tdmrep_json: OriginDocument
    expires: float
    robots: RobotsTxt | None  # parsed once, for the RSL licences it names


@dataclass(slots=True)
class _Cached:
    value: OriginDocument
    expires: float


@dataclass(slots=True)
class _State:
    circuits: dict[str, _Circuit] = field(default_factory=dict)
    origins: dict[str, _OriginFiles] = field(default_factory=dict)
    licences: dict[str, _Cached] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Future[_OriginFiles]] = field(default_factory=dict)


class SignalFetcher:
    """Fetches the signals of items and their origins (see the module docstring).

    ``client`` is an ``httpx.AsyncClient`` (tests pass one with a ``MockTransport``); without
    one the fetcher makes and owns its own. ``resolver`` resolves host names (the system's by
    default); ``clock`` is monotonic seconds, ``now`` the wall-clock time recorded as evidence.
    """

    def __init__(
        self,
        config: FetcherConfig | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: Resolver = system_resolver,
        is_public: Callable[[IPAddress], bool] = is_public_address,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config or FetcherConfig()
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=self.config.timeout,
            limits=httpx.Limits(max_keepalive_connections=0),  # see "SSRF" in the module docstring
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would connect to hosts we never checked
        )
        self._resolver = resolver
        self._is_public = is_public
        self._clock = clock
        self._now = now
        self._semaphore = asyncio.Semaphore(self.config.max_concurrency)
        self._state = _State()

    async def aclose(self) -> None:
        """Close the HTTP client, if the fetcher made it."""
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> SignalFetcher:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # --- the capture ------------------------------------------------------------------------

    async def capture(
        self, url: str, *, media_type: str | None = None, platform_token: str | None = None
    ) -> SignalCapture:
        """What the item at ``url`` and its origin say now. Never raises on network trouble."""
        origin = origin_of(url)
        if not origin:
            error = f"not an http(s) URL: {url!r}"
            return SignalCapture(where="fetch", seen_at=self._now(), item_error=error)
        files, item = await asyncio.gather(self._origin_files(origin), self._item(url, origin, media_type))
        headers, html, item_error = item
        rsl = await self._licences(origin, files.robots, platform_token)
        return SignalCapture(
            where="fetch",
            seen_at=self._now(),
            headers=headers,
            html=html,
            item_error=item_error,
            robots_txt=files.robots_txt,
            ai_txt=files.ai_txt,
            tdmrep_json=files.tdmrep_json,
            rsl=rsl,
        )

    async def _origin_files(self, origin: str) -> _OriginFiles:
        state = self._state
        cached = state.origins.get(origin)
        if cached is not None and cached.expires > self._clock():
            return cached
        running = state.in_flight.get(origin)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[_OriginFiles] = asyncio.get_running_loop().create_future()
        state.in_flight[origin] = future
        try:
            robots, ai_txt, tdmrep = await asyncio.gather(
                self._document(origin + ROBOTS_PATH, origin),
                self._document(origin + AI_TXT_PATH, origin),
                self._document(origin + TDMREP_PATH, origin),
            )
            failed = any(doc.body is None and not doc.absent for doc in (robots, ai_txt, tdmrep))
            ttl = self.config.failure_ttl if failed else self.config.origin_ttl
            parsed = RobotsTxt.parse(robots.body, source=robots.url) if robots.body is not None else None
            files = _OriginFiles(robots, ai_txt, tdmrep, self._clock() + ttl, parsed)
            state.origins[origin] = files
            future.set_result(files)
            return files
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:  # a bug: waiters must not hang
            future.set_exception(error)
            future.exception()  # retrieved here: nobody else may be waiting
            raise
        finally:
            del state.in_flight[origin]

    async def _document(self, url: str, origin: str) -> OriginDocument:
        try:
            fetched = await self._request("GET", url, origin, max_bytes=self.config.max_body_bytes)
        except FetchError as error:
            return OriginDocument(url, error=str(error), seen_at=self._now())
        seen = self._now()
        if fetched.status == 200 and fetched.body is not None:
            digest = hashlib.sha256(fetched.body).hexdigest()
            return OriginDocument(url, fetched.body, digest, 200, seen_at=seen)
        why = None if _absent(fetched.status) else f"HTTP {fetched.status}"
        return OriginDocument(url, status=fetched.status, error=why, seen_at=seen)

    async def _licences(
        self, origin: str, robots: RobotsTxt | None, platform_token: str | None
    ) -> Mapping[str, OriginDocument]:
        if robots is None:
            return MappingProxyType({})
        tokens = [*AI_USER_AGENTS, *([platform_token] if platform_token else [])]
        named = robots.licences(tokens)[:_MAX_RSL_LICENCES]
        found: dict[str, OriginDocument] = {}
        for licence in named:
            cached = self._state.licences.get(licence)
            if cached is not None and cached.expires > self._clock():
                found[licence] = cached.value
                continue
            licence_origin = origin_of(licence) or origin
            document = await self._document(licence, licence_origin)
            ttl = self.config.origin_ttl if document.body is not None else self.config.failure_ttl
            self._state.licences[licence] = _Cached(document, self._clock() + ttl)
            found[licence] = document
        return MappingProxyType(found)

    async def _item(
        self, url: str, origin: str, media_type: str | None
    ) -> tuple[Mapping[str, Sequence[str]] | None, str | None, str | None]:
        """The item's headers, its HTML head (for pages), or why they could not be read."""
        wants_html = media_type is not None and media_type.split(";")[0].strip().lower() in _HTML_TYPES
        try:
            fetched = await self._request(
                "GET" if wants_html else "HEAD", url, origin, max_bytes=self.config.max_html_bytes, head=True
            )
            if fetched.status in (405, 501) and not wants_html:  # HEAD not supported: the headers of a GET
                fetched = await self._request("GET", url, origin, max_bytes=0, head=True)
            content_type = (fetched.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
            if not wants_html and content_type in _HTML_TYPES and 200 <= fetched.status < 300:
                fetched = await self._request(
                    "GET", url, origin, max_bytes=self.config.max_html_bytes, head=True
                )
        except FetchError as error:
            return None, None, str(error)
        if _absent(fetched.status):
            return None, None, None  # the item is gone or closed to us: its own headers say nothing now
        if not 200 <= fetched.status < 300:
            return None, None, f"HTTP {fetched.status} for the item"
        html = fetched.body.decode("utf-8", errors="replace") if fetched.body else None
        return fetched.headers, html, None

    # --- HTTP -------------------------------------------------------------------------------

    async def _request(
        self, method: str, url: str, origin: str, *, max_bytes: int, head: bool = False
    ) -> _Fetched:
        """One request, redirects followed by hand; every hop checked. Counts failures per origin."""
        circuit = self._circuit(origin)
        try:
            fetched = await self._follow(method, url, max_bytes=max_bytes, head=head)
        except FetchError as error:
            self._failed(origin, circuit, error)
            raise
        if fetched.status >= 500 or fetched.status == 429:
            self._failed(origin, circuit, FetchError(f"HTTP {fetched.status}"))
        else:
            circuit.failures, circuit.open_until = 0, 0.0
        return fetched

    def _circuit(self, origin: str) -> _Circuit:
        circuit = self._state.circuits.setdefault(origin, _Circuit())
        # After the cool-down the circuit is half-open: requests go, but as the failure count stays
        # at the threshold, the first failure opens it again and the first success closes it.
        if circuit.failures >= self.config.failure_threshold and self._clock() < circuit.open_until:
            raise CircuitOpen(f"circuit open for {origin} after {circuit.failures} failures")
        return circuit

    def _failed(self, origin: str, circuit: _Circuit, error: FetchError) -> None:
        circuit.failures += 1
        if circuit.failures >= self.config.failure_threshold:
            circuit.open_until = self._clock() + self.config.cooldown
        SIGNAL_FETCH_ERRORS.labels(origin).inc()
        log.info("signal fetch from %s failed: %s", origin, error)

    async def _follow(self, method: str, url: str, *, max_bytes: int, head: bool) -> _Fetched:
        current = url
        for _hop in range(self.config.max_redirects + 1):
            fetched = await self._exchange(method, current, max_bytes=max_bytes, head=head)
            locations = fetched.headers.get("location")
            if fetched.status not in _REDIRECTS or not locations:
                return fetched
            location = locations[0]
            current = urljoin(current, location)
            if method != "HEAD" and fetched.status == 303:
                method = "GET"
        raise TooManyRedirects(f"more than {self.config.max_redirects} redirects from {url}")

    async def _exchange(self, method: str, url: str, *, max_bytes: int, head: bool) -> _Fetched:
        parts = urlsplit(url)
        host = parts.hostname
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not host:
            raise FetchError(f"not an http(s) URL: {url}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"bad port in {url}") from None
        address = await self._checked_address(host, port)
        literal = f"[{address}]" if ":" in address else address
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        pinned = f"{scheme}://{literal}:{port}{target}"
        authority = parts.netloc.rpartition("@")[2]  # never send user info
        headers = {"Host": authority, "User-Agent": self.config.user_agent, "Accept": "*/*"}
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        async with self._semaphore:
            try:
                request = self._client.build_request(method, pinned, headers=headers, extensions=extensions)
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as error:
                raise FetchError(f"{type(error).__name__} fetching {url}: {error}") from None
            try:
                body = await self._read(response, max_bytes, head=head) if method != "HEAD" else None
            except httpx.HTTPError as error:
                raise FetchError(f"{type(error).__name__} reading {url}: {error}") from None
            finally:
                await response.aclose()
        multi: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            multi.setdefault(name.lower(), []).append(value)
        return _Fetched(url, response.status_code, multi, body)

    async def _read(self, response: httpx.Response, max_bytes: int, *, head: bool) -> bytes | None:
        """The body up to ``max_bytes``; for a page (``head``) up to its ``</head>``."""
        if max_bytes == 0 or response.status_code != 200:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if head and b"</head" in b"".join(chunks[-2:]).lower():
                break
            if size > max_bytes:
                if head:  # the head of a page is what we need: keep what was read
                    break
                raise BodyTooLarge(f"{response.request.url.path} is larger than {max_bytes} bytes")
        return b"".join(chunks)[: max_bytes if head else None]

    async def _checked_address(self, host: str, port: int) -> str:
        """The address to connect to for ``host``; every address it resolves to must be allowed."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            candidates = [str(literal)]
        else:
            try:
                candidates = list(await self._resolver(host, port))
            except OSError as error:
                raise FetchError(f"cannot resolve {host}: {error}") from None
            if not candidates:
                raise FetchError(f"cannot resolve {host}: no address")
        addresses = [ipaddress.ip_address(candidate.split("%", 1)[0]) for candidate in candidates]
        if not self.config.allow_private_origins:
            refused = [address for address in addresses if not self._is_public(address)]
            if refused:
                # Any private answer refuses the host: a mixed answer is how rebinding starts.
                raise RefusedAddress(f"{host} resolves to {refused[0]}, which is not a public address")
        return str(addresses[0])


def _absent(status: int) -> bool:
    return 400 <= status < 500 and status != 429
