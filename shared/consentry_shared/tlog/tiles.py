"""C2SP tlog-tiles: tile paths, entry bundles, hash tiles and an incremental on-disk export.

Layout of an export directory (c2sp.org/tlog-tiles)::

    checkpoint                      signed checkpoint note (written last)
    vkey                            the log's verifier key (a convenience for auditors)
    tile/<L>/<N>[.p/<W>]            hash tiles: 256 hashes (8,192 bytes) or W < 256 (partial)
    tile/entries/<N>[.p/<W>]        entry bundles: uint16 big-endian length-prefixed entries

``<N>`` is written in 3-digit groups, all but the last prefixed with ``x``
(``1234067`` -> ``x001/x234/067``). A level-0 tile holds leaf hashes; a hash in a level-``L``
tile (``L >= 1``) is the root of one *full* level-``L-1`` tile. A tree of size ``s`` has, at
each level ``L``, ``s // 256**(L+1)`` full tiles and one partial tile of width
``(s // 256**L) % 256`` when that is not zero.

Errors (all :class:`~consentry_shared.tlog.errors.TileError`): ``MalformedTileError`` for
undecodable or wrongly sized tiles and bundles, ``EntryTooLargeError`` for entries over 65,535
bytes, ``ExportError`` when an export cannot be written consistently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from consentry_shared.tlog.errors import (
    EntryTooLargeError,
    ExportError,
    MalformedTileError,
    NoteError,
)
from consentry_shared.tlog.merkle import EMPTY_ROOT, HASH_SIZE, leaf_hashes, root_from_leaf_hashes
from consentry_shared.tlog.note import Checkpoint, Verifier, open_checkpoint

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ExportStats",
    "TileHashReader",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "entries_path",
    "hash_tiles_for",
    "read_tile_hashes",
    "tile_path",
    "write_export",
]

TILE_WIDTH = 256
"""Hashes (or entries) in a full tile (bundle)."""

TILE_HEIGHT = 8
"""Merkle levels spanned by one tile: ``TILE_WIDTH == 2**TILE_HEIGHT``."""

MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can carry (uint16 length prefix)."""

_FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_DEFAULT_BATCH = 16 * TILE_WIDTH

ReadEntries = Callable[[int, int], Sequence[bytes]]


def _index_path(index: int) -> str:
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int) -> str:
    if width == TILE_WIDTH:
        return ""
    if not 1 <= width < TILE_WIDTH:
        raise ValueError(f"tile width must be 1..{TILE_WIDTH}, got {width}")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Return the relative path of a hash tile, e.g. ``tile/0/x001/x234/067`` or ``tile/1/000.p/17``.

    ``level`` is 0..63, ``index`` >= 0 and ``width`` 1..256 (256 means a full tile).
    """
    if not 0 <= level <= 63:
        raise ValueError(f"tile level must be 0..63, got {level}")
    if index < 0:
        raise ValueError("tile index must be >= 0")
    return f"tile/{level}/{_index_path(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Return the relative path of an entry bundle, e.g. ``tile/entries/000.p/5``."""
    if index < 0:
        raise ValueError("bundle index must be >= 0")
    return f"tile/entries/{_index_path(index)}{_width_suffix(width)}"


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Concatenate entries, each prefixed by its length as a big-endian uint16.

    Raises:
        EntryTooLargeError: an entry is longer than :data:`MAX_ENTRY_SIZE` bytes.
    """
    parts: list[bytes] = []
    append = parts.append
    for position, entry in enumerate(entries):
        size = len(entry)
        if size > MAX_ENTRY_SIZE:
            raise EntryTooLargeError(
                f"entry {position} of the bundle is {size} bytes; bundles carry at most {MAX_ENTRY_SIZE}"
            )
        append(size.to_bytes(2, "big"))
        append(entry)
    return b"".join(parts)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle into its entries.

    Raises:
        MalformedTileError: the data ends inside a length prefix or inside an entry;
            ``position`` is the 0-based position of that entry in the bundle.
    """
    out: list[bytes] = []
    append = out.append
    offset = 0
    total = len(data)
    while offset < total:
        start = offset + 2
        if start > total:
            raise MalformedTileError(f"bundle is truncated inside the length of entry {len(out)}", len(out))
        end = start + ((data[offset] << 8) | data[offset + 1])
        if end > total:
            raise MalformedTileError(
                f"bundle is truncated inside entry {len(out)} ({end - total} bytes missing)",
                len(out),
            )
        append(data[start:end])
        offset = end
    return out


def _split_hashes(data: bytes) -> list[bytes]:
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def hash_tiles_for(leaf_hashes: Sequence[bytes]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, content)`` for every full and partial hash tile of a tree.

    The tree is the one whose leaf hashes are ``leaf_hashes``; tiles come level by level, left
    to right. An empty tree has no tiles.
    """
    hashes = list(leaf_hashes)
    level = 0
    while hashes:
        full = len(hashes) // TILE_WIDTH
        above: list[bytes] = []
        for index in range(full):
            tile = hashes[index * TILE_WIDTH : (index + 1) * TILE_WIDTH]
            yield tile_path(level, index), b"".join(tile)
            above.append(root_from_leaf_hashes(tile))
        rest = len(hashes) - full * TILE_WIDTH
        if rest:
            yield tile_path(level, full, rest), b"".join(hashes[full * TILE_WIDTH :])
        hashes = above
        level += 1


def _level_count(size: int) -> int:
    """Number of tile levels with at least one (full or partial) tile."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def read_tile_hashes(directory: Path, level: int, index: int, width: int) -> bytes:
    """Read ``width`` hashes of tile ``(level, index)`` from an export directory.

    A partial tile falls back to the prefix of the full tile when the partial file is gone
    (the spec lets logs delete partial tiles once the full tile exists).

    Raises:
        MalformedTileError: neither file exists, or the file has the wrong length.
    """
    path = directory / tile_path(level, index, width)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if width == TILE_WIDTH:
            raise MalformedTileError(f"{tile_path(level, index, width)} is missing") from None
        try:
            data = (directory / tile_path(level, index)).read_bytes()[: width * HASH_SIZE]
        except FileNotFoundError:
            raise MalformedTileError(
                f"{tile_path(level, index, width)} is missing (and so is the full tile)"
            ) from None
    if len(data) != width * HASH_SIZE:
        raise MalformedTileError(
            f"{tile_path(level, index, width)} is {len(data)} bytes, expected {width * HASH_SIZE}"
        )
    return data


def _read_bundle(directory: Path, index: int, width: int) -> list[bytes]:
    """Read and decode bundle ``index``; partial bundles fall back to the full bundle's prefix."""
    try:
        data = (directory / entries_path(index, width)).read_bytes()
    except FileNotFoundError:
        if width == TILE_WIDTH:
            raise MalformedTileError(f"{entries_path(index, width)} is missing") from None
        try:
            data = (directory / entries_path(index)).read_bytes()
        except FileNotFoundError:
            raise MalformedTileError(
                f"{entries_path(index, width)} is missing (and so is the full bundle)"
            ) from None
        return decode_entry_bundle(data)[:width]
    return decode_entry_bundle(data)


class TileHashReader:
    """``hash_at(level, index)`` over the hash tiles of an export, for a tree of ``size`` leaves.

    Only perfect subtrees inside ``[0, size)`` can be asked for (``ValueError`` otherwise);
    tiles are read lazily and cached. Tile read errors raise ``MalformedTileError``. The
    contents are *not* checked against anything: verify the export first
    (:func:`~consentry_shared.tlog.verify.verify_export`) or verify the proofs you build.
    """

    def __init__(self, directory: Path, size: int) -> None:
        """Read tiles of the tree of ``size`` leaves under ``directory``."""
        self._directory = Path(directory)
        self._size = size
        self._cache: dict[tuple[int, int], bytes] = {}

    def tile(self, level: int, index: int) -> bytes:
        """Content of tile ``(level, index)`` as it exists for this tree size."""
        key = (level, index)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        count = self._size >> (TILE_HEIGHT * level)
        if index * TILE_WIDTH >= count:
            raise ValueError(f"tile {level}/{index} does not exist in a tree of {self._size}")
        width = min(TILE_WIDTH, count - index * TILE_WIDTH)
        data = read_tile_hashes(self._directory, level, index, width)
        self._cache[key] = data
        return data

    def hash_at(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree of ``2**level`` leaves at ``index``."""
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        count = 1 << height
        if index < 0 or first + count > self._size >> (TILE_HEIGHT * tile_level):
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        data = self.tile(tile_level, first >> TILE_HEIGHT)
        offset = (first % TILE_WIDTH) * HASH_SIZE
        if count == 1:
            return data[offset : offset + HASH_SIZE]
        return root_from_leaf_hashes(_split_hashes(data[offset : offset + count * HASH_SIZE]))


class _TileStack:
    """The rightmost, incomplete tile of every level while a tree grows.

    ``pending[L]`` are the hashes of the tile at level ``L`` being filled, whose index is
    ``next_index[L]``. When a tile fills up, ``on_full(level, index, hashes)`` is called and the
    tile's root moves up one level.
    """

    __slots__ = ("dirty", "next_index", "on_full", "pending")

    def __init__(
        self,
        pending: list[list[bytes]],
        next_index: list[int],
        on_full: Callable[[int, int, list[bytes]], None],
    ) -> None:
        self.pending = pending
        self.next_index = next_index
        self.on_full = on_full
        self.dirty = [False] * len(pending)

    def add(self, level: int, hashes: list[bytes]) -> None:
        pending = self.pending
        while hashes:
            if level == len(pending):
                pending.append([])
                self.next_index.append(0)
                self.dirty.append(False)
            buffer = pending[level]
            buffer.extend(hashes)
            self.dirty[level] = True
            if len(buffer) < TILE_WIDTH:
                return
            roots: list[bytes] = []
            consumed = 0
            while len(buffer) - consumed >= TILE_WIDTH:
                tile = buffer[consumed : consumed + TILE_WIDTH]
                consumed += TILE_WIDTH
                self.on_full(level, self.next_index[level], tile)
                self.next_index[level] += 1
                roots.append(root_from_leaf_hashes(tile))
            del buffer[:consumed]
            hashes = roots
            level += 1

    def root(self) -> bytes:
        """Root of the whole tree: fold each level's partial tile with the one below it."""
        value: bytes | None = None
        for buffer in self.pending:
            items = [*buffer, value] if value is not None else buffer
            value = root_from_leaf_hashes(items) if items else None
        return EMPTY_ROOT if value is None else value


@dataclass(frozen=True)
class ExportStats:
    """What :func:`write_export` did."""

    size: int
    """Tree size of the export now."""
    previous_size: int
    """Tree size of the export found in the directory before (0 if none)."""
    entries_written: int
    """Entries read through ``read_entries`` and written (``size - previous_size``)."""
    files_written: int
    """Tiles, bundles, checkpoint and vkey files (re)written."""
    bytes_written: int
    """Total bytes of those files."""


class _Writer:
    """Atomic file writes under one directory, counting what was written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = 0
        self.bytes = 0
        self._made: set[Path] = set()

    def write(self, relative: str, data: bytes) -> None:
        path = self.directory / relative
        parent = path.parent
        if parent not in self._made:
            parent.mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        temporary = parent / f".{path.name}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.files += 1
        self.bytes += len(data)


def _existing_size(directory: Path) -> int:
    """Tree size of the checkpoint already exported in ``directory`` (0 if there is none)."""
    try:
        note = (directory / "checkpoint").read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    cut = note.rfind("\n\n")
    try:
        return Checkpoint.from_text(note[: cut + 1] if cut >= 0 else note).size
    except NoteError as exc:
        raise ExportError(f"existing {directory / 'checkpoint'} is unreadable: {exc}") from None


def _load_previous(directory: Path, old_size: int) -> tuple[list[list[bytes]], list[int], list[bytes]]:
    """Read back the partial tiles of every level and the partial bundle of size ``old_size``."""
    pending: list[list[bytes]] = []
    next_index: list[int] = []
    try:
        for level in range(_level_count(old_size)):
            width = (old_size >> (TILE_HEIGHT * level)) % TILE_WIDTH
            index = old_size >> (TILE_HEIGHT * (level + 1))
            data = read_tile_hashes(directory, level, index, width) if width else b""
            pending.append(_split_hashes(data))
            next_index.append(index)
        carried = old_size % TILE_WIDTH
        bundle = _read_bundle(directory, old_size // TILE_WIDTH, carried) if carried else []
    except MalformedTileError as exc:
        raise ExportError(f"previous export in {directory} is damaged: {exc}") from None
    if len(bundle) != carried or (carried and leaf_hashes(bundle) != pending[0]):
        raise ExportError(
            f"previous export in {directory} is damaged: its last entry bundle does not match "
            f"its level-0 tile"
        )
    return pending, next_index, bundle


def _write_tail(
    writer: _Writer, stack: _TileStack, bundle_index: int, bundle: list[bytes], *, changed: bool
) -> None:
    """Write the partial bundle and the partial tiles that are new for this tree size."""
    directory = writer.directory
    if bundle:
        relative = entries_path(bundle_index, len(bundle))
        if changed or not (directory / relative).exists():
            writer.write(relative, encode_entry_bundle(bundle))
    for level, hashes in enumerate(stack.pending):
        if not hashes:
            continue
        relative = tile_path(level, stack.next_index[level], len(hashes))
        if stack.dirty[level] or not (directory / relative).exists():
            writer.write(relative, b"".join(hashes))


def write_export(
    directory: Path,
    checkpoint_note: str,
    vkey: str,
    read_entries: ReadEntries | Sequence[bytes],
    *,
    batch: int = _DEFAULT_BATCH,
) -> ExportStats:
    """Write (or bring up to date) a tlog-tiles export of the log at ``checkpoint_note``.

    Args:
        directory: the export root; created if missing.
        checkpoint_note: the signed checkpoint of size ``N`` to publish; it MUST verify with
            ``vkey``.
        vkey: the log's verifier key string (also written to ``vkey``).
        read_entries: ``read_entries(start, end)`` returns the leaf bytes of ``[start, end)``
            (exactly ``end - start`` entries). It is only asked for entries the directory does
            not hold yet, in increasing, bundle-aligned batches of ``batch`` entries. A plain
            sequence of all entries is accepted too.
        batch: entries per ``read_entries`` call (a multiple of 256).

    Incremental: if ``directory`` already holds an export of size ``M <= N``, full tiles and
    bundles below ``M`` are left untouched (they never change); the previous partial tiles and
    bundle are read back from disk (leaf hashes, entries and every level's partial hashes) and
    extended. Partial files of older sizes are left in place, as the spec allows. Files are
    written atomically (temporary file + rename) and ``checkpoint`` last, so an interrupted
    run leaves the previous export valid.

    Raises:
        ExportError: the checkpoint does not verify with ``vkey``; ``N < M`` (rollback);
            ``read_entries`` returned the wrong number of entries; the previous export is
            corrupt; or the rebuilt root differs from the checkpoint's (nothing referencing
            the new size is written then).
        EntryTooLargeError: an entry is longer than 65,535 bytes.
    """
    directory = Path(directory)
    if batch <= 0 or batch % TILE_WIDTH:
        raise ValueError(f"batch must be a positive multiple of {TILE_WIDTH}")
    try:
        checkpoint, _ = open_checkpoint(checkpoint_note, [Verifier.from_vkey(vkey)])
    except NoteError as exc:
        raise ExportError(f"checkpoint does not verify with the vkey: {exc}") from None
    if callable(read_entries):
        read = read_entries
    else:
        entries_sequence = read_entries

        def read(start: int, end: int) -> Sequence[bytes]:
            return entries_sequence[start:end]

    new_size = checkpoint.size
    old_size = _existing_size(directory)
    if old_size > new_size:
        raise ExportError(
            f"{directory} already holds a log of size {old_size}; refusing to roll back to {new_size}"
        )

    writer = _Writer(directory)
    pending, next_index, bundle = _load_previous(directory, old_size)

    def write_full_tile(level: int, index: int, hashes: list[bytes]) -> None:
        writer.write(tile_path(level, index), b"".join(hashes))

    stack = _TileStack(pending, next_index, write_full_tile)
    bundle_index = old_size // TILE_WIDTH
    start = old_size
    while start < new_size:
        end = min(new_size, (start // batch + 1) * batch)
        chunk = read(start, end)
        if len(chunk) != end - start:
            raise ExportError(
                f"read_entries({start}, {end}) returned {len(chunk)} entries, expected {end - start}"
            )
        bundle.extend(chunk)
        while len(bundle) >= TILE_WIDTH:
            writer.write(entries_path(bundle_index), encode_entry_bundle(bundle[:TILE_WIDTH]))
            del bundle[:TILE_WIDTH]
            bundle_index += 1
        stack.add(0, leaf_hashes(chunk))
        start = end

    root = stack.root()
    if root != checkpoint.root_hash:
        raise ExportError(
            f"the entries rebuild root {root.hex()} but the checkpoint of size {new_size} signs "
            f"{checkpoint.root_hash.hex()}"
        )
    _write_tail(writer, stack, bundle_index, bundle, changed=new_size != old_size)
    vkey_text = vkey.strip() + "\n"
    vkey_path = directory / "vkey"
    if not vkey_path.exists() or vkey_path.read_text(encoding="utf-8") != vkey_text:
        writer.write("vkey", vkey_text.encode())
    writer.write("checkpoint", checkpoint_note.encode())
    return ExportStats(
        size=new_size,
        previous_size=old_size,
        entries_written=new_size - old_size,
        files_written=writer.files,
        bytes_written=writer.bytes,
    )
