"""A typed Python client for the Consentry services (the CLI is built on it).

Errors: :class:`ConsentryError` is the base; :class:`ServiceUnavailable` (cannot connect),
:class:`RejectedInput` (HTTP 4xx with the server's per-line errors) and :class:`ServiceFailed`
(HTTP 5xx) derive from it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ConsentryClient",
    "ConsentryError",
    "RejectedInput",
    "ServiceFailed",
    "ServiceUnavailable",
    "Urls",
]

_CHUNK = 256 * 1024


class ConsentryError(Exception):
    """Base of the client's errors."""


class ServiceUnavailable(ConsentryError):
    """A service could not be reached (is ``consentry up`` running?)."""


class ServiceFailed(ConsentryError):
    """A service answered with a server error."""


class RejectedInput(ConsentryError):
    """The service refused the input; ``errors`` lists what is wrong, by line and field."""

    def __init__(self, message: str, errors: list[dict[str, Any]], status: int) -> None:
        super().__init__(message)
        self.errors = errors
        self.status = status


@dataclass(frozen=True)
class Urls:
    """Where the three services answer. Defaults follow ``consentry up``; env vars override."""

    ingest: str = field(
        default_factory=lambda: os.environ.get("CONSENTRY_INGEST_URL", "http://127.0.0.1:8701")
    )
    rights: str = field(
        default_factory=lambda: os.environ.get("CONSENTRY_RIGHTS_URL", "http://127.0.0.1:8702")
    )
    ledger: str = field(
        default_factory=lambda: os.environ.get("CONSENTRY_LEDGER_URL", "http://127.0.0.1:8703")
    )


class ConsentryClient:
    """Synchronous client. Use as a context manager or call :meth:`close`."""

    def __init__(self, urls: Urls | None = None, *, timeout: float = 600.0) -> None:
        self.urls = urls or Urls()
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))

    def __enter__(self) -> ConsentryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- rights --------------------------------------------------------------------------------

    def import_registry(self, path: Path) -> dict[str, Any]:
        """Bulk-load registry records from a JSONL file into the rights service."""
        return self._send("POST", f"{self.urls.rights}/registry/import", content=_read_chunks(path))

    # -- ingest --------------------------------------------------------------------------------

    def submit(
        self,
        path: Path,
        *,
        platform: str | None = None,
        purpose: str | None = None,
        format: str | None = None,
        territory: str | None = None,
        columns: dict[str, str] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Stream a manifest file to ingest; returns the manifest id and item count."""
        params = {
            k: v
            for k, v in {
                "platform": platform,
                "purpose": purpose,
                "format": format,
                "filename": path.name,
                "territory": territory,
                "columns": json.dumps(columns) if columns else None,
            }.items()
            if v
        }
        return self._send(
            "POST",
            f"{self.urls.ingest}/manifests",
            params=params,
            content=_read_chunks(path, on_bytes),
        )

    # -- ledger --------------------------------------------------------------------------------

    def ledgered(self, manifest_id: str) -> int:
        return int(self._send("GET", f"{self.urls.ledger}/manifests/{manifest_id}/status")["ledgered"])

    def report(self, manifest_id: str) -> dict[str, Any]:
        return self._send("GET", f"{self.urls.ledger}/manifests/{manifest_id}/report")

    def wait(
        self,
        manifest_id: str,
        items: int,
        *,
        timeout: float = 3600.0,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Poll until ``items`` entries of the manifest are in the ledger; returns the count."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            done = self.ledgered(manifest_id)
            if on_progress:
                on_progress(done)
            if done >= items:
                return done
            if time.monotonic() > deadline:
                raise ConsentryError(f"timed out: {done} of {items} items ledgered")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def checkpoint(self) -> str | None:
        """The latest signed checkpoint, or ``None`` while the log is empty."""
        try:
            return self._text("GET", f"{self.urls.ledger}/checkpoint")
        except RejectedInput as error:
            if error.status == 404:
                return None
            raise

    def vkey(self) -> str:
        return self._text("GET", f"{self.urls.ledger}/vkey").strip()

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of log entries ``[start, end)``."""
        out: list[bytes] = []
        while start < end:
            stop = min(end, start + 10_000)
            body = self._raw("GET", f"{self.urls.ledger}/entries", params={"start": start, "end": stop})
            chunk = body.split(b"\n")[:-1] if body else []
            if not chunk:
                raise ServiceFailed(f"ledger returned no entries for [{start}, {stop})")
            out.extend(chunk)
            start += len(chunk)
        return out

    def service_status(self, url: str) -> dict[str, Any]:
        """``/health`` and ``/ready`` of one service: {live, ready, details}; never raises."""
        details: dict[str, Any] = {}
        try:
            health = self._http.get(f"{url}/health", timeout=3.0)
            live = health.status_code == 200
            if live:
                details.update({k: v for k, v in health.json().items() if k not in ("status", "service")})
            readiness = self._http.get(f"{url}/ready", timeout=5.0)
            ready = readiness.status_code == 200
            if not ready and readiness.status_code == 503:
                details.update({k: v for k, v in readiness.json().get("checks", {}).items() if v != "ok"})
        except httpx.HTTPError as error:
            return {"live": False, "ready": False, "details": {"error": str(error) or type(error).__name__}}
        return {"live": live, "ready": ready, "details": details}

    def health(self, url: str) -> bool:
        try:
            return self._http.get(f"{url}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    # -- plumbing ------------------------------------------------------------------------------

    def _raw(self, method: str, url: str, **kwargs: Any) -> bytes:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach {url}: {error} (is `consentry up` running?)") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"{method} {url}: {error}") from None
        if response.status_code >= 500:
            raise ServiceFailed(f"{method} {url}: HTTP {response.status_code}: {response.text[:500]}")
        if response.status_code >= 400:
            detail: Any = None
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            if isinstance(detail, dict):
                raise RejectedInput(
                    str(detail.get("message", "rejected")),
                    list(detail.get("errors", [])),
                    response.status_code,
                )
            raise RejectedInput(str(detail), [], response.status_code)
        return response.content

    def _text(self, method: str, url: str, **kwargs: Any) -> str:
        return self._raw(method, url, **kwargs).decode("utf-8")

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        result = json.loads(self._raw(method, url, **kwargs))
        if not isinstance(result, dict):
            raise ServiceFailed(f"{method} {url}: expected a JSON object")
        return result


def _read_chunks(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            if on_bytes:
                on_bytes(len(chunk))
            yield chunk
