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
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from consentry.client import RejectedInput, ServiceFailed, ServiceUnavailable
from consentry_shared.tlog import (
    EMPTY_ROOT,
    TILE_HEIGHT,
    TILE_WIDTH,
    Checkpoint,
    Cosigner,
    InvalidSignatureError,
    NoteError,
    ProofError,
    UnknownKeyError,
    Verifier,
    entries_path,
    leaf_hash,
    open_checkpoint,
    open_note,
    tile_path,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "LedgerHttp",
    "Observation",
    "ProofFailed",
    "ProofUsageError",
    "TrustedKey",
    "Witness",
    "WitnessAnswer",
    "WitnessState",
    "add_checkpoint_request",
    "checked_consistency",
    "checked_inclusion",
    "mirror_tiles",
    "observe",
    "resolve_key",
    "witness_once",
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

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path``; the JSON answer on 2xx, else the client's error."""
        url = f"{self.url}{path}"
        try:
            response = self._http.post(url, json=body)
        except httpx.ConnectError as error:
            raise ServiceUnavailable(f"cannot reach the ledger at {self.url}: {error}") from None
        except httpx.HTTPError as error:
            raise ServiceFailed(f"POST {url}: {error}") from None
        if response.status_code >= 500:
            raise ServiceFailed(f"POST {url}: HTTP {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise RejectedInput(f"POST {path}: {detail}", [], response.status_code)
        answer = response.json()
        if not isinstance(answer, dict):
            raise ServiceFailed(f"POST {path}: expected a JSON object")
        return answer

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


# --- witness (c2sp.org/tlog-witness) -----------------------------------------------------------

SIZE_CONTENT_TYPE = "text/x.tlog.size"
_MAX_PROOF_LINES = 63


@dataclass(frozen=True)
class WitnessAnswer:
    """An ``add-checkpoint`` response: HTTP status, body and content type."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class WitnessState:
    """The latest checkpoint a witness cosigned, per log origin, in files under ``directory``.

    Writes are atomic (temporary file, then rename), so a crash never leaves a torn state.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, origin: str) -> Path:
        return self.directory / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.checkpoint"

    def latest(self, origin: str) -> str | None:
        """The note last cosigned for ``origin``, or ``None``."""
        try:
            return self._path(origin).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def save(self, origin: str, note: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(origin)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(note, encoding="utf-8")
        os.replace(temporary, path)


class Witness:
    """The logic of the tlog-witness ``add-checkpoint`` call, for the logs in ``logs``.

    :meth:`add_checkpoint` takes a request body and returns what the HTTP endpoint answers:
    400 malformed (or an old size above the checkpoint's), 404 unknown origin, 403 not signed by
    the log's key, 409 old size not the one last cosigned (body: that size, ``text/x.tlog.size``)
    or the same size with another root, 422 consistency proof fails, 200 with the cosignature
    line after the new checkpoint is saved. The check and the save are one step: one witness
    instance per state directory, used from one thread.
    """

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Sequence[Verifier],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self._logs = {log.name: log for log in logs}
        self._state = state
        self._clock = clock

    def last_cosigned(self, origin: str) -> Checkpoint | None:
        """The checkpoint this witness last cosigned for ``origin``."""
        note = self._state.latest(origin)
        return Checkpoint.from_text(note[: note.rfind("\n\n") + 1]) if note else None

    def add_checkpoint(self, request: str) -> WitnessAnswer:
        head, blank, note = request.partition("\n\n")
        lines = head.split("\n")
        old_line = lines[0]
        if not blank or not old_line.startswith("old "):
            return WitnessAnswer(400, "the request starts with an 'old <size>' line and a blank line\n")
        digits = old_line[4:]
        if not digits.isascii() or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
            return WitnessAnswer(400, "the old size is not a decimal number\n")
        old_size = int(digits)
        if len(lines) - 1 > _MAX_PROOF_LINES:
            return WitnessAnswer(400, "more than 63 consistency proof lines\n")
        try:
            proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
        except ValueError:
            return WitnessAnswer(400, "a consistency proof line is not base64\n")
        cut = note.rfind("\n\n")
        try:
            checkpoint = Checkpoint.from_text(note[: cut + 1] if cut >= 0 else note)
        except NoteError as error:
            return WitnessAnswer(400, f"not a checkpoint: {error}\n")
        log = self._logs.get(checkpoint.origin)
        if log is None:
            return WitnessAnswer(404, f"unknown log {checkpoint.origin!r}\n")
        try:
            opened = open_note(note, [log])
        except (UnknownKeyError, InvalidSignatureError) as error:
            return WitnessAnswer(403, f"not signed by the log's key: {error}\n")
        except NoteError as error:
            return WitnessAnswer(400, f"malformed note: {error}\n")
        if old_size > checkpoint.size:
            return WitnessAnswer(400, f"old size {old_size} is above the checkpoint's {checkpoint.size}\n")
        saved = self.last_cosigned(checkpoint.origin)
        saved_size = saved.size if saved else 0
        if old_size != saved_size:
            return WitnessAnswer(409, f"{saved_size}\n", SIZE_CONTENT_TYPE)
        if saved is not None and saved.size == checkpoint.size and saved.root_hash != checkpoint.root_hash:
            return WitnessAnswer(409, f"{saved_size}\n", SIZE_CONTENT_TYPE)
        if old_size == 0 and proof:
            return WitnessAnswer(422, "the proof from size 0 must be empty\n")
        if saved is not None:
            try:
                verify_consistency(old_size, checkpoint.size, saved.root_hash, checkpoint.root_hash, proof)
            except ProofError as error:
                return WitnessAnswer(422, f"consistency proof does not verify: {error}\n")
        own = "".join(s.line for s in opened.signatures if s.name == log.name and s.key_id == log.key_id)
        self._state.save(checkpoint.origin, opened.text + "\n" + own)
        return WitnessAnswer(200, self.cosigner.cosign(opened.text, int(self._clock())))


def add_checkpoint_request(old_size: int, proof: Sequence[bytes], note: str) -> str:
    """The body of an ``add-checkpoint`` request."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return "\n".join(lines) + "\n\n" + note


def witness_once(http: LedgerHttp, log_key: TrustedKey, witness: Witness) -> tuple[int, bool]:
    """One round of witnessing the log at ``http``: read its checkpoint, prove it extends the one
    this witness cosigned last, cosign it, hand the cosignature to the log.

    Returns ``(size, stored)``: the size cosigned and whether the log kept a new cosignature.

    Raises:
        ProofFailed: the witness refused: the log's checkpoint is not signed by its key, it
            shrank, or it does not extend what the witness cosigned (a split view).
        ProofUsageError: the log's origin is not the key's name.
    """
    note = http.get("/checkpoint").decode("utf-8")
    current = _signed(note, log_key, "the log's checkpoint")
    saved = witness.last_cosigned(current.origin)
    old_size = saved.size if saved else 0
    if old_size > current.size:
        raise ProofFailed(f"ROLLBACK: the log shrank from {old_size} (cosigned) to {current.size} entries")
    proof: list[bytes] = []
    if 0 < old_size < current.size:
        body = http.get_json("/proof/consistency", {"from": old_size, "to": current.size})
        proof = _hashes(body["hashes"])
    answer = witness.add_checkpoint(add_checkpoint_request(old_size, proof, note))
    if answer.status == 404:
        raise ProofUsageError(f"the log's origin {current.origin!r} is not the name of --vkey")
    if answer.status in (403, 409, 422, 400):
        raise ProofFailed(
            f"SPLIT VIEW or ROLLBACK: the witness refused the checkpoint of size {current.size} "
            f"(HTTP {answer.status}, last cosigned size {old_size}): {answer.body.strip()}"
        )
    stored = http.post_json("/cosignatures", {"size": current.size, "cosignature": answer.body})
    return current.size, bool(stored.get("stored"))


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
