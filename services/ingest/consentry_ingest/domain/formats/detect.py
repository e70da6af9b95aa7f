"""Which format an upload is in, from an explicit choice, its file name, or its first bytes.

:func:`detect_any_format` extends
:func:`~consentry_ingest.domain.manifest.detect_format` (which stays JSONL/CSV-only: it is what
:class:`~consentry_ingest.domain.manifest.ManifestParser` reads, and its tests pin that) with the
formats of this package, and then defers to it for JSONL and CSV.
"""

from __future__ import annotations

import re
from typing import Final, Literal, TypeAlias

from consentry_ingest.domain.errors import UnsupportedFormatError
from consentry_ingest.domain.manifest import detect_format

__all__ = ["FORMATS", "AnyManifestFormat", "detect_any_format"]

AnyManifestFormat: TypeAlias = Literal["jsonl", "csv", "parquet", "croissant", "cdxj", "hf-card"]

FORMATS: Final[tuple[AnyManifestFormat, ...]] = ("jsonl", "csv", "parquet", "croissant", "cdxj", "hf-card")
"""Every format ingest reads, as :func:`detect_any_format` names them."""

_ALIASES: Final[dict[str, AnyManifestFormat]] = {
    **{name: name for name in FORMATS},
    "ndjson": "jsonl",
    "jsonld": "croissant",
    "json-ld": "croissant",
    "hf": "hf-card",
    "huggingface": "hf-card",
    "dataset-card": "hf-card",
}
_COMPRESSION_SUFFIXES: Final = (".gz", ".zst", ".bz2", ".xz")
_PARQUET_MAGIC: Final = b"PAR1"
_BOM: Final = b"\xef\xbb\xbf"
_CDXJ_LINE: Final = re.compile(rb"[^\s{]\S* [0-9]{14} \{")
_CDX_LINE: Final = re.compile(rb"(?: CDX [A-Za-z ]+\r?\n)?[^\s{]\S* [0-9]{14} [a-z][a-z0-9+.-]*:\S* \S")
"""A classic CDX line (``<SURT> <timestamp> <original URL> <mime> ...``), after an optional header."""
_CDX_SERVER_JSON: Final = re.compile(rb'\[\s*\[\s*"urlkey"\s*,\s*"timestamp"')
_FRONT_MATTER: Final = re.compile(rb"---[ \t]*\r?\n")
_CROISSANT_MARKERS: Final = (
    b"mlcommons.org/croissant",
    b"mlcommons.org/schema",  # the Hub's Croissant 0.8 drafts
    b'"sc:Dataset"',
    b"schema.org/Dataset",
)
_CDX_KEYS: Final = (b'"digest"', b'"mime"', b'"status"', b'"filename"', b'"offset"')
"""Keys of a capture index line; with ``url`` and ``timestamp`` they tell an index server's JSON
rows (some servers leave out ``urlkey``) from a JSONL manifest, which has none of them."""


def detect_any_format(
    filename: str | None, first_bytes: bytes, *, override: str | None = None
) -> AnyManifestFormat:
    """Tell which format a manifest is in.

    ``override`` (the user's ``--format``) wins: one of :data:`FORMATS` or an alias (``ndjson``,
    ``jsonld``, ``hf``). Then the file name: ``.parquet``/``.pq``, ``.cdxj``/``.cdx``, ``.jsonld``,
    ``README.md`` (a Hugging Face card), then ``.jsonl``/``.csv`` as
    :func:`~consentry_ingest.domain.manifest.detect_format` reads them; a compression suffix is
    looked through. Then the content (``first_bytes``, a few KiB from the start): Parquet's
    magic ``PAR1``; a first line ``---`` (YAML front matter: a card); a JSON object whose start
    has ``@context`` and the Croissant vocabulary or ``sc:Dataset``; CDXJ lines
    (``<SURT> <14 digits> {``, or a ``!``-declaration) or the index server's JSON lines (with
    ``urlkey`` and ``timestamp``, or ``url``, ``timestamp`` and a capture key such as ``digest``
    or ``mime``); the Wayback CDX server's classic lines (``<SURT> <14 digits> <URL> ...``, after
    an optional `` CDX`` header) or its JSON array (``[["urlkey","timestamp",...``); else JSONL or
    CSV as ``detect_format`` decides.

    Raises :class:`~consentry_ingest.domain.errors.UnsupportedFormatError` for an unknown
    ``override`` and for what ``detect_format`` refuses (TSV, spreadsheets, JSON arrays...).
    """
    if override is not None:
        chosen = _ALIASES.get(override.strip().lower())
        if chosen is None:
            raise UnsupportedFormatError(
                f"unknown manifest format {override!r}: use one of {', '.join(FORMATS)}"
            )
        return chosen
    if filename:
        by_name = _from_name(filename.strip().lower())
        if by_name is not None:
            return by_name
        if _known_to_detect_format(filename):
            return detect_format(filename, first_bytes)  # the name beats the content
    head = first_bytes.removeprefix(_BOM)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    stripped = head.lstrip()
    if _FRONT_MATTER.match(stripped):
        return "hf-card"
    if (
        stripped.startswith(b"!")
        or _CDXJ_LINE.match(stripped)
        or _CDX_LINE.match(head)
        or _CDX_SERVER_JSON.match(stripped)
    ):
        return "cdxj"
    if stripped.startswith(b"{"):
        if b'"@context"' in stripped and any(marker in stripped for marker in _CROISSANT_MARKERS):
            return "croissant"
        first_line = stripped.split(b"\n", 1)[0]
        if b'"timestamp"' in first_line and (
            b'"urlkey"' in first_line
            or (b'"url"' in first_line and any(key in first_line for key in _CDX_KEYS))
        ):
            return "cdxj"
    return detect_format(None, first_bytes)


def _from_name(name: str) -> AnyManifestFormat | None:
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    base = name.rsplit("/", 1)[-1]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".cdxj", ".cdx")):
        return "cdxj"
    if name.endswith(".jsonld"):
        return "croissant"
    if base == "readme.md":
        return "hf-card"
    return None


def _known_to_detect_format(filename: str) -> bool:
    """Whether the name alone decides in ``detect_format`` (a JSONL/CSV or refused extension)."""
    name = filename.strip().lower()
    for suffix in _COMPRESSION_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.endswith((".jsonl", ".ndjson", ".jsonlines", ".csv", ".tsv", ".xlsx", ".zip", ".tar"))
