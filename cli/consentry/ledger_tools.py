"""``consentry ledger export`` and ``consentry ledger verify``.

Export reads the running ledger over HTTP and writes the C2SP tlog-tiles layout; verify needs
only that directory and the log's verifier key (no database, no broker, no network). ``verify
--url`` reads a live log's tiles over HTTP into a temporary directory and verifies that copy the
same way, so what the log *serves* is what gets checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from pydantic import ValidationError

from consentry.client import ConsentryClient, ConsentryError
from consentry_shared.contracts.v1 import LedgerEntry
from consentry_shared.contracts.written import written_form
from consentry_shared.tlog import TlogError, VerificationError, canonical_json, verify_export, write_export
from consentry_shared.tlog.ledger_leaf import (
    MIRRORED_SCHEMA_SHA256,
    canonical_leaf,
    canonical_leaves,
    indexes,
)


class VerifyUsageError(Exception):
    """The export or the key could not be read (exit 2), as opposed to a failed verification."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    message: str
    notes: tuple[str, ...] = ()


def export_log(client: ConsentryClient, directory: Path) -> str:
    """Write (or extend) an export of the log at ``directory``; returns a one-line summary."""
    note = client.checkpoint()
    if note is None:
        raise ConsentryError("the log is empty: nothing to export yet")
    vkey = client.vkey()
    directory.mkdir(parents=True, exist_ok=True)
    stats = write_export(directory, note, vkey, client.leaves)
    return f"exported to {directory}: {stats}"


_source = attrgetter("topic", "partition", "offset")


def _mirror_is_current() -> bool:
    """Whether the msgspec mirror was written against this LedgerEntry (see MIRRORED_SCHEMA_SHA256)."""
    schema = json.dumps(LedgerEntry.model_json_schema(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(schema.encode()).hexdigest() == MIRRORED_SCHEMA_SHA256


# Otherwise every entry takes the model path: slower, never looser.
_MIRROR = _mirror_is_current()


class _EntryChecker:
    """Checks each leaf is a canonical, schema-valid entry at its own index, with per-partition
    source offsets strictly increasing.

    Two paths, one verdict. The fast one (:mod:`consentry_shared.tlog.ledger_leaf`) decodes the
    leaf with msgspec into a mirror of the model and accepts it if writing that back gives the
    leaf byte for byte (then the leaf is the canonical form of a valid entry). Anything else
    takes the model path, which decides and words the message (``_checked``).
    """

    def __init__(self) -> None:
        self._last_offset: dict[tuple[str, int], int] = {}
        self._first_offset: dict[tuple[str, int], int] = {}

    def __call__(self, index: int, leaf: bytes) -> str | None:
        value = canonical_leaf(leaf) if _MIRROR else None
        if value is None:
            return self._checked(index, leaf)
        if value.index != index:
            return f"carries index {value.index} at position {index}"
        return self._follow(value.topic, value.partition, value.offset)

    def check_entries(self, first: int, leaves: list[bytes]) -> tuple[int, str] | None:
        """A bundle at once (BundleEntryCheck): decoded and compared in C, offsets in one loop;
        if any entry is not plainly fine, entry by entry through ``__call__``."""
        values = canonical_leaves(leaves) if _MIRROR else None
        if values is None or indexes(values) != list(range(first, first + len(leaves))):
            for position, leaf in enumerate(leaves):
                problem = self(first + position, leaf)
                if problem is not None:
                    return first + position, problem
            return None
        last_offset, first_offset = self._last_offset, self._first_offset
        for position, (topic, partition, offset) in enumerate(map(_source, values)):
            key = (topic, partition)
            previous = last_offset.get(key)
            if previous is None:
                first_offset[key] = offset
            elif offset <= previous:
                problem = f"source offset {offset} of {topic}/{partition} is not after {previous}"
                return first + position, problem
            last_offset[key] = offset
        return None

    def _checked(self, index: int, leaf: bytes) -> str | None:
        try:
            entry = LedgerEntry.model_validate_json(leaf)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            return f"does not match the ledger entry schema: {field}: {first['msg']}"
        if written_form(entry) != leaf and not _is_canonical(leaf):
            return "is not in RFC 8785 canonical form"
        if entry.index != index:
            return f"carries index {entry.index} at position {index}"
        return self._follow(entry.topic, entry.partition, entry.offset)

    def _follow(self, topic: str, partition: int, offset: int) -> str | None:
        position = (topic, partition)
        previous = self._last_offset.get(position)
        if previous is not None and offset <= previous:
            return f"source offset {offset} of {topic}/{partition} is not after {previous}"
        if previous is None:
            self._first_offset[position] = offset
        self._last_offset[position] = offset
        return None

    # SplittableEntryCheck: `consentry ledger verify` checks ranges of the log in parallel.

    def fresh(self) -> _EntryChecker:
        return _EntryChecker()

    def summary(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Per (topic, partition): the first and the last source offset of this range."""
        return {key: (first, self._last_offset[key]) for key, first in self._first_offset.items()}

    def follows(self, summary: object) -> bool:
        assert isinstance(summary, dict)
        for key, (first, _) in summary.items():
            previous = self._last_offset.get(key)
            if previous is not None and first <= previous:
                return False  # nothing taken in: the range is checked again, entry by entry
        for key, (first, last) in summary.items():
            self._first_offset.setdefault(key, first)
            self._last_offset[key] = last
        return True


def _is_canonical(leaf: bytes) -> bool:
    try:
        return canonical_json(json.loads(leaf)) == leaf
    except (ValueError, TlogError):
        return False


def _read_vkey(vkey: str) -> str:
    path = Path(vkey)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else vkey.strip()


def _read_since(since: Path | None) -> str | None:
    if since is None:
        return None
    try:
        return since.read_text(encoding="utf-8")
    except OSError as error:
        raise VerifyUsageError(f"cannot read --since {since}: {error}") from None


def verify_log(
    directory: Path, *, vkey: str | None, since: Path | None, save: Path | None, jobs: int | None = None
) -> VerifyResult:
    """Verify the export at ``directory``; see ``consentry ledger verify --help``.

    On success the verified checkpoint is written to ``save``, or else back to ``since``.
    ``jobs`` processes check ranges of entries in parallel (default: one per CPU); the result
    and the entry a failure names do not depend on it.
    """
    if vkey is None:
        vkey_path = directory / "vkey"
        if not vkey_path.exists():
            raise VerifyUsageError(f"no --vkey given and {vkey_path} does not exist")
        vkey = vkey_path.read_text(encoding="utf-8").strip()
    else:
        vkey = _read_vkey(vkey)
    if not (directory / "checkpoint").exists():
        raise VerifyUsageError(f"{directory} has no checkpoint: is it an export?")
    return _verify_directory(directory, vkey, since, save or since, jobs)


def verify_url(
    url: str, *, vkey: str | None, since: Path | None, save: Path | None, jobs: int | None = None
) -> VerifyResult:
    """Verify the live log at ``url`` from the tiles it serves; see ``consentry ledger verify --help``.

    Raises the client's errors when the log cannot be read (exit 4).
    """
    from consentry.proofs import LedgerHttp, ProofFailed, mirror_tiles

    notes: list[str] = []
    with LedgerHttp(url) as http, tempfile.TemporaryDirectory(prefix="consentry-verify-") as scratch:
        if vkey is None:
            vkey = http.get("/vkey").decode("utf-8").strip()
            notes.append(
                "note: using the key the log itself serves; pass --vkey to verify the log's identity too"
            )
        else:
            vkey = _read_vkey(vkey)
        try:
            mirror_tiles(http, Path(scratch))
        except ProofFailed as failure:
            return VerifyResult(False, str(failure), tuple(notes))
        result = _verify_directory(Path(scratch), vkey, since, save or since, jobs)
    return VerifyResult(result.ok, result.message, tuple(notes))


def _verify_directory(
    directory: Path, vkey: str, since: Path | None, save: Path | None, jobs: int | None
) -> VerifyResult:
    saved = _read_since(since)
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        report = verify_export(directory, vkey, since=saved, entry_check=_EntryChecker(), jobs=jobs)
    except VerificationError as failure:
        return VerifyResult(False, str(failure))
    except ValueError as error:  # a malformed key
        raise VerifyUsageError(str(error)) from None
    if save is not None:
        save.write_text(report.checkpoint_note, encoding="utf-8")  # exactly what was verified
    consistent = f"; consistent with the saved checkpoint {since}" if since is not None else ""
    return VerifyResult(
        True,
        f"OK: {report.entries_checked} entries verified; size {report.size}, "
        f"origin {report.origin}, root {report.root_hash.hex()}{consistent}",
    )
