"""The ledger's read API on every store adapter: proofs verify with the tlog verifiers against the
served checkpoints, and the served tiles are byte for byte what ``write_export`` writes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy import text

from consentry_ledger.adapters.http import FastProofs, install
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.service import LedgerCorrupted, LedgerService
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.db import create_engine
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import (
    Checkpoint,
    Cosigner,
    Signer,
    Verifier,
    leaf_hash,
    open_checkpoint,
    open_note,
    verify_consistency,
    verify_export,
    verify_inclusion,
    write_export,
)

ORIGIN = "api.example/ledger"
SIGNER = Signer.generate(ORIGIN)
VERIFIER = Verifier.from_vkey(SIGNER.vkey)
# Batch boundaries, so checkpoints exist at 3, 10, 256, 300 and 600.
BATCHES = [3, 7, 246, 44, 300]


class FakePublisher:
    def __init__(self) -> None:
        self.published: dict[str, list[OutRecord]] = {}

    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        self.published.setdefault(topic, []).extend(records)


def decision_record(n: int) -> InRecord:
    decision = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id=f"m-{n % 2}",
        item_id=f"i-{n // 2}",
        platform="p",
        purpose="ai-training",
        url=f"https://x.example/{n}",
        verdict="violation" if n % 3 else "consent",
        reasons=["no-licence"],
        evidence=[],
        policy_version="p/1",
        registry_version=1,
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return InRecord("decisions.v1", n % 3, n, None, decision.model_dump_json().encode(), {})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("fresh_database_url"))


WITNESSES = [Cosigner.generate("witness.example/a"), Cosigner.generate("witness.example/b")]


def new_service(store: SqlLedgerStore) -> LedgerService:
    return LedgerService(
        store,
        SIGNER,
        FakePublisher(),
        origin=ORIGIN,
        topic_of=lambda name: name,
        tracer=trace.get_tracer("test"),
        witnesses=[w.vkey for w in WITNESSES],
        witness_quorum=2,
    )


@dataclass
class Ledger:
    service: LedgerService
    store: SqlLedgerStore
    http: httpx.AsyncClient
    checkpoints: dict[int, str]


@pytest.fixture
async def ledger(store_url: str) -> AsyncIterator[Ledger]:
    store = SqlLedgerStore.from_url(store_url)
    await store.initialise()
    service = new_service(store)
    await service.start()
    checkpoints = {}
    n = 0
    for count in BATCHES:
        await service.append_records([decision_record(i) for i in range(n, n + count)])
        n += count
        assert service.checkpoint_note is not None
        checkpoints[n] = service.checkpoint_note
    app = FastAPI()
    app.state.components = SimpleNamespace(service=service, store=store)
    install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger") as http:
        yield Ledger(service, store, http, checkpoints)
    await store.close()


def b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def signed(note: str) -> Checkpoint:
    checkpoint, _ = open_checkpoint(note, [VERIFIER])
    return checkpoint


async def test_inclusion_proofs_verify_against_the_served_checkpoint(ledger: Ledger) -> None:
    leaves = await ledger.store.leaves(0, 600)
    for size in (None, 10, 256, 300, 600):
        for index in (0, 2, 9, 255, 299, 599):
            if size is not None and index >= size:
                continue
            params = {"index": index} | ({"size": size} if size else {})
            response = await ledger.http.get("/proof/inclusion", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            assert response.content == json.dumps(body, separators=(",", ":")).encode()
            checkpoint = signed(body["checkpoint"])
            assert checkpoint.size == body["tree_size"] == (size or 600)
            assert base64.b64decode(body["leaf_hash"]) == leaf_hash(leaves[index])
            verify_inclusion(
                leaf_hash(leaves[index]), index, checkpoint.size, b64(body["hashes"]), checkpoint.root_hash
            )


@pytest.mark.parametrize(
    "query",
    [
        "/proof/inclusion?index=77",
        "/proof/inclusion?index=77&size=300",
        "/proof/inclusion?size=256&index=3",
        "/proof/consistency?from=10",
        "/proof/consistency?from=10&to=300",
        "/proof/consistency?from=0",
    ],
)
async def test_the_fast_path_answers_exactly_as_the_documented_routes(ledger: Ledger, query: str) -> None:
    fast = await ledger.http.get(query)
    documented = await ledger.http.get(query + "&unrelated=1")  # falls through to FastAPI
    assert fast.status_code == documented.status_code == 200
    assert fast.content == documented.content
    assert fast.headers["content-type"] == documented.headers["content-type"]


async def test_plain_proof_queries_never_reach_the_fastapi_routes(ledger: Ledger) -> None:
    async def unreachable(scope: dict, receive: object, send: object) -> None:
        raise AssertionError(f"fell through: {scope['path']}?{scope['query_string']!r}")

    middleware = FastProofs(unreachable)
    app = SimpleNamespace(state=SimpleNamespace(components=SimpleNamespace(service=ledger.service)))
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    for path, query in [("/proof/inclusion", b"index=5&size=10"), ("/proof/consistency", b"from=3&to=256")]:
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "app": app}
        await middleware(scope, None, send)  # type: ignore[arg-type]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200, 200]
    beyond = {"type": "http", "method": "GET", "path": "/proof/inclusion", "query_string": b"index=600"}
    with pytest.raises(AssertionError, match="fell through"):
        await middleware({**beyond, "app": app}, None, send)  # type: ignore[arg-type]


async def test_inclusion_by_event_id_and_by_item(ledger: Ledger) -> None:
    by_event = (await ledger.http.get("/proof/inclusion", params={"event_id": "ev-41"})).json()
    assert by_event["index"] == 41
    by_item = (
        await ledger.http.get("/proof/inclusion", params={"manifest_id": "m-1", "item_id": "i-20"})
    ).json()
    assert by_item["index"] == 41
    missing = await ledger.http.get("/proof/inclusion", params={"event_id": "ev-nope"})
    assert missing.status_code == 404
    assert (await ledger.http.get("/proof/inclusion")).status_code == 400


async def test_consistency_proofs_verify_between_every_pair_of_checkpoints(ledger: Ledger) -> None:
    sizes = sorted(ledger.checkpoints)
    for new in sizes:
        for old in [0, 1, *sizes]:
            if old > new:
                continue
            response = await ledger.http.get("/proof/consistency", params={"from": old, "to": new})
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["from"], body["to"]) == (old, new)
            new_checkpoint = signed(body["checkpoint"])
            assert body["checkpoint"] == ledger.checkpoints[new]
            assert body["from_checkpoint"] == ledger.checkpoints.get(old)
            old_root = (
                signed(ledger.checkpoints[old]).root_hash
                if old in ledger.checkpoints
                else ledger.service.hashes.root(old)
            )
            verify_consistency(old, new, old_root, new_checkpoint.root_hash, b64(body["hashes"]))
    latest = (await ledger.http.get("/proof/consistency", params={"from": 10})).json()
    assert latest["to"] == 600


async def test_a_receipt_carries_the_entry_and_its_proof(ledger: Ledger) -> None:
    body = (await ledger.http.get("/receipt/123")).json()
    leaf = base64.b64decode(body["leaf"])
    assert json.loads(leaf) == body["entry"]
    assert body["entry"]["index"] == 123
    assert body["entry"]["event_id"] == "ev-123"
    checkpoint = signed(body["checkpoint"])
    verify_inclusion(leaf_hash(leaf), 123, checkpoint.size, b64(body["hashes"]), checkpoint.root_hash)
    assert body["cosignatures"] == []
    assert (await ledger.http.get("/receipt/600")).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/proof/inclusion", {"index": 600}, 404),
        ("/proof/inclusion", {"index": 5, "size": 5}, 404),  # never signed: 5 is not a batch boundary
        ("/proof/inclusion", {"index": 5, "size": 601}, 404),
        ("/proof/consistency", {"from": 11, "to": 10}, 400),
        ("/proof/consistency", {"from": 1, "to": 11}, 404),
        ("/tile/0/002.p/89", {}, 404),  # the tree has 88 entries in its third tile
        ("/tile/entries/003", {}, 404),
        ("/tile/0/x000/002.p/88", {}, 404),  # not canonical
        ("/tile/00/000", {}, 404),
        ("/tile/0/000.p/256", {}, 404),
        ("/tile/1/000", {}, 404),
    ],
)
async def test_what_the_log_does_not_have_is_refused(
    ledger: Ledger, path: str, params: dict[str, int], status: int
) -> None:
    response = await ledger.http.get(path, params=params)
    assert response.status_code == status, response.text


async def test_served_tiles_are_what_the_export_writes(ledger: Ledger, tmp_path: Path) -> None:
    for size, note in sorted(ledger.checkpoints.items()):
        export = tmp_path / f"export-{size}"
        leaves = await ledger.store.leaves(0, size)
        write_export(export, note, SIGNER.vkey, leaves)
        files = [p for p in (export / "tile").rglob("*") if p.is_file()]
        assert files
        for path in files:
            relative = path.relative_to(export).as_posix()
            response = await ledger.http.get(f"/{relative}")
            assert response.status_code == 200, relative
            assert response.content == path.read_bytes(), relative
            assert "immutable" in response.headers["cache-control"]
    served = await ledger.http.get("/checkpoint")
    assert served.text == ledger.checkpoints[600]


async def test_a_client_reading_only_tiles_verifies_the_log(ledger: Ledger, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "tile").mkdir(parents=True)
    (mirror / "checkpoint").write_text((await ledger.http.get("/checkpoint")).text)
    for bundle, width in ((0, 256), (1, 256), (2, 88)):
        suffix = f"00{bundle}" + (f".p/{width}" if width < 256 else "")
        for kind in ("entries", "0"):
            target = mirror / "tile" / kind / suffix
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((await ledger.http.get(f"/tile/{kind}/{suffix}")).content)
    target = mirror / "tile" / "1" / "000.p/2"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((await ledger.http.get("/tile/1/000.p/2")).content)
    report = verify_export(mirror, SIGNER.vkey, since=ledger.checkpoints[10])
    assert report.size == 600


async def test_the_service_refuses_to_start_on_a_database_whose_hashes_were_altered(
    ledger: Ledger, store_url: str
) -> None:
    engine = create_engine(store_url)
    async with engine.begin() as conn:
        if store_url.startswith("sqlite"):
            await conn.execute(text("DROP TRIGGER ledger_entry_no_update"))
        else:  # what only the tables' owner or a superuser can do
            await conn.execute(text("ALTER TABLE ledger_entry DISABLE TRIGGER ALL"))
        await conn.execute(text("UPDATE ledger_entry SET leaf_hash = :h WHERE idx = 77"), {"h": b"\x00" * 32})
    await engine.dispose()
    restarted = new_service(ledger.store)
    with pytest.raises(LedgerCorrupted, match="do not rebuild the root"):
        await restarted.start()


async def test_a_restarted_service_serves_the_same_proofs(ledger: Ledger) -> None:
    restarted = new_service(ledger.store)
    await restarted.start()
    assert restarted.size == 600
    assert restarted.checkpoint_note == ledger.checkpoints[600]
    assert restarted.hashes.root() == ledger.service.hashes.root()
    assert (await restarted.inclusion(77, 300)).hashes == (await ledger.service.inclusion(77, 300)).hashes


# --- witnesses ----------------------------------------------------------------------------------


def text_of(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


async def post_cosignature(ledger: Ledger, size: int, line: str) -> httpx.Response:
    return await ledger.http.post("/cosignatures", json={"size": size, "cosignature": line})


async def test_the_log_says_which_witnesses_it_accepts_and_its_quorum(ledger: Ledger) -> None:
    answer = await ledger.http.get("/witnesses")
    assert answer.status_code == 200
    assert answer.json() == {"witnesses": [w.vkey for w in WITNESSES], "quorum": 2}


async def test_a_witness_cosignature_is_verified_kept_and_served(ledger: Ledger) -> None:
    first, second = WITNESSES
    line = first.cosign(text_of(ledger.checkpoints[600]), 1_790_000_000)
    answer = await ledger.http.post("/cosignatures", json={"size": 600, "cosignature": line})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"size": 600, "witness": first.name, "stored": True}
    again = await ledger.http.post("/cosignatures", json={"size": 600, "cosignature": line})
    assert again.json()["stored"] is False

    served = (await ledger.http.get("/checkpoint")).text
    assert served == ledger.checkpoints[600] + line
    opened = open_note(served, [VERIFIER, first.verifier()])
    assert opened.verified_by == [ORIGIN, first.name]
    receipt = (await ledger.http.get("/receipt/5")).json()
    assert receipt["cosignatures"] == [line]
    assert receipt["checkpoint"] == served

    assert (await ledger.http.get("/checkpoint/final")).status_code == 404  # quorum of 2
    other = second.cosign(text_of(ledger.checkpoints[600]), 1_790_000_001)
    assert (
        await ledger.http.post("/cosignatures", json={"size": 600, "cosignature": other})
    ).status_code == 200
    final = (await ledger.http.get("/checkpoint/final")).text
    assert open_note(final, [first.verifier(), second.verifier()]).verified_by == sorted(
        [first.name, second.name]
    )
    older = first.cosign(text_of(ledger.checkpoints[300]), 1_790_000_002)
    assert (
        await ledger.http.post("/cosignatures", json={"size": 300, "cosignature": older})
    ).status_code == 200
    assert (await ledger.http.get("/checkpoint/final")).text == final

    restarted = new_service(ledger.store)
    await restarted.start()
    assert restarted.cosigned_checkpoint == final


@pytest.mark.parametrize(
    ("size", "make", "status"),
    [
        (600, lambda cps: Cosigner.generate("stranger.example/w").cosign(text_of(cps[600]), 1), 403),
        (600, lambda cps: WITNESSES[0].cosign(text_of(cps[300]), 1), 422),  # another checkpoint's
        (600, lambda cps: "— witness.example/a not-base64", 400),
        (600, lambda cps: "no dash at all", 400),
        (5, lambda cps: WITNESSES[0].cosign(text_of(cps[600]), 1), 404),
    ],
)
async def test_bad_cosignatures_are_refused(
    ledger: Ledger, size: int, make: Callable[[dict[int, str]], str], status: int
) -> None:
    response = await post_cosignature(ledger, size, make(ledger.checkpoints))
    assert response.status_code == status, response.text
    assert (await ledger.http.get("/checkpoint")).text == ledger.checkpoints[600]
