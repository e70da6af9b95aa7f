import json
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from consentry_shared.auth import (
    ANONYMOUS_ADMIN,
    Principal,
    Role,
    TokenBook,
    hash_token,
    issue_token,
    require,
)


def test_issued_token_is_stored_hashed_and_authenticates(tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    token = issue_token(path, Role.HOLDER, "holder-1")
    stored = path.read_text()
    assert token not in stored
    assert hash_token(token) in stored
    assert path.stat().st_mode & 0o077 == 0
    book = TokenBook(path)
    assert book.authenticate(token) == Principal(Role.HOLDER, "holder-1")
    assert book.authenticate(token + "x") is None
    assert book.authenticate(None) is None


def test_without_a_token_file_everyone_is_the_anonymous_admin(tmp_path: Path) -> None:
    book = TokenBook(tmp_path / "absent.jsonl")
    assert not book.enabled
    assert book.authenticate(None) is ANONYMOUS_ADMIN


def test_book_follows_the_file_and_revocation(tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    first = issue_token(path, Role.PLATFORM, "acme")
    book = TokenBook(path)
    assert book.authenticate(first) is not None
    second = issue_token(path, Role.ADMIN, "ops")
    assert book.authenticate(second) == Principal(Role.ADMIN, "ops")
    with path.open("a") as out:
        out.write("not json\n")
        out.write(
            json.dumps({"sha256": hash_token(first), "role": "platform", "name": "acme", "revoked": True})
        )
        out.write("\n")
    assert book.authenticate(first) is None
    assert book.authenticate(second) is not None


def test_issue_token_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="name"):
        issue_token(tmp_path / "t.jsonl", Role.PLATFORM, " ")


def test_require_dependency_answers_401_and_403(tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    platform = issue_token(path, Role.PLATFORM, "acme")
    holder = issue_token(path, Role.HOLDER, "h1")
    admin = issue_token(path, Role.ADMIN, "ops")
    book = TokenBook(path)
    app = FastAPI()

    @app.get("/platform-only")
    def platform_only(principal: Annotated[Principal, require(book, Role.PLATFORM)]) -> dict[str, str]:
        return {"name": principal.name}

    client = TestClient(app)
    assert client.get("/platform-only").status_code == 401
    assert client.get("/platform-only", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/platform-only", headers={"Authorization": f"Bearer {holder}"}).status_code == 403
    ok = client.get("/platform-only", headers={"Authorization": f"Bearer {platform}"})
    assert ok.json() == {"name": "acme"}
    assert client.get("/platform-only", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_a_platform_sees_only_its_own_manifests() -> None:
    acme = Principal(Role.PLATFORM, "acme ai")
    assert acme.sees_manifest("acme%20ai:dataset:abc")
    assert not acme.sees_manifest("acme%20aix:dataset:abc")
    assert not acme.sees_manifest("other:dataset:abc")
    assert Principal(Role.ADMIN, "ops").sees_manifest("other:dataset:abc")
    assert not Principal(Role.HOLDER, "acme ai").sees_manifest("acme%20ai:dataset:abc")
