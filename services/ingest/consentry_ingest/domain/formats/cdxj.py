"""Common Crawl (and pywb / OpenWayback) CDXJ capture indexes: one capture per line, one item each.

A line is ``<SURT key> <timestamp> <JSON object>``::

    org,example)/cat.jpg 20250512054001 {"url": "https://example.org/cat.jpg", "mime": "image/jpeg",
    "mime-detected": "image/jpeg", "status": "200", "digest": "ZA6MPPJEFGZ53KWFSLWMF7NDO7RKOWR4",
    "length": "78501", "offset": "243658810", "filename": "crawl-data/CC-MAIN-2025-21/..."}

The JSON lines that the Common Crawl index server answers with (``output=json``: the same object
with ``urlkey`` and ``timestamp`` inside it) are read too, and so are the Wayback CDX server's
answers -- classic CDX lines (``<SURT> <timestamp> <original> <mimetype> <statuscode> <digest>
<length>``, or the fields a `` CDX N b a m s k r M S V g`` header names, as in CDX files) and its
``output=json`` array of rows, the first row naming the fields. ``!``-lines (the OpenWayback format
declaration) and blank lines are skipped. The timestamp is the crawl time, 14 digits
``YYYYMMDDhhmmss`` in UTC.

An item per capture: ``url`` from the JSON (required, canonicalised as every URL); ``media_type``
from ``mime-detected``, else ``mime`` (when it looks like ``type/subtype`` and is not a
``warc/...`` record type); ``sha256`` when the digest is ``sha256:<hex>``. ``extra`` keeps
``timestamp`` (the 14 digits), ``sha1`` (the payload digest, hex: Common Crawl writes it as
32 base32 characters, optionally ``sha1:``-prefixed), and, when present, ``status``, ``mime``,
``mime_detected``, ``warc_filename``, ``warc_offset`` and ``warc_length`` (where the record is),
and ``redirect`` (a 3xx capture's target). ``-`` (pywb's and OpenWayback's "none") is not a
value: ``"digest": "-"`` is no digest, ``"status": "-"`` no status.

Every capture is an item whatever its ``status`` and record type: a ``warc/revisit`` record (the
payload of an earlier capture, seen again), a redirect (3xx, Common Crawl's ``crawldiagnostics``)
and an error page (4xx/5xx) are still captures of that URL at that time, and a gate that dropped
them would pass unchecked whatever the index lists; ``status`` and ``redirect`` in ``extra`` let
a caller tell them apart.
``evidence`` gets ``fetched_at`` from the timestamp, plus any evidence field of
:data:`~consentry_ingest.domain.manifest.EVIDENCE_FIELDS` the JSON carries.

Ids: by default ``<timestamp>/<url as written>``, the capture's identity (the Wayback Machine's
own addressing). ``id_from="digest"`` uses the payload digest (``sha1:<BASE32>``) instead, falling
back to the capture id when a line has none -- but one payload is often captured at several URLs
(error pages, mirrors), and each repeat is then a duplicate-id error.

Errors name the line and the field (``timestamp``, ``url``, ``digest``...); memory is bounded by
``max_line_bytes`` plus the duplicate-id index, as for JSONL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from types import MappingProxyType
from typing import IO, Final, Literal

from consentry_ingest.domain.errors import ParserClosedError
from consentry_ingest.domain.id_index import DuplicateIds
from consentry_ingest.domain.manifest import (
    EVIDENCE_FIELDS,
    MAX_LINE_BYTES,
    LineError,
    ParsedLine,
    _check_url,
    _contains_lone_surrogate,
    _json_type,
)

from ._items import ItemChecker, quote
from ._lines import LineSplitter

__all__ = ["CdxjIdSource", "CdxjParser", "read_cdxj"]

CdxjIdSource = Literal["capture", "digest"]

_TIMESTAMP: Final = re.compile(r"[0-9]{14}")
_BASE32_SHA1: Final = re.compile(r"[A-Za-z2-7]{32}")
_HEX40: Final = re.compile(r"[0-9a-fA-F]{40}")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_MEDIA_TYPE: Final = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+")
_MAX_EXTRA_CHARS: Final = 1024
_BASE32_AS_INT: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")
_EVIDENCE_IN_JSON: Final = tuple(name for name in EVIDENCE_FIELDS if name != "fetched_at")
_EXTRA_KEYS: Final = (
    ("status", "status"),
    ("mime", "mime"),
    ("mime-detected", "mime_detected"),
    ("filename", "warc_filename"),
    ("offset", "warc_offset"),
    ("length", "warc_length"),
    ("redirect", "redirect"),
)
_CDX_LETTERS: Final = {
    "a": "url",
    "m": "mime",
    "s": "status",
    "k": "digest",
    "r": "redirect",
    "S": "length",
    "V": "offset",
    "g": "filename",
}
"""Classic CDX field letters (the `` CDX`` header legend) -> the CDXJ key they are read as; ``N``
(the SURT key), ``b`` (the timestamp) and ``M`` (robot flags) are not."""
_CDX_LAYOUTS: Final[dict[int, tuple[str, ...]]] = {
    7: ("N", "b", "a", "m", "s", "k", "S"),  # the Wayback CDX server's default answer
    9: ("N", "b", "a", "m", "s", "k", "r", "V", "g"),
    11: ("N", "b", "a", "m", "s", "k", "r", "M", "S", "V", "g"),
}
_JSON_NAMES: Final = {"original": "url", "mimetype": "mime", "statuscode": "status"}
_PLACEHOLDER: Final = "-"
"""What pywb and OpenWayback write for a value a record lacks (``"status": "-"`` on a revisit,
``"redirect": "-"``, ``"length": "-"`` in ARC-era indexes, ``"digest": "-"``): not given."""
_BOM: Final = b"\xef\xbb\xbf"
_READ_CHUNK: Final = 1 << 20


def _crawl_time(timestamp: str) -> str | None:
    """``YYYY-MM-DDThh:mm:ssZ`` for 14 digits that make a real UTC time, else ``None``."""
    if _TIMESTAMP.fullmatch(timestamp) is None:
        return None
    year, month, day = int(timestamp[:4]), int(timestamp[4:6]), int(timestamp[6:8])
    hour, minute, second = int(timestamp[8:10]), int(timestamp[10:12]), int(timestamp[12:14])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1] and hour < 24 and minute < 60 and second < 60):
        return None
    t = timestamp
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"


class CdxjParser:
    """Incremental CDXJ parser: ``feed(chunk)`` returns the results of the lines ``chunk``
    completes, ``close()`` those of the last line. Chunks may split lines and characters
    anywhere. Errors are returned, never raised (``feed`` after ``close`` raises
    :class:`~consentry_ingest.domain.errors.ParserClosedError`). Single-use.
    """

    def __init__(
        self,
        *,
        id_from: CdxjIdSource = "capture",
        max_line_bytes: int = MAX_LINE_BYTES,
        ids: DuplicateIds | None = None,
    ) -> None:
        if id_from not in ("capture", "digest"):
            raise ValueError("id_from must be 'capture' or 'digest'")
        self.id_from: Final = id_from
        self.max_line_bytes: Final = max_line_bytes
        self._lines = LineSplitter(self._line, max_line_bytes)
        self._checker = ItemChecker(ids=ids)
        self._sha256 = hashlib.sha256()
        self._out: list[ParsedLine] = []
        self._closed = False
        self._cdx_letters: tuple[str, ...] | None = None
        self._json_names: tuple[str, ...] | None = None

    @property
    def lines_read(self) -> int:
        """How many complete lines have been consumed so far."""
        return self._lines.lines

    @property
    def content_sha256(self) -> str:
        """Lower-case hex SHA-256 of every byte fed so far."""
        return self._sha256.hexdigest()

    def feed(self, chunk: bytes) -> list[ParsedLine]:
        """Consume the next bytes; return the results of the lines they complete."""
        if self._closed:
            raise ParserClosedError("feed() after close()")
        self._sha256.update(chunk)
        self._lines.feed(chunk)
        out, self._out = self._out, []
        return out

    def close(self) -> list[ParsedLine]:
        """Signal the end of the index; return the results of what was still held. Idempotent."""
        if self._closed:
            return []
        self._closed = True
        self._lines.close()
        out, self._out = self._out, []
        out.extend(self._checker.deferred_errors())
        return out

    # -- one line --

    def _line(self, line: int, raw: bytes, too_long: bool) -> None:
        out = self._out
        if too_long:
            out.append(LineError(line, None, f"line is longer than {self.max_line_bytes} bytes"))
            return
        if line == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        raw = raw.removesuffix(b"\r")
        if not raw.strip() or raw.startswith(b"!"):
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(LineError(line, None, f"not valid UTF-8 at byte {exc.start + 1}"))
            return
        if text.startswith("{"):
            timestamp_value: object = None
            body = text
        elif text.startswith("["):
            self._json_rows(line, text)
            return
        else:
            parts = text.split(" ", 2)
            if len(parts) != 3 or not parts[2].startswith("{"):
                self._cdx_line(line, text)
                return
            timestamp_value, body = parts[1], parts[2]
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            out.append(LineError(line, None, f"invalid JSON: {exc.msg} at column {exc.colno}"))
            return
        except (RecursionError, ValueError):
            out.append(LineError(line, None, "invalid JSON: nested too deeply or too large a number"))
            return
        if type(obj) is not dict:
            out.append(LineError(line, None, f"expected a JSON object, got {_json_type(obj)}"))
            return
        if ("\\ud" in body or "\\uD" in body) and _contains_lone_surrogate(obj):
            out.append(LineError(line, None, "the JSON has an unpaired surrogate escape, not valid Unicode"))
            return
        if timestamp_value is None:
            timestamp_value = obj.get("timestamp")
        self._capture(line, timestamp_value, obj)

    def _cdx_line(self, line: int, text: str) -> None:
        """A classic CDX line (space-separated fields), or the `` CDX N b a m s k ...`` header that
        names them; without a header the number of fields decides (7: the Wayback CDX server's
        answer, 9 or 11: CDX files)."""
        fields = text.split()
        if fields and fields[0] == "CDX":
            self._cdx_letters = tuple(fields[1:])
            return
        letters = self._cdx_letters or _CDX_LAYOUTS.get(len(fields))
        if letters is None or len(fields) != len(letters) or "b" not in letters or "a" not in letters:
            self._out.append(
                LineError(
                    line,
                    None,
                    "not a CDXJ line ('<SURT key> <timestamp> {json}') nor a CDX line (7, 9 or 11 "
                    "space-separated fields, or the fields a ' CDX N b a m s k ...' header names)",
                )
            )
            return
        values = dict(zip(letters, fields, strict=True))
        obj: dict[str, object] = {name: values[key] for key, name in _CDX_LETTERS.items() if key in values}
        self._capture(line, values["b"], obj)

    def _json_rows(self, line: int, text: str) -> None:
        """The Wayback CDX server's ``output=json`` answer: a JSON array of rows, the first naming
        the fields (``urlkey``, ``timestamp``, ``original``, ``mimetype``, ``statuscode``...), one
        row a line (``[[...],`` / ``[...],`` / ``[...]]``) or all on one line."""
        body = text.strip()
        try:
            if body.startswith("[[") and body.endswith("]]"):
                rows = json.loads(body)
            else:
                body = body.removeprefix("[").rstrip(",") if body.startswith("[[") else body.rstrip(",")
                body = body[:-1] if body.endswith("]]") else body
                rows = [] if body in ("", "[]") else [json.loads(body)]
        except (ValueError, RecursionError):
            self._out.append(LineError(line, None, "invalid JSON in a CDX server row"))
            return
        for row in rows:
            if not isinstance(row, list) or not all(isinstance(cell, str) for cell in row):
                self._out.append(
                    LineError(line, None, "not a CDXJ line nor a CDX server row (a JSON array of strings)")
                )
                continue
            if self._json_names is None:
                self._json_names = tuple(cell.strip().lower() for cell in row)
                continue
            if len(row) != len(self._json_names):
                self._out.append(
                    LineError(
                        line,
                        None,
                        f"{len(row)} values for the {len(self._json_names)} fields the first row names",
                    )
                )
                continue
            values = dict(zip(self._json_names, row, strict=True))
            obj: dict[str, object] = {
                _JSON_NAMES.get(name, name): value for name, value in values.items() if name != "timestamp"
            }
            self._capture(line, values.get("timestamp"), obj)

    def _capture(self, line: int, timestamp: object, obj: dict[str, object]) -> None:
        errors: list[LineError] = []
        stamp = timestamp if isinstance(timestamp, str) else ""
        fetched_at = _crawl_time(stamp)
        if fetched_at is None:
            shown = quote(timestamp) if isinstance(timestamp, str) else _json_type(timestamp)
            errors.append(
                LineError(line, "timestamp", f"timestamp must be 14 digits YYYYMMDDhhmmss (UTC), got {shown}")
            )
        extra: dict[str, str] = {}
        sha256 = digest_id = None
        digest = obj.get("digest")
        if digest is not None and digest != _PLACEHOLDER:
            sha1, sha256, digest_id = self._digest(line, digest, errors)
            if sha1 is not None:
                extra["sha1"] = sha1
        for key, name in _EXTRA_KEYS:
            value = obj.get(key)
            if type(value) is int:
                value = str(value)
            if (
                isinstance(value, str)
                and value
                and value != _PLACEHOLDER
                and len(value) <= _MAX_EXTRA_CHARS
                and "\x00" not in value
            ):
                extra[name] = value
        media_type = None
        for key in ("mime-detected", "mime"):
            value = obj.get(key)
            if (
                isinstance(value, str)
                and _MEDIA_TYPE.fullmatch(value)
                and not value.lower().startswith("warc/")
            ):
                media_type = value.lower()
                break
        url = obj.get("url")
        raw_url = url.strip() if isinstance(url, str) else ""
        if errors or fetched_at is None:
            _check_url(line, url, errors)  # so that one line reports all it can
            self._out.extend(errors)
            return
        extra["timestamp"] = stamp
        # The crawl time is already checked and in its normal form; other evidence is checked.
        given = {name: obj[name] for name in _EVIDENCE_IN_JSON if obj.get(name) is not None}
        item_id = digest_id if self.id_from == "digest" and digest_id else f"{stamp}/{raw_url}"
        result = self._checker.item(
            line,
            item_id,
            url,
            sha256,
            media_type=media_type,
            evidence=given or None,
            known_evidence={"fetched_at": fetched_at},
            extra=MappingProxyType(extra),
        )
        if isinstance(result, list):
            self._out.extend(result)
        else:
            self._out.append(result)

    @staticmethod
    def _digest(
        line: int, value: object, errors: list[LineError]
    ) -> tuple[str | None, str | None, str | None]:
        """(sha1 hex, sha256 hex, id form) of a CDXJ ``digest``."""
        if not isinstance(value, str):
            errors.append(LineError(line, "digest", f"digest must be a string, got {_json_type(value)}"))
            return None, None, None
        text = value.strip()
        algorithm, colon, rest = text.partition(":")
        if not colon:
            algorithm, rest = "sha1", text
        algorithm = algorithm.lower().replace("-", "")
        if algorithm == "sha1" and _BASE32_SHA1.fullmatch(rest):
            # 32 base32 digits are exactly 160 bits: read them as one base-32 integer (5x faster
            # than base64.b32decode, which also handles padding a digest never has).
            upper = rest.upper()
            return f"{int(upper.translate(_BASE32_AS_INT), 32):040x}", None, f"sha1:{upper}"
        if algorithm == "sha1" and _HEX40.fullmatch(rest):
            raw = bytes.fromhex(rest)
            return rest.lower(), None, f"sha1:{base64.b32encode(raw).decode()}"
        if algorithm == "sha256" and _HEX64.fullmatch(rest):
            return None, rest.lower(), f"sha256:{rest.lower()}"
        errors.append(
            LineError(
                line,
                "digest",
                f"digest must be a SHA-1 (32 base32 or 40 hex characters, optionally 'sha1:'-prefixed) "
                f"or 'sha256:<64 hex>', got {quote(text)}",
            )
        )
        return None, None, None


def read_cdxj(
    source: IO[bytes],
    *,
    id_from: CdxjIdSource = "capture",
    max_line_bytes: int = MAX_LINE_BYTES,
    ids: DuplicateIds | None = None,
) -> Iterator[list[ParsedLine]]:
    """The results of a whole CDXJ file read from ``source``, a list per 1 MiB read."""
    parser = CdxjParser(id_from=id_from, max_line_bytes=max_line_bytes, ids=ids)
    while chunk := source.read(_READ_CHUNK):
        yield parser.feed(chunk)
    yield parser.close()
