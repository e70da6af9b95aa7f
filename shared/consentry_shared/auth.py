"""Who is calling: bearer tokens for platforms, rights holders and administrators.

A token is shown once, when it is issued (``cst_`` + 43 URL-safe characters, 256 random bits);
only its SHA-256 is stored, one JSON object per line in the token file
(``CONSENTRY_TOKENS_FILE``, default ``DATA_DIR/tokens.jsonl``), which every service reads and
re-reads when it changes. On Kubernetes the file is a mounted Secret.

A :class:`Principal` is what a token proves: a role and a name. The name is the platform's name
for ``platform`` (what its manifests carry in ``platform``), the holder's id for ``holder`` (what
its records carry in ``holder``), and a free label for ``admin``.

Authentication is on whenever a token file exists. With no file at all a service answers every
caller as the anonymous administrator, which only suits a developer's laptop; ``consentry up``
always writes a token file, so the embedded default is authenticated too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

__all__ = [
    "ANONYMOUS_ADMIN",
    "Principal",
    "Role",
    "TokenBook",
    "bearer_token",
    "hash_token",
    "issue_token",
    "require",
]

TOKEN_PREFIX = "cst_"  # noqa: S105 - a prefix that makes leaked tokens greppable, not a secret


class Role(StrEnum):
    ADMIN = "admin"
    HOLDER = "holder"
    PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    name: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def sees_manifest(self, manifest_id: str) -> bool:
        """Whether this caller may see a manifest's status and report: an administrator any, a
        platform its own (every manifest id begins with the percent-encoded platform and a colon,
        see ingest's ``manifest_id_for``), nobody else."""
        if self.is_admin:
            return True
        return self.role is Role.PLATFORM and manifest_id.startswith(quote(self.name, safe="") + ":")


ANONYMOUS_ADMIN = Principal(Role.ADMIN, "anonymous")
"""Who calls a service that has no token file (development only)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue_token(path: Path, role: Role, name: str) -> str:
    """Create a token for ``(role, name)``, store its hash in ``path`` and return it (the only
    time it is ever seen). The file is created private to its owner."""
    if not name.strip():
        raise ValueError("a token needs a name (the platform's name or the holder's id)")
    token = new_token()
    line = json.dumps(
        {
            "sha256": hash_token(token),
            "role": role.value,
            "name": name,
            "created_at": datetime.now(UTC).isoformat(),
        },
        separators=(",", ":"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(line + "\n")
    return token


class TokenBook:
    """The token file, read again whenever its size or modification time changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Principal] = {}

    @property
    def path(self) -> Path:
        return self._path

    @property
    def enabled(self) -> bool:
        """Whether authentication is on (the token file exists)."""
        return self._path.exists()

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal ``token`` proves, or ``None`` (no token, unknown or revoked token).

        Without a token file everyone is :data:`ANONYMOUS_ADMIN`.
        """
        if not self._reload():
            return ANONYMOUS_ADMIN
        if not token:
            return None
        return self._by_hash.get(hash_token(token))

    def _reload(self) -> bool:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._by_hash = None, {}
            return False
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._by_hash = _read(self._path)
            self._stamp = stamp
        return True


def _read(path: Path) -> dict[str, Principal]:
    """Every usable line of the token file; a line with ``"revoked": true`` drops its token, and a
    malformed line is skipped (it can grant nothing)."""
    found: dict[str, Principal] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(raw)
            digest, role, name = str(entry["sha256"]), Role(entry["role"]), str(entry["name"])
        except (ValueError, KeyError, TypeError):
            continue
        if entry.get("revoked"):
            found.pop(digest, None)
        else:
            found[digest] = Principal(role, name)
    return found


def bearer_token(request: Request) -> str | None:
    """The token in ``Authorization: Bearer ...``, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require(book: TokenBook, *roles: Role) -> Any:
    """A FastAPI dependency returning the caller's :class:`Principal`: 401 without a valid token,
    403 when its role is not one of ``roles`` (admins always pass).

    Use as ``principal: Annotated[Principal, require(book, Role.PLATFORM)]``.
    """

    def dependency(request: Request) -> Principal:
        principal = book.authenticate(bearer_token(request))
        if principal is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        if roles and not principal.is_admin and principal.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise HTTPException(403, f"this needs a token of role {allowed} (yours: {principal.role.value})")
        return principal

    return Depends(dependency)
