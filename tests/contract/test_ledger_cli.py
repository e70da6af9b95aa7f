"""``consentry ledger proof ...`` and ``consentry ledger verify --url`` against a live ledger API.

The ledger runs in a uvicorn server thread over a SQLite store (the store adapters themselves are
held to the same API by ``test_ledger_api.py``); the CLI runs in-process through Typer's runner.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from opentelemetry import trace
from typer.testing import CliRunner

from consentry.cli import app as cli_app
from consentry.proofs import WitnessState
from consentry_ledger.adapters.http import install
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.service import LedgerService
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import Checkpoint, CosignatureVerifier, Cosigner, Signer, open_note, sign_note

ORIGIN = "cli.example/ledger"
SIGNER = Signer.generate(ORIGIN)
BATCHES = [3, 7, 300, 290]  # checkpoints at 3, 10, 310, 600


class NullPublisher:
    async def publish(self, topic: str, records: list[OutRecord]) -> None:
        return None


def decision_record(n: int) -> InRecord:
    decision = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id="m-1",
        item_id=f"i-{n}",
        platform="p",
        purpose="ai-training",
        url=f"https://x.example/{n}",
        verdict="consent",
        reasons=["licence:MIT"],
        evidence=[],
        policy_version="p/1",
        registry_version=1,
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return InRecord("decisions.v1", n % 2, n, None, decision.model_dump_json().encode(), {})


@dataclass
class LiveLedger:
    url: str
    checkpoints: dict[int, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_ledger(database: Path, witnesses: list[str]) -> Iterator[LiveLedger]:
    """A ledger over ``database`` with the BATCHES appended, served by uvicorn in a thread."""
    checkpoints: dict[int, str] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SqlLedgerStore.from_url(f"sqlite:///{database}")
        await store.initialise()
        service = LedgerService(
            store,
            SIGNER,
            NullPublisher(),
            origin=ORIGIN,
            topic_of=str,
            tracer=trace.get_tracer("t"),
            witnesses=witnesses,
        )
        await service.start()
        n = 0
        for count in BATCHES:
            await service.append_records([decision_record(i) for i in range(n, n + count)])
            n += count
            assert service.checkpoint_note is not None
            checkpoints[n] = service.checkpoint_note
        app.state.components = SimpleNamespace(service=service, store=store)
        yield
        await store.close()

    app = FastAPI(lifespan=lifespan)
    install(app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "ledger server died while starting"
        assert time.monotonic() < deadline, "ledger server did not start"
        time.sleep(0.02)
    yield LiveLedger(f"http://127.0.0.1:{port}", checkpoints)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLedger]:
    yield from serve_ledger(tmp_path_factory.mktemp("ledger") / "ledger.db", [])


WITNESS = Cosigner.generate("witness.example/auditor")


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveLedger]:
    """A ledger that accepts WITNESS's cosignatures (the tests add some: it is not ``live``)."""
    yield from serve_ledger(tmp_path_factory.mktemp("witnessed") / "ledger.db", [WITNESS.vkey])


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, list(args))
    # Rich wraps messages at the terminal width; compare them as one line.
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_inclusion_proof_by_index_verified_with_an_independent_key(live: LiveLedger) -> None:
    code, out, err = run(
        "ledger", "proof", "inclusion", "--index", "5", "--json", "--url", live.url, "--vkey", SIGNER.vkey
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["verified"] is True
    assert body["vkey_independent"] is True
    assert body["index"] == 5
    assert body["tree_size"] == 600
    assert body["entry"]["event_id"] == "ev-5"
    assert body["checkpoint"] == live.checkpoints[600]
    assert len(body["hashes"]) <= 10  # ceil(log2 600)


def test_inclusion_proof_at_an_older_size_and_by_event_and_item(live: LiveLedger) -> None:
    code, out, err = run(
        "ledger", "proof", "inclusion", "--index", "9", "--size", "10", "--json", "--url", live.url
    )
    assert code == 0, err
    assert json.loads(out)["checkpoint"] == live.checkpoints[10]
    assert "pass --vkey" in err  # the key came from the log itself
    code, out, _ = run("ledger", "proof", "inclusion", "--event-id", "ev-333", "--url", live.url)
    assert code == 0
    assert "entry 333" in out
    code, out, _ = run(
        "ledger",
        "proof",
        "inclusion",
        "--manifest-id",
        "m-1",
        "--item-id",
        "i-42",
        "--json",
        "--url",
        live.url,
    )
    assert code == 0
    assert json.loads(out)["index"] == 42


def test_consistency_proof_from_a_signed_size_and_from_a_saved_checkpoint(
    live: LiveLedger, tmp_path: Path
) -> None:
    code, out, err = run("ledger", "proof", "consistency", "--from", "10", "--json", "--url", live.url)
    assert code == 0, err
    body = json.loads(out)
    assert (body["from"], body["to"], body["verified"]) == (10, 600, True)
    saved = tmp_path / "saved"
    saved.write_text(live.checkpoints[3])
    code, out, err = run(
        "ledger", "proof", "consistency", "--since", str(saved), "--to", "310", "--url", live.url
    )
    assert code == 0, err
    assert "size 3 is a prefix of the signed tree of size 310" in " ".join(out.split())


def forged_checkpoint(size: int) -> str:
    """A checkpoint the log's key signed for a tree that is not this log's: a split view."""
    return sign_note(Checkpoint(origin=ORIGIN, size=size, root_hash=b"\x42" * 32).to_text(), [SIGNER])


def test_a_split_view_fails_with_exit_1(live: LiveLedger, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    saved.write_text(forged_checkpoint(10))
    code, _, err = run("ledger", "proof", "consistency", "--since", str(saved), "--url", live.url)
    assert code == 1
    assert "NOT a prefix" in err
    code, _, err = run("ledger", "verify", "--url", live.url, "--vkey", SIGNER.vkey, "--since", str(saved))
    assert code == 1
    assert "not a prefix" in err
    assert saved.read_text() == forged_checkpoint(10)  # a failed verification saves nothing


def test_a_log_signed_by_another_key_fails_with_exit_1(live: LiveLedger) -> None:
    other = Signer.generate(ORIGIN)
    code, _, err = run(
        "ledger", "proof", "inclusion", "--index", "1", "--url", live.url, "--vkey", other.vkey
    )
    assert code == 1
    assert "not a checkpoint signed by the log's key" in err
    code, _, err = run("ledger", "verify", "--url", live.url, "--vkey", other.vkey)
    assert code == 1
    assert "not signed by the key" in err


@pytest.mark.parametrize(
    "args",
    [
        ("ledger", "proof", "inclusion", "--index", "600"),
        ("ledger", "proof", "inclusion", "--index", "1", "--size", "11"),
        ("ledger", "proof", "inclusion"),
        ("ledger", "proof", "consistency", "--from", "5"),  # never signed, nothing to check against
        ("ledger", "proof", "consistency"),
    ],
)
def test_what_cannot_be_proven_exits_2(live: LiveLedger, args: tuple[str, ...]) -> None:
    code, _, err = run(*args, "--url", live.url)
    assert code == 2, err


def test_verify_url_reads_the_tiles_and_saves_the_checkpoint_for_next_time(
    live: LiveLedger, tmp_path: Path
) -> None:
    saved = tmp_path / "saved"
    saved.write_text(live.checkpoints[10])
    code, out, err = run("ledger", "verify", "--url", live.url, "--vkey", SIGNER.vkey, "--since", str(saved))
    assert code == 0, err
    assert "OK: 600 entries verified" in out
    assert "consistent with the saved checkpoint" in " ".join(out.split())
    assert saved.read_text() == live.checkpoints[600]
    elsewhere = tmp_path / "elsewhere"
    code, _, err = run("ledger", "verify", "--url", live.url, "--since", str(saved), "--save", str(elsewhere))
    assert code == 0, err
    assert elsewhere.read_text() == live.checkpoints[600]


def test_an_unreachable_log_exits_4() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert run("ledger", "verify", "--url", url)[0] == 4
    assert run("ledger", "proof", "inclusion", "--index", "0", "--url", url)[0] == 4


def test_verify_wants_a_directory_or_a_url(live: LiveLedger, tmp_path: Path) -> None:
    assert run("ledger", "verify")[0] == 2
    assert run("ledger", "verify", str(tmp_path), "--url", live.url)[0] == 2


def test_monitor_proves_growth_and_saves_what_it_saw(live: LiveLedger, tmp_path: Path) -> None:
    state = tmp_path / "seen"
    state.write_text(live.checkpoints[310])
    code, out, err = run(
        "ledger", "monitor", "--url", live.url, "--vkey", SIGNER.vkey,
        "--checks", "2", "--interval", "0", "--state", str(state),
    )  # fmt: skip
    assert code == 0, err
    assert "size 600" in out
    assert "(+290, consistent)" in out
    assert state.read_text() == live.checkpoints[600]


@pytest.mark.parametrize(
    ("seen", "alert"),
    [
        (forged_checkpoint(10), "SPLIT VIEW"),
        (forged_checkpoint(600), "SPLIT VIEW"),
        (forged_checkpoint(700), "ROLLBACK"),
    ],
)
def test_monitor_alerts_on_a_split_view_or_a_rollback(
    live: LiveLedger, tmp_path: Path, seen: str, alert: str
) -> None:
    state = tmp_path / "seen"
    state.write_text(seen)
    code, _, err = run(
        "ledger", "monitor", "--url", live.url, "--vkey", SIGNER.vkey, "--checks", "1", "--state", str(state)
    )
    assert code == 1
    assert f"ALERT: {alert}" in err
    assert state.read_text() == seen


def test_monitor_of_an_unreachable_log_exits_4() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert (
        run("ledger", "monitor", "--url", url, "--vkey", SIGNER.vkey, "--checks", "2", "--interval", "0")[0]
        == 4
    )


# --- witness --------------------------------------------------------------------------------------


def test_witness_key_writes_a_secret_and_prints_the_verifier_key(tmp_path: Path) -> None:
    secret = tmp_path / "w.key"
    code, out, err = run("ledger", "witness-key", "witness.example/new", "--out", str(secret))
    assert code == 0, err
    assert Cosigner.from_skey(secret.read_text().strip()).vkey == out.strip()
    assert CosignatureVerifier.from_vkey(out.strip()).name == "witness.example/new"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert run("ledger", "witness-key", "witness.example/new", "--out", str(secret))[0] == 2


def test_a_witness_cosigns_and_the_log_serves_the_cosignature(witnessed: LiveLedger, tmp_path: Path) -> None:
    key = tmp_path / "witness.key"
    key.write_text(WITNESS.skey)
    state = tmp_path / "state"
    args = ("ledger", "witness", "--key", str(key), "--vkey", SIGNER.vkey, "--url", witnessed.url)
    code, out, err = run(*args, "--state", str(state))
    assert code == 0, err
    assert f"{WITNESS.name} cosigned size 600" in out
    served = httpx.get(f"{witnessed.url}/checkpoint").text
    opened = open_note(served, [SIGNER.verifier(), WITNESS.verifier()])
    assert opened.verified_by == [ORIGIN, WITNESS.name]
    code, out, err = run(*args, "--state", str(state))  # nothing new: same size, same root
    assert code == 0, err
    assert "already had it" in out


@pytest.mark.parametrize(
    ("cosigned", "reason"),
    [
        (forged_checkpoint(10), "HTTP 422"),
        (forged_checkpoint(600), "HTTP 409"),
        (forged_checkpoint(700), "ROLLBACK"),
    ],
)
def test_a_witness_refuses_a_split_view_or_a_rollback(
    witnessed: LiveLedger, tmp_path: Path, cosigned: str, reason: str
) -> None:
    state = tmp_path / "state"
    WitnessState(state).save(ORIGIN, cosigned)
    code, _, err = run(
        "ledger", "witness", "--key", WITNESS.skey, "--vkey", SIGNER.vkey, "--url", witnessed.url,
        "--state", str(state),
    )  # fmt: skip
    assert code == 1
    assert "REFUSED" in err
    assert reason in err
    assert WitnessState(state).latest(ORIGIN) == cosigned


def test_a_witness_refuses_a_checkpoint_not_signed_by_the_log_key(
    witnessed: LiveLedger, tmp_path: Path
) -> None:
    impostor = Signer.generate(ORIGIN)
    code, _, err = run(
        "ledger", "witness", "--key", WITNESS.skey, "--vkey", impostor.vkey, "--url", witnessed.url,
        "--state", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert "not a checkpoint signed by the log's key" in err


def test_the_log_turns_away_a_witness_it_does_not_know(witnessed: LiveLedger, tmp_path: Path) -> None:
    stranger = Cosigner.generate("witness.example/stranger")
    code, _, err = run(
        "ledger", "witness", "--key", stranger.skey, "--vkey", SIGNER.vkey, "--url", witnessed.url,
        "--state", str(tmp_path),
    )  # fmt: skip
    assert code == 2
    assert "not by one of this log's witnesses" in err
