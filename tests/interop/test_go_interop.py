"""Consentry's ledger formats, checked by code we did not write.

``tlogcheck`` (a small Go program beside this file) verifies an export, a live ledger and the
``consentry ledger proof ... --json`` outputs with Go's own checksum-database packages
(``golang.org/x/mod/sumdb/note`` and ``/tlog``), ``filippo.io/torchwood`` (C2SP tlog-tiles and
tlog-checkpoint), ``transparency-dev/merkle`` (RFC 6962 / RFC 9162 proofs) and
``transparency-dev/formats`` (C2SP tlog-cosignature). If our writer and our verifier ever agree
on a misreading of a spec, these tests are where it shows. Then one byte is changed in a tile,
an entry bundle, a signature or a proof, and ``tlogcheck`` must refuse it, naming what failed:
a checker that accepts everything would pass the first half.

The ledger runs over SQLite and over PostgreSQL in a uvicorn thread, is cosigned by a witness
through ``consentry ledger witness``, and is read by the real ``consentry`` command line. Go is
needed: without it the tests skip on a workstation and fail under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry import trace

from consentry_ledger.adapters.http import install
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.service import LedgerService
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import Cosigner, Signer
from tests import infra

HERE = Path(__file__).resolve().parent
CONSENTRY = Path(sys.executable).parent / "consentry"
ORIGIN = "interop.example/ledger"
SIGNER = Signer.generate(ORIGIN)
WITNESS = Cosigner.generate("witness.example/interop")
BATCHES = [3, 7, 300, 290]  # signed checkpoints at 3, 10, 310 and 600 entries


# --- tlogcheck ------------------------------------------------------------------------------------


def _go() -> str:
    found = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = "Go is not installed: the interop check builds tests/interop/tlogcheck with `go build`"
        if infra.in_ci():
            pytest.fail(f"{message} (CI=true: this check must run, not skip)", pytrace=False)
        pytest.skip(message)
    return found


def _go_env() -> dict[str, str]:
    """The Go build's caches live outside the clone (so a fresh clone builds, and a second run is
    a cache hit); modules come through the module proxy, pinned by the committed go.sum."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "consentry" / "go"
    env = dict(os.environ)
    env.setdefault("GOPATH", str(cache / "path"))
    env.setdefault("GOCACHE", str(cache / "build"))
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-mod=readonly -buildvcs=false"
    return env


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build ``tlogcheck`` into this session's own directory (about a second once the build
    cache is warm; several test sessions at once never overwrite each other's binary)."""
    go = _go()
    env = _go_env()
    binary = tmp_path_factory.mktemp("go") / "tlogcheck"
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"go build of tests/interop failed:\n{result.stderr}"
    return binary


@dataclass(frozen=True)
class Checked:
    code: int
    out: str
    err: str


def check(binary: Path, *args: str | Path) -> Checked:
    result = subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )
    return Checked(result.returncode, result.stdout, result.stderr)


# --- a live ledger --------------------------------------------------------------------------------


class NullPublisher:
    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        return None


def decision_record(n: int) -> InRecord:
    decision = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id="m-interop",
        item_id=f"i-{n}",
        platform="p",
        purpose="ai-training",
        url=f"https://x.example/{n}",
        verdict="violation" if n % 7 == 0 else "consent",
        reasons=["reserved:res-1"] if n % 7 == 0 else ["licence:MIT"],
        evidence=[],
        policy_version="p/1",
        registry_version=1 + n // 100,
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return InRecord("decisions.v1", n % 3, n // 3, None, decision.model_dump_json().encode(), {})


@dataclass(frozen=True)
class Ledger:
    url: str
    size: int


def serve(store_url: str, batches: list[int], first: int = 0) -> Iterator[Ledger]:
    """The ledger service over ``store_url`` with ``batches`` of decisions ``first, first + 1, ...``
    appended, served by uvicorn in a thread; WITNESS is its one witness."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqlLedgerStore.from_url(store_url)
        await store.initialise()
        service = LedgerService(
            store,
            SIGNER,
            NullPublisher(),
            origin=ORIGIN,
            topic_of=str,
            tracer=trace.get_tracer("interop"),
            witnesses=[WITNESS.vkey],
        )
        await service.start()
        n = first
        for count in batches:
            await service.append_records([decision_record(i) for i in range(n, n + count)])
            n += count
        app.state.components = SimpleNamespace(service=service, store=store)
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan)
    install(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive(), "ledger server died while starting"
        assert time.monotonic() < deadline, "ledger server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Ledger(f"http://127.0.0.1:{port}", first + sum(batches))
    server.should_exit = True
    thread.join(10)


def consentry(*args: str | Path, url: str) -> str:
    """Run the real ``consentry`` command line against the ledger at ``url``; its stdout."""
    env = {**os.environ, "CONSENTRY_LEDGER_URL": url}
    result = subprocess.run(
        [str(CONSENTRY), *map(str, args)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"consentry {' '.join(map(str, args))}: {result.stderr}"
    return result.stdout


@dataclass(frozen=True)
class Published:
    """A witnessed ledger, its export and proofs as the command line writes them."""

    ledger: Ledger
    export: Path
    inclusions: list[Path]
    consistencies: list[Path]
    receipt: Path


INCLUSIONS = [("0", None), ("5", None), ("255", None), ("256", None), ("599", None), ("9", "10")]
CONSISTENCIES = [("3", None), ("10", "310"), ("310", None), ("0", "3")]


def publish(ledger: Ledger, directory: Path) -> Published:
    """Cosign the ledger's checkpoint as its witness, export it, and save the proofs' JSON."""
    key = directory / "witness.key"
    key.write_text(WITNESS.skey)
    witness = ("ledger", "witness", "--key", key, "--vkey", SIGNER.vkey, "--url", ledger.url)
    cosigned = consentry(*witness, "--state", directory / "state", url=ledger.url)
    assert f"cosigned size {ledger.size}" in cosigned
    export = directory / "export"
    consentry("ledger", "export", export, url=ledger.url)
    inclusions, consistencies = [], []
    for index, size in INCLUSIONS:
        sized = ("--size", size) if size else ()
        path = directory / f"inclusion-{index}-{size}.json"
        path.write_text(
            consentry(
                "ledger", "proof", "inclusion", "--index", index, *sized, "--json",
                "--url", ledger.url, "--vkey", SIGNER.vkey, url=ledger.url,
            )
        )  # fmt: skip
        inclusions.append(path)
    for old, new in CONSISTENCIES:
        to = ("--to", new) if new else ()
        path = directory / f"consistency-{old}-{new}.json"
        path.write_text(
            consentry(
                "ledger", "proof", "consistency", "--from", old, *to, "--json",
                "--url", ledger.url, "--vkey", SIGNER.vkey, url=ledger.url,
            )
        )  # fmt: skip
        consistencies.append(path)
    receipt = directory / "receipt-5.json"
    response = httpx.get(f"{ledger.url}/receipt/5", timeout=30)
    assert response.status_code == 200, response.text
    receipt.write_bytes(response.content)
    return Published(ledger, export, inclusions, consistencies, receipt)


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """The ledger over SQLite, published; the tampering tests change copies of its export."""
    directory = tmp_path_factory.mktemp("interop-sqlite")
    for ledger in serve(f"sqlite:///{directory / 'ledger.db'}", BATCHES):
        yield publish(ledger, directory)


@pytest.fixture(scope="module")
def on_postgresql(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Iterator[Published]:
    directory = tmp_path_factory.mktemp("interop-postgresql")
    for ledger in serve(module_database_url, BATCHES):
        yield publish(ledger, directory)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def published(request: pytest.FixtureRequest) -> Published:
    """The same checks on a ledger stored in SQLite and in PostgreSQL."""
    value: Published = request.getfixturevalue(f"on_{request.param}")
    return value


def proof_args(published: Published) -> list[str | Path]:
    args: list[str | Path] = []
    for path in published.inclusions:
        args += ["-inclusion", path]
    for path in published.consistencies:
        args += ["-consistency", path]
    return args


# --- what must verify -----------------------------------------------------------------------------


def test_the_export_verifies_with_go_tlog_and_torchwood(tlogcheck: Path, published: Published) -> None:
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", WITNESS.vkey, published.export)
    assert result.code == 0, result.err
    assert f"size {published.ledger.size}, signed by {ORIGIN}" in result.out
    assert f"cosigned by witness {WITNESS.name}" in result.out
    assert "4 hash tiles verify against the signed root" in result.out  # 3 at level 0, 1 above
    assert f"{published.ledger.size} entries re-hashed" in result.out
    assert sorted(p.name for p in (published.export / "tile").iterdir()) == ["0", "1", "entries"]


def test_the_live_ledger_verifies_over_its_tile_api(tlogcheck: Path, published: Published) -> None:
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", WITNESS.vkey, published.ledger.url)
    assert result.code == 0, result.err
    assert f"{published.ledger.size} entries re-hashed" in result.out


def test_the_proofs_verify_against_the_export_and_on_their_own(tlogcheck: Path, published: Published) -> None:
    # The witness's cosignature is required on the export's checkpoint, not on the older
    # checkpoints the proofs are relative to.
    witnessed = ("-vkey", SIGNER.vkey, "-witness", WITNESS.vkey)
    result = check(tlogcheck, *witnessed, *proof_args(published), published.export)
    assert result.code == 0, result.err
    assert result.out.count("inclusion proof)") == len(INCLUSIONS)
    assert result.out.count("consistency proof)") == len(CONSISTENCIES)
    assert "entry 9 is in the signed tree of size 10" in result.out
    alone = check(tlogcheck, "-vkey", SIGNER.vkey, *proof_args(published))
    assert alone.code == 0, alone.err


def test_the_vkey_in_the_export_is_used_when_none_is_given(tlogcheck: Path, published: Published) -> None:
    result = check(tlogcheck, published.export)
    assert result.code == 0, result.err
    assert "using the vkey found in" in result.out
    assert "1 other signature(s) not checked" in result.out  # the cosignature, no -witness key


# --- what must not --------------------------------------------------------------------------------


def tampered_copy(published: Published, tmp_path: Path, relative: str, offset: int) -> Path:
    """A copy of the export with one bit of one byte of ``relative`` flipped."""
    copy = tmp_path / "export"
    shutil.copytree(published.export, copy)
    target = copy / relative
    data = bytearray(target.read_bytes())
    data[offset] ^= 0x01
    target.write_bytes(bytes(data))
    return copy


def signature_tampered_copy(published: Published, tmp_path: Path, name: str) -> Path:
    """A copy of the export whose checkpoint has one character of ``name``'s signature changed
    to another base64 character, 40 characters in: past the key ID, inside the signature, so the
    note still parses and the signature is the one thing wrong."""
    copy = tmp_path / "export"
    shutil.copytree(published.export, copy)
    target = copy / "checkpoint"
    note = target.read_text(encoding="utf-8")
    at = note.index(f"\u2014 {name} ") + len(f"\u2014 {name} ") + 40
    target.write_text(note[:at] + ("B" if note[at] == "A" else "A") + note[at + 1 :], encoding="utf-8")
    return copy


@pytest.mark.parametrize(
    ("relative", "offset", "named"),
    [
        ("tile/0/000", 33 * 32 + 7, "hash tiles do not verify against the signed root"),
        ("tile/0/002.p/88", 87 * 32, "hash tiles do not verify against the signed root"),
        ("tile/1/000.p/2", 32, "hash tiles do not verify against the signed root"),
        ("tile/entries/000", 12, "entry bundles do not match the hash tiles (near entry 0)"),
        ("tile/entries/001", 500, "entry bundles do not match the hash tiles"),
        ("tile/entries/002.p/88", 2000, "entry bundles do not match the hash tiles"),
        ("checkpoint", 30, "does not verify"),
    ],
)
def test_one_flipped_byte_in_the_export_fails(
    tlogcheck: Path, on_sqlite: Published, tmp_path: Path, relative: str, offset: int, named: str
) -> None:
    copy = tampered_copy(on_sqlite, tmp_path, relative, offset)
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", WITNESS.vkey, copy)
    assert result.code == 1, result.out
    assert named in result.err


@pytest.mark.parametrize(
    ("whose", "named"),
    [(ORIGIN, f"signature by {ORIGIN}"), (WITNESS.name, f"signature by {WITNESS.name}")],
)
def test_a_flipped_byte_in_a_checkpoint_signature_fails(
    tlogcheck: Path, on_sqlite: Published, tmp_path: Path, whose: str, named: str
) -> None:
    copy = signature_tampered_copy(on_sqlite, tmp_path, whose)
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", WITNESS.vkey, copy)
    assert result.code == 1, result.out
    assert named in result.err
    assert "does not verify" in result.err


def test_the_wrong_log_key_or_a_missing_witness_fails(tlogcheck: Path, on_sqlite: Published) -> None:
    impostor = Signer.generate(ORIGIN)
    result = check(tlogcheck, "-vkey", impostor.vkey, on_sqlite.export)
    assert result.code == 1
    assert f"no signature by the log's key {ORIGIN}" in result.err
    stranger = Cosigner.generate("witness.example/stranger")
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", stranger.vkey, on_sqlite.export)
    assert result.code == 1
    assert "no cosignature by witness witness.example/stranger" in result.err
    result = check(tlogcheck, "-vkey", "not-a-key", on_sqlite.export)
    assert result.code == 2
    assert "is not a signed-note verifier key" in result.err


def _edit_json(source: Path, target: Path, field: str, position: int | None) -> Path:
    body = json.loads(source.read_text())
    value = body[field] if position is None else body[field][position]
    raw = bytearray(hashlib.sha256(value.encode()).digest())  # a well-formed hash that is not it
    replacement = base64.b64encode(bytes(raw)).decode()
    if position is None:
        body[field] = replacement
    else:
        body[field][position] = replacement
    target.write_text(json.dumps(body))
    return target


@pytest.mark.parametrize(
    ("kind", "which", "field", "position", "named"),
    [
        ("inclusion", 1, "hashes", 0, "inclusion proof of entry 5 in size 600 does not verify"),
        ("inclusion", 4, "hashes", -1, "inclusion proof of entry 599 in size 600 does not verify"),
        ("inclusion", 1, "leaf_hash", None, "inclusion proof of entry 5 in size 600 does not verify"),
        ("consistency", 0, "hashes", 0, "consistency proof 3 -> 600 does not verify"),
        ("consistency", 1, "hashes", -1, "consistency proof 10 -> 310 does not verify"),
    ],
)
def test_a_wrong_hash_in_a_proof_fails(
    tlogcheck: Path,
    on_sqlite: Published,
    tmp_path: Path,
    kind: str,
    which: int,
    field: str,
    position: int | None,
    named: str,
) -> None:
    source = (on_sqlite.inclusions if kind == "inclusion" else on_sqlite.consistencies)[which]
    bad = _edit_json(source, tmp_path / "bad.json", field, position)
    result = check(tlogcheck, "-vkey", SIGNER.vkey, f"-{kind}", bad)
    assert result.code == 1, result.out
    assert named in result.err


def test_a_proof_that_disagrees_with_the_export_fails(
    tlogcheck: Path, on_sqlite: Published, tmp_path: Path
) -> None:
    """A valid proof of entry 5, shown with entry 0's JSON: the proof alone cannot tell, the
    export can (the shown entry and leaf are not entry 5's)."""
    body = json.loads(on_sqlite.inclusions[1].read_text())
    other = json.loads(on_sqlite.inclusions[0].read_text())
    body["entry"] = other["entry"]
    bad = tmp_path / "relabelled.json"
    bad.write_text(json.dumps(body))
    assert check(tlogcheck, "-vkey", SIGNER.vkey, "-inclusion", bad).code == 0
    result = check(tlogcheck, "-vkey", SIGNER.vkey, "-inclusion", bad, on_sqlite.export)
    assert result.code == 1
    assert "the entry shown is not entry 5" in result.err


def test_an_export_extended_past_two_tile_levels_verifies(tlogcheck: Path, tmp_path: Path) -> None:
    """``consentry ledger export`` into the same directory only adds: exactly one full tile and no
    partial one, then 600 entries, whose partial tiles the last export leaves in place (as C2SP
    tlog-tiles allows) while it grows the log past 65,536 entries, to a full level-1 tile and a
    level-2 tile."""
    store_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    export = tmp_path / "export"
    for first, batches, tiles in [(0, [256], 2), (256, [344], 4)]:
        for ledger in serve(store_url, batches, first=first):
            consentry("ledger", "export", export, url=ledger.url)
        result = check(tlogcheck, "-vkey", SIGNER.vkey, export)
        assert result.code == 0, result.err
        assert f"ok: {tiles} hash tiles verify" in result.out
    size = 65_536 + 300
    for ledger in serve(store_url, [5_000] * 13 + [size - 600 - 65_000], first=600):
        assert ledger.size == size
        consentry("ledger", "export", export, url=ledger.url)
        inclusion = tmp_path / "inclusion.json"
        inclusion.write_text(
            consentry("ledger", "proof", "inclusion", "--index", "65600", "--json", url=ledger.url)
        )
        consistency = tmp_path / "consistency.json"
        consistency.write_text(
            consentry("ledger", "proof", "consistency", "--from", "600", "--json", url=ledger.url)
        )
    assert (export / "tile/0/002.p/88").exists()  # the first export's, left in place
    assert (export / "tile/2/000.p/1").exists()
    result = check(
        tlogcheck, "-vkey", SIGNER.vkey, "-inclusion", inclusion, "-consistency", consistency, export
    )
    assert result.code == 0, result.err
    assert not (export / "tile/0/000.p").exists()  # the size-256 export had no partial tile
    assert f"{size} entries re-hashed" in result.out
    assert "261 hash tiles verify" in result.out  # 258 at level 0, 2 at level 1, 1 at level 2
    assert "the tree of size 600 is a prefix of the signed tree of size 65836" in result.out


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """``directory`` served by a plain static file server: what a tlog-tiles mirror is."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def test_a_static_mirror_of_the_export_verifies_and_a_tampered_one_does_not(
    tlogcheck: Path, on_sqlite: Published, tmp_path: Path
) -> None:
    with static_server(on_sqlite.export) as url:
        result = check(tlogcheck, "-vkey", SIGNER.vkey, "-witness", WITNESS.vkey, url)
    assert result.code == 0, result.err
    assert f"{on_sqlite.ledger.size} entries re-hashed" in result.out
    copy = tampered_copy(on_sqlite, tmp_path, "tile/entries/001", 700)
    with static_server(copy) as url:
        result = check(tlogcheck, "-vkey", SIGNER.vkey, url)
    assert result.code == 1, result.out
    assert "entry bundles do not match the hash tiles" in result.err
    (copy / "tile/1/000.p/2").unlink()
    with static_server(copy) as url:
        result = check(tlogcheck, "-vkey", SIGNER.vkey, url)
    assert result.code == 1, result.out
    assert "hash tiles do not verify against the signed root" in result.err
    assert "404" in result.err


def test_a_receipt_verifies_with_its_cosignature_and_its_leaf_bytes(
    tlogcheck: Path, published: Published, tmp_path: Path
) -> None:
    """``GET /receipt/{index}``: the inclusion proof, the leaf bytes and the latest checkpoint with
    the witness's cosignature, all checked; a receipt whose leaf was changed is refused."""
    witnessed = ("-vkey", SIGNER.vkey, "-witness", WITNESS.vkey)
    result = check(tlogcheck, *witnessed, "-inclusion", published.receipt, published.export)
    assert result.code == 0, result.err
    assert f"receipt-5.json: checkpoint cosigned by witness {WITNESS.name}" in result.out
    assert "entry 5 is in the signed tree of size 600" in result.out
    body = json.loads(published.receipt.read_text())
    leaf = bytearray(base64.b64decode(body["leaf"]))
    leaf[leaf.index(b'"ev-5"') + 4] = ord("6")
    body["leaf"] = base64.b64encode(bytes(leaf)).decode()
    bad = tmp_path / "receipt.json"
    bad.write_text(json.dumps(body))
    result = check(tlogcheck, *witnessed, "-inclusion", bad)
    assert result.code == 1, result.out
    assert "leaf_hash is not the RFC 6962 hash of the leaf bytes" in result.err
