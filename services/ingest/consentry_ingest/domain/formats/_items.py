"""What every format shares: one record's values in, a :class:`RawItem` or its errors out.

The field checks are those of :mod:`..manifest` (the JSONL/CSV parser), so an item means the same
whichever format it came in: same URL canonicalisation, same hash and id rules, same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from consentry_ingest.domain.errors import InvalidURLError
from consentry_ingest.domain.id_index import DuplicateIds
from consentry_ingest.domain.manifest import (
    _NO_STRINGS,
    MAX_ID_CHARS,
    LineError,
    RawItem,
    _check_digest,
    _check_evidence,
    _check_text,
    _check_unusual_id,
    _check_url,
    _quote,
    check_identifiers,
    normalise_url,
)

__all__ = ["FILE_LINE", "MAX_TITLE_CHARS", "NO_STRINGS", "ItemChecker", "quote"]

FILE_LINE: Final = 0
"""The ``line`` of an error about a file as a whole (its schema, its structure), not one record."""

MAX_TITLE_CHARS: Final = 4096
"""Titles longer than this are cut (with a trailing ``…``): a title is descriptive only, and the
text columns that datasets name ``text`` or ``caption`` can hold whole documents."""

NO_STRINGS: Final[Mapping[str, str]] = _NO_STRINGS
quote = _quote


class ItemChecker:
    """Validates records into items for one manifest and remembers their ids to refuse repeats.

    ``noun`` is how a format calls its records ("line", "row", "record"); it only appears in the
    duplicate-id message. ``field_names`` maps an item field to the name the file uses for it
    (a Parquet column, a Croissant field), so errors name what the user can find in their file.
    """

    def __init__(
        self,
        *,
        noun: str = "line",
        field_names: Mapping[str, str] | None = None,
        ids: DuplicateIds | None = None,
    ) -> None:
        self._noun = noun
        self._names = dict(field_names or {})
        self._ids = ids if ids is not None else DuplicateIds()

    def deferred_errors(self) -> list[LineError]:
        """The repeats found only at the end (among ids spilled out of memory, see
        :class:`~consentry_ingest.domain.id_index.DuplicateIds`); call once, after the last record."""
        field = self._names.get("id", "id")  # named as the file names it, like item()'s errors
        return [self._duplicate(line, item_id, first, field) for line, first, item_id in self._ids.deferred()]

    def _duplicate(self, line: int, item_id: str, first: int, field: str = "id") -> LineError:
        return LineError(line, field, f"duplicate id {quote(item_id)}, first seen on {self._noun} {first}")

    def item(
        self,
        line: int,
        item_id: object,
        url: object,
        sha256: object = None,
        md5: object = None,
        license: object = None,
        creator: object = None,
        title: object = None,
        media_type: object = None,
        *,
        evidence: Mapping[str, object] | None = None,
        known_evidence: Mapping[str, str] | None = None,
        extra: Mapping[str, str] = NO_STRINGS,
        unique_id: bool = False,
        identifiers: Mapping[str, object] | None = None,
    ) -> RawItem | list[LineError]:
        """The item of record ``line``, or the errors that stop it being one.

        ``None`` (or ``""``) means "not given" for every optional value; ``evidence`` holds the
        raw values of the evidence fields that were given, ``known_evidence`` values already in their
        normal form (a CDXJ crawl time), which ``evidence`` overrides. ``unique_id=True`` says the
        caller made the id unique itself (a row number), so it is not indexed. ``identifiers``
        holds the raw values of the work identifier fields given (``isbn``, ``doi``...).
        """
        errors: list[LineError] = []
        if unique_id and type(item_id) is str:
            checked_id: str | None = item_id
        else:
            checked_id = self._check_id(line, item_id, errors)
        # The common case without the wrapper's call; _check_url words the error when there is one.
        try:
            checked_url: str | None = (
                normalise_url(url) if type(url) is str else _check_url(line, url, errors)
            )
        except InvalidURLError:
            checked_url = _check_url(line, url, errors)
        digest = lower = licence = author = name = kind = None
        if sha256 is not None:
            digest = _check_digest(line, "sha256", sha256, 64, errors)
        if md5 is not None:
            lower = _check_digest(line, "md5", md5, 32, errors)
        if license is not None:
            licence = _check_text(line, "license", license, errors)
        if creator is not None:
            author = _check_text(line, "creator", creator, errors)
        if title is not None:
            name = _check_text(line, "title", title, errors)
            if name is not None and len(name) > MAX_TITLE_CHARS:
                name = name[: MAX_TITLE_CHARS - 1] + "…"
        if media_type is not None:
            kind = _check_text(line, "media_type", media_type, errors)
        codes = check_identifiers(line, identifiers, errors) if identifiers else ()
        found = _check_evidence(line, evidence, errors) if evidence else NO_STRINGS
        if known_evidence:
            found = MappingProxyType({**known_evidence, **found})
        if errors or checked_id is None or checked_url is None:
            if self._names:
                names = self._names
                return [LineError(e.line, names.get(e.field or "", e.field), e.message) for e in errors]
            return errors
        return RawItem(
            line, checked_id, checked_url, digest, lower, licence, author, name, kind, extra, found, codes
        )

    def error(self, line: int, field: str | None, message: str) -> LineError:
        """An error for ``field`` (an item field name, renamed as the file names it)."""
        return LineError(line, self._names.get(field or "", field), message)

    def _check_id(self, line: int, value: object, errors: list[LineError]) -> str | None:
        if (
            type(value) is not str
            or not 0 < len(value) <= MAX_ID_CHARS
            or not value.isprintable()
            or value.isspace()
        ):
            value = _check_unusual_id(line, value, errors)
            if value is None:
                return None
        # "None" rather than "first != line": two files of one manifest share line numbers.
        first = self._ids.first_seen(value, line)
        if first is not None:
            errors.append(self._duplicate(line, value, first))
            return None
        return value
