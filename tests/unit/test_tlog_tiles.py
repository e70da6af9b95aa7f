"""C2SP tlog-tiles: paths, bundles, hash tiles and the incremental export writer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from consentry_shared.tlog import (
    TILE_WIDTH,
    Checkpoint,
    EntryTooLargeError,
    ExportError,
    MalformedTileError,
    MemoryTree,
    Signer,
    TileHashReader,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    hash_tiles_for,
    inclusion_proof,
    leaf_hashes,
    root_from_leaf_hashes,
    sign_note,
    tile_path,
    verify_export,
    verify_inclusion,
    write_export,
)

ORIGIN = "consentry.example/test-log"


class Log:
    """A test log: deterministic entries of varying length and a signing key."""

    def __init__(self, size: int, signer: Signer | None = None) -> None:
        self.entries = [f"entry {i} ".encode() * (1 + i % 5) for i in range(size)]
        self.hashes = leaf_hashes(self.entries)
        self.signer = signer or Signer.generate(ORIGIN)

    def checkpoint(self, size: int) -> str:
        root = root_from_leaf_hashes(self.hashes[:size])
        return sign_note(Checkpoint(ORIGIN, size, root).to_text(), [self.signer])

    def reader(self, calls: list[tuple[int, int]] | None = None):  # type: ignore[no-untyped-def]
        def read(start: int, end: int) -> Sequence[bytes]:
            if calls is not None:
                calls.append((start, end))
            return self.entries[start:end]

        return read


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("level", "index", "width", "expected"),
    [
        (0, 0, 256, "tile/0/000"),
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (2, 1000, 256, "tile/2/x001/000"),
        (1, 5, 17, "tile/1/005.p/17"),
        (63, 999, 1, "tile/63/999.p/1"),
    ],
)
def test_tile_paths(level: int, index: int, width: int, expected: str) -> None:
    assert tile_path(level, index, width) == expected


def test_entry_bundle_paths_and_bad_arguments() -> None:
    assert entries_path(0) == "tile/entries/000"
    assert entries_path(1234067, 5) == "tile/entries/x001/x234/067.p/5"
    for bad in [(64, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(ValueError, match="tile"):
            tile_path(*bad)
    with pytest.raises(ValueError, match="bundle"):
        entries_path(-1)


def test_entry_bundle_round_trip() -> None:
    entries = [b"", b"a", b"\x00\x01" * 300, b"x" * 0xFFFF]
    data = encode_entry_bundle(entries)
    assert data[:2] == b"\x00\x00"
    assert data[2:5] == b"\x00\x01a"
    assert decode_entry_bundle(data) == entries
    assert decode_entry_bundle(b"") == []


@pytest.mark.parametrize(("cut", "position"), [(1, 2), (4, 2), (5, 2), (7, 1), (10, 0), (11, 0)])
def test_truncated_bundle_names_the_entry(cut: int, position: int) -> None:
    data = encode_entry_bundle([b"ab", b"", b"cdef"])  # (2+2) + (2+0) + (2+4) = 12 bytes
    with pytest.raises(MalformedTileError) as caught:
        decode_entry_bundle(data[: len(data) - cut])
    assert caught.value.position == position
    # A cut on an entry boundary decodes; callers compare the count with the tile width.
    assert decode_entry_bundle(data[:6]) == [b"ab", b""]


def test_oversized_entry_is_refused() -> None:
    with pytest.raises(EntryTooLargeError, match="65535"):
        encode_entry_bundle([b"ok", b"x" * 0x10000])


def test_hash_tiles_for_the_spec_examples() -> None:
    hashes = leaf_hashes(i.to_bytes(4, "big") for i in range(70_000))
    tiles = dict(hash_tiles_for(hashes))
    level0_full = [p for p in tiles if p.startswith("tile/0/") and ".p/" not in p]
    assert len(level0_full) == 273
    partials = sorted(p for p in tiles if ".p/" in p)
    assert partials == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert "tile/1/000" in tiles
    assert len(tiles) == 273 + 1 + 1 + 1 + 1
    assert tiles["tile/0/001"] == b"".join(hashes[256:512])
    assert tiles["tile/1/000"][32:64] == root_from_leaf_hashes(hashes[256:512])
    assert len(tiles["tile/0/273.p/112"]) == 112 * 32

    assert [p for p, _ in hash_tiles_for(hashes[:256])] == ["tile/0/000", "tile/1/000.p/1"]
    assert list(hash_tiles_for([])) == []


def test_fresh_export_matches_the_tile_definition(tmp_path: Path) -> None:
    log = Log(700)
    stats = write_export(tmp_path, log.checkpoint(700), log.signer.vkey, log.reader())
    files = _files(tmp_path)
    for path, content in hash_tiles_for(log.hashes):
        assert files[path] == content
    assert decode_entry_bundle(files["tile/entries/001"]) == log.entries[256:512]
    assert decode_entry_bundle(files["tile/entries/002.p/188"]) == log.entries[512:]
    assert files["checkpoint"].startswith(f"{ORIGIN}\n700\n".encode())
    assert files["vkey"] == (log.signer.vkey + "\n").encode()
    assert (stats.size, stats.previous_size, stats.entries_written) == (700, 0, 700)
    assert stats.files_written == len(files)
    assert stats.bytes_written == sum(len(c) for c in files.values())


def test_a_plain_sequence_is_accepted(tmp_path: Path) -> None:
    log = Log(10)
    write_export(tmp_path, log.checkpoint(10), log.signer.vkey, log.entries)
    assert verify_export(tmp_path, log.signer.vkey).size == 10


def test_incremental_export_through_many_sizes(tmp_path: Path) -> None:
    sizes = [0, 1, 2, 255, 256, 257, 300, 511, 512, 513, 65_535, 65_536, 65_793, 66_000]
    log = Log(sizes[-1])
    log.entries = [i.to_bytes(3, "big") for i in range(sizes[-1])]  # keep it quick
    log.hashes = leaf_hashes(log.entries)
    previous = 0
    for size in sizes:
        calls: list[tuple[int, int]] = []
        stats = write_export(tmp_path, log.checkpoint(size), log.signer.vkey, log.reader(calls), batch=4096)
        assert stats.previous_size == previous
        assert stats.entries_written == size - previous
        # only new entries were asked for, in bundle-aligned batches covering them exactly
        assert sum(end - start for start, end in calls) == size - previous
        assert all(end <= start + 4096 for start, end in calls)
        if calls:
            assert calls[0][0] == previous
        files = _files(tmp_path)
        for path, content in hash_tiles_for(log.hashes[:size]):
            assert files[path] == content, (size, path)
        report = verify_export(tmp_path, log.signer.vkey)
        assert report.size == size
        previous = size


def test_incremental_export_leaves_old_full_tiles_alone(tmp_path: Path) -> None:
    log = Log(1000)
    write_export(tmp_path, log.checkpoint(600), log.signer.vkey, log.reader())
    before = {p: (tmp_path / p).stat().st_ino for p in ["tile/0/000", "tile/entries/001"]}
    stats = write_export(tmp_path, log.checkpoint(1000), log.signer.vkey, log.reader())
    after = {p: (tmp_path / p).stat().st_ino for p in before}
    assert before == after
    # new: bundle 002 full, 003.p/232; tiles 0/002, 0/003.p/232, 1/000.p/3; checkpoint.
    assert stats.files_written == 6
    assert (tmp_path / "tile/0/002.p/88").exists()  # the old partial is left in place
    assert verify_export(tmp_path, log.signer.vkey).size == 1000


def test_same_size_re_export_only_rewrites_the_checkpoint(tmp_path: Path) -> None:
    log = Log(300)
    write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader())
    calls: list[tuple[int, int]] = []
    stats = write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader(calls))
    assert calls == []
    assert stats.files_written == 1


def test_rollback_is_refused(tmp_path: Path) -> None:
    log = Log(300)
    write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader())
    with pytest.raises(ExportError, match="roll back"):
        write_export(tmp_path, log.checkpoint(299), log.signer.vkey, log.reader())


def test_checkpoint_must_verify_with_the_vkey(tmp_path: Path) -> None:
    log = Log(5)
    with pytest.raises(ExportError, match="vkey"):
        write_export(tmp_path, log.checkpoint(5), Signer.generate("other").vkey, log.reader())
    assert not (tmp_path / "checkpoint").exists()


def test_wrong_entries_do_not_publish_a_checkpoint(tmp_path: Path) -> None:
    log = Log(300)
    write_export(tmp_path, log.checkpoint(100), log.signer.vkey, log.reader())
    old_checkpoint = (tmp_path / "checkpoint").read_bytes()

    def wrong(start: int, end: int) -> Sequence[bytes]:
        return [b"not the entry"] * (end - start)

    with pytest.raises(ExportError, match="rebuild root"):
        write_export(tmp_path, log.checkpoint(300), log.signer.vkey, wrong)
    assert (tmp_path / "checkpoint").read_bytes() == old_checkpoint
    assert not (tmp_path / "tile/0/001.p/44").exists()
    assert verify_export(tmp_path, log.signer.vkey).size == 100
    # and the correct entries still bring it up to date
    write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader())
    assert verify_export(tmp_path, log.signer.vkey).size == 300


def test_short_read_is_an_error(tmp_path: Path) -> None:
    log = Log(20)

    def short(start: int, end: int) -> Sequence[bytes]:
        return log.entries[start : end - 1]

    with pytest.raises(ExportError, match="returned 19 entries"):
        write_export(tmp_path, log.checkpoint(20), log.signer.vkey, short)


def test_damaged_previous_export_is_detected(tmp_path: Path) -> None:
    log = Log(400)
    write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader())
    bundle = tmp_path / "tile/entries/001.p/44"
    data = bytearray(bundle.read_bytes())
    data[-1] ^= 0xFF
    bundle.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="damaged"):
        write_export(tmp_path, log.checkpoint(400), log.signer.vkey, log.reader())
    (tmp_path / "tile/0/001.p/44").unlink()
    with pytest.raises(ExportError, match="missing"):
        write_export(tmp_path, log.checkpoint(400), log.signer.vkey, log.reader())


def test_oversized_entry_stops_the_export(tmp_path: Path) -> None:
    log = Log(3)
    log.entries[2] = b"x" * 70_000
    log.hashes = leaf_hashes(log.entries)
    with pytest.raises(EntryTooLargeError):
        write_export(tmp_path, log.checkpoint(3), log.signer.vkey, log.reader())
    assert not (tmp_path / "checkpoint").exists()


def test_batch_must_be_tile_aligned(tmp_path: Path) -> None:
    log = Log(3)
    with pytest.raises(ValueError, match="multiple"):
        write_export(tmp_path, log.checkpoint(3), log.signer.vkey, log.reader(), batch=100)


def test_tile_hash_reader_serves_proofs(tmp_path: Path) -> None:
    log = Log(70_000 // 64)  # 1093 leaves: full and partial tiles at levels 0 and 1
    size = len(log.entries)
    write_export(tmp_path, log.checkpoint(size), log.signer.vkey, log.reader())
    reader = TileHashReader(tmp_path, size)
    memory = MemoryTree(log.hashes)
    for level in range(size.bit_length()):
        for index in range(size >> level):
            assert reader.hash_at(level, index) == memory.hash_at(level, index), (level, index)
    with pytest.raises(ValueError, match="no complete subtree"):
        reader.hash_at(0, size)
    root = root_from_leaf_hashes(log.hashes)
    for index in (0, 255, 256, 1000, size - 1):
        proof = inclusion_proof(index, size, reader.hash_at)
        verify_inclusion(log.hashes[index], index, size, proof, root)


def test_partial_tile_falls_back_to_the_full_tile(tmp_path: Path) -> None:
    log = Log(600)
    write_export(tmp_path, log.checkpoint(300), log.signer.vkey, log.reader())
    write_export(tmp_path, log.checkpoint(600), log.signer.vkey, log.reader())
    # A log may delete a partial tile once the full one exists; readers of size 300 cope.
    (tmp_path / "tile/0/001.p/44").unlink()
    reader = TileHashReader(tmp_path, 300)
    assert reader.hash_at(0, 299) == log.hashes[299]
    os.remove(tmp_path / "tile/0/001")
    with pytest.raises(MalformedTileError, match="missing"):
        TileHashReader(tmp_path, 300).hash_at(0, 299)
    (tmp_path / "tile/0/000").write_bytes(b"\x00" * (TILE_WIDTH * 32 - 1))
    with pytest.raises(MalformedTileError, match="expected 8192"):
        TileHashReader(tmp_path, 300).hash_at(0, 0)
