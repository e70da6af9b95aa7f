"""The ingest HTTP API with a token file: who may upload for which platform, the per-platform
limits (413, 429 with Retry-After), and resumable upload sessions. FastStream's in-memory broker
stands in for Kafka (the same upload on real Kafka is in tests/integration/test_resumable_upload.py)."""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker

from consentry_ingest.adapters.uploads import UploadStore
from consentry_ingest.app import create_app
from consentry_ingest.service import submission_manifest_id
from consentry_ingest.settings import IngestSettings
from consentry_shared.auth import Role, issue_token
from consentry_shared.contracts.v1 import ItemEvent, Purpose


def manifest(n: int, platform: str | None = None) -> bytes:
    lines = [json.dumps({"manifest": {"platform": platform}})] if platform else []
    lines += [
        json.dumps({"id": f"i{k}", "url": f"https://x.example/{k}", "license": "MIT"}) for k in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Ingest:
    http: httpx.AsyncClient
    published: list[ItemEvent]
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


async def running(tmp_path: Path, **settings: Any) -> AsyncIterator[Ingest]:
    book = tmp_path / "tokens.jsonl"
    tokens = {
        "acme": issue_token(book, Role.PLATFORM, "acme-ai"),
        "other": issue_token(book, Role.PLATFORM, "other-ai"),
        "holder": issue_token(book, Role.HOLDER, "photo-collective"),
        "admin": issue_token(book, Role.ADMIN, "ops"),
    }
    app = create_app(IngestSettings(data_dir=tmp_path, telemetry=False, **settings))
    components = app.state.components
    published: list[ItemEvent] = []

    @components.broker.subscriber("items.v1")
    async def collect(body: dict[str, Any]) -> None:
        published.append(ItemEvent.model_validate(body))

    async with TestKafkaBroker(components.broker):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            yield Ingest(http, published, tokens)


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[Ingest]:
    async for running_ingest in running(tmp_path):
        yield running_ingest


# -- identity ---------------------------------------------------------------------------------


async def test_every_upload_route_needs_a_token(ingest: Ingest) -> None:
    for method, path in [("POST", "/manifests"), ("POST", "/uploads"), ("GET", "/uploads/x")]:
        response = await ingest.http.request(method, path, content=manifest(1, "acme-ai"))
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    wrong = await ingest.http.post(
        "/manifests", content=manifest(1, "acme-ai"), headers={"Authorization": "Bearer cst_nope"}
    )
    assert wrong.status_code == 401
    assert ingest.published == []


async def test_a_holder_token_cannot_upload(ingest: Ingest) -> None:
    response = await ingest.http.post(
        "/manifests", content=manifest(1, "acme-ai"), headers=ingest.auth("holder")
    )
    assert response.status_code == 403
    assert "platform" in response.json()["detail"]


async def test_a_platform_uploads_under_its_own_name_by_default(ingest: Ingest) -> None:
    response = await ingest.http.post("/manifests", content=manifest(2), headers=ingest.auth("acme"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["platform"] == "acme-ai"
    assert body["manifest_id"].startswith("acme-ai:")
    assert {e.platform for e in ingest.published} == {"acme-ai"}


async def test_a_platform_cannot_upload_for_another(ingest: Ingest) -> None:
    in_header = await ingest.http.post(
        "/manifests", content=manifest(2, "other-ai"), headers=ingest.auth("acme")
    )
    assert in_header.status_code == 403
    assert "other-ai" in in_header.json()["detail"]["message"]
    in_query = await ingest.http.post(
        "/manifests", params={"platform": "other-ai"}, content=manifest(2), headers=ingest.auth("acme")
    )
    assert in_query.status_code == 403
    assert ingest.published == []


async def test_an_admin_uploads_for_any_platform(ingest: Ingest) -> None:
    response = await ingest.http.post(
        "/manifests", content=manifest(1, "other-ai"), headers=ingest.auth("admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["platform"] == "other-ai"


# -- limits -----------------------------------------------------------------------------------


async def test_size_limits_answer_413_naming_the_limit(tmp_path: Path) -> None:
    limits = {"acme-ai": {"max_manifest_items": 3}, "other-ai": {"max_manifest_bytes": 100}}
    async for ingest in running(tmp_path, platform_limits=limits):
        ok = await ingest.http.post("/manifests", content=manifest(3), headers=ingest.auth("acme"))
        assert ok.status_code == 200, ok.text
        items = await ingest.http.post("/manifests", content=manifest(4), headers=ingest.auth("acme"))
        assert items.status_code == 413
        assert "max_manifest_items=3" in items.json()["detail"]["message"]
        size = await ingest.http.post("/manifests", content=manifest(4), headers=ingest.auth("other"))
        assert size.status_code == 413
        assert "max_manifest_bytes=100" in size.json()["detail"]["message"]
        assert len(ingest.published) == 3


async def test_the_upload_rate_answers_429_with_retry_after(tmp_path: Path) -> None:
    async for ingest in running(tmp_path, default_limits={"uploads_per_minute": 2}):
        for _ in range(2):
            ok = await ingest.http.post("/manifests", content=manifest(1), headers=ingest.auth("acme"))
            assert ok.status_code == 200, ok.text
        limited = await ingest.http.post("/manifests", content=manifest(1), headers=ingest.auth("acme"))
        assert limited.status_code == 429
        assert "uploads_per_minute=2" in limited.json()["detail"]["message"]
        assert 1 <= int(limited.headers["retry-after"]) <= 30
        # Another platform has its own allowance.
        other = await ingest.http.post("/manifests", content=manifest(1), headers=ingest.auth("other"))
        assert other.status_code == 200


async def test_the_byte_rate_refuses_a_declared_size_up_front(tmp_path: Path) -> None:
    body = manifest(20)
    limits = {"acme-ai": {"bytes_per_minute": len(body) + 10}}
    async for ingest in running(tmp_path, platform_limits=limits):
        ok = await ingest.http.post("/manifests", content=body, headers=ingest.auth("acme"))
        assert ok.status_code == 200, ok.text
        limited = await ingest.http.post("/manifests", content=body, headers=ingest.auth("acme"))
        assert limited.status_code == 429
        assert "bytes_per_minute" in limited.json()["detail"]["message"]
        assert int(limited.headers["retry-after"]) >= 1


async def test_a_typo_in_a_platform_limit_is_an_error_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_items"):
        IngestSettings(data_dir=tmp_path, platform_limits={"acme-ai": {"max_items": 5}}).limits_table()


# -- resumable uploads ------------------------------------------------------------------------


def content_range(start: int, piece: bytes, total: int | str) -> dict[str, str]:
    return {"Content-Range": f"bytes {start}-{start + len(piece) - 1}/{total}"}


async def test_a_session_assembles_the_manifest_and_finishes_like_one_upload(ingest: Ingest) -> None:
    body = manifest(50)
    auth = ingest.auth("acme")
    opened = await ingest.http.post(
        "/uploads", params={"filename": "m.jsonl", "total": len(body)}, headers=auth
    )
    assert opened.status_code == 201, opened.text
    upload = opened.json()["upload_id"]
    assert opened.headers["location"] == f"/uploads/{upload}"
    first, rest = body[:1000], body[1000:]
    put = await ingest.http.put(
        f"/uploads/{upload}", content=first, headers={**auth, **content_range(0, first, len(body))}
    )
    assert put.json()["offset"] == 1000

    # A chunk at the wrong offset (a client that lost track) is refused and told where to go on.
    stale = await ingest.http.put(
        f"/uploads/{upload}", content=first, headers={**auth, **content_range(0, first, len(body))}
    )
    assert stale.status_code == 409
    assert stale.json()["detail"]["offset"] == 1000
    assert stale.headers["upload-offset"] == "1000"
    head = await ingest.http.head(f"/uploads/{upload}", headers=auth)
    assert head.headers["upload-offset"] == "1000"

    # Finishing early is refused: bytes are missing.
    early = await ingest.http.post(f"/uploads/{upload}/finish", headers=auth)
    assert early.status_code == 409
    assert ingest.published == []

    await ingest.http.put(
        f"/uploads/{upload}", content=rest, headers={**auth, **content_range(1000, rest, len(body))}
    )
    finished = await ingest.http.post(f"/uploads/{upload}/finish", headers=auth)
    assert finished.status_code == 200, finished.text
    accepted = finished.json()
    digest = hashlib.sha256(body).hexdigest()
    assert accepted["content_sha256"] == digest
    assert accepted["manifest_id"] == submission_manifest_id(
        "acme-ai", None, digest, Purpose.AI_TRAINING, None
    )
    assert [e.item_id for e in ingest.published] == [f"i{k}" for k in range(50)]
    # The session is gone once finished.
    assert (await ingest.http.get(f"/uploads/{upload}", headers=auth)).status_code == 404

    whole = await ingest.http.post("/manifests", params={"filename": "m.jsonl"}, content=body, headers=auth)
    assert whole.json()["manifest_id"] == accepted["manifest_id"]


async def test_a_session_is_private_to_its_platform(ingest: Ingest) -> None:
    opened = await ingest.http.post("/uploads", headers=ingest.auth("acme"))
    upload = opened.json()["upload_id"]
    piece = manifest(1)
    for method in ("GET", "HEAD", "DELETE"):
        response = await ingest.http.request(method, f"/uploads/{upload}", headers=ingest.auth("other"))
        assert response.status_code == 404, method
    put = await ingest.http.put(
        f"/uploads/{upload}", content=piece, headers={**ingest.auth("other"), **content_range(0, piece, "*")}
    )
    assert put.status_code == 404
    assert (
        await ingest.http.post(f"/uploads/{upload}/finish", headers=ingest.auth("other"))
    ).status_code == 404
    assert (await ingest.http.get(f"/uploads/{upload}", headers=ingest.auth("admin"))).status_code == 200
    assert (await ingest.http.delete(f"/uploads/{upload}", headers=ingest.auth("acme"))).status_code == 204
    assert (await ingest.http.get(f"/uploads/{upload}", headers=ingest.auth("acme"))).status_code == 404


async def test_bad_chunks_are_refused_with_a_reason(ingest: Ingest) -> None:
    auth = ingest.auth("acme")
    upload = (await ingest.http.post("/uploads", params={"total": 10}, headers=auth)).json()["upload_id"]
    missing = await ingest.http.put(f"/uploads/{upload}", content=b"abc", headers=auth)
    assert missing.status_code == 400
    assert "Content-Range" in missing.json()["detail"]["message"]
    longer = await ingest.http.put(
        f"/uploads/{upload}", content=b"abcdef", headers={**auth, "Content-Range": "bytes 0-2/10"}
    )
    assert longer.status_code == 400
    beyond = await ingest.http.put(
        f"/uploads/{upload}", content=b"abc", headers={**auth, "Content-Range": "bytes 0-2/12"}
    )
    assert beyond.status_code == 409


async def test_a_session_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    async for ingest in running(tmp_path, platform_limits={"acme-ai": {"max_manifest_bytes": 100}}):
        auth = ingest.auth("acme")
        declared = await ingest.http.post("/uploads", params={"total": 101}, headers=auth)
        assert declared.status_code == 413
        assert "max_manifest_bytes=100" in declared.json()["detail"]["message"]
        upload = (await ingest.http.post("/uploads", headers=auth)).json()["upload_id"]
        piece = b"x" * 101
        over = await ingest.http.put(
            f"/uploads/{upload}", content=piece, headers={**auth, **content_range(0, piece, "*")}
        )
        assert over.status_code == 413


async def test_an_invalid_assembled_manifest_is_rejected_whole(ingest: Ingest) -> None:
    auth = ingest.auth("acme")
    body = manifest(3) + b'{"id": "bad", "url": "ftp://x.example/bad"}\n'
    upload = (await ingest.http.post("/uploads", headers=auth)).json()["upload_id"]
    await ingest.http.put(
        f"/uploads/{upload}", content=body, headers={**auth, **content_range(0, body, len(body))}
    )
    finished = await ingest.http.post(f"/uploads/{upload}/finish", headers=auth)
    assert finished.status_code == 422
    assert finished.json()["detail"]["errors"][0]["line"] == 4
    assert ingest.published == []


async def test_the_openapi_document_describes_the_upload_session(ingest: Ingest) -> None:
    spec = (await ingest.http.get("/openapi.json")).json()
    assert {"/uploads", "/uploads/{upload_id}", "/uploads/{upload_id}/finish"} <= set(spec["paths"])
    put = spec["paths"]["/uploads/{upload_id}"]["put"]
    assert {"409", "413", "429"} <= set(put["responses"])
    assert "Content-Range" in spec["paths"]["/uploads"]["post"]["description"]


async def test_an_accepted_manifest_can_be_read_back_by_its_platform_only(ingest: Ingest) -> None:
    accepted = (await ingest.http.post("/manifests", content=manifest(3), headers=ingest.auth("acme"))).json()
    path = f"/manifests/{accepted['manifest_id']}"
    mine = await ingest.http.get(path, headers=ingest.auth("acme"))
    assert mine.status_code == 200, mine.text
    assert {k: mine.json()[k] for k in ("manifest_id", "platform", "items", "format", "content_sha256")} == {
        "manifest_id": accepted["manifest_id"],
        "platform": "acme-ai",
        "items": 3,
        "format": "jsonl",
        "content_sha256": accepted["content_sha256"],
    }
    assert (await ingest.http.get(path, headers=ingest.auth("admin"))).status_code == 200
    assert (await ingest.http.get(path, headers=ingest.auth("other"))).status_code == 404
    assert (await ingest.http.get(path)).status_code == 401
    unknown = await ingest.http.get("/manifests/acme-ai:nothing", headers=ingest.auth("acme"))
    assert unknown.status_code == 404


async def test_a_full_spool_disk_answers_507_and_the_session_resumes_after(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = manifest(20)
    auth = ingest.auth("acme")
    opened = await ingest.http.post(
        "/uploads", params={"filename": "m.jsonl", "total": len(body)}, headers=auth
    )
    upload = opened.json()["upload_id"]
    real_append = UploadStore.append

    async def disk_full(*_: object, **__: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(UploadStore, "append", disk_full)
    full = await ingest.http.put(
        f"/uploads/{upload}", content=body, headers={**auth, **content_range(0, body, len(body))}
    )
    assert full.status_code == 507
    assert "spool disk" in full.json()["detail"]["message"]

    monkeypatch.setattr(UploadStore, "append", real_append)
    resumed = await ingest.http.put(
        f"/uploads/{upload}", content=body, headers={**auth, **content_range(0, body, len(body))}
    )
    assert resumed.json()["offset"] == len(body)
    finished = await ingest.http.post(f"/uploads/{upload}/finish", headers=auth)
    assert finished.status_code == 200, finished.text
    assert len(ingest.published) == 20
