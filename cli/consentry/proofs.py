"""Proofs from a live ledger, checked before they are shown: ``consentry ledger proof ...``, and
the tile mirror behind ``consentry ledger verify --url``.

Nothing the log serves is taken on trust: a checkpoint must carry a valid signature by the log's
verifier key, an entry is re-hashed, and every RFC 9162 proof is verified against the signed
root. Pass the key with ``--vkey`` to check the log independently; without it the key is read
from the log itself (which proves consistency, not identity) and the output says so.

Errors: :class:`ProofFailed` (the log served something that does not verify: exit 1) and
:class:`ProofUsageError` (bad arguments or key: exit 2). HTTP failures are the client's
:class:`~consentry.client.ConsentryError` family (``RejectedInput`` for a 4xx, exit 2;
``ServiceUnavailable``/``ServiceFailed``, exit 4).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from consentry_shared.tlog import (
    EMPTY_ROOT,
    TILE_HEIGHT,
    TILE_WIDTH,
    Checkpoint,
    NoteError,
    ProofError,
    Verifier,
    entries_path,
    leaf_hash,
    open_checkpoint,
    tile_path,
    verify_consistency,
    verify_inclusion,
)

from consentry.client import RejectedInput, ServiceFailed, ServiceUnavailable

__all__ = [
    "LedgerHttp",
    "Observation",
    "ProofFailed",
    "ProofUsageError",
    "TrustedKey",
    "checked_consistency",
    "checked_inclusion",
    "mirror_tiles",
    "observe",
    "resolve_key",
]


class ProofFailed(Exception):
    """The log served a checkpoint, entry or proof that does not verify."""


class ProofUsageError(Exception):
    """The arguments or the key cannot be used."""


class LedgerHttp:
    """A small synchronous HTTP reader of one ledger; use as a context manager."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))

    def __enter__(self) -> LedgerHttp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET ``path``; the body on 2xx, else the client's error for the status."""
        url = f"{self.url}{path}"
        try:
            response = self._http.get(url, params={k: v for k, v in (params or {}).items() if v is not None})
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach the ledger at {self.url}: {error}") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"GET {url}: {error}") from None
        if response.status_code >= 500:
            raise ServiceFailed(f"GET {url}: HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise RejectedInput(f"GET {path}: {detail}", [], response.status_code)
        return response.content

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.loads(self.get(path, params))
        if not isinstance(body, dict):
            raise ServiceFailed(f"GET {path}: expected a JSON object")
        return body


@dataclass(frozen=True)
class TrustedKey:
    """The verifier key proofs are checked with, and whether it came from outside the log."""

    vkey: str
    independent: bool

    @property
    def verifier(self) -> Verifier:
        return Verifier.from_vkey(self.vkey)


def resolve_key(option: str | None, http: LedgerHttp | None) -> TrustedKey:
    """``--vkey`` (a key or a file holding one), else the key the log serves at ``/vkey``."""
    if option is None:
        if http is None:
            raise ProofUsageError("no --vkey given")
        return TrustedKey(http.get("/vkey").decode("utf-8").strip(), independent=False)
    text = option
    path = Path(option)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    try:
        Verifier.from_vkey(text.strip())
    except ValueError as error:
        raise ProofUsageError(f"--vkey is not a verifier key: {error}") from None
    return TrustedKey(text.strip(), independent=True)


def _signed(note: str, key: TrustedKey, what: str) -> Checkpoint:
    try:
        checkpoint, _ = open_checkpoint(note, [key.verifier])
    except NoteError as error:
        raise ProofFailed(f"{what} is not a checkpoint signed by the log's key: {error}") from None
    return checkpoint


def _hashes(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v, validate=True) for v in values]


def checked_inclusion(
    http: LedgerHttp,
    key: TrustedKey,
    *,
    index: int | None = None,
    size: int | None = None,
    event_id: str | None = None,
    manifest_id: str | None = None,
    item_id: str | None = None,
) -> dict[str, Any]:
    """Fetch and verify an inclusion proof; returns the log's answer plus ``entry`` and ``verified``.

    The entry itself is fetched and re-hashed, so a verified proof says: *this* entry, with this
    content, is leaf ``index`` of the signed tree.

    Raises:
        ProofFailed: the checkpoint, the entry or the proof does not verify.
    """
    body = http.get_json(
        "/proof/inclusion",
        {"index": index, "size": size, "event_id": event_id, "manifest_id": manifest_id, "item_id": item_id},
    )
    checkpoint = _signed(body["checkpoint"], key, "the proof's checkpoint")
    found = int(body["index"])
    if checkpoint.size != body["tree_size"]:
        raise ProofFailed(f"proof is for size {body['tree_size']} but its checkpoint has {checkpoint.size}")
    leaves = http.get("/entries", {"start": found, "end": found + 1}).split(b"\n")
    leaf = leaves[0]
    if leaf_hash(leaf) != base64.b64decode(body["leaf_hash"]):
        raise ProofFailed(f"entry {found} as served does not hash to the proof's leaf hash")
    try:
        verify_inclusion(
            leaf_hash(leaf), found, checkpoint.size, _hashes(body["hashes"]), checkpoint.root_hash
        )
    except (ProofError, ValueError) as error:
        raise ProofFailed(f"inclusion proof of entry {found} does not verify: {error}") from None
    body["entry"] = json.loads(leaf)
    body["verified"] = True
    body["vkey_independent"] = key.independent
    return body


def checked_consistency(
    http: LedgerHttp,
    key: TrustedKey,
    *,
    old_size: int | None,
    new_size: int | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    """Fetch and verify a consistency proof from ``old_size`` (or the size of the saved ``since``
    checkpoint) to ``new_size`` (default: the latest checkpoint).

    The old root is the saved checkpoint's when ``since`` is given, else the log's signed
    checkpoint of ``old_size``; a proof from a size the log never signed cannot be verified.

    Raises:
        ProofFailed: a checkpoint or the proof does not verify (a split view or a rollback).
        ProofUsageError: neither ``old_size`` nor ``since``, they disagree, or the log never signed
            ``old_size`` and no ``since`` was given.
    """
    saved = _signed(since, key, "the saved checkpoint") if since is not None else None
    if saved is not None:
        if old_size is not None and old_size != saved.size:
            raise ProofUsageError(f"--from {old_size} but the saved checkpoint has size {saved.size}")
        old_size = saved.size
    if old_size is None:
        raise ProofUsageError("give --from SIZE or --since SAVED_CHECKPOINT")
    try:
        body = http.get_json("/proof/consistency", {"from": old_size, "to": new_size})
    except RejectedInput as error:
        if saved is not None and error.status == 400:
            raise ProofFailed(f"the log is smaller than the saved checkpoint: {error}") from None
        raise
    new = _signed(body["checkpoint"], key, "the proof's checkpoint")
    if new.size != body["to"]:
        raise ProofFailed(f"proof is to size {body['to']} but its checkpoint has {new.size}")
    if saved is not None:
        old_root = saved.root_hash
        if saved.origin != new.origin:
            raise ProofFailed(f"the saved checkpoint is for log {saved.origin!r}, this one is {new.origin!r}")
    elif old_size == 0:
        old_root = EMPTY_ROOT
    elif body.get("from_checkpoint"):
        old_root = _signed(body["from_checkpoint"], key, "the older checkpoint").root_hash
    else:
        raise ProofUsageError(
            f"the log never signed a checkpoint of size {old_size}: nothing to verify the proof against "
            "(pick a signed size, or pass --since with a checkpoint you saved)"
        )
    try:
        verify_consistency(old_size, new.size, old_root, new.root_hash, _hashes(body["hashes"]))
    except (ProofError, ValueError) as error:
        raise ProofFailed(
            f"the tree of size {old_size} is NOT a prefix of the signed tree of size {new.size}: {error}"
        ) from None
    body["verified"] = True
    body["vkey_independent"] = key.independent
    return body


@dataclass(frozen=True)
class Observation:
    """What one look at the log found: its checkpoint now, and what changed since the last look."""

    note: str
    checkpoint: Checkpoint
    grew_from: int | None
    """The previous size when the log grew (and the growth was proven consistent), else ``None``."""


def observe(http: LedgerHttp, key: TrustedKey, previous: str | None) -> Observation:
    """Read the log's current checkpoint and prove it extends ``previous`` (a note seen before).

    Raises:
        ProofFailed: the checkpoint is not signed by the key; the log is for another origin; it
            shrank (a rollback); the same size now has another root, or the new tree does not
            extend the old one (a split view: someone was shown a different history).
    """
    note = http.get("/checkpoint").decode("utf-8")
    current = _signed(note, key, "the log's checkpoint")
    if previous is None:
        return Observation(note, current, None)
    old = _signed(previous, key, "the previously seen checkpoint")
    if old.origin != current.origin:
        raise ProofFailed(f"the log now calls itself {current.origin!r}, it was {old.origin!r}")
    if current.size < old.size:
        raise ProofFailed(f"ROLLBACK: the log shrank from {old.size} to {current.size} entries")
    if current.size == old.size:
        if current.root_hash != old.root_hash:
            raise ProofFailed(
                f"SPLIT VIEW: two different signed roots for size {old.size}: "
                f"{old.root_hash.hex()} and {current.root_hash.hex()}"
            )
        return Observation(note, current, None)
    body = http.get_json("/proof/consistency", {"from": old.size, "to": current.size})
    try:
        verify_consistency(old.size, current.size, old.root_hash, current.root_hash, _hashes(body["hashes"]))
    except (ProofError, ValueError) as error:
        raise ProofFailed(
            f"SPLIT VIEW: the checkpoint of size {current.size} does not extend the one of size "
            f"{old.size} seen before: {error}"
        ) from None
    return Observation(note, current, old.size)


def tiles_of(size: int) -> list[str]:
    """Every entry bundle and hash tile path a verifier reads for a tree of ``size`` entries."""
    paths = []
    full, rest = divmod(size, TILE_WIDTH)
    paths += [entries_path(i) for i in range(full)] + ([entries_path(full, rest)] if rest else [])
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        full, rest = divmod(count, TILE_WIDTH)
        paths += [tile_path(level, i) for i in range(full)]
        if rest:
            paths.append(tile_path(level, full, rest))
        level += 1
    return paths


def mirror_tiles(http: LedgerHttp, directory: Path) -> str:
    """Copy the log's latest checkpoint and every tile and bundle of its size into ``directory``.

    The result is a tlog-tiles export of what the log serves, for
    :func:`~consentry_shared.tlog.verify_export`; nothing is checked here. Returns the note.
    """
    note = http.get("/checkpoint").decode("utf-8")
    cut = note.find("\n\n")
    try:
        size = Checkpoint.from_text(note[: cut + 1] if cut >= 0 else note).size
    except NoteError as error:
        raise ProofFailed(f"the log's checkpoint is malformed: {error}") from None
    for relative in tiles_of(size):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(http.get(f"/{relative}"))
    (directory / "checkpoint").write_text(note, encoding="utf-8")
    return note
