"""Upload sessions on disk: ``<id>.json`` (who opened it and what for) beside ``<id>.part``
(the bytes received so far). The committed offset is the part file's size: bytes are written as
they arrive, so what a dropped connection delivered is kept and the client continues after it.
One ingest process owns a data directory's sessions (a lock per session serialises its chunks).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BodyTooLong", "UploadSession", "UploadStore"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


class BodyTooLong(Exception):
    """The chunk's body is longer than its Content-Range said; the excess was not written."""


@dataclass
class UploadSession:
    id: str
    owner: str | None
    """The platform whose token opened it (``None``: an administrator)."""
    submission: dict[str, Any]
    total: int | None = None
    created_at: float = 0.0
    offset: int = field(default=0, compare=False)


class UploadStore:
    def __init__(self, root: Path, *, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._root = root
        self._ttl = ttl_s
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def create(self, owner: str | None, submission: dict[str, Any], total: int | None) -> UploadSession:
        self._root.mkdir(parents=True, exist_ok=True)
        self.sweep()
        session = UploadSession(secrets.token_urlsafe(18), owner, submission, total, self._clock())
        self.part(session.id).touch()
        self._save(session)
        return session

    def get(self, upload_id: str) -> UploadSession | None:
        if not upload_id or not set(upload_id) <= _ID_CHARS:
            return None  # never a path outside the root
        try:
            raw = json.loads(self._meta(upload_id).read_text(encoding="utf-8"))
            offset = self.part(upload_id).stat().st_size
        except (OSError, ValueError):
            return None
        return UploadSession(**raw, offset=offset)

    def set_total(self, session: UploadSession, total: int) -> None:
        if session.total != total:
            session.total = total
            self._save(session)

    def lock(self, upload_id: str) -> asyncio.Lock:
        return self._locks.setdefault(upload_id, asyncio.Lock())

    async def append(
        self,
        upload_id: str,
        body: AsyncIterator[bytes],
        limit: int,
        on_chunk: Callable[[int], None],
    ) -> int:
        """Append ``body`` (at most ``limit`` bytes) to the part file, flushing each piece as it
        arrives; ``on_chunk`` sees each piece's size first and may raise to stop. Returns the
        bytes written. Call with :meth:`lock` held and the offset checked."""
        written = 0
        with self.part(upload_id).open("ab") as out:
            async for piece in body:
                if not piece:
                    continue
                if written + len(piece) > limit:
                    out.write(piece[: limit - written])
                    raise BodyTooLong(f"the body is longer than the Content-Range's {limit} bytes")
                on_chunk(len(piece))
                out.write(piece)
                out.flush()
                written += len(piece)
        return written

    def part(self, upload_id: str) -> Path:
        return self._root / f"{upload_id}.part"

    def remove(self, upload_id: str) -> None:
        self.part(upload_id).unlink(missing_ok=True)
        self._meta(upload_id).unlink(missing_ok=True)
        self._locks.pop(upload_id, None)

    def sweep(self) -> None:
        """Remove sessions untouched for longer than the TTL (abandoned uploads)."""
        cutoff = self._clock() - self._ttl
        for meta in self._root.glob("*.json"):
            upload_id = meta.stem
            try:
                touched = max(meta.stat().st_mtime, self.part(upload_id).stat().st_mtime)
            except OSError:
                touched = 0.0
            if touched < cutoff and not self.lock(upload_id).locked():
                self.remove(upload_id)

    def _meta(self, upload_id: str) -> Path:
        return self._root / f"{upload_id}.json"

    def _save(self, session: UploadSession) -> None:
        data = asdict(session)
        data.pop("offset")
        tmp = self._meta(session.id).with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self._meta(session.id))
