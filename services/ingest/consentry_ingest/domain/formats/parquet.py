"""Parquet manifests (LAION, img2dataset, DataComp...), read a batch of rows at a time with pyarrow.

Columns
-------
Each item field is read from the first column the file has among its candidates in
:data:`PARQUET_COLUMNS` (names matched without regard to case): ``url`` from ``url``/``URL`` or
``image_url``, ``title`` from ``title``, ``caption`` or LAION's ``TEXT``, ``license`` from
``license``/``LICENSE``, ``licence``, ``license_url``..., ``id`` from ``id``, img2dataset's ``key``,
LAION-400M's ``SAMPLE_ID`` or DataComp's ``uid``, ``sha256``, ``md5``,
``creator``/``author``/``artist``, ``media_type``/``mime_type``, and the work identifiers ``isbn``,
``isrc``, ``iswc``, ``doi`` (strings; an ISBN may be an integer column). The crawl-time evidence
columns are those named like :data:`~consentry_ingest.domain.manifest.EVIDENCE_FIELDS` (``headers``,
``robots_txt``, ``fetched_at``...). Every other column (``width``, ``height``, ``similarity``,
``punsafe``...) is ignored: third-party schemas carry many, and only the columns used are read from
disk. Common Crawl's columnar index (cc-index-table) is read too: ``url``, ``content_mime_detected``
(else ``content_mime_type``) as the media type, ``fetch_time`` as ``fetched_at``.

``columns={our_field: their_column}`` overrides the candidates, for schemas named otherwise
(``{"url": "downloadurl", "title": "description"}``); ``{field: None}`` reads a field from no
column at all (say, to keep a long ``text`` column out of titles). A mapped column that the
file lacks is an error.

Values
------
Strings or binary (UTF-8) everywhere; ``id`` may be an integer column, ``sha256``/``md5`` raw
digests in binary columns; a column of Arrow's null type (all values null, as LAION-5B's
``LICENSE``) gives nothing; ``headers``/``html_meta`` may be structs or maps, ``fetched_at`` a
timestamp (a time without a zone is read as UTC). Nulls and empty strings are "not given".
Licence values are mapped to SPDX by
:func:`~consentry_ingest.domain.formats.licences.licence_from_declared` (LAION's ``?`` is no
licence, a Creative Commons URL its SPDX id). Titles are cut at
:data:`~consentry_ingest.domain.formats._items.MAX_TITLE_CHARS`.

Ids: without an id column, an item's id is its row number, as a decimal string (``"1"`` for the
first data row). That is stable for one file -- the same file gives the same ids -- but not
across re-exports that reorder or filter rows: give an id column when there is one.

Errors: ``line`` is the 1-based data row; ``field`` names the file's own column. Errors about the
file as a whole (not Parquet, a missing or ill-typed column) are on line 0
(:data:`~consentry_ingest.domain.formats._items.FILE_LINE`) and end the reading.

Memory: one record batch (``batch_rows`` rows of the columns used) at a time, with pyarrow's
buffered stream reading, whatever the file's row-group size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import IO, Any, Final

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from consentry_ingest.domain.errors import IngestDomainError
from consentry_ingest.domain.id_index import DuplicateIds
from consentry_ingest.domain.manifest import (
    EVIDENCE_FIELDS,
    IDENTIFIER_FIELDS,
    ITEM_FIELDS,
    LineError,
    ParsedLine,
)

from ._items import FILE_LINE, ItemChecker, quote
from .licences import licence_from_declared

__all__ = ["PARQUET_COLUMNS", "ColumnMappingError", "read_parquet"]

PARQUET_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "id": ("id", "key", "sample_id", "uid"),
        "url": ("url", "image_url"),
        "sha256": ("sha256",),
        "md5": ("md5",),
        "license": ("license", "licence", "license_url", "licenseurl"),
        "creator": ("creator", "author", "artist"),
        "title": ("title", "caption", "text"),
        # content_mime_*: Common Crawl's columnar index (cc-index-table), the detected type first
        "media_type": (
            "media_type",
            "mime_type",
            "mimetype",
            "content_type",
            "content_mime_detected",
            "content_mime_type",
        ),
        **{name: (name,) for name in IDENTIFIER_FIELDS},
        **{name: (name,) for name in EVIDENCE_FIELDS},
        "fetched_at": ("fetched_at", "fetch_time"),  # fetch_time: the columnar index's crawl time
    }
)
"""Item (and evidence) field -> the column names it is read from by default, in order of
preference, matched without regard to case."""

_READ_BUFFER: Final = 1 << 20
_ITEM_ORDER: Final = ITEM_FIELDS  # positional order of ItemChecker.item


class ColumnMappingError(IngestDomainError, ValueError):
    """A ``columns`` mapping names a field that items do not have: the caller's mistake (HTTP 400),
    not the file's."""


# --- column types --------------------------------------------------------------------------------


def _value_type(arrow_type: Any) -> Any:
    return arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type


def _is_text(arrow_type: Any) -> bool:
    t = _value_type(arrow_type)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_bytes(arrow_type: Any) -> bool:
    t = _value_type(arrow_type)
    return bool(
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    )


def _is_nested(arrow_type: Any) -> bool:
    t = _value_type(arrow_type)
    return bool(
        pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t)
    )


_ALLOWED: Final[dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "id": (
        "strings or integers",
        lambda t: _is_text(t) or _is_bytes(t) or pa.types.is_integer(_value_type(t)),
    ),
    "isbn": (
        "strings or integers",
        lambda t: _is_text(t) or _is_bytes(t) or pa.types.is_integer(_value_type(t)),
    ),
    "headers": ("strings, structs or maps", lambda t: _is_text(t) or _is_bytes(t) or _is_nested(t)),
    "html_meta": ("strings, structs or maps", lambda t: _is_text(t) or _is_bytes(t) or _is_nested(t)),
    "c2pa": ("strings, structs, maps or lists", lambda t: _is_text(t) or _is_bytes(t) or _is_nested(t)),
    "tdmrep_json": ("strings, structs or lists", lambda t: _is_text(t) or _is_bytes(t) or _is_nested(t)),
    "fetched_at": (
        "strings or timestamps",
        lambda t: _is_text(t) or _is_bytes(t) or pa.types.is_timestamp(_value_type(t)),
    ),
}
_TEXT_ONLY: Final = ("strings", lambda t: _is_text(t) or _is_bytes(t))


# --- planning: which column feeds which field ----------------------------------------------------


def _plan(
    names: list[str], schema: Any, columns: Mapping[str, str | None]
) -> tuple[dict[str, str], list[LineError]]:
    """Field -> column for this file, or the errors that stop it being read."""
    by_lower: dict[str, list[str]] = {}
    for name in names:
        by_lower.setdefault(name.lower(), []).append(name)
    chosen: dict[str, str] = {}
    errors: list[LineError] = []
    for field, candidates in PARQUET_COLUMNS.items():
        if field in columns:
            mapped = columns[field]
            if mapped is None:
                continue
            if mapped not in names:
                errors.append(
                    LineError(FILE_LINE, mapped, f"no column {quote(mapped)} (mapped to {field}) in the file")
                )
                continue
            chosen[field] = mapped
            continue
        for candidate in candidates:
            found = by_lower.get(candidate, [])
            exact = [name for name in found if name == candidate or name == candidate.upper()]
            if len(found) == 1 or len(exact) == 1:
                chosen[field] = exact[0] if len(exact) == 1 else found[0]
                break
            if found:
                errors.append(
                    LineError(
                        FILE_LINE,
                        found[0],
                        f"columns {', '.join(quote(n) for n in found)} all read as {field}: "
                        f"map {field} to one of them",
                    )
                )
                break
    if "url" not in chosen and columns.get("url", "") is not None and "url" not in columns:
        errors.append(
            LineError(
                FILE_LINE,
                "url",
                f"no url column (looked for {', '.join(PARQUET_COLUMNS['url'])}); "
                f"map url to the column that holds the URLs",
            )
        )
    if "url" in columns and columns["url"] is None:
        errors.append(LineError(FILE_LINE, "url", "url cannot be mapped to no column: every item needs one"))
    for field, column in chosen.items():
        what, allowed = _ALLOWED.get(field, _TEXT_ONLY)
        arrow_type = schema.field(column).type
        # A column of nulls only (LAION-5B's LICENSE) has Arrow's null type: nothing given.
        if not allowed(arrow_type) and not pa.types.is_null(arrow_type):
            errors.append(
                LineError(
                    FILE_LINE, column, f"column {quote(column)} ({field}) must hold {what}, not {arrow_type}"
                )
            )
    return chosen, errors


# --- values --------------------------------------------------------------------------------------


class _Undecodable:
    """Stands for a binary value that is not UTF-8, so its row reports it."""

    __slots__ = ()


_UNDECODABLE: Final = _Undecodable()


def _decode(values: list[Any], digest_bytes: int | None) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for value in values:
        if type(value) is not bytes:
            append(value)
        elif digest_bytes is not None and len(value) == digest_bytes:
            append(value.hex())
        else:
            try:
                append(value.decode("utf-8"))
            except UnicodeDecodeError:
                append(_UNDECODABLE)
    return out


_DIGEST_BYTES: Final = {"sha256": 32, "md5": 16, **{f: 32 for f in EVIDENCE_FIELDS if f.endswith("_sha256")}}


def _column_values(column: Any, field: str) -> list[Any]:
    """The Python values of one column of a batch. Raises pyarrow/ValueError on unreadable data."""
    binary = _is_bytes(column.type)
    try:
        values: list[Any] = column.to_pylist()
    except UnicodeDecodeError:  # a "string" column holding bytes that are not UTF-8
        values = column.cast(pa.large_binary()).to_pylist()
        binary = True
    return _decode(values, _DIGEST_BYTES.get(field)) if binary else values


# --- reading ---------------------------------------------------------------------------------------


def read_parquet(
    source: IO[bytes],
    *,
    columns: Mapping[str, str | None] | None = None,
    batch_rows: int = 8192,
    ids: DuplicateIds | None = None,
) -> Iterator[list[ParsedLine]]:
    """The items and errors of a Parquet manifest, one list per record batch, in row order.

    ``source`` is a seekable binary file (Parquet keeps its schema at the end: the service
    spools an upload to disk first). ``columns`` maps item or evidence fields to the file's
    columns (see the module docstring); a field that items do not have raises
    :class:`ColumnMappingError` now, not when iterating. Bad rows and a bad file are reported
    as :class:`~consentry_ingest.domain.manifest.LineError` values, never raised.
    """
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(PARQUET_COLUMNS))
    if unknown:
        raise ColumnMappingError(
            f"unknown field(s) {', '.join(map(repr, unknown))} in the column mapping; "
            f"map any of {', '.join(PARQUET_COLUMNS)}"
        )
    if batch_rows < 1:
        raise ValueError("batch_rows must be positive")
    return _read(source, mapping, batch_rows, ids)


def _open(source: IO[bytes]) -> Any:
    return pq.ParquetFile(source, buffer_size=_READ_BUFFER, pre_buffer=False)


def _read(
    source: IO[bytes], mapping: Mapping[str, str | None], batch_rows: int, ids: DuplicateIds | None
) -> Iterator[list[ParsedLine]]:
    try:
        parquet = _open(source)
        schema = parquet.schema_arrow
        names = list(schema.names)
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        yield [LineError(FILE_LINE, None, f"not a readable Parquet file: {quote(str(exc))}")]
        return
    chosen, plan_errors = _plan(names, schema, mapping)
    if plan_errors:
        yield list[ParsedLine](plan_errors)
        return
    checker = ItemChecker(noun="row", field_names=chosen, ids=ids)
    item_fields: list[str] = [field for field in _ITEM_ORDER if field in chosen]
    evidence_fields: list[str] = [field for field in EVIDENCE_FIELDS if field in chosen]
    read_columns = list(dict.fromkeys(chosen.values()))
    row = 1
    try:
        batches = parquet.iter_batches(batch_size=batch_rows, columns=read_columns, use_threads=False)
        for batch in batches:
            yield _rows(batch, row, chosen, item_fields, evidence_fields, checker)
            row += batch.num_rows
    except (pa.ArrowException, OSError, ValueError, TypeError, OverflowError) as exc:
        yield [LineError(row, None, f"the Parquet data from row {row} on cannot be read: {quote(str(exc))}")]
        return
    deferred = checker.deferred_errors()
    if deferred:
        yield list[ParsedLine](deferred)


def _rows(
    batch: Any,
    first_row: int,
    chosen: Mapping[str, str],
    item_fields: list[str],
    evidence_fields: list[str],
    checker: ItemChecker,
) -> list[ParsedLine]:
    count = batch.num_rows
    index = {name: i for i, name in enumerate(batch.schema.names)}
    values: dict[str, list[Any]] = {}
    for field in (*item_fields, *evidence_fields):
        values[field] = _column_values(batch.column(index[chosen[field]]), field)
    nothing = [None] * count  # a list, not one shared iterator: zip iterates each argument
    ids = values.get("id")
    licences = values.get("license")
    if licences is not None:
        licences = [licence_from_declared(v) if type(v) is str else v for v in licences]
    columns = [
        values.get("url", nothing),
        values.get("sha256", nothing),
        values.get("md5", nothing),
        licences if licences is not None else nothing,
        values.get("creator", nothing),
        values.get("title", nothing),
        values.get("media_type", nothing),
    ]
    evidence_columns = [(field, values[field]) for field in evidence_fields]
    identifier_columns = [(field, values[field]) for field in IDENTIFIER_FIELDS if field in values]
    undecodable = any(_UNDECODABLE in column for column in values.values())
    out: list[ParsedLine] = []
    item = checker.item
    for offset, (url, sha256, md5, licence, creator, title, media_type) in enumerate(
        zip(*columns, strict=False)
    ):
        line = first_row + offset
        if undecodable and (bad := [f for f, v in values.items() if v[offset] is _UNDECODABLE]):
            out.extend(checker.error(line, f, f"{f} is not valid UTF-8") for f in bad)
            continue
        evidence = None
        if evidence_columns:
            evidence = {
                field: column[offset] for field, column in evidence_columns if column[offset] is not None
            }
        codes: dict[str, object] | None = None
        if identifier_columns:
            codes = {
                field: column[offset] for field, column in identifier_columns if column[offset] is not None
            }
        if ids is None:
            result = item(
                line, str(line), url, sha256, md5, licence, creator, title, media_type,
                evidence=evidence, unique_id=True, identifiers=codes,
            )  # fmt: skip
        else:
            result = item(
                line, ids[offset], url, sha256, md5, licence, creator, title, media_type,
                evidence=evidence, identifiers=codes,
            )  # fmt: skip
        if isinstance(result, list):
            out.extend(result)
        else:
            out.append(result)
    return out
