"""Resumable uploads: the rules for appending a chunk to an upload session.

A session's *committed offset* is how many bytes of the manifest the server holds. A chunk is
sent with ``Content-Range: bytes START-END/TOTAL`` (``TOTAL`` may be ``*`` until it is known) and
is accepted only at the committed offset, so a client that lost a connection asks for the offset
and sends the rest: nothing is written twice and nothing is skipped. Pure: no files, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import IngestDomainError

__all__ = ["BadContentRangeError", "ChunkRange", "OffsetConflictError", "check_chunk", "parse_content_range"]

_RANGE = re.compile(r"^bytes (\d{1,18})-(\d{1,18})/(\d{1,18}|\*)$")


class BadContentRangeError(IngestDomainError):
    """The chunk's ``Content-Range`` is missing or malformed (HTTP 400)."""


class OffsetConflictError(IngestDomainError):
    """The chunk does not start at the committed offset, or contradicts the known total
    (HTTP 409); ``offset`` is where the client must continue."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class ChunkRange:
    start: int
    end: int  # exclusive
    total: int | None

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_content_range(value: str | None) -> ChunkRange:
    """``bytes START-END/TOTAL`` (END inclusive, as RFC 9110 has it) as a half-open range."""
    if not value:
        raise BadContentRangeError("a chunk needs a Content-Range header: bytes START-END/TOTAL (or /*)")
    match = _RANGE.match(value.strip())
    if match is None:
        raise BadContentRangeError(f"Content-Range {value!r} is not of the form bytes START-END/TOTAL")
    start, last = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if last < start:
        raise BadContentRangeError(f"Content-Range {value!r}: END is before START")
    if total is not None and last >= total:
        raise BadContentRangeError(f"Content-Range {value!r}: END is beyond TOTAL")
    return ChunkRange(start, last + 1, total)


def check_chunk(committed: int, known_total: int | None, chunk: ChunkRange) -> int | None:
    """Check ``chunk`` against a session holding ``committed`` bytes; returns the session's total
    after it (``None`` while unknown). Raises :class:`OffsetConflictError` when it cannot apply."""
    if chunk.start != committed:
        raise OffsetConflictError(
            f"this chunk starts at byte {chunk.start}, but the upload holds {committed} bytes: "
            f"continue from {committed}",
            committed,
        )
    if known_total is not None and chunk.total is not None and chunk.total != known_total:
        raise OffsetConflictError(
            f"this chunk says the manifest has {chunk.total} bytes, earlier ones said {known_total}",
            committed,
        )
    total = known_total if known_total is not None else chunk.total
    if total is not None and chunk.end > total:
        raise OffsetConflictError(f"this chunk ends beyond the manifest's {total} bytes", committed)
    return total
