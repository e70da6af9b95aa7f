"""The ledger's per-manifest status and report with a token file: a platform sees only its own
manifests (another's is 404, as an unknown one), an administrator sees all, others are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace

from consentry_ingest.domain.items import manifest_id_for
from consentry_ledger.adapters.http import install
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.service import LedgerService
from consentry_shared.auth import Role, TokenBook, issue_token
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import Signer

ACME = manifest_id_for("acme-ai", None, "a" * 64)
OTHER = manifest_id_for("other-ai", None, "b" * 64)
PREFIXED = manifest_id_for("acme-ai-labs", None, "c" * 64)  # "acme-ai" is a prefix of its name


class Publisher:
    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        del topic, records


def decision(n: int, manifest_id: str) -> InRecord:
    event = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id=manifest_id,
        item_id=f"i-{n}",
        platform=manifest_id.split(":", maxsplit=1)[0],
        purpose="ai-training",
        url=f"https://x.example/{n}",
        verdict="consent",
        reasons=["licence:MIT"],
        evidence=[],
        policy_version="p/1",
        registry_version=1,
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return InRecord("decisions.v1", 0, n, None, event.model_dump_json().encode(), {})


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    store = SqlLedgerStore.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    await store.initialise()
    service = LedgerService(
        store,
        Signer.generate("test.example/ledger"),
        Publisher(),
        origin="test.example/ledger",
        topic_of=lambda name: name,
        tracer=trace.get_tracer("test"),
    )
    await service.start()
    await service.append_records([decision(n, m) for n, m in enumerate([ACME, ACME, OTHER, PREFIXED])])
    book = tmp_path / "tokens.jsonl"
    tokens = {
        "acme": issue_token(book, Role.PLATFORM, "acme-ai"),
        "holder": issue_token(book, Role.HOLDER, "photo-collective"),
        "admin": issue_token(book, Role.ADMIN, "ops"),
    }
    app = FastAPI()
    app.state.components = SimpleNamespace(service=service, store=store)
    app.state.token_book = TokenBook(book)
    install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger") as http:
        yield http, tokens
    await store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_platform_sees_its_own_manifests_only(
    ledger: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, tokens = ledger
    own = await http.get(f"/manifests/{ACME}/report", headers=bearer(tokens["acme"]))
    assert own.status_code == 200, own.text
    assert own.json()["ledgered"] == 2
    status = await http.get(f"/manifests/{ACME}/status", headers=bearer(tokens["acme"]))
    assert status.json() == {"manifest_id": ACME, "ledgered": 2}
    for other in (OTHER, PREFIXED, "acme-ai"):
        for route in ("report", "status"):
            response = await http.get(f"/manifests/{other}/{route}", headers=bearer(tokens["acme"]))
            assert response.status_code == 404, (other, route)


async def test_an_administrator_sees_every_manifest(ledger: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    http, tokens = ledger
    for manifest_id, count in ((ACME, 2), (OTHER, 1), (PREFIXED, 1)):
        response = await http.get(f"/manifests/{manifest_id}/status", headers=bearer(tokens["admin"]))
        assert response.json()["ledgered"] == count


async def test_no_token_or_a_holders_token_is_refused(
    ledger: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    http, tokens = ledger
    assert (await http.get(f"/manifests/{ACME}/report")).status_code == 401
    assert (await http.get(f"/manifests/{ACME}/status", headers=bearer("cst_unknown"))).status_code == 401
    assert (await http.get(f"/manifests/{ACME}/report", headers=bearer(tokens["holder"]))).status_code == 403
    # The log itself stays public: auditors verify it without an account.
    assert (await http.get("/checkpoint")).status_code == 200
