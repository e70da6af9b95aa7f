"""Inclusion and consistency proofs served per second by the ledger's API process.

    .venv/bin/python bench/bench_ledger_proofs.py [--entries 100000] [--seconds 5] [--connections 8]

A SQLite ledger of ``--entries`` entries (batches of 1000, so checkpoints every 1000) is built
once; then, for random indexes and sizes (the latest checkpoint, as clients mostly ask):

- ``computed``: :meth:`LedgerService.inclusion` / :meth:`LedgerService.consistency` called in
  process (the hash cache and the RFC 9162 proof algorithm, no HTTP);
- ``ASGI in-process``: the FastAPI app called directly with ASGI messages (routing, query
  validation, JSON with base64 hashes; no sockets);
- ``HTTP``: the same app served by uvicorn in its own process (the "API process": one process,
  one event loop), driven by ``--connections`` keep-alive connections from this process, each
  pipelining requests (a raw asyncio HTTP/1.1 client: httpx would measure itself, not the
  server). Every response is checked for status 200.

References (same run): ``hashlib.sha256`` digests per second of 64-byte inputs (what one node
hash costs), and a trivial ASGI app that answers ``{}`` on the same uvicorn and client (the HTTP
stack's ceiling). uvicorn uses httptools and uvloop when they are installed
(``uvicorn[standard]``), else h11 and the asyncio loop: the output says which. Target (issue 4):
20,000 proofs/s from the API process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace

from consentry_ledger.adapters.http import install
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.service import LedgerService
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import Signer

ORIGIN = "bench.example/ledger"
BATCH = 1000


class NullPublisher:
    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        return None


def record(n: int) -> InRecord:
    decision = DecisionEvent(
        event_id=str(uuid.uuid4()),
        item_event_id=str(uuid.uuid4()),
        manifest_id="m-bench",
        item_id=f"img-{n}",
        platform="acme-ai",
        purpose="ai-training",
        url=f"https://images.example.org/{n}.jpg",
        verdict="consent",
        reasons=["licence:CC-BY-4.0"],
        evidence=[],
        policy_version="p/1",
        registry_version=1,
        decided_at=datetime(2026, 11, 27, tzinfo=UTC),
    )
    return InRecord("decisions.v1", n % 6, n // 6, None, decision.model_dump_json().encode(), {})


def service_for(store: SqlLedgerStore, key: str) -> LedgerService:
    return LedgerService(
        store,
        Signer.from_skey(key),
        NullPublisher(),
        origin=ORIGIN,
        topic_of=str,
        tracer=trace.get_tracer("bench"),
    )


async def build_ledger(path: Path, entries: int, key: str) -> None:
    store = SqlLedgerStore.from_url(f"sqlite:///{path}")
    await store.initialise()
    service = service_for(store, key)
    await service.start()
    for start in range(0, entries, BATCH):
        await service.append_records([record(n) for n in range(start, min(entries, start + BATCH))])
    await store.close()


def make_app(path: Path, key: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqlLedgerStore.from_url(f"sqlite:///{path}")
        await store.initialise()
        service = service_for(store, key)
        await service.start()
        app.state.components = SimpleNamespace(service=service, store=store)
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan)
    install(app)
    return app


def report(label: str, count: int, seconds: float, target: int | None = None) -> None:
    rate = count / seconds
    verdict = f"   target {target:,}: {'met' if rate >= target else 'NOT met'}" if target else ""
    print(f"  {label:<44} {rate:>10,.0f} /s{verdict}", flush=True)


def reference_hashlib(seconds: float) -> None:
    data = os.urandom(64)
    sha256 = hashlib.sha256
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(10_000):
            sha256(data).digest()
        count += 10_000
    report("reference hashlib.sha256(64 bytes)", count, time.perf_counter() - started)


def paths(size: int, count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    inclusion = [f"/proof/inclusion?index={rng.randrange(size)}" for _ in range(count)]
    consistency = [f"/proof/consistency?from={rng.randrange(1, size // BATCH) * BATCH}" for _ in range(count)]
    return inclusion, consistency


async def computed(path: Path, key: str, seconds: float, rng: random.Random) -> None:
    store = SqlLedgerStore.from_url(f"sqlite:///{path}")
    service = service_for(store, key)
    await service.start()
    size = service.size
    for label, call in (
        ("computed inclusion (no HTTP)", lambda: service.inclusion(rng.randrange(size))),
        (
            "computed consistency (no HTTP)",
            lambda: service.consistency(rng.randrange(1, size // BATCH) * BATCH),
        ),
    ):
        count, started = await _loop(call, seconds)
        report(label, count, time.perf_counter() - started)
    await store.close()


async def _loop(call: Callable[[], Coroutine[Any, Any, object]], seconds: float) -> tuple[int, float]:
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(1000):
            await call()
        count += 1000
    return count, started


async def asgi_in_process(path: Path, key: str, seconds: float, rng: random.Random) -> None:
    app = make_app(path, key)
    async with app.router.lifespan_context(app):
        size = app.state.components.service.size
        inclusion, consistency = paths(size, 20_000, rng)
        for label, targets in (
            ("ASGI in-process inclusion", inclusion),
            ("ASGI in-process consistency", consistency),
        ):
            status: list[int] = []

            async def send(message: dict[str, Any], status: list[int] = status) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            count = 0
            started = time.perf_counter()
            deadline = started + seconds
            while time.perf_counter() < deadline:
                first = count % len(targets)
                for target in targets[first : first + 1000]:
                    route, _, query = target.partition("?")
                    scope = {
                        "type": "http",
                        "asgi": {"version": "3.0"},
                        "http_version": "1.1",
                        "method": "GET",
                        "scheme": "http",
                        "path": route,
                        "raw_path": route.encode(),
                        "query_string": query.encode(),
                        "root_path": "",
                        "headers": [(b"host", b"ledger")],
                        "server": ("ledger", 80),
                        "client": ("bench", 1),
                        "app": app,
                    }
                    await app(scope, receive, send)
                count += 1000
            report(label, count, time.perf_counter() - started)
            assert set(status) == {200}, set(status)


async def _pipelined_client(
    port: int, targets: list[str], deadline: float, depth: int, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    requests = [f"GET {t} HTTP/1.1\r\nHost: ledger\r\n\r\n".encode() for t in targets]
    position = 0
    try:
        while time.perf_counter() < deadline:
            chunk = [requests[(position + i) % len(requests)] for i in range(depth)]
            position += depth
            writer.write(b"".join(chunk))
            for _ in range(depth):
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
            counts[0] += depth
    finally:
        writer.close()


async def over_http(
    port: int, size: int, seconds: float, connections: int, rng: random.Random, *, trivial: bool = False
) -> None:
    inclusion, consistency = paths(size, 20_000, rng)
    runs = (
        [("reference: trivial ASGI app, same server", ["/"])]
        if trivial
        else [("HTTP inclusion (uvicorn)", inclusion), ("HTTP consistency (uvicorn)", consistency)]
    )
    for label, targets in runs:
        counts = [0]
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _pipelined_client(port, targets[i::connections] or targets, deadline, 16, counts)
                for i in range(connections)
            )
        )
        report(label, counts[0], time.perf_counter() - started, None if trivial else 20_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path | None, key: str, port: int) -> None:
    """The API process: the ledger app on uvicorn (the settings ``consentry up`` uses), or with
    no database a trivial ASGI app that answers ``{}``: the HTTP stack's own ceiling."""
    import uvicorn

    gc.freeze()
    app: Any = make_app(path, key) if path is not None else trivial_app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def http_stack() -> str:
    """What uvicorn picks with ``http="auto"``, ``loop="auto"``."""
    parts = []
    for module, name in (("httptools", "httptools"), ("uvloop", "uvloop")):
        try:
            __import__(module)
            parts.append(name)
        except ImportError:
            parts.append({"httptools": "h11", "uvloop": "asyncio loop"}[module])
    return " + ".join(parts)


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API process exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the API process did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--serve", nargs=3, metavar=("DB", "KEY_FILE", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        database, key_file, port = args.serve
        serve(Path(database) if database != "-" else None, Path(key_file).read_text().strip(), int(port))
        return

    rng = random.Random(4)
    key = Signer.generate(ORIGIN).skey
    with tempfile.TemporaryDirectory() as scratch:
        database = Path(scratch) / "ledger.db"
        key_file = Path(scratch) / "ledger.key"
        key_file.write_text(key)
        started = time.perf_counter()
        asyncio.run(build_ledger(database, args.entries, key))
        print(f"ledger of {args.entries:,} entries built in {time.perf_counter() - started:.1f} s")
        reference_hashlib(args.seconds / 2)
        asyncio.run(computed(database, key, args.seconds, rng))
        asyncio.run(asgi_in_process(database, key, args.seconds, rng))
        print(f"  HTTP: uvicorn with {http_stack()}, {args.connections} pipelining connections")
        for trivial in (True, False):
            port = free_port()
            process = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve",
                    "-" if trivial else str(database),
                    str(key_file),
                    str(port),
                ]
            )
            try:
                wait_for(port, process)
                asyncio.run(
                    over_http(port, args.entries, args.seconds, args.connections, rng, trivial=trivial)
                )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)


if __name__ == "__main__":
    main()
