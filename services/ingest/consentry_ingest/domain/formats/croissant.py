"""MLCommons Croissant 1.0 (JSON-LD) dataset descriptions: their files and URL records as items.

What becomes an item
--------------------
- Each ``distribution`` ``FileObject`` with an absolute ``http(s)`` ``contentUrl``: ``id`` is its
  ``@id`` (else its ``name``), ``url`` its ``contentUrl``, ``sha256``/``md5`` its checksums,
  ``title`` its ``name``, ``media_type`` its ``encodingFormat``; ``line`` is its 1-based position
  in ``distribution``. Skipped, because they are not fetchable works of their own: objects
  ``containedIn`` an archive (their ``contentUrl`` is a path inside it), relative
  ``contentUrl`` values (local files), and ``git+https`` repositories (the Hub's ``repo``
  entry, whose checksum is a placeholder by design). A checksum in base64 (Kaggle's ``md5``) is
  read as the digest it encodes.
- Each row of a ``RecordSet`` field that holds URLs -- ``dataType`` ``sc:URL``, or named ``url``
  / ``image_url`` (Hub-generated files type every column ``sc:Text``), but not a URL-typed
  ``license`` or ``creator`` field, which describes the work -- read from the dataset's
  own data files through ``source.fileObject`` / ``source.fileSet`` and ``extract.column`` (CSV,
  TSV, Parquet, JSON Lines) or ``extract.jsonPath`` ``$.a.b`` (JSON Lines). The data files come
  from the caller: ``open_file(content_url_or_name)`` returns a binary stream (seekable for
  Parquet) or ``None``; it is asked for the ``contentUrl``, then the ``name``, then the ``@id``.
  A ``FileSet`` needs ``list_files(includes_pattern)`` too, naming the local files that match.
  Streams are closed once read. Sibling fields of the same file named ``sha256``, ``md5``,
  ``license``, ``creator``/``author``, ``title``/``caption``, ``media_type``/``mime_type`` and the
  evidence fields fill those item fields. ``id`` is ``<record set>/<key>`` (the ``key`` fields'
  values joined by ``/``, else the row number), with the file name after the record set for a
  ``FileSet`` and the field name last when a record set has several URL fields; ``line`` is the
  1-based row in its data file. Inline ``data`` (enumerations such as split names) is not
  read, nor are record sets typed ``sc:Enumeration`` or ``cr:Split`` (or ``isEnumeration``),
  wherever their rows are: their URLs name definitions (OpenML's Titanic maps genders to
  Wikidata classes), not works.

A document that validates but yields no item at all (only local paths, files inside archives,
the Hub's git repository and FileSets of Parquet files holding images, not URLs) gets one error
on ``$.distribution`` saying so, rather than an empty result; a record set whose URL field is in
data files the caller did not give is an error naming the field and what to submit instead.

Every item gets the dataset-level ``license`` (a URL, an SPDX id, a Hub id, a ``CreativeWork`` --
its url, or its name when the url is no known licence page --, or a list: all apply, joined with
``AND``; mapped by :func:`~.licences.licence_from_declared`) and ``creator`` (a string, a
``Person``/``Organization`` with a ``name``, or a list, joined with ``"; "``) unless the record has
its own; ``extra`` carries ``sd_license`` (the licence of the metadata itself) when declared, and
``record_set`` for record-set items.

Validation
----------
The document must be a JSON object with an ``@context`` using the Croissant vocabulary
(``http://mlcommons.org/croissant/``, or the 0.8 drafts' ``http://mlcommons.org/schema/``, in the
context or ``conformsTo``) and an ``@type`` naming ``Dataset``; what this reader uses must have the
types the specification gives it. Each violation is a
:class:`~consentry_ingest.domain.manifest.LineError` on line 0 whose ``field`` is the JSON path
(``$.distribution[2].contentUrl``), except invalid JSON, which gives its line. Any such error stops
the reading: no item of a document that does not validate is returned. A FileObject's bad checksum
or URL is reported like a bad item, on its position in ``distribution``. Data file problems name the
Croissant field's path and, in the message, the file and row (``line`` is the row).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, Any, Final

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from consentry_ingest.domain.manifest import (
    _NO_STRINGS,
    EVIDENCE_FIELDS,
    MAX_LINE_BYTES,
    LineError,
    ParsedLine,
    RawItem,
    _contains_lone_surrogate,
    _json_type,
)

from ._items import FILE_LINE, ItemChecker, quote
from .licences import HF_LICENCES, all_of, licence_from_declared

__all__ = [
    "MAX_CROISSANT_BYTES",
    "CroissantDataset",
    "CroissantReader",
    "ListFiles",
    "OpenFile",
    "read_croissant",
]

OpenFile = Callable[[str], IO[bytes] | None]
"""Opens one of the dataset's data files, named by its ``contentUrl`` or ``name``: a binary
stream, or ``None`` when the caller does not have it."""

ListFiles = Callable[[str], Iterable[str]]
"""The names of the caller's local files that a ``FileSet`` ``includes`` pattern matches, each
openable with :data:`OpenFile`."""

MAX_CROISSANT_BYTES: Final = 16 << 20
"""The largest Croissant document read (the metadata, not the data files it describes)."""

_BATCH: Final = 4096
_URL_NAMES: Final = frozenset({"url", "image_url"})
_AUX_NAMES: Final[dict[str, str]] = {
    "sha256": "sha256",
    "md5": "md5",
    "license": "license",
    "licence": "license",
    "creator": "creator",
    "author": "creator",
    "title": "title",
    "caption": "title",
    "media_type": "media_type",
    "mime_type": "media_type",
    "encodingformat": "media_type",
    **{name: name for name in EVIDENCE_FIELDS},
}
_CSV_TYPES: Final = {"text/csv": ",", "text/tab-separated-values": "\t"}
_JSONL_TYPES: Final = frozenset(
    {"application/jsonlines", "application/jsonl", "application/x-jsonlines", "application/x-ndjson"}
)
_PARQUET_TYPES: Final = frozenset(
    {"application/x-parquet", "application/vnd.apache.parquet", "application/parquet"}
)
_SUFFIX_TYPES: Final = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".jsonl": "application/jsonlines",
    ".ndjson": "application/jsonlines",
    ".parquet": "application/x-parquet",
}
_SIMPLE_JSON_PATH: Final = re.compile(r"\$((?:\.[A-Za-z_][\w-]*)+)")
_HTTP: Final = re.compile(r"https?://", re.IGNORECASE)
_CROISSANT_VOCABULARIES: Final = ("mlcommons.org/croissant", "mlcommons.org/schema")
"""Croissant 1.x (``http://mlcommons.org/croissant/``) and the 0.8 drafts the Hugging Face Hub
generated before 1.0 (``ml: http://mlcommons.org/schema/``, ``sc:FileObject``, ``ml:Field``)."""
_BASE64_DIGEST: Final = re.compile(r"[A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{43}=")
_ENUMERATION_TYPES: Final = frozenset({"enumeration", "split"})


@dataclass(frozen=True, slots=True)
class CroissantDataset:
    """The dataset-level facts of a Croissant document, as items receive them (``license`` as an
    SPDX expression, ``creator`` as one string)."""

    name: str | None = None
    version: str | None = None
    url: str | None = None
    license: str | None = None
    sd_license: str | None = None
    creator: str | None = None


@dataclass(frozen=True, slots=True)
class _Source:
    kind: str  # "fileObject" | "fileSet" | "distribution" (0.8: either), as written
    ref: str
    column: str | None
    json_path: tuple[str, ...] | None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.ref

    @property
    def label(self) -> str:
        return self.column if self.column is not None else "$." + ".".join(self.json_path or ())


@dataclass(frozen=True, slots=True)
class _Field:
    path: str
    name: str  # the last segment of name (or @id), lower-cased
    full_name: str
    source: _Source | None
    is_url: bool


# --- small JSON-LD helpers ----------------------------------------------------------------------


def _local(term: str) -> str:
    """``sc:Dataset``, ``https://schema.org/Dataset``, ``Dataset`` -> ``dataset``."""
    return re.split(r"[:/#]", term.strip())[-1].lower()


def _type_names(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [_local(value)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [_local(v) for v in value]
    return None


def _reference(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("@id", "name"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return None


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _at(path: str, index: int, many: bool) -> str:
    return f"{path}[{index}]" if many else path


def _last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1].strip().lower()


def _nothing_to_check(distribution: dict[str, tuple[str, dict[str, Any]]]) -> str:
    """Why a valid document gave no item: what its distribution holds instead of fetchable files."""
    counts: dict[str, int] = {}
    seen: set[int] = set()
    for _path, entry in distribution.values():
        if id(entry) in seen:
            continue
        seen.add(id(entry))
        url = entry.get("contentUrl")
        encoding = entry.get("encodingFormat")
        if "fileset" in (_type_names(entry.get("@type")) or []):
            kind = "FileSets"
        elif entry.get("containedIn") is not None:
            kind = "files inside archives"
        elif isinstance(encoding, str) and encoding.strip().lower() == "git+https":
            kind = "git repositories"
        elif isinstance(url, str) and _HTTP.match(url.strip()) is None:
            kind = "local paths"
        else:
            kind = "other entries"
        counts[kind] = counts.get(kind, 0) + 1
    held = ", ".join(f"{kind}: {n}" for kind, n in counts.items()) or "no entries"
    return (
        "no item to check: no FileObject has an http(s) contentUrl and no record set has a field of "
        f"URLs read from a data file (the distribution holds: {held}); submit the data files that "
        "list the works (Parquet, CSV, JSON Lines) instead"
    )


def _is_enumeration(record_set: dict[str, Any]) -> bool:
    """A record set of definitions: ``dataType`` ``sc:Enumeration`` or ``cr:Split``, or
    ``isEnumeration: true`` (Croissant 0.8)."""
    kinds = _type_names(record_set.get("dataType")) or []
    return record_set.get("isEnumeration") is True or not _ENUMERATION_TYPES.isdisjoint(kinds)


def _hex_digest(value: object, size: int) -> object:
    """A checksum written in base64 (Kaggle's ``md5``: 16 bytes as 24 characters) as hex; any other
    value unchanged, for the item check to accept or name."""
    if isinstance(value, str) and len(value) in (24, 44) and _BASE64_DIGEST.fullmatch(value):
        raw = base64.b64decode(value)
        if len(raw) == size:
            return raw.hex()
    return value


# --- the reader ---------------------------------------------------------------------------------


class CroissantReader:
    """Reads one Croissant document (``bytes`` or a binary stream) into item batches.

    Iterate it once for lists of :data:`~consentry_ingest.domain.manifest.ParsedLine`; after
    the first batch, :attr:`dataset` holds the dataset-level facts (``None`` if the document did
    not validate). See the module docstring for what becomes an item.
    """

    def __init__(
        self,
        document: bytes | IO[bytes],
        *,
        open_file: OpenFile | None = None,
        list_files: ListFiles | None = None,
        max_document_bytes: int = MAX_CROISSANT_BYTES,
    ) -> None:
        self._document = document
        self._open_file = open_file
        self._list_files = list_files
        self._max_bytes = max_document_bytes
        self._checker = ItemChecker(noun="record")
        self.dataset: CroissantDataset | None = None
        self._extra: MappingProxyType[str, str] | None = None

    def __iter__(self) -> Iterator[list[ParsedLine]]:
        root = self._load()
        if isinstance(root, LineError):
            yield [root]
            return
        errors: list[LineError] = []
        dataset = self._dataset(root, errors)
        distribution = self._distribution(root, errors)
        record_sets = self._record_sets(root, errors)
        if errors:
            yield list[ParsedLine](errors)
            return
        self.dataset = dataset
        extra = {"sd_license": dataset.sd_license} if dataset.sd_license else {}
        out: list[ParsedLine] = []
        out.extend(self._file_items(distribution, dataset, extra))
        produced = bool(out)
        for record_set in record_sets:
            for results in self._record_set_items(record_set, distribution, dataset, extra):
                out.extend(results)
                produced = produced or bool(results)
                if len(out) >= _BATCH:
                    yield out
                    out = []
        if not produced:
            out.append(LineError(FILE_LINE, "$.distribution", _nothing_to_check(distribution)))
        yield out

    # -- the document --

    def _load(self) -> dict[str, Any] | LineError:
        if isinstance(self._document, bytes | bytearray):
            data = bytes(self._document[: self._max_bytes + 1])
        else:
            data = self._document.read(self._max_bytes + 1)
        if len(data) > self._max_bytes:
            return LineError(FILE_LINE, "$", f"the document is larger than {self._max_bytes} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return LineError(
                data[: exc.start].count(b"\n") + 1, "$", f"not valid UTF-8 at byte {exc.start + 1}"
            )
        try:
            root = json.loads(text)
        except json.JSONDecodeError as exc:
            return LineError(exc.lineno, "$", f"invalid JSON: {exc.msg} at column {exc.colno}")
        except (RecursionError, ValueError):
            return LineError(FILE_LINE, "$", "invalid JSON: nested too deeply or too large a number")
        try:
            bad_unicode = ("\\ud" in text or "\\uD" in text) and _contains_lone_surrogate(root)
        except RecursionError:
            bad_unicode = True
        if bad_unicode:
            return LineError(
                FILE_LINE, "$", "the document has an unpaired surrogate escape, not valid Unicode"
            )
        if not isinstance(root, dict):
            return LineError(FILE_LINE, "$", f"a Croissant document is a JSON object, got {_json_type(root)}")
        return root

    def _dataset(self, root: dict[str, Any], errors: list[LineError]) -> CroissantDataset:
        def error(path: str, message: str) -> None:
            errors.append(LineError(FILE_LINE, path, message))

        context = root.get("@context")
        if context is None:
            error("$.@context", "missing @context: not a JSON-LD document")
        elif not isinstance(context, dict | list | str):
            error("$.@context", f"@context must be an object, got {_json_type(context)}")
        types = _type_names(root.get("@type"))
        if types is None or "dataset" not in types:
            error("$.@type", f"@type must be sc:Dataset, got {quote(str(root.get('@type')))}")
        conforms = root.get("conformsTo", root.get("dct:conformsTo"))
        if conforms is not None and not isinstance(conforms, str | list | dict):
            error("$.conformsTo", f"conformsTo must be a URL, got {_json_type(conforms)}")
        try:
            vocabulary = json.dumps([context, conforms])
        except (TypeError, ValueError, RecursionError):
            vocabulary = ""
        if context is not None and not any(known in vocabulary for known in _CROISSANT_VOCABULARIES):
            error(
                "$.@context",
                "not a Croissant document: neither @context nor conformsTo uses http://mlcommons.org/croissant/",
            )
        strings: dict[str, str | None] = {}
        for key in ("name", "version", "url"):
            value = root.get(key)
            if type(value) is int and key == "version":
                value = str(value)
            if value is not None and not isinstance(value, str):
                error(f"$.{key}", f"{key} must be a string, got {_json_type(value)}")
                value = None
            strings[key] = value
        licence = self._licences(root.get("license"), "$.license", error)
        sd_licence = self._licences(root.get("sdLicense"), "$.sdLicense", error)
        creator = self._creators(root.get("creator"), "$.creator", error)
        return CroissantDataset(
            strings["name"], strings["version"], strings["url"], licence, sd_licence, creator
        )

    @staticmethod
    def _licences(value: object, path: str, error: Callable[[str, str], None]) -> str | None:
        if value is None:
            return None
        found: list[str | None] = []
        many = isinstance(value, list)
        for index, part in enumerate(_as_list(value)):
            where = _at(path, index, many)
            text = part if isinstance(part, str) else None
            if isinstance(part, dict):
                text = next((part[k] for k in ("url", "@id", "name") if isinstance(part.get(k), str)), None)
            if text is None:
                error(
                    where, f"a licence is a URL, a name or a CreativeWork with a url, got {_json_type(part)}"
                )
                continue
            licence = licence_from_declared(text)
            name = part.get("name") if isinstance(part, dict) else None
            if licence == text.strip() and isinstance(name, str) and name.strip() != text.strip():
                # A url that is no known licence page (a repository's LICENSE file) beside a name
                # that is a known licence ("MIT"): the name says which licence it is.
                by_name = licence_from_declared(name)
                if by_name is not None and (by_name != name.strip() or name.strip().lower() in HF_LICENCES):
                    licence = by_name
            found.append(licence)
        return all_of(found)

    @staticmethod
    def _creators(value: object, path: str, error: Callable[[str, str], None]) -> str | None:
        if value is None:
            return None
        names: list[str] = []
        many = isinstance(value, list)
        for index, part in enumerate(_as_list(value)):
            where = _at(path, index, many)
            name = part if isinstance(part, str) else None
            if isinstance(part, dict):
                name = next((part[k] for k in ("name", "url", "@id") if isinstance(part.get(k), str)), None)
            if name is None:
                error(
                    where, f"a creator is a name or a Person/Organization with a name, got {_json_type(part)}"
                )
                continue
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
        return "; ".join(names) or None

    def _distribution(
        self, root: dict[str, Any], errors: list[LineError]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """``@id`` and ``name`` of each entry -> (its JSON path, the entry), in document order."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        value = root.get("distribution")
        if value is None:
            return found
        many = isinstance(value, list)
        for index, entry in enumerate(_as_list(value)):
            path = _at("$.distribution", index, many)
            if not isinstance(entry, dict):
                errors.append(
                    LineError(FILE_LINE, path, f"must be a FileObject or FileSet, got {_json_type(entry)}")
                )
                continue
            kinds = _type_names(entry.get("@type")) or []
            if "fileobject" not in kinds and "fileset" not in kinds:
                errors.append(
                    LineError(
                        FILE_LINE,
                        f"{path}.@type",
                        f"must be cr:FileObject or cr:FileSet, got {quote(str(entry.get('@type')))}",
                    )
                )
                continue
            names = [entry.get(k) for k in ("@id", "name")]
            if not any(isinstance(n, str) and n for n in names):
                errors.append(LineError(FILE_LINE, path, "needs an @id or a name"))
            for key in ("@id", "name", "contentUrl", "encodingFormat", "sha256", "md5"):
                if entry.get(key) is not None and not isinstance(entry[key], str):
                    errors.append(
                        LineError(
                            FILE_LINE,
                            f"{path}.{key}",
                            f"{key} must be a string, got {_json_type(entry[key])}",
                        )
                    )
            if "fileobject" in kinds and entry.get("contentUrl") is None and entry.get("containedIn") is None:
                errors.append(LineError(FILE_LINE, f"{path}.contentUrl", "a FileObject needs a contentUrl"))
            includes = entry.get("includes")
            if includes is not None and (
                not isinstance(includes, str | list)
                or not all(isinstance(i, str) for i in _as_list(includes))
            ):
                errors.append(
                    LineError(
                        FILE_LINE, f"{path}.includes", "includes must be a glob pattern or a list of them"
                    )
                )
            for name in names:
                if isinstance(name, str) and name:
                    found.setdefault(name, (path, entry))
        return found

    def _record_sets(
        self, root: dict[str, Any], errors: list[LineError]
    ) -> list[tuple[str, str, list[_Field], list[str]]]:
        """(path, name, fields, key field names) of each record set."""
        value = root.get("recordSet")
        if value is None:
            return []
        found: list[tuple[str, str, list[_Field], list[str]]] = []
        many = isinstance(value, list)
        for index, record_set in enumerate(_as_list(value)):
            path = _at("$.recordSet", index, many)
            if not isinstance(record_set, dict):
                errors.append(
                    LineError(FILE_LINE, path, f"must be a RecordSet, got {_json_type(record_set)}")
                )
                continue
            kinds = _type_names(record_set.get("@type")) or []
            if "recordset" not in kinds:
                errors.append(
                    LineError(
                        FILE_LINE,
                        f"{path}.@type",
                        f"must be cr:RecordSet, got {quote(str(record_set.get('@type')))}",
                    )
                )
                continue
            name = next(
                (record_set[k] for k in ("name", "@id") if isinstance(record_set.get(k), str)),
                f"recordSet{index}",
            )
            keys: list[str] = []
            key_value = record_set.get("key")
            if key_value is not None:
                for position, key in enumerate(_as_list(key_value)):
                    ref = _reference(key)
                    if ref is None:
                        errors.append(
                            LineError(
                                FILE_LINE,
                                _at(f"{path}.key", position, isinstance(key_value, list)),
                                "key must reference a field",
                            )
                        )
                    else:
                        keys.append(ref)
            fields: list[_Field] = []
            raw_fields = record_set.get("field")
            field_many = isinstance(raw_fields, list)
            for position, raw in enumerate(_as_list(raw_fields) if raw_fields is not None else []):
                field = self._field(raw, _at(f"{path}.field", position, field_many), errors)
                if field is not None:
                    fields.append(field)
            # An enumeration's rows define values (Titanic's genders.csv maps "male" to a Wikidata
            # class; the Hub's cr:Split record sets name splits): their URLs are not works.
            if not _is_enumeration(record_set):
                found.append((path, name, fields, keys))
        return found

    @staticmethod
    def _field(raw: object, path: str, errors: list[LineError]) -> _Field | None:
        if not isinstance(raw, dict):
            errors.append(LineError(FILE_LINE, path, f"must be a Field, got {_json_type(raw)}"))
            return None
        kinds = _type_names(raw.get("@type")) or []
        if "field" not in kinds:
            errors.append(
                LineError(FILE_LINE, f"{path}.@type", f"must be cr:Field, got {quote(str(raw.get('@type')))}")
            )
            return None
        data_types = _type_names(raw.get("dataType")) if raw.get("dataType") is not None else []
        if data_types is None:
            errors.append(
                LineError(FILE_LINE, f"{path}.dataType", "dataType must be a type name or a list of them")
            )
            return None
        full_name = next((raw[k] for k in ("name", "@id") if isinstance(raw.get(k), str)), "")
        name = _last_segment(full_name)
        # A URL-typed "license" or "creator" field describes the work; it is not one.
        declared_url = "url" in data_types and name not in _AUX_NAMES
        named_url = name in _URL_NAMES and all(t in ("text", "url") for t in data_types)
        source_value = raw.get("source")
        source: _Source | None = None
        unsupported: str | None = None
        if source_value is not None:
            if not isinstance(source_value, dict):
                errors.append(
                    LineError(
                        FILE_LINE,
                        f"{path}.source",
                        f"source must be an object, got {_json_type(source_value)}",
                    )
                )
                return None
            kind = next((k for k in ("fileObject", "fileSet", "distribution") if k in source_value), None)
            extract = source_value.get("extract")
            if extract is not None and not isinstance(extract, dict):
                errors.append(LineError(FILE_LINE, f"{path}.source.extract", "extract must be an object"))
                return None
            extract = extract or {}
            column, json_path = extract.get("column"), extract.get("jsonPath")
            for key, value in (("column", column), ("jsonPath", json_path)):
                if value is not None and not isinstance(value, str):
                    errors.append(
                        LineError(FILE_LINE, f"{path}.source.extract.{key}", f"{key} must be a string")
                    )
                    return None
            ref = _reference(source_value.get(kind)) if kind else None
            if kind is not None and ref is None:
                errors.append(
                    LineError(
                        FILE_LINE, f"{path}.source.{kind}", f"{kind} must reference a distribution entry"
                    )
                )
                return None
            parsed_path = None
            if isinstance(json_path, str):
                match = _SIMPLE_JSON_PATH.fullmatch(json_path.strip())
                parsed_path = tuple(match.group(1)[1:].split(".")) if match else None
                if parsed_path is None:
                    unsupported = f"jsonPath {quote(json_path)} (only $.a.b paths are read)"
            if "transform" in source_value:
                unsupported = "a transform"
            elif kind is None:
                unsupported = "a source that is not a file (a field or record set reference)"
            elif column is None and parsed_path is None and unsupported is None:
                unsupported = "an extract that is not a column or a jsonPath"
            if unsupported is None and kind is not None and ref is not None:
                source = _Source(kind, ref, column, parsed_path)
        if declared_url and source_value is not None and unsupported is not None:
            errors.append(
                LineError(
                    FILE_LINE,
                    f"{path}.source",
                    f"the URLs of this field come from {unsupported}, which is not read",
                )
            )
            return None
        return _Field(path, name, full_name, source, (declared_url or named_url) and source is not None)

    # -- items --

    def _file_items(
        self,
        distribution: dict[str, tuple[str, dict[str, Any]]],
        dataset: CroissantDataset,
        extra: dict[str, str],
    ) -> list[ParsedLine]:
        out: list[ParsedLine] = []
        seen: set[int] = set()
        for path, entry in distribution.values():
            if id(entry) in seen:
                continue
            seen.add(id(entry))
            if "fileobject" not in (_type_names(entry.get("@type")) or []):
                continue
            url = entry.get("contentUrl")
            encoding = entry.get("encodingFormat")
            if (
                entry.get("containedIn") is not None
                or not isinstance(url, str)
                or _HTTP.match(url.strip()) is None
                or (isinstance(encoding, str) and encoding.strip().lower() == "git+https")
            ):
                continue
            index = int(path.rsplit("[", 1)[1].rstrip("]")) + 1 if path.endswith("]") else 1
            item_id = entry.get("@id") if isinstance(entry.get("@id"), str) else entry.get("name")
            result = self._checker.item(
                index,
                item_id,
                url,
                _hex_digest(entry.get("sha256"), 32),
                _hex_digest(entry.get("md5"), 16),
                dataset.license,
                dataset.creator,
                entry.get("name"),
                encoding,
                extra=MappingProxyType(extra) if extra else _NO_STRINGS,
            )
            if isinstance(result, RawItem):
                out.append(result)
                continue
            names = {
                "id": f"{path}.@id",
                "url": f"{path}.contentUrl",
                "title": f"{path}.name",
                "media_type": f"{path}.encodingFormat",
            }
            for error in result:
                field = names.get(error.field or "", f"{path}.{error.field}")
                out.append(LineError(error.line, field, error.message))
        return out

    def _record_set_items(
        self,
        record_set: tuple[str, str, list[_Field], list[str]],
        distribution: dict[str, tuple[str, dict[str, Any]]],
        dataset: CroissantDataset,
        extra: dict[str, str],
    ) -> Iterator[list[ParsedLine]]:
        path, name, fields, keys = record_set
        url_fields = [f for f in fields if f.is_url]
        groups: dict[tuple[str, str], list[_Field]] = {}
        for field in url_fields:
            assert field.source is not None  # is_url implies a file source
            groups.setdefault(field.source.key, []).append(field)
        record_extra = MappingProxyType({**extra, "record_set": name})
        for (written_kind, ref), group in groups.items():
            siblings = [f for f in fields if f.source is not None and f.source.key == (written_kind, ref)]
            aux = {}
            for field in siblings:
                target = _AUX_NAMES.get(field.name)
                if target is not None and not field.is_url and target not in aux:
                    aux[target] = field
            key_fields = [self._key_field(key, siblings) for key in keys]
            entry = distribution.get(ref)
            where = f"{group[0].path}.source.{written_kind}"
            if entry is None:
                yield [LineError(FILE_LINE, where, f"no distribution entry {quote(ref)}")]
                continue
            # Croissant 0.8 wrote source.distribution for either kind: the entry's type decides.
            kind = "fileSet" if "fileset" in (_type_names(entry[1].get("@type")) or []) else "fileObject"
            files = self._files(kind, entry[1], where)
            if isinstance(files, LineError):
                yield [files]
                continue
            wanted = [f.source for f in (*group, *aux.values()) if f.source is not None]
            if all(key is not None for key in key_fields):
                wanted.extend(k.source for k in key_fields if k is not None and k.source is not None)
            else:
                key_fields = []
            for file_name in files:
                opened = self._open(kind, entry[1], file_name)
                if opened is None:
                    yield [
                        LineError(
                            FILE_LINE,
                            where,
                            f"the data file {quote(file_name)} was not given: the URLs of this field "
                            "are in it, so the metadata alone cannot be checked; submit the data file "
                            "itself as a manifest",
                        )
                    ]
                    continue
                with closing(opened) as stream:
                    fmt = self._encoding(entry[1], file_name)
                    if fmt is None:
                        yield [
                            LineError(
                                FILE_LINE,
                                where,
                                f"{quote(file_name)}: only CSV, TSV, JSON Lines and Parquet files are read",
                            )
                        ]
                        continue
                    rows = _rows(stream, fmt, wanted, file_name, where)
                    yield from self._rows_to_items(
                        rows,
                        name,
                        file_name if kind == "fileSet" else None,
                        file_name,
                        group,
                        aux,
                        key_fields,
                        dataset,
                        record_extra,
                        path,
                    )

    @staticmethod
    def _key_field(key: str, siblings: list[_Field]) -> _Field | None:
        for field in siblings:
            if key in (field.full_name, field.name) or _last_segment(key) == field.name:
                return field
        return None

    def _files(self, kind: str, entry: dict[str, Any], where: str) -> list[str] | LineError:
        if kind == "fileObject":
            name = next(
                (entry[k] for k in ("contentUrl", "name", "@id") if isinstance(entry.get(k), str)), ""
            )
            return [name]
        if self._list_files is None:
            includes = entry.get("includes")
            return LineError(
                FILE_LINE,
                where,
                f"the data files of this FileSet ({quote(str(includes))}) were not given: "
                "the URLs of this field are in them, so the metadata alone cannot be checked; submit "
                "the data files themselves as manifests",
            )
        includes = entry.get("includes")
        names: list[str] = []
        for pattern in _as_list(includes) if includes is not None else []:
            for name in self._list_files(pattern):
                if name not in names:
                    names.append(name)
        if not names:
            return LineError(
                FILE_LINE, where, f"no local file matches the FileSet's includes {quote(str(includes))}"
            )
        return names

    def _open(self, kind: str, entry: dict[str, Any], file_name: str) -> IO[bytes] | None:
        if self._open_file is None:
            return None
        if kind == "fileSet":
            return self._open_file(file_name)
        for key in ("contentUrl", "name", "@id"):
            candidate = entry.get(key)
            if isinstance(candidate, str) and candidate:
                stream = self._open_file(candidate)
                if stream is not None:
                    return stream
        return None

    @staticmethod
    def _encoding(entry: dict[str, Any], file_name: str) -> str | None:
        declared = entry.get("encodingFormat")
        kind = declared.split(";")[0].strip().lower() if isinstance(declared, str) else ""
        if kind in _CSV_TYPES or kind in _JSONL_TYPES or kind in _PARQUET_TYPES:
            return kind
        lowered = file_name.lower()
        for suffix, by_suffix in _SUFFIX_TYPES.items():
            if lowered.endswith(suffix):
                return by_suffix
        return None

    def _rows_to_items(
        self,
        rows: Iterator[tuple[int, dict[str, object]] | LineError],
        record_set: str,
        file_name: str | None,
        label: str,
        group: list[_Field],
        aux: dict[str, _Field],
        key_fields: list[_Field | None],
        dataset: CroissantDataset,
        extra: MappingProxyType[str, str],
        record_set_path: str,
    ) -> Iterator[list[ParsedLine]]:
        out: list[ParsedLine] = []
        several = len(group) > 1
        evidence_fields = [(name, field) for name, field in aux.items() if name in EVIDENCE_FIELDS]

        def value(field: _Field | None, row: dict[str, object]) -> object:
            if field is None or field.source is None:
                return None
            found = row.get(field.source.label)
            return None if found == "" else found

        for entry in rows:
            if isinstance(entry, LineError):
                out.append(entry)
                continue
            row_number, row = entry
            if key_fields:
                key_parts = [value(k, row) for k in key_fields]
                empty = next((k for k, part in zip(key_fields, key_parts, strict=True) if part is None), None)
                if empty is not None:
                    out.append(
                        LineError(row_number, empty.path, f"{label} row {row_number}: the key is empty")
                    )
                    continue
                key = "/".join(str(part) for part in key_parts)
            else:
                key = str(row_number)
            licence = value(aux.get("license"), row)
            if isinstance(licence, str):
                licence = licence_from_declared(licence)
            creator = value(aux.get("creator"), row)
            evidence = {name: v for name, field in evidence_fields if (v := value(field, row)) is not None}
            for field in group:
                parts = [
                    record_set,
                    *([file_name] if file_name else []),
                    key,
                    *([field.name] if several else []),
                ]
                result = self._checker.item(
                    row_number,
                    "/".join(parts),
                    value(field, row),
                    value(aux.get("sha256"), row),
                    value(aux.get("md5"), row),
                    licence if licence is not None else dataset.license,
                    creator if creator is not None else dataset.creator,
                    value(aux.get("title"), row),
                    value(aux.get("media_type"), row),
                    evidence=evidence or None,
                    extra=extra,
                )
                if isinstance(result, RawItem):
                    out.append(result)
                    continue
                for error in result:
                    if error.field == "url":
                        where = field.path
                    elif error.field == "id":
                        where = key_fields[0].path if key_fields and key_fields[0] else record_set_path
                    elif error.field in aux:
                        where = aux[error.field].path
                    else:
                        where = field.path
                    out.append(LineError(error.line, where, f"{label} row {row_number}: {error.message}"))
            if len(out) >= _BATCH:
                yield out
                out = []
        if out:
            yield out


def read_croissant(
    document: bytes | IO[bytes],
    *,
    open_file: OpenFile | None = None,
    list_files: ListFiles | None = None,
    max_document_bytes: int = MAX_CROISSANT_BYTES,
) -> Iterator[list[ParsedLine]]:
    """The items and errors of a Croissant document, in batches (see :class:`CroissantReader`)."""
    return iter(
        CroissantReader(
            document, open_file=open_file, list_files=list_files, max_document_bytes=max_document_bytes
        )
    )


# --- data file rows -------------------------------------------------------------------------------


def _rows(
    stream: IO[bytes], fmt: str, wanted: list[_Source], file_name: str, where: str
) -> Iterator[tuple[int, dict[str, object]] | LineError]:
    """(1-based row, {source label: value}) for each row of a data file, or the errors met."""
    try:
        if fmt in _CSV_TYPES:
            yield from _csv_rows(stream, _CSV_TYPES[fmt], wanted, file_name, where)
        elif fmt in _JSONL_TYPES:
            yield from _jsonl_rows(stream, wanted, file_name, where)
        else:
            yield from _parquet_rows(stream, wanted, file_name, where)
    except (OSError, pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        yield LineError(FILE_LINE, where, f"{quote(file_name)} cannot be read: {quote(str(exc))}")


def _csv_rows(
    stream: IO[bytes], delimiter: str, wanted: list[_Source], file_name: str, where: str
) -> Iterator[tuple[int, dict[str, object]] | LineError]:
    # newline="": the csv module splits records itself (quoted fields may hold line breaks)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    row = 0
    try:
        header = next(reader, None)
        if header is None:
            return
        positions = {name.strip(): index for index, name in enumerate(header)}
        missing = [s.label for s in wanted if s.column not in positions]
        if missing:
            yield LineError(
                FILE_LINE, where, f"{quote(file_name)} has no column {', '.join(map(quote, missing))}"
            )
            return
        columns = [(s.label, positions[s.column or ""]) for s in wanted]
        for cells in reader:
            row += 1
            yield row, {label: cells[index] if index < len(cells) else None for label, index in columns}
    except UnicodeDecodeError:
        yield LineError(row + 1, where, f"{quote(file_name)} row {row + 1}: not valid UTF-8")
    except csv.Error as exc:
        yield LineError(row + 1, where, f"{quote(file_name)} row {row + 1}: invalid CSV: {quote(str(exc))}")


def _jsonl_rows(
    stream: IO[bytes], wanted: list[_Source], file_name: str, where: str
) -> Iterator[tuple[int, dict[str, object]] | LineError]:
    row = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        row += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield LineError(row, where, f"{quote(file_name)} line {row}: longer than {MAX_LINE_BYTES} bytes")
            continue
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            yield LineError(row, where, f"{quote(file_name)} line {row}: invalid JSON")
            continue
        if not isinstance(obj, dict):
            yield LineError(row, where, f"{quote(file_name)} line {row}: expected a JSON object")
            continue
        values: dict[str, object] = {}
        for source in wanted:
            found: object = obj
            for step in source.json_path or (source.column or "",):
                found = found.get(step) if isinstance(found, dict) else None
            values[source.label] = found
        yield row, values


def _parquet_rows(
    stream: IO[bytes], wanted: list[_Source], file_name: str, where: str
) -> Iterator[tuple[int, dict[str, object]] | LineError]:
    parquet = pq.ParquetFile(stream, buffer_size=1 << 20, pre_buffer=False)
    names = set(parquet.schema_arrow.names)
    missing = [s.label for s in wanted if s.column not in names]
    if missing:
        yield LineError(
            FILE_LINE, where, f"{quote(file_name)} has no column {', '.join(map(quote, missing))}"
        )
        return
    columns = list(dict.fromkeys(s.column for s in wanted if s.column is not None))
    row = 0
    for batch in parquet.iter_batches(batch_size=8192, columns=columns, use_threads=False):
        values = {name: batch.column(i).to_pylist() for i, name in enumerate(batch.schema.names)}
        for offset in range(batch.num_rows):
            row += 1
            yield row, {s.label: _text(values[s.column or ""][offset]) for s in wanted}


def _text(value: object) -> object:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value
