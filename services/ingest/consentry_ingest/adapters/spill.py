"""The duplicate-id tracker's spill store: one append-only file per bucket, in a directory of its
own next to the spooled upload, removed with it."""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["FileSpill"]


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
