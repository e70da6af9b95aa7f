"""Splitting a byte stream into lines across chunk boundaries, in bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

__all__ = ["TOO_LONG", "LineSplitter"]

TOO_LONG: Final = b""
"""Handed to the callback (with ``too_long=True``) for a line over the limit: its bytes are dropped."""


class LineSplitter:
    """Feeds complete lines (without their ``\\n``) to ``on_line(number, raw, too_long)``.

    Line numbers are 1-based physical lines. A line longer than ``max_line_bytes`` is never
    buffered: its bytes are dropped as they arrive and the callback is told it was too long.
    """

    def __init__(self, on_line: Callable[[int, bytes, bool], None], max_line_bytes: int) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self._on_line = on_line
        self._limit = max_line_bytes
        self._pending = bytearray()
        self._overflowing = False
        self.lines = 0

    def feed(self, chunk: bytes) -> None:
        start = 0
        find = chunk.find
        while True:
            newline = find(b"\n", start)
            if newline < 0:
                self._hold(chunk[start:])
                return
            self.lines += 1
            if self._pending or self._overflowing:
                self._hold(chunk[start:newline])
                self._flush()
            elif newline - start > self._limit:
                self._on_line(self.lines, TOO_LONG, True)
            else:
                self._on_line(self.lines, chunk[start:newline], False)
            start = newline + 1

    def close(self) -> None:
        if self._pending or self._overflowing:
            self.lines += 1
            self._flush()

    def _hold(self, piece: bytes) -> None:
        if not piece or self._overflowing:
            return
        if len(self._pending) + len(piece) > self._limit:
            self._overflowing = True
            self._pending = bytearray()
        else:
            self._pending += piece

    def _flush(self) -> None:
        if self._overflowing:
            self._overflowing = False
            self._on_line(self.lines, TOO_LONG, True)
        else:
            raw = bytes(self._pending)
            self._pending.clear()
            self._on_line(self.lines, raw, False)
