"""Where the SDK and CLI find their bearer token: the argument, CONSENTRY_TOKEN, then the
credentials file `consentry up` wrote ($CONSENTRY_DATA_DIR, else ./.consentry)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from consentry.client import ConsentryClient, NotAuthorized, Urls, credentials_path, resolve_token


@pytest.fixture(autouse=True)
def no_ambient_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CONSENTRY_TOKEN", raising=False)
    monkeypatch.delenv("CONSENTRY_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def write_credentials(directory: Path, token: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "credentials.env").write_text(
        f"# comment\nCONSENTRY_ADMIN_TOKEN=other\nCONSENTRY_TOKEN={token}\n"
    )


def test_the_argument_wins_then_the_environment_then_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert resolve_token() is None
    write_credentials(tmp_path / ".consentry", "cst_from_default_dir")
    assert credentials_path() == Path(".consentry/credentials.env")
    assert resolve_token() == "cst_from_default_dir"
    write_credentials(tmp_path / "elsewhere", "cst_from_data_dir")
    monkeypatch.setenv("CONSENTRY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert resolve_token() == "cst_from_data_dir"
    monkeypatch.setenv("CONSENTRY_TOKEN", "cst_from_env")
    assert resolve_token() == "cst_from_env"
    assert resolve_token("cst_given") == "cst_given"
    monkeypatch.setenv("CONSENTRY_TOKEN", "")  # empty is unset: the file again
    assert resolve_token() == "cst_from_data_dir"


def test_the_client_sends_it_and_names_the_remedy_on_401() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(401, json={"detail": "a valid bearer token is required"})

    urls = Urls("http://ingest", "http://rights", "http://ledger")
    client = ConsentryClient(urls, token="cst_abc", transport=httpx.MockTransport(handler))
    with client, pytest.raises(NotAuthorized, match="CONSENTRY_TOKEN") as refused:
        client.status("acme-ai:sha256:" + "0" * 64)
    assert seen == ["Bearer cst_abc"]
    assert refused.value.status == 401
