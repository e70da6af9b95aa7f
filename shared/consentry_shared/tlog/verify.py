"""Offline verification of a tlog-tiles export: what an auditor runs with only a key and a copy.

Errors: :class:`~consentry_shared.tlog.errors.VerificationError`, whose ``code`` says what
failed and ``index`` names the first bad entry when one can be named. A verifier key string
that cannot be parsed raises ``MalformedKeyError`` (a caller error, not a property of the
export).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from consentry_shared.tlog.errors import (
    InvalidSignatureError,
    MalformedNoteError,
    MalformedTileError,
    ProofError,
    UnknownKeyError,
    VerificationError,
)
from consentry_shared.tlog.merkle import (
    HASH_SIZE,
    consistency_proof,
    leaf_hashes,
    root_from_leaf_hashes,
    verify_consistency,
)
from consentry_shared.tlog.note import Checkpoint, Verifier, open_checkpoint
from consentry_shared.tlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileHashReader,
    _read_bundle,
    _TileStack,
    entries_path,
    read_tile_hashes,
    tile_path,
)

__all__ = ["BundleEntryCheck", "EntryCheck", "SplittableEntryCheck", "VerifyReport", "verify_export"]

EntryCheck = Callable[[int, bytes], "str | None"]
"""``entry_check(index, leaf_bytes)`` returns an error message, or ``None`` if the entry is fine."""

# Ranges handed to one worker process: 64 bundles (16,384 entries). Small enough that two
# workers on a busy machine end together, large enough that the hand-over costs nothing.
_CHUNK_BUNDLES = 64
# Below this many full bundles, starting processes costs more than it saves.
_PARALLEL_MIN_BUNDLES = 2 * _CHUNK_BUNDLES


@runtime_checkable
class SplittableEntryCheck(Protocol):
    """An entry check that can run on index ranges apart, in other processes.

    A check that keeps state across entries (e.g. "offsets increase per partition") MUST say,
    through :meth:`summary` and :meth:`follows`, what a range carries over to the next one, so
    that checking ranges apart and joining them accepts exactly what one sequential pass does.
    """

    def __call__(self, index: int, leaf: bytes) -> str | None:
        """Check entry ``index`` (entries of one range arrive in index order)."""

    def fresh(self) -> SplittableEntryCheck:
        """A check with no state, for a range checked on its own."""

    def summary(self) -> object:
        """What this check saw that the next range depends on (picklable)."""

    def follows(self, summary: object) -> bool:
        """Take in the ``summary`` of the range that comes right after everything this check has
        seen; ``False`` if that range, checked apart, breaks a rule across the seam, and then
        the check MUST be left as it was (the range is checked again, entry by entry)."""


@runtime_checkable
class BundleEntryCheck(Protocol):
    """An entry check that can also take a whole bundle at once (one call, not 256).

    ``check_entries`` MUST give the same verdict, and leave the same state, as calling the check
    on each entry in order and stopping at the first problem.
    """

    def __call__(self, index: int, leaf: bytes) -> str | None:
        """Check entry ``index``."""

    def check_entries(self, first: int, leaves: list[bytes]) -> tuple[int, str] | None:
        """Check entries ``first, first + 1, ...``: the index and problem of the first bad one."""


@dataclass(frozen=True)
class VerifyReport:
    """The facts a successful :func:`verify_export` established."""

    size: int
    """Tree size of the verified checkpoint."""
    root_hash: bytes
    """Its root hash, rebuilt from the entries."""
    origin: str
    """Its origin line (recorded, not compared with the key name)."""
    entries_checked: int
    """Entries re-hashed (equals ``size``)."""
    checkpoint_note: str = ""
    """The exact signed checkpoint that was verified: save it and pass it as ``since`` next time."""


def _open(note: str, verifier: Verifier, what: str) -> Checkpoint:
    try:
        checkpoint, _ = open_checkpoint(note, [verifier])
    except MalformedNoteError as exc:
        raise VerificationError("malformed", f"{what} is malformed: {exc}") from None
    except (UnknownKeyError, InvalidSignatureError) as exc:
        raise VerificationError("bad-signature", f"{what} is not signed by the key: {exc}") from None
    return checkpoint


def _first_difference(computed: list[bytes], tile: bytes) -> int:
    for position, value in enumerate(computed):
        if tile[position * HASH_SIZE : (position + 1) * HASH_SIZE] != value:
            return position
    return len(computed)  # pragma: no cover - only called when the tile differs


def verify_export(
    directory: Path,
    vkey: str,
    since: str | None = None,
    entry_check: EntryCheck | None = None,
    *,
    jobs: int = 1,
) -> VerifyReport:
    """Verify everything in a tlog-tiles export against the log's verifier key.

    Steps, failing fast at the first problem:

    1. ``checkpoint`` is a signed note with a valid signature by ``vkey`` (other signatures,
       e.g. witness cosignatures, are ignored) and a well-formed checkpoint body.
    2. Every entry bundle of the tree is read and decoded, every entry re-hashed and compared
       with its level-0 tile; then ``entry_check(index, leaf_bytes)`` runs on each entry, in
       index order (the caller validates schema, index contiguity, offsets); a
       :class:`BundleEntryCheck` is handed each bundle at once instead.
    3. Tiles of every higher level (full and the checkpoint size's partial ones) are compared
       with the hashes rebuilt from below, and the rebuilt root with the checkpoint's.
    4. If ``since`` (a checkpoint note saved from an earlier verification) is given: it must be
       signed by the same key and have the same origin, its size must not exceed the new one,
       and a consistency proof computed from this export's own (now verified) tiles must prove
       the old root is a prefix of the new tree.

    With ``jobs > 1`` (and no ``entry_check``, or a :class:`SplittableEntryCheck`), step 2 runs
    on ranges of full bundles in ``jobs`` worker processes (each returns its tiles' roots); step
    3, the last partial bundle and step 4 stay in this process. The first range that fails (or
    does not follow on from the ones before) and everything after it are verified again in this
    process, in order, from the state the good ranges left: the first bad entry is named
    exactly as ``jobs=1`` names it. The parallel pass only ever says "all good" faster.

    Returns:
        a :class:`VerifyReport`; keep ``report.checkpoint_note`` to pass as ``since`` next time.

    Raises:
        VerificationError: with ``code`` ``malformed``, ``bad-signature``, ``entry-mismatch``,
            ``entry-invalid``, ``tile-mismatch``, ``root-mismatch``, ``inconsistent`` or
            ``rollback`` and, where one can be named, ``index`` of the first bad entry.
        MalformedKeyError: ``vkey`` is not a valid Ed25519 verifier key.
    """
    directory = Path(directory)
    verifier = Verifier.from_vkey(vkey)
    try:
        note = (directory / "checkpoint").read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError) as exc:
        raise VerificationError("malformed", f"cannot read {directory / 'checkpoint'}: {exc}") from None
    checkpoint = _open(note, verifier, "checkpoint")
    size = checkpoint.size

    def check_full_tile(level: int, index: int, hashes: list[bytes]) -> None:
        if level == 0:
            return  # compared entry by entry in _verify_bundle
        first = index * TILE_WIDTH << (TILE_HEIGHT * level)
        _compare_tile(directory, level, index, hashes, first)

    stack = _TileStack([], [], check_full_tile)
    first_bundle = 0  # bundles before it are verified
    splittable = entry_check is None or isinstance(entry_check, SplittableEntryCheck)
    if jobs > 1 and splittable and size // TILE_WIDTH >= _PARALLEL_MIN_BUNDLES:
        assert entry_check is None or isinstance(entry_check, SplittableEntryCheck)
        resumed = _verify_in_parallel(directory, size, entry_check, jobs, check_full_tile)
        if resumed is not None:
            stack, first_bundle = resumed
        elif entry_check is not None:
            entry_check = entry_check.fresh()  # the sequential pass starts over
    for bundle_index in range(first_bundle, (size + TILE_WIDTH - 1) // TILE_WIDTH):
        stack.add(0, _verify_bundle(directory, bundle_index, size, entry_check))
    for level in range(1, len(stack.pending)):
        if stack.pending[level]:
            _compare_tile(directory, level, stack.next_index[level], stack.pending[level], None)

    root = stack.root()
    if root != checkpoint.root_hash:
        raise VerificationError(
            "root-mismatch",
            f"the {size} entries rebuild root {root.hex()} but the checkpoint signs "
            f"{checkpoint.root_hash.hex()}",
        )
    if since is not None:
        _check_since(directory, verifier, checkpoint, since)
    return VerifyReport(
        size=size,
        root_hash=root,
        origin=checkpoint.origin,
        entries_checked=size,
        checkpoint_note=note,
    )


# What a worker process checks with: set once per process by _start_worker (fork copies it).
_worker: tuple[Path, int, SplittableEntryCheck | None] | None = None


def _start_worker(directory: Path, size: int, entry_check: SplittableEntryCheck | None) -> None:
    global _worker  # noqa: PLW0603 - per-process state of a pool worker
    _worker = (directory, size, entry_check)


def _verify_chunk(first_bundle: int) -> tuple[list[bytes], object] | None:
    """Verify the full bundles ``[first_bundle, first_bundle + _CHUNK_BUNDLES)`` in a worker:
    the roots of their level-0 tiles and the check's summary, or ``None`` if any failed."""
    assert _worker is not None
    directory, size, prototype = _worker
    check = prototype.fresh() if prototype is not None else None
    roots = []
    try:
        for bundle_index in range(first_bundle, min(first_bundle + _CHUNK_BUNDLES, size // TILE_WIDTH)):
            roots.append(root_from_leaf_hashes(_verify_bundle(directory, bundle_index, size, check)))
    except VerificationError:
        return None
    return roots, (check.summary() if check is not None else None)


def _verify_in_parallel(
    directory: Path,
    size: int,
    entry_check: SplittableEntryCheck | None,
    jobs: int,
    check_full_tile: Callable[[int, int, list[bytes]], None],
) -> tuple[_TileStack, int] | None:
    """Step 2 over the full bundles in worker processes, range by range, in order.

    Returns the tile stack and how many full bundles it holds: all of them, or those before the
    first range that failed or did not follow on (``entry_check`` then holds exactly the state
    a sequential pass would have there, so the caller goes on from that bundle). ``None`` when
    processes cannot be started or a tile above level 0 failed: verify from the start.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return None  # workers must inherit the check: it need not be picklable
    stack = _TileStack([[]], [0], check_full_tile)
    done = 0
    # concurrent.futures, not multiprocessing.Pool: leaving early (a failed range) cancels what
    # has not started and lets running ranges finish, where Pool.terminate() can hang on a
    # worker killed while it holds a queue lock; a worker that dies raises BrokenProcessPool.
    try:
        executor = ProcessPoolExecutor(
            min(jobs, os.cpu_count() or 1),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(directory, size, entry_check),
        )
    except OSError:
        return None
    try:
        for result in executor.map(_verify_chunk, range(0, size // TILE_WIDTH, _CHUNK_BUNDLES)):
            if result is None:
                break
            roots, summary = result
            if entry_check is not None and not entry_check.follows(summary):
                break
            stack.add(1, roots)
            done += len(roots)
    except (BrokenProcessPool, OSError):
        pass  # a lost worker: what was joined so far stands
    except VerificationError:
        return None  # a level-1 (or higher) tile: the sequential pass names it
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return stack, done


def _verify_bundle(
    directory: Path, bundle_index: int, size: int, entry_check: EntryCheck | None
) -> list[bytes]:
    """Decode one bundle, compare its leaf hashes with its level-0 tile, run ``entry_check``."""
    start = bundle_index * TILE_WIDTH
    width = min(TILE_WIDTH, size - start)
    bundle_path = entries_path(bundle_index, width)
    try:
        entries = _read_bundle(directory, bundle_index, width)
    except MalformedTileError as exc:
        bad = start + (exc.position or 0)
        raise VerificationError("malformed", f"{bundle_path}: {exc} (entry {bad})", bad) from None
    if len(entries) != width:
        bad = start + min(len(entries), width)
        raise VerificationError(
            "malformed",
            f"{bundle_path} holds {len(entries)} entries, expected {width} (entry {bad})",
            bad,
        )
    hashes = leaf_hashes(entries)
    try:
        stored = read_tile_hashes(directory, 0, bundle_index, width)
    except MalformedTileError as exc:
        raise VerificationError("malformed", str(exc), start) from None
    if b"".join(hashes) != stored:
        position = _first_difference(hashes, stored)
        raise VerificationError(
            "entry-mismatch",
            f"entry {start + position} ({bundle_path}) hashes to {hashes[position].hex()} but "
            f"{tile_path(0, bundle_index, width)} records "
            f"{stored[position * HASH_SIZE : (position + 1) * HASH_SIZE].hex()}",
            start + position,
        )
    if isinstance(entry_check, BundleEntryCheck):
        found = entry_check.check_entries(start, entries)
        if found is not None:
            bad, message = found
            raise VerificationError("entry-invalid", f"entry {bad}: {message}", bad)
    elif entry_check is not None:
        for position, entry in enumerate(entries):
            problem = entry_check(start + position, entry)
            if problem is not None:
                raise VerificationError(
                    "entry-invalid", f"entry {start + position}: {problem}", start + position
                )
    return hashes


def _compare_tile(
    directory: Path, level: int, index: int, computed: list[bytes], first_entry: int | None
) -> None:
    """Compare a stored level >= 1 tile with the hashes rebuilt from the level below."""
    try:
        stored = read_tile_hashes(directory, level, index, len(computed))
    except MalformedTileError as exc:
        raise VerificationError("malformed", str(exc), first_entry) from None
    if b"".join(computed) != stored:
        _tile_mismatch(tile_path(level, index, len(computed)), level, index, computed, stored)


def _tile_mismatch(path: str, level: int, index: int, computed: list[bytes], stored: bytes) -> None:
    position = _first_difference(computed, stored)
    span = 1 << (TILE_HEIGHT * level)
    first = (index * TILE_WIDTH + position) * span
    raise VerificationError(
        "tile-mismatch",
        f"hash {position} of {path} does not match entries [{first}, {first + span}): either "
        f"those entries with their level-0 tiles, or the tile itself, were altered",
        first,
    )


def _check_since(directory: Path, verifier: Verifier, current: Checkpoint, since: str) -> None:
    saved = _open(since, verifier, "saved checkpoint")
    if saved.origin != current.origin:
        raise VerificationError(
            "inconsistent",
            f"saved checkpoint is for log {saved.origin!r}, this export is {current.origin!r}",
        )
    if saved.size > current.size:
        raise VerificationError(
            "rollback",
            f"the log shrank: saved checkpoint has {saved.size} entries, this export {current.size}",
        )
    reader = TileHashReader(directory, current.size)
    try:
        proof = consistency_proof(saved.size, current.size, reader.hash_at)
    except MalformedTileError as exc:
        raise VerificationError("malformed", str(exc)) from None
    try:
        verify_consistency(saved.size, current.size, saved.root_hash, current.root_hash, proof)
    except ProofError as exc:
        raise VerificationError(
            "inconsistent",
            f"saved checkpoint (size {saved.size}) is not a prefix of this log (size {current.size}): {exc}",
        ) from None
