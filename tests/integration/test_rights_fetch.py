"""The signal fetcher against real HTTP/1.1 servers on 127.0.0.1 (``asyncio.start_server``).

No Kafka or PostgreSQL: these run everywhere. Every test but the SSRF ones allows private origins,
since the servers are on the loopback interface.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consentry_rights.adapters.fetcher import FetcherConfig, SignalFetcher, is_public_address
from consentry_rights.domain import ParsedDocuments, Policy, RegistryView, decide
from consentry_shared.contracts.v1 import ItemEvent
from consentry_shared.metrics import SIGNAL_FETCH_ERRORS

AT = datetime(2026, 1, 5, tzinfo=UTC)
ROBOTS = "User-agent: GPTBot\nDisallow: /private/\n\nUser-agent: *\nAllow: /\n"
TDMREP = '[{"location":"/reserved/*","tdm-reservation":1}]'


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Server:
    """A tiny HTTP/1.1 responder: one request per connection, routes by path, counts requests."""

    routes: dict[str, Route]
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    hosts: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        for line in lines[1:]:
            if line.lower().startswith("host:"):
                self.hosts.append(line.split(":", 1)[1].strip())
        path = target.split("?", 1)[0]
        self.requests[(method, path)] += 1
        route = self.routes.get(path, Route(404, b"not found"))
        if route.delay:
            await asyncio.sleep(route.delay)
        reason = {200: "OK", 404: "Not Found", 302: "Found", 503: "Unavailable"}.get(route.status, "X")
        out = [f"HTTP/1.1 {route.status} {reason}", f"Content-Length: {len(route.body)}", "Connection: close"]
        for name, value in route.headers.items():
            for one in value if isinstance(value, list) else [value]:
                out.append(f"{name}: {one}")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            writer.write(route.body)
        with suppress(ConnectionError):
            await writer.drain()
        writer.close()


@asynccontextmanager
async def serve(routes: dict[str, Route]) -> AsyncIterator[Server]:
    server = Server(routes)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        await listening.wait_closed()


def fetcher(**config: object) -> SignalFetcher:
    options: dict[str, object] = {"allow_private_origins": True, "timeout": 2.0}
    options.update(config)
    return SignalFetcher(FetcherConfig(**options))  # type: ignore[arg-type]


def item(url: str, **overrides: object) -> ItemEvent:
    fields: dict[str, object] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 1,
        "platform": "acme-ai",
        "purpose": "ai-training",
        "url": url,
        "license": "CC0-1.0",
        "media_type": "image/jpeg",
        "submitted_at": AT,
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def site() -> dict[str, Route]:
    return {
        "/robots.txt": Route(body=ROBOTS.encode()),
        "/.well-known/tdmrep.json": Route(body=TDMREP.encode(), headers={"Content-Type": "application/json"}),
        "/reserved/a.jpg": Route(headers={"Content-Type": "image/jpeg"}),
        "/private/a.jpg": Route(headers={"Content-Type": "image/jpeg"}),
        "/open/a.jpg": Route(headers={"Content-Type": "image/jpeg"}),
        "/tagged/a.jpg": Route(headers={"Content-Type": "image/jpeg", "X-Robots-Tag": ["noindex", "noai"]}),
        "/page.html": Route(
            body=b'<html><head><meta name="robots" content="noai"></head><body>' + b"x" * 100_000,
            headers={"Content-Type": "text/html; charset=utf-8"},
        ),
    }


async def decided(
    the_fetcher: SignalFetcher, the_item: ItemEvent, policy: Policy | None = None
) -> tuple[str, ...]:
    capture = await the_fetcher.capture(
        str(the_item.url), media_type=the_item.media_type, platform_token="acme-ai"
    )
    decision = decide(
        the_item,
        RegistryView(),
        policy or Policy("p", regimes={}),
        AT,
        fetched=capture,
        documents=ParsedDocuments(),
    )
    return (decision.verdict.value, *decision.reasons)


async def test_origin_files_and_item_headers_decide_and_are_fetched_once_per_origin() -> None:
    async with serve(site()) as server, fetcher() as the_fetcher:
        base = server.origin
        assert await decided(the_fetcher, item(f"{base}/reserved/a.jpg")) == (
            "violation",
            "signal:tdmrep.well-known@fetch",
        )
        assert await decided(the_fetcher, item(f"{base}/private/a.jpg")) == (
            "violation",
            "signal:robots.txt@fetch",
        )
        assert await decided(the_fetcher, item(f"{base}/tagged/a.jpg")) == (
            "violation",
            "signal:x-robots-tag@fetch",
        )
        assert await decided(the_fetcher, item(f"{base}/open/a.jpg")) == ("consent", "licence:CC0-1.0")
        assert await decided(the_fetcher, item(f"{base}/page.html", media_type="text/html")) == (
            "violation",
            "signal:meta-robots@fetch",
        )
    for path in ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json"):
        assert server.requests[("GET", path)] == 1, path
    assert server.requests[("HEAD", "/open/a.jpg")] == 1
    assert server.requests[("GET", "/page.html")] == 1
    assert all(host == f"127.0.0.1:{server.port}" for host in server.hosts)


async def test_the_capture_keeps_each_body_and_its_hash() -> None:
    async with serve(site()) as server, fetcher() as the_fetcher:
        capture = await the_fetcher.capture(f"{server.origin}/open/a.jpg")
    assert capture.where == "fetch"
    assert capture.robots_txt is not None and capture.robots_txt.body == ROBOTS.encode()
    assert capture.robots_txt.sha256 == hashlib.sha256(ROBOTS.encode()).hexdigest()
    assert capture.robots_txt.seen_at is not None
    assert capture.ai_txt is not None and capture.ai_txt.status == 404 and capture.ai_txt.absent
    assert capture.headers is not None and capture.headers["content-type"] == ["image/jpeg"]
    decision = decide(item(f"{server.origin}/open/a.jpg"), RegistryView(), Policy("p"), AT, fetched=capture)
    robots = next(e for e in decision.evidence if e.signal == "robots.txt@fetch")
    assert robots.ref == f"{server.origin}/robots.txt"
    assert robots.body_sha256 == hashlib.sha256(ROBOTS.encode()).hexdigest()


async def test_concurrent_items_of_one_origin_share_one_fetch_of_its_files() -> None:
    routes = site()
    routes["/robots.txt"] = Route(body=ROBOTS.encode(), delay=0.2)
    async with serve(routes) as server, fetcher(max_concurrency=4) as the_fetcher:
        captures = await asyncio.gather(
            *(the_fetcher.capture(f"{server.origin}/open/{n}.jpg") for n in range(20))
        )
    assert server.requests[("GET", "/robots.txt")] == 1
    assert all(c.robots_txt is not None and c.robots_txt.body == ROBOTS.encode() for c in captures)


async def test_the_origin_cache_expires_after_its_ttl() -> None:
    now = [0.0]
    async with serve(site()) as server:
        the_fetcher = SignalFetcher(
            FetcherConfig(allow_private_origins=True, origin_ttl=10), clock=lambda: now[0]
        )
        async with the_fetcher:
            await the_fetcher.capture(f"{server.origin}/open/a.jpg")
            now[0] = 9.0
            await the_fetcher.capture(f"{server.origin}/open/a.jpg")
            assert server.requests[("GET", "/robots.txt")] == 1
            now[0] = 10.5
            await the_fetcher.capture(f"{server.origin}/open/a.jpg")
            assert server.requests[("GET", "/robots.txt")] == 2


async def test_a_failing_origin_is_unknown_and_its_circuit_opens_then_recovers() -> None:
    now = [0.0]
    routes = {"/robots.txt": Route(503), "/ai.txt": Route(503), "/.well-known/tdmrep.json": Route(503)}
    async with serve(routes) as server:
        config = FetcherConfig(allow_private_origins=True, failure_threshold=3, cooldown=30, failure_ttl=1)
        the_fetcher = SignalFetcher(config, clock=lambda: now[0])
        before = SIGNAL_FETCH_ERRORS.labels(server.origin)._value.get()
        async with the_fetcher:
            the_item = item(f"{server.origin}/a.jpg")
            assert (await decided(the_fetcher, the_item))[0] == "unknown"  # 503s: unknown, never consent
            served = sum(server.requests.values())
            now[0] = 2.0  # the failed files expired from the cache, but the circuit is open
            capture = await the_fetcher.capture(str(the_item.url))
            assert sum(server.requests.values()) == served  # nothing was asked
            assert capture.robots_txt is not None and "circuit open" in (capture.robots_txt.error or "")
            assert capture.item_error is not None and "circuit open" in capture.item_error
            assert (await decided(the_fetcher, the_item))[0] == "unknown"
            server.routes.clear()
            server.routes.update(site())  # the origin recovers
            now[0] = 40.0  # the cool-down is over: the next success closes the circuit again
            assert await decided(the_fetcher, item(f"{server.origin}/open/a.jpg")) == (
                "consent",
                "licence:CC0-1.0",
            )
        assert SIGNAL_FETCH_ERRORS.labels(server.origin)._value.get() - before >= 3


async def test_timeouts_are_unknown() -> None:
    routes = site()
    routes["/open/a.jpg"] = Route(delay=1.5)
    async with serve(routes) as server, fetcher(timeout=0.3) as the_fetcher:
        capture = await the_fetcher.capture(f"{server.origin}/open/a.jpg")
        assert capture.item_error is not None and "Timeout" in capture.item_error
        verdict, *reasons = await decided(the_fetcher, item(f"{server.origin}/open/a.jpg"))
    assert verdict == "unknown"
    assert "signal-unreadable:x-robots-tag@fetch" in reasons


async def test_redirects_are_followed_within_the_limit() -> None:
    routes = site()
    routes["/robots.txt"] = Route(302, headers={"Location": "/real-robots.txt"})
    routes["/real-robots.txt"] = Route(body=b"User-agent: *\nDisallow: /\n")
    routes["/loop"] = Route(302, headers={"Location": "/loop"})
    async with serve(routes) as server, fetcher(max_redirects=3) as the_fetcher:
        assert (await decided(the_fetcher, item(f"{server.origin}/open/a.jpg")))[
            1
        ] == "signal:robots.txt@fetch"
        capture = await the_fetcher.capture(f"{server.origin}/loop")
    assert capture.item_error is not None and "more than 3 redirects" in capture.item_error
    assert server.requests[("HEAD", "/loop")] == 4


async def test_an_oversized_origin_file_is_unknown() -> None:
    routes = site()
    routes["/robots.txt"] = Route(body=b"User-agent: *\nAllow: /\n" + b"#" * 5000)
    async with serve(routes) as server, fetcher(max_body_bytes=1000) as the_fetcher:
        capture = await the_fetcher.capture(f"{server.origin}/open/a.jpg")
        assert capture.robots_txt is not None and "larger than 1000 bytes" in (capture.robots_txt.error or "")
        assert (await decided(the_fetcher, item(f"{server.origin}/open/a.jpg")))[:2] == (
            "unknown",
            "signal-unreadable:robots.txt@fetch",
        )


async def test_rsl_licences_named_by_robots_txt_are_fetched_and_read() -> None:
    rsl = (
        '<rsl xmlns="https://rslstandard.org/rsl"><content url="/*"><license>'
        '<permits type="usage">ai-train</permits><payment type="subscription"/></license></content></rsl>'
    )
    routes = site()
    routes["/robots.txt"] = Route(body=b"License: /license.xml\nUser-agent: *\nAllow: /\n")
    routes["/license.xml"] = Route(body=rsl.encode(), headers={"Content-Type": "application/rsl+xml"})
    async with serve(routes) as server, fetcher() as the_fetcher:
        assert await decided(the_fetcher, item(f"{server.origin}/open/a.jpg")) == (
            "violation",
            "signal-payment-required:rsl@fetch",
        )
        await decided(the_fetcher, item(f"{server.origin}/open/b.jpg"))
    assert server.requests[("GET", "/license.xml")] == 1


async def test_without_allow_private_origins_loopback_is_refused() -> None:
    async with serve(site()) as server, SignalFetcher(FetcherConfig(timeout=2.0)) as the_fetcher:
        capture = await the_fetcher.capture(f"{server.origin}/open/a.jpg")
        assert capture.item_error is not None and "not a public address" in capture.item_error
        assert capture.robots_txt is not None and "127.0.0.1" in (capture.robots_txt.error or "")
        assert (await decided(the_fetcher, item(f"{server.origin}/open/a.jpg")))[0] == "unknown"
        the_fetcher_localhost = await the_fetcher.capture(f"http://localhost:{server.port}/open/a.jpg")
        assert "not a public address" in (the_fetcher_localhost.item_error or "")
    assert sum(server.requests.values()) == 0  # refused before any connection


async def test_a_redirect_to_a_private_address_is_refused() -> None:
    """The first hop is 'public' by the injected rule; the redirect goes to another loopback address."""
    routes = site()
    async with serve(routes) as server:
        routes["/robots.txt"] = Route(302, headers={"Location": f"http://127.0.0.2:{server.port}/robots.txt"})

        def public(address: object) -> bool:
            return str(address) == "127.0.0.1"

        the_fetcher = SignalFetcher(FetcherConfig(timeout=2.0), is_public=public)  # type: ignore[arg-type]
        async with the_fetcher:
            capture = await the_fetcher.capture(f"{server.origin}/open/a.jpg")
        assert capture.robots_txt is not None and "127.0.0.2" in (capture.robots_txt.error or "")
        assert capture.headers is not None  # the item itself, on the allowed address, was read
    assert server.requests[("GET", "/robots.txt")] == 1


async def test_a_host_resolving_to_any_private_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]  # a mixed answer is how rebinding starts

    async with SignalFetcher(FetcherConfig(timeout=1.0), resolver=resolver) as the_fetcher:
        capture = await the_fetcher.capture("https://mixed.example/a.jpg")
    assert "10.0.0.7" in (capture.item_error or "")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space (CGNAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("192.0.2.1", False),  # documentation
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_a_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        FetcherConfig(max_concurrency=0)
    with pytest.raises(ValueError, match="positive"):
        FetcherConfig(timeout=0)


# --- HTTPS: the pinned address still verifies the host name ------------------------------------


def _certificates(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` signed by a fresh CA, and a client
    context that trusts only that CA."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_https_goes_to_the_checked_address_and_verifies_the_host_name(tmp_path: Path) -> None:
    server_context, client_context = _certificates(tmp_path, "signals.test")
    server = Server(site())
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_context)
    port = listening.sockets[0].getsockname()[1]

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # every name points at the test server

    client = httpx.AsyncClient(verify=client_context, follow_redirects=False, trust_env=False)
    config = FetcherConfig(allow_private_origins=True, timeout=2.0)
    try:
        async with client, SignalFetcher(config, client=client, resolver=resolver) as the_fetcher:
            good = await the_fetcher.capture(f"https://signals.test:{port}/private/a.jpg")
            assert good.item_error is None and good.headers is not None
            assert good.robots_txt is not None and good.robots_txt.body == ROBOTS.encode()
            # Same address, another name: the certificate is not for it, so nothing is read.
            bad = await the_fetcher.capture(f"https://other.test:{port}/private/a.jpg")
            assert bad.item_error is not None and "CERTIFICATE_VERIFY_FAILED" in bad.item_error
            assert bad.robots_txt is not None and bad.robots_txt.body is None
    finally:
        listening.close()
        await listening.wait_closed()
    assert f"signals.test:{port}" in server.hosts
