"""Files next to a spooled upload, removed with it: the duplicate-id tracker's spill store (one
append-only file per bucket, in a directory of its own) and the encoded records of a manifest
being validated (:class:`RecordSpool`)."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

__all__ = ["FileSpill", "RecordSpool"]


class FileSpill:
    """Buckets as files ``DIR/NNN``; :meth:`remove` deletes the directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def append(self, bucket: int, data: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        with (self._directory / f"{bucket:03d}").open("ab") as out:
            out.write(data)

    def read(self, bucket: int) -> bytes:
        try:
            return (self._directory / f"{bucket:03d}").read_bytes()
        except FileNotFoundError:
            return b""

    def remove(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


_BLOCK_LENGTH = struct.Struct("<I")
_encode_block = msgspec.msgpack.Encoder().encode
_decode_block = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]]).decode


class RecordSpool:
    """Encoded ``(key, value)`` records waiting on disk until the manifest is known valid.

    One file, appended a block at a time (a length, then the block's records as MessagePack),
    read back block by block: memory holds one block whatever the manifest's size.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._out: BinaryIO | None = None

    def append(self, records: list[tuple[bytes, bytes]]) -> None:
        if not records:
            return
        if self._out is None:
            self._out = self._path.open("wb")
        block = _encode_block(records)
        self._out.write(_BLOCK_LENGTH.pack(len(block)))
        self._out.write(block)

    def blocks(self) -> Iterator[list[tuple[bytes, bytes]]]:
        """Every block appended, in order (closes the file for writing first)."""
        self._close()
        try:
            source = self._path.open("rb")
        except FileNotFoundError:
            return
        with source:
            while head := source.read(_BLOCK_LENGTH.size):
                (length,) = _BLOCK_LENGTH.unpack(head)
                yield _decode_block(source.read(length))

    def remove(self) -> None:
        self._close()
        self._path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
