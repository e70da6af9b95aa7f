"""A typed Python client for the Consentry services (the CLI is built on it), with a sync face,
:class:`ConsentryClient`, and an async one, :class:`AsyncConsentryClient`.

Identity: every call carries a bearer token, the first of the ``token`` argument,
``CONSENTRY_TOKEN``, and ``CONSENTRY_TOKEN`` in the credentials file ``consentry up`` writes
(``$CONSENTRY_DATA_DIR/credentials.env``, default ``.consentry/credentials.env``); see
:func:`resolve_token`.

A manifest to submit is a path, a binary file object, or an iterable of item dicts (with an
optional ``header``, the JSONL header line's fields). Files of ``RESUMABLE_BYTES`` or more go
through an upload session (``POST /uploads``): a dropped connection is resumed from the
offset the server has committed, so the manifest is uploaded once and gets one manifest id.

Errors::

    ConsentryError                 base
    ├── ServiceUnavailable         cannot connect (is `consentry up` running?)
    ├── ServiceFailed              HTTP 5xx, or an upload that kept failing
    └── RejectedInput              HTTP 4xx: ``errors`` lists lines and fields, ``status`` the code
        ├── NotAuthorized          401 / 403: no token, an unknown one, or not yours to see or do
        └── LimitExceeded          413 / 429: over a platform limit; ``retry_after`` for 429
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias
from urllib.parse import quote

import httpx

__all__ = [
    "RESUMABLE_BYTES",
    "AsyncConsentryClient",
    "ConsentryClient",
    "ConsentryError",
    "LimitExceeded",
    "ManifestSource",
    "NotAuthorized",
    "RejectedInput",
    "ServiceFailed",
    "ServiceUnavailable",
    "Urls",
    "credentials_path",
    "resolve_token",
]

_CHUNK = 256 * 1024
RESUMABLE_BYTES = 64 * 1024 * 1024
"""Files at least this large are uploaded in a resumable session."""
_SESSION_CHUNK = 8 * 1024 * 1024
_RESUME_ATTEMPTS = 8

ManifestSource: TypeAlias = Path | str | IO[bytes] | Iterable[Mapping[str, Any]]
"""A path, a binary file object, or item dicts (sent as JSONL, with the ``header`` if given)."""


class ConsentryError(Exception):
    """Base of the client's errors."""


class ServiceUnavailable(ConsentryError):
    """A service could not be reached (is ``consentry up`` running?)."""


class ServiceFailed(ConsentryError):
    """A service answered with a server error."""


class RejectedInput(ConsentryError):
    """The service refused the input; ``errors`` lists what is wrong, by line and field."""

    def __init__(
        self, message: str, errors: list[dict[str, Any]], status: int, detail: Any | None = None
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.status = status
        self.detail = detail


class NotAuthorized(RejectedInput):
    """401 or 403: no token, an unknown token, or one that may not do or see this."""


class LimitExceeded(RejectedInput):
    """413 or 429: over one of the platform's limits (the message names it)."""

    def __init__(
        self,
        message: str,
        errors: list[dict[str, Any]],
        status: int,
        detail: Any | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, errors, status, detail)
        self.retry_after = retry_after


def credentials_path() -> Path:
    """Where ``consentry up`` wrote the credentials: ``$CONSENTRY_DATA_DIR/credentials.env``, or
    ``.consentry/credentials.env`` (its default data directory) in the current directory."""
    return Path(os.environ.get("CONSENTRY_DATA_DIR") or ".consentry") / "credentials.env"


def resolve_token(token: str | None = None) -> str | None:
    """The bearer token to use: ``token``, else ``CONSENTRY_TOKEN``, else the credentials file's
    ``CONSENTRY_TOKEN``; ``None`` when there is none (fine against services without a token file)."""
    if token:
        return token
    if env := os.environ.get("CONSENTRY_TOKEN"):
        return env
    try:
        text = credentials_path().read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() == "CONSENTRY_TOKEN" and value.strip():
            return value.strip().strip("'\"")
    return None


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

    def __init__(
        self,
        urls: Urls | None = None,
        *,
        timeout: float = 600.0,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        upload_chunk_bytes: int = _SESSION_CHUNK,
    ) -> None:
        """``upload_chunk_bytes``: the size of each request of a resumable upload (what a dropped
        connection can cost at most)."""
        self.urls = urls or Urls()
        self.token = resolve_token(token)
        self.upload_chunk_bytes = upload_chunk_bytes
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=5.0), headers=_auth(self.token), transport=transport
        )

    def __enter__(self) -> ConsentryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- rights --------------------------------------------------------------------------------

    def import_registry(self, path: Path, *, csv: bool | None = None) -> dict[str, Any]:
        """Bulk-load registry records from a JSONL or CSV file into the rights service (CSV when
        ``csv`` is true, or by default when the file name ends in ``.csv``)."""
        as_csv = path.suffix.lower() == ".csv" if csv is None else csv
        return self._send(
            "POST",
            f"{self.urls.rights}/registry/import",
            params={"format": "csv" if as_csv else "jsonl"},
            content=_read_chunks(path),
        )

    def import_signals(
        self, path: Path, *, origin: str, kind: str, holder: str | None = None
    ) -> dict[str, Any]:
        """Import an origin's ``robots.txt``, ``ai.txt`` or ``tdmrep.json`` (``kind``) as
        reservations; the file is kept as evidence. ``holder`` is for admins, when the origin is
        not registered to one."""
        params = {"origin": origin, "kind": kind} | ({"holder": holder} if holder else {})
        return self._send(
            "POST", f"{self.urls.rights}/registry/signals", params=params, content=path.read_bytes()
        )

    def register_origin(self, origin: str, holder: str) -> dict[str, Any]:
        """Register ``origin`` to ``holder`` (an admin token), who may then import its signal files."""
        return self._send(
            "POST", f"{self.urls.rights}/registry/origins", json={"origin": origin, "holder": holder}
        )

    def registry_lines(
        self,
        *,
        kind: str | None = None,
        holder: str | None = None,
        as_of_version: int | None = None,
        as_of: str | None = None,
        valid_at: str | None = None,
    ) -> tuple[int, Iterator[str]]:
        """The registry as JSONL lines (each one record, as an import line) and the version they
        make up: now, or as of a registry version or a recorded time (RFC 3339)."""
        wanted = {
            "kind": kind,
            "holder": holder,
            "as_of_version": as_of_version,
            "as_of": as_of,
            "valid_at": valid_at,
        }
        url = f"{self.urls.rights}/registry/records"
        try:
            response = self._http.get(url, params={k: v for k, v in wanted.items() if v is not None})
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach {url}: {error} (is `consentry up` running?)") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"GET {url}: {error}") from None
        _raise_for(response, "GET", url)
        version = int(response.headers.get("x-registry-version", "0"))
        return version, (line for line in response.text.splitlines() if line)

    def record_history(self, kind: str, record_id: str) -> dict[str, Any]:
        """One registry record with every version it has had."""
        return self._send("GET", f"{self.urls.rights}/registry/records/{kind}/{quote(record_id, safe='')}")

    # -- ingest --------------------------------------------------------------------------------

    def submit(
        self,
        source: ManifestSource,
        *,
        platform: str | None = None,
        purpose: str | None = None,
        format: str | None = None,
        territory: str | None = None,
        columns: dict[str, str] | None = None,
        header: Mapping[str, Any] | None = None,
        filename: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
        resumable: bool | None = None,
    ) -> dict[str, Any]:
        """Upload a manifest to ingest; returns what ingest accepted (``manifest_id``, ``items``,
        ``platform``, ``purpose``...). ``resumable`` forces (or forbids) an upload session;
        by default files of :data:`RESUMABLE_BYTES` or more use one."""
        upload = _Upload.of(source, header=header, filename=filename, resumable=resumable)
        params = _submit_params(platform, purpose, format, territory, columns, upload.filename)
        if not upload.resumable:
            return self._send(
                "POST", f"{self.urls.ingest}/manifests", params=params, content=upload.chunks(on_bytes)
            )
        return self._submit_resumable(upload, params, on_bytes)

    def _submit_resumable(
        self, upload: _Upload, params: dict[str, str], on_bytes: Callable[[int], None] | None
    ) -> dict[str, Any]:
        base = f"{self.urls.ingest}/uploads"
        session = self._send("POST", base, params={**params, "total": str(upload.size)})
        url = f"{base}/{session['upload_id']}"
        offset, failures = 0, 0
        while offset < upload.size:
            piece = upload.read_at(offset, self.upload_chunk_bytes)
            try:
                state = self._send(
                    "PUT", url, content=piece, headers=_content_range(offset, piece, upload.size)
                )
                offset, failures = int(state["offset"]), 0
                if on_bytes:
                    on_bytes(len(piece))
            except (ServiceFailed, ServiceUnavailable) as error:
                failures += 1
                if failures > _RESUME_ATTEMPTS:
                    raise ServiceFailed(f"upload kept failing at byte {offset}: {error}") from None
                time.sleep(min(0.2 * 2**failures, 5.0))
                offset = self._committed(url, offset)
            except RejectedInput as error:
                if error.status != 409:
                    raise
                offset = int(error.detail.get("offset", offset)) if isinstance(error.detail, dict) else offset
        return self._send("POST", f"{url}/finish")

    def _committed(self, url: str, fallback: int) -> int:
        try:
            return int(self._send("GET", url)["offset"])
        except (ServiceFailed, ServiceUnavailable):
            return fallback

    # -- ledger --------------------------------------------------------------------------------

    def status(self, manifest_id: str) -> dict[str, Any]:
        """How far a manifest is, from all three services: ``received`` (items ingest accepted;
        ``None`` if ingest has no record of it), ``decided`` and ``verdicts`` (items the rights
        service has decided, by current verdict), ``ledgered`` (entries in the ledger)."""
        received = self.received(manifest_id)
        decisions = self._send("GET", f"{self.urls.rights}/manifests/{_path(manifest_id)}/decisions")
        return _status(manifest_id, received, decisions, self.ledgered(manifest_id))

    def received(self, manifest_id: str) -> int | None:
        """Items ingest accepted for the manifest; ``None`` if ingest has no record of it (an
        unknown id, or one only ever produced straight to Kafka)."""
        try:
            return int(self._send("GET", f"{self.urls.ingest}/manifests/{_path(manifest_id)}")["items"])
        except RejectedInput as error:
            if error.status != 404:
                raise
            return None

    def ledgered(self, manifest_id: str) -> int:
        """Entries of the manifest in the ledger so far (what :meth:`wait` polls)."""
        return int(self._send("GET", f"{self.urls.ledger}/manifests/{_path(manifest_id)}/status")["ledgered"])

    def report(self, manifest_id: str) -> dict[str, Any]:
        return self._send("GET", f"{self.urls.ledger}/manifests/{_path(manifest_id)}/report")

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
        _raise_for(response, method, url)
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


class AsyncConsentryClient:
    """The asynchronous face: the manifest operations (submit, status, wait, report) on
    ``httpx.AsyncClient``, with the same arguments, results and errors as :class:`ConsentryClient`.
    Use as ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        urls: Urls | None = None,
        *,
        timeout: float = 600.0,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        upload_chunk_bytes: int = _SESSION_CHUNK,
    ) -> None:
        """``upload_chunk_bytes``: the size of each request of a resumable upload (what a dropped
        connection can cost at most)."""
        self.urls = urls or Urls()
        self.token = resolve_token(token)
        self.upload_chunk_bytes = upload_chunk_bytes
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=5.0), headers=_auth(self.token), transport=transport
        )

    async def __aenter__(self) -> AsyncConsentryClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        source: ManifestSource,
        *,
        platform: str | None = None,
        purpose: str | None = None,
        format: str | None = None,
        territory: str | None = None,
        columns: dict[str, str] | None = None,
        header: Mapping[str, Any] | None = None,
        filename: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
        resumable: bool | None = None,
    ) -> dict[str, Any]:
        """See :meth:`ConsentryClient.submit`."""
        upload = _Upload.of(source, header=header, filename=filename, resumable=resumable)
        params = _submit_params(platform, purpose, format, territory, columns, upload.filename)
        if not upload.resumable:
            return await self._send(
                "POST", f"{self.urls.ingest}/manifests", params=params, content=upload.achunks(on_bytes)
            )
        base = f"{self.urls.ingest}/uploads"
        session = await self._send("POST", base, params={**params, "total": str(upload.size)})
        url = f"{base}/{session['upload_id']}"
        offset, failures = 0, 0
        while offset < upload.size:
            piece = await asyncio.to_thread(upload.read_at, offset, self.upload_chunk_bytes)
            try:
                state = await self._send(
                    "PUT", url, content=piece, headers=_content_range(offset, piece, upload.size)
                )
                offset, failures = int(state["offset"]), 0
                if on_bytes:
                    on_bytes(len(piece))
            except (ServiceFailed, ServiceUnavailable) as error:
                failures += 1
                if failures > _RESUME_ATTEMPTS:
                    raise ServiceFailed(f"upload kept failing at byte {offset}: {error}") from None
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                with contextlib.suppress(ServiceFailed, ServiceUnavailable):
                    offset = int((await self._send("GET", url))["offset"])
            except RejectedInput as error:
                if error.status != 409:
                    raise
                offset = int(error.detail.get("offset", offset)) if isinstance(error.detail, dict) else offset
        return await self._send("POST", f"{url}/finish")

    async def status(self, manifest_id: str) -> dict[str, Any]:
        """See :meth:`ConsentryClient.status`."""
        received = await self.received(manifest_id)
        decisions = await self._send("GET", f"{self.urls.rights}/manifests/{_path(manifest_id)}/decisions")
        return _status(manifest_id, received, decisions, await self.ledgered(manifest_id))

    async def received(self, manifest_id: str) -> int | None:
        """See :meth:`ConsentryClient.received`."""
        try:
            found = await self._send("GET", f"{self.urls.ingest}/manifests/{_path(manifest_id)}")
        except RejectedInput as error:
            if error.status != 404:
                raise
            return None
        return int(found["items"])

    async def ledgered(self, manifest_id: str) -> int:
        """See :meth:`ConsentryClient.ledgered`."""
        url = f"{self.urls.ledger}/manifests/{_path(manifest_id)}/status"
        return int((await self._send("GET", url))["ledgered"])

    async def report(self, manifest_id: str) -> dict[str, Any]:
        return await self._send("GET", f"{self.urls.ledger}/manifests/{_path(manifest_id)}/report")

    async def wait(
        self,
        manifest_id: str,
        items: int,
        *,
        timeout: float = 3600.0,  # noqa: ASYNC109 - the same signature as the sync face's
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Poll until ``items`` entries of the manifest are in the ledger; returns the count."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            done = await self.ledgered(manifest_id)
            if on_progress:
                on_progress(done)
            if done >= items:
                return done
            if time.monotonic() > deadline:
                raise ConsentryError(f"timed out: {done} of {items} items ledgered")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    async def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach {url}: {error} (is `consentry up` running?)") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"{method} {url}: {error or type(error).__name__}") from None
        _raise_for(response, method, url)
        result = response.json()
        if not isinstance(result, dict):
            raise ServiceFailed(f"{method} {url}: expected a JSON object")
        return result


# -- shared by both faces ------------------------------------------------------------------------


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _path(manifest_id: str) -> str:
    """A manifest id as one path segment (ids hold ``%``-encoded platforms; keep them intact)."""
    from urllib.parse import quote

    return quote(manifest_id, safe=":@")


def _submit_params(
    platform: str | None,
    purpose: str | None,
    format: str | None,
    territory: str | None,
    columns: dict[str, str] | None,
    filename: str | None,
) -> dict[str, str]:
    params = {
        "platform": platform,
        "purpose": purpose,
        "format": format,
        "filename": filename,
        "territory": territory,
        "columns": json.dumps(columns) if columns else None,
    }
    return {k: v for k, v in params.items() if v}


def _content_range(offset: int, piece: bytes, total: int) -> dict[str, str]:
    return {"Content-Range": f"bytes {offset}-{offset + len(piece) - 1}/{total}"}


def _raise_for(response: httpx.Response, method: str, url: str) -> None:
    """Turn an error response into the client's exceptions (see the module docstring)."""
    status = response.status_code
    if status < 400:
        return
    if status >= 500:
        raise ServiceFailed(f"{method} {url}: HTTP {status}: {response.text[:500]}")
    detail: Any = None
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = response.text
    if isinstance(detail, dict):
        message, errors = str(detail.get("message", "rejected")), list(detail.get("errors", []))
    else:
        message, errors = str(detail), []
    if status in (401, 403):
        hint = "" if status == 403 else " (pass --token, set CONSENTRY_TOKEN, or run `consentry up` here)"
        raise NotAuthorized(f"{message}{hint}", errors, status, detail)
    if status in (413, 429):
        retry = response.headers.get("retry-after")
        retry_after = float(retry) if retry and retry.isdigit() else None
        raise LimitExceeded(message, errors, status, detail, retry_after)
    raise RejectedInput(message, errors, status, detail)


@dataclass
class _Upload:
    """One manifest to send, whatever it came as."""

    filename: str | None
    size: int
    resumable: bool
    path: Path | None = None
    stream: IO[bytes] | None = None
    items: Iterable[Mapping[str, Any]] | None = None
    header: Mapping[str, Any] | None = None
    origin: int = 0
    """Where a stream's manifest starts (its position when it was handed over)."""

    @classmethod
    def of(
        cls,
        source: ManifestSource,
        *,
        header: Mapping[str, Any] | None,
        filename: str | None,
        resumable: bool | None,
    ) -> _Upload:
        if isinstance(source, (str, Path)):
            path = Path(source)
            size = path.stat().st_size
            use_session = size >= RESUMABLE_BYTES if resumable is None else resumable
            return cls(filename or path.name, size, use_session and size > 0, path=path)
        if isinstance(source, (io.IOBase, io.BufferedIOBase)) or hasattr(source, "read"):
            stream: IO[bytes] = source  # type: ignore[assignment]
            size, here = -1, 0
            if resumable and stream.seekable():
                here = stream.tell()
                size = stream.seek(0, io.SEEK_END) - here
                stream.seek(here)
            name = filename or Path(str(getattr(stream, "name", "") or "")).name or None
            return cls(name, size, bool(resumable) and size > 0, stream=stream, origin=here)
        if resumable:
            raise ConsentryError("items from an iterator cannot be resumed: write them to a file first")
        return cls(filename or "items.jsonl", -1, False, items=source, header=header)

    def chunks(self, on_bytes: Callable[[int], None] | None = None) -> Iterator[bytes]:
        for chunk in self._pieces():
            if on_bytes:
                on_bytes(len(chunk))
            yield chunk

    async def achunks(self, on_bytes: Callable[[int], None] | None = None) -> AsyncIterator[bytes]:
        pieces = self._pieces()
        while (chunk := await asyncio.to_thread(next, pieces, b"")) != b"":
            if on_bytes:
                on_bytes(len(chunk))
            yield chunk

    def read_at(self, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (of a file, or of a seekable stream from where it was)."""
        if self.path is not None:
            with self.path.open("rb") as source:
                source.seek(offset)
                return source.read(size)
        assert self.stream is not None
        self.stream.seek(self.origin + offset)
        return self.stream.read(size)

    def _pieces(self) -> Iterator[bytes]:
        if self.path is not None:
            yield from _read_chunks(self.path)
        elif self.stream is not None:
            while chunk := self.stream.read(_CHUNK):
                yield chunk
        else:
            yield from _jsonl(self.items or (), self.header)


def _status(
    manifest_id: str, received: int | None, decisions: Mapping[str, Any], ledgered: int
) -> dict[str, Any]:
    return {
        "manifest_id": manifest_id,
        "received": received,
        "decided": int(decisions["decided"]),
        "verdicts": dict(decisions["verdicts"]),
        "ledgered": ledgered,
    }


def _jsonl(items: Iterable[Mapping[str, Any]], header: Mapping[str, Any] | None) -> Iterator[bytes]:
    """Item dicts as JSONL, in pieces of about ``_CHUNK`` bytes (the header line first)."""
    buffer: list[str] = []
    size = 0
    if header:
        buffer.append(json.dumps({"manifest": dict(header)}, separators=(",", ":")) + "\n")
    for item in items:
        line = json.dumps(dict(item), separators=(",", ":"), ensure_ascii=False) + "\n"
        buffer.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")
