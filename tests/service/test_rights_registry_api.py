"""The registry API over HTTP, with a token file, on a real SQLite registry and FastStream's test
broker: who may import and read what, bad input named by line and field, histories, signal files
kept as evidence, and that a refused request changes nothing (no version, no update published)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker

from consentry_rights.adapters.http import NDJSON, registry_router
from consentry_rights.adapters.store import SqlRegistryStore
from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.auth import Role, issue_token
from consentry_shared.contracts.v1 import RegistryChange, registry_record_adapter


@dataclass
class Api:
    client: httpx.AsyncClient
    store: SqlRegistryStore
    tokens: dict[str, str]
    updates: list[RegistryChange]

    def auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[who]}"}

    async def post(
        self, path: str, who: str, body: bytes | str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        return await self.client.post(path, content=content, headers=self.auth(who) | (headers or {}))

    async def get(self, path: str, who: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(who), params=params)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    book = tmp_path / "tokens.jsonl"
    tokens = {
        "admin": issue_token(book, Role.ADMIN, "ops"),
        "alice": issue_token(book, Role.HOLDER, "alice"),
        "bob": issue_token(book, Role.HOLDER, "bob"),
        "acme": issue_token(book, Role.PLATFORM, "acme"),
        "other": issue_token(book, Role.PLATFORM, "other-ai"),
    }
    settings = RightsSettings(data_dir=tmp_path, telemetry=False)
    store = SqlRegistryStore.from_url(f"sqlite:///{tmp_path / 'rights.db'}")
    await store.initialise()
    components = build(settings, store=store)
    updates: list[RegistryChange] = []

    @components.broker.subscriber("rights.updates.v1")
    async def collect(body: dict[str, Any]) -> None:
        updates.append(RegistryChange.model_validate(body))

    app = FastAPI()
    app.state.components = components
    app.include_router(registry_router(settings.token_book()))
    async with TestKafkaBroker(components.broker):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rights") as client:
            yield Api(client, store, tokens, updates)
    await store.close()


def reservation(record_id: str, holder: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "reservation",
        "id": record_id,
        "holder": holder,
        "match": {"domain": "photos.example"},
        "purposes": ["ai-training"],
        "from": "2024-01-01T00:00:00Z",
        **extra,
    }


def deal(record_id: str, holder: str, licensee: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "deal",
        "id": record_id,
        "holder": holder,
        "licensee": licensee,
        "match": {"domain": "photos.example"},
        "purposes": ["ai-training"],
        "from": "2025-01-01T00:00:00Z",
        "until": "2030-01-01T00:00:00Z",
        **extra,
    }


def jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def errors(response: httpx.Response) -> list[tuple[int, str | None]]:
    return [(e["line"], e["field"]) for e in response.json()["detail"]["errors"]]


async def test_without_a_valid_token_nothing_is_served(api: Api) -> None:
    assert (await api.client.get("/registry/records")).status_code == 401
    bad = {"authorization": "Bearer cst_not-a-token"}
    assert (await api.client.post("/registry/import", content=b"{}", headers=bad)).status_code == 401
    refused = await api.post("/registry/import", "acme", jsonl(reservation("r1", "acme")))
    assert refused.status_code == 403  # a platform changes nothing
    assert await api.store.version() == 0


async def test_a_holder_imports_its_own_records_and_nothing_of_anyone_else(api: Api) -> None:
    ok = await api.post(
        "/registry/import", "alice", jsonl(reservation("r1", "alice"), deal("d1", "alice", "acme"))
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["registry_version"] == 1
    assert ok.json()["by_kind"] == {"reservation": 1, "deal": 1}
    assert len(api.updates) == 2

    mixed = jsonl(reservation("r2", "alice"), reservation("r3", "bob"))
    refused = await api.post("/registry/import", "alice", mixed)
    assert refused.status_code == 403
    assert errors(refused) == [(2, "holder")]
    assert "belongs to 'bob'" in refused.json()["detail"]["errors"][0]["message"]
    assert await api.store.version() == 1
    assert len(api.updates) == 2

    # Bob may not take over Alice's record by importing the same id under his own name.
    takeover = await api.post("/registry/import", "bob", jsonl(reservation("r1", "bob")))
    assert takeover.status_code == 403
    assert "belongs to holder 'alice'" in takeover.json()["detail"]["message"]
    assert await api.store.version() == 1
    assert [v.record.holder for v in await api.store.history("reservation", "r1")] == ["alice"]
    assert len(api.updates) == 2

    # An admin may change anything.
    assert (await api.post("/registry/import", "admin", jsonl(reservation("r1", "bob")))).status_code == 200
    assert await api.store.version() == 2


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (reservation("r2", "alice", colour="red"), "colour", "Extra inputs"),
        (reservation("r2", "alice", **{"from": "2024-02-30T00:00:00Z"}), "from", ""),
        (reservation("r1", "alice"), "id", "already on line 1"),
        (reservation("r2", "alice", until="2023-01-01T00:00:00Z"), "until", "could never apply"),
        (reservation("r2", "alice", match={"domain": "no_such host"}), "match.domain", ""),
        (deal("d2", "alice", "acme", territories=["Europe"]), "territories.0", "matches no item"),
    ],
)
async def test_bad_records_are_refused_naming_line_and_field(
    api: Api, line: dict[str, Any], field: str, message: str
) -> None:
    response = await api.post("/registry/import", "alice", jsonl(reservation("r1", "alice"), line))
    assert response.status_code == 422
    assert errors(response)[0] == (2, field)
    assert message in response.json()["detail"]["errors"][0]["message"]
    assert await api.store.version() == 0
    assert api.updates == []


async def test_csv_import(api: Api) -> None:
    body = (
        "kind,id,holder,licensee,domain,purposes,territories,from,until\n"
        "reservation,r1,alice,,photos.example,ai-training;search,,2024-01-01T00:00:00Z,\n"
        "deal,d1,alice,acme,photos.example,ai-training,FR;DE,2025-01-01T00:00:00Z,2030-01-01T00:00:00Z\n"
    )
    ok = await api.post("/registry/import", "alice", body, headers={"content-type": "text/csv"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["by_kind"] == {"reservation": 1, "deal": 1}
    bad = await api.post("/registry/import?format=csv", "alice", "kind,id,holder,colour\nwork,w,alice,red\n")
    assert (bad.status_code, errors(bad)) == (422, [(1, "colour")])


async def listed(api: Api, who: str, **params: Any) -> tuple[int, list[dict[str, Any]]]:
    response = await api.get("/registry/records", who, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(NDJSON)
    lines = [json.loads(line) for line in response.text.splitlines()]
    return int(response.headers["x-registry-version"]), lines


async def test_listing_as_of_a_version_in_the_import_shape(api: Api) -> None:
    first = [reservation("r1", "alice"), deal("d1", "alice", "acme"), deal("d2", "bob", "other-ai")]
    await api.post("/registry/import", "admin", jsonl(*first))
    await api.post(
        "/registry/import", "admin", jsonl(deal("d1", "alice", "acme", revoked_at="2026-01-01T00:00:00Z"))
    )

    version, now = await listed(api, "admin")
    assert version == 2
    assert [r["id"] for r in now] == ["d1", "d2", "r1"]
    assert now[0]["revoked_at"] == "2026-01-01T00:00:00Z"
    version, then = await listed(api, "admin", as_of_version=1)
    assert version == 1
    # Exactly the import lines: each parses back to the record imported.
    imported = {r["id"]: registry_record_adapter.validate_python(r) for r in first}
    assert {r["id"]: registry_record_adapter.validate_python(r) for r in then} == imported
    assert (await listed(api, "admin", as_of_version=0)) == (0, [])
    assert (await listed(api, "admin", as_of="2000-01-01T00:00:00Z")) == (0, [])  # before any import
    assert (await listed(api, "admin", as_of="2100-01-01T00:00:00+02:00"))[0] == 2
    both = await api.get("/registry/records", "admin", as_of_version=1, as_of="2100-01-01T00:00:00Z")
    assert both.status_code == 422
    assert (await api.get("/registry/records", "admin", as_of_version=3)).status_code == 404

    # Deals are shown to their parties only; reservations to everyone.
    assert [r["id"] for r in (await listed(api, "acme"))[1]] == ["d1", "r1"]
    assert [r["id"] for r in (await listed(api, "bob"))[1]] == ["d2", "r1"]
    assert [r["id"] for r in (await listed(api, "alice", kind="deal"))[1]] == ["d1"]
    assert [r["id"] for r in (await listed(api, "admin", holder="bob"))[1]] == ["d2"]
    # Valid time: on 2026-06-01 d1 is revoked.
    assert [r["id"] for r in (await listed(api, "admin", valid_at="2026-06-01T00:00:00Z"))[1]] == ["d2", "r1"]
    naive = await api.get("/registry/records", "admin", as_of="2026-06-01T00:00:00")
    assert (naive.status_code, errors(naive)) == (422, [(0, "as_of")])


async def test_one_record_with_its_history(api: Api) -> None:
    await api.post("/registry/import", "alice", jsonl(deal("d1", "alice", "acme")))
    await api.post(
        "/registry/import", "alice", jsonl(deal("d1", "alice", "acme", revoked_at="2026-01-01T00:00:00Z"))
    )
    shown = await api.get("/registry/records/deal/d1", "acme")
    assert shown.status_code == 200
    body = shown.json()
    assert [(v["registry_version"], v["superseded_in"]) for v in body["versions"]] == [(1, 2), (2, None)]
    assert body["current"]["revoked_at"] == "2026-01-01T00:00:00Z"
    assert "revoked_at" not in body["versions"][0]["record"]
    assert (await api.get("/registry/records/deal/d1", "other")).status_code == 404  # not a party
    assert (await api.get("/registry/records/deal/nope", "admin")).status_code == 404


ROBOTS = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\nDisallow: /*.jpg$\n"


async def test_signal_files_become_reservations_with_the_file_kept_as_evidence(api: Api) -> None:
    origin = "https://photos.example"
    unregistered = await api.post(f"/registry/signals?origin={origin}&kind=robots.txt", "alice", ROBOTS)
    assert unregistered.status_code == 403
    register = await api.client.post(
        "/registry/origins",
        json={"origin": "HTTPS://Photos.Example:443", "holder": "alice"},
        headers=api.auth("admin"),
    )
    assert register.json() == {"origin": origin, "holder": "alice"}
    assert (
        await api.client.post(
            "/registry/origins", json={"origin": origin, "holder": "bob"}, headers=api.auth("bob")
        )
    ).status_code == 403

    assert (
        await api.post(f"/registry/signals?origin={origin}&kind=robots.txt", "bob", ROBOTS)
    ).status_code == 403
    assert await api.store.version() == 0

    ok = await api.post(f"/registry/signals?origin={origin}&kind=robots.txt", "alice", ROBOTS)
    assert ok.status_code == 200, ok.text
    result = ok.json()
    digest = hashlib.sha256(ROBOTS).hexdigest()
    assert result["evidence_sha256"] == digest
    assert result["records"] == [f"robots.txt:{origin}/", f"robots.txt:{origin}/private/"]
    assert any("/*.jpg$" in note for note in result["notes"])
    _, records = await listed(api, "acme", kind="reservation")
    assert {r["match"]["url_prefix"]: r["evidence_sha256"] for r in records} == {
        f"{origin}/": digest,
        f"{origin}/private/": digest,
    }
    assert {r["holder"] for r in records} == {"alice"}
    kept = await api.get(f"/registry/evidence/{digest}", "acme")
    assert (kept.status_code, kept.content) == (200, ROBOTS)
    assert (kept.headers["x-evidence-kind"], kept.headers["x-evidence-origin"]) == ("robots.txt", origin)

    # A newer robots.txt that lifts the /private/ rule closes that reservation.
    newer = b"User-agent: GPTBot\nDisallow: /\n"
    again = await api.post(f"/registry/signals?origin={origin}&kind=robots.txt", "alice", newer)
    assert again.status_code == 200
    _, in_force = await listed(api, "admin", valid_at="2100-01-01T00:00:00Z")
    assert [r["id"] for r in in_force] == [f"robots.txt:{origin}/"]
    # ... and a record naming that evidence file may be imported by hand; an unknown hash may not.
    by_hand = reservation("r9", "alice", evidence_sha256=hashlib.sha256(newer).hexdigest())
    assert (await api.post("/registry/import", "alice", jsonl(by_hand))).status_code == 200
    unknown = await api.post(
        "/registry/import", "alice", jsonl(reservation("r10", "alice", evidence_sha256="0" * 64))
    )
    assert (unknown.status_code, errors(unknown)) == (422, [(1, "evidence_sha256")])


async def test_signal_file_errors(api: Api) -> None:
    malformed = await api.post(
        "/registry/signals?origin=https://x.example&kind=tdmrep.json&holder=alice", "admin", b"{"
    )
    assert malformed.status_code == 422
    assert "not JSON" in malformed.json()["detail"]["message"]
    no_holder = await api.post("/registry/signals?origin=https://x.example&kind=ai.txt", "admin", b"")
    assert (no_holder.status_code, errors(no_holder)) == (422, [(0, "holder")])
    bad_origin = await api.post("/registry/signals?origin=https://x.example/path&kind=ai.txt", "admin", b"")
    assert (bad_origin.status_code, errors(bad_origin)) == (422, [(0, "origin")])
    assert (
        await api.post("/registry/signals?origin=https://x.example&kind=humans.txt", "admin", b"")
    ).status_code == 422
    assert await api.store.version() == 0
    # An admin may import for an unregistered origin, naming the holder.
    ok = await api.post(
        "/registry/signals?origin=https://x.example&kind=ai.txt&holder=alice",
        "admin",
        b"User-Agent: *\nDisallow: /\n",
    )
    assert ok.status_code == 200 and ok.json()["holder"] == "alice"


def test_the_openapi_document_describes_the_registry() -> None:
    app = FastAPI()
    app.include_router(registry_router(RightsSettings().token_book()))
    paths = app.openapi()["paths"]
    listing = paths["/registry/records"]["get"]
    assert NDJSON in listing["responses"]["200"]["content"]
    assert {"401", "404", "422"} <= set(listing["responses"])
    assert {"401", "403", "413", "422"} <= set(paths["/registry/import"]["post"]["responses"])
    assert "/registry/signals" in paths and "/registry/evidence/{sha256}" in paths


async def test_a_manifests_decided_items_are_counted_for_its_platform_only(api: Api) -> None:
    from consentry_rights.adapters.store import DecidedItem
    from consentry_shared.contracts.v1 import ItemEvent, Verdict

    def event(n: int) -> ItemEvent:
        return ItemEvent.model_validate(
            {
                "event_id": f"e{n}",
                "manifest_id": "acme:ds:1",
                "item_id": f"i{n}",
                "line": n + 1,
                "platform": "acme",
                "purpose": "ai-training",
                "url": f"https://x.example/{n}",
                "submitted_at": "2026-11-01T00:00:00Z",
            }
        )

    await api.store.remember_decisions(
        [DecidedItem(event(n), Verdict.CONSENT if n % 2 else Verdict.VIOLATION, f"d{n}") for n in range(5)]
    )
    mine = await api.get("/manifests/acme:ds:1/decisions", "acme")
    assert mine.status_code == 200, mine.text
    assert mine.json() == {
        "manifest_id": "acme:ds:1",
        "decided": 5,
        "verdicts": {"consent": 2, "violation": 3},
    }
    assert (await api.get("/manifests/acme:ds:1/decisions", "admin")).json()["decided"] == 5
    assert (await api.get("/manifests/acme:ds:1/decisions", "other")).status_code == 404
    assert (await api.get("/manifests/acme:ds:1/decisions", "alice")).status_code == 404
    assert (await api.client.get("/manifests/acme:ds:1/decisions")).status_code == 401


async def test_a_holder_imports_its_holder_record_and_identifier_scoped_records(api: Api) -> None:
    holder = {
        "kind": "holder",
        "id": "alice",
        "name": "Alice Press",
        "creator_ids": ["orcid:0000-0002-1825-0097"],
    }
    work = {"kind": "work", "id": "w-doi", "holder": "alice", "doi": "10.1000/A-1", "license": "CC-BY-4.0"}
    scoped = reservation("r-isbn", "alice", match={"identifier": "isbn:0-306-40615-2"}, territories=["FR"])
    imported = await api.post("/registry/import", "alice", jsonl(holder, work, scoped))
    assert imported.status_code == 200, imported.text
    assert imported.json()["by_kind"] == {"holder": 1, "work": 1, "reservation": 1}
    # Bob may not write Alice's holder record (its holder is its own id).
    refused = await api.post("/registry/import", "bob", jsonl({**holder, "name": "Not Alice"}))
    assert refused.status_code == 403
    shown = await api.get("/registry/records/holder/alice", "acme")
    assert shown.status_code == 200
    assert shown.json()["current"]["creator_ids"] == ["orcid:0000000218250097"]
    listed = await api.get("/registry/records", "acme", kind="reservation")
    [line] = listed.text.splitlines()
    assert json.loads(line)["match"] == {"identifier": "isbn:9780306406157"}
    bad = await api.post("/registry/import", "alice", jsonl({**work, "doi": "11.1/x"}))
    assert bad.status_code == 422
    assert errors(bad) == [(1, "doi")]
